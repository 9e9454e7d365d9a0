"""The order desk under load: concurrent chat sessions that ask, greet, order, confirm and ask where orders are.

    .venv/bin/python bench/chat_load.py [--sessions 50] [--turns 6] [--seed 7] [--no-local-llm] [--json]

Starts opsdesk as deployed, in its own process: `opsdesk up --demo` on a free 127.0.0.1 port with a temporary data
dir (embedded PostgreSQL, local models loaded, the demo distributor with its catalog and 21 outlets, and the
`order-desk` policy knowledge base, which the bench waits to see ingested). One warm-up conversation trains the
intent classifier and opens the order flow; then `--sessions` conversations run at once, `--turns` messages each,
every one a `POST /api/v1/workspaces/default/conversations/messages` over HTTP with a service API key.

Each session is its own sender with an outlet's registered phone (the 24 phones in turn, so beyond 24 sessions
two conversations share an outlet). Its next message is drawn with a fixed seed: a policy or product question (a
dozen questions, each in several phrasings, popular ones more often, so the exact L1 and semantic L2 tiers see
repeats and paraphrases), a greeting, an order (free text or the order-form template, 1-3 units of 1-2 products)
or a status question (by order number once the session has one). A draft waiting for confirmation gets "YES"
("CONFIRM" when the desk asks for it); an open question about an order gets "cancel that".

Measured: each turn's latency at the client, by the intent the API reports and by the kind of message sent (count,
p50, p95, max); the hit rate of each cache tier (L1 exact, L2 semantic, L3 intent, L4 retrieval) from the change of
`opsdesk_conversation_cache_total` on /metrics over the run; errors: any non-2xx answer, exception or timeout (after
`--timeout` seconds), any turn the runtime answered with its "something went wrong" reply, and any error the server
logged during the run. Also reported: how the knowledge answers of the run were written (generative or extractive)
and the server's warnings by event. Exits 1 when there is an error.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx
from prometheus_client.parser import text_string_to_metric_families
from rich.console import Console
from rich.table import Table

from bench._results import publish
from bench.retrieval import percentile
from opsdesk.orders.demo import KB_NAME, knowledge_documents
from opsdesk.orders.parsing import load_catalog

ROOT = Path(__file__).resolve().parent.parent
WORKSPACE = "default"
MESSAGES = f"/api/v1/workspaces/{WORKSPACE}/conversations/messages"
KNOWLEDGE_BASES = f"/api/v1/workspaces/{WORKSPACE}/knowledge-bases"
CACHE_METRIC = "opsdesk_conversation_cache"
TIERS = {"l1": "L1 exact response", "l2": "L2 semantic answer", "l3": "L3 intent", "l4": "L4 retrieval"}
KINDS = {"question": 0.45, "order": 0.25, "status": 0.15, "greeting": 0.15}  # when nothing is pending

# Questions the order-desk knowledge base answers; the first phrasing is the common one.
QUESTIONS: tuple[tuple[str, ...], ...] = (
    ("What are your payment terms?", "what are the payment terms", "How many days do I have to pay an invoice?"),
    ("Is GST included in the prices?", "do your prices include GST", "Are your prices before or after GST?"),
    ("What are your delivery time slots?", "what time do you deliver", "Which delivery slots do you have?"),
    ("How many boxes are in a bundle?", "how many pizza boxes per bundle", "How many boxes come in one bundle?"),
    (
        "What is the difference between regular and premium boxes?",
        "regular vs premium pizza box, what's the difference?",
        "How are premium boxes different from regular ones?",
    ),
    ("Are your containers microwave safe?", "can the round containers go in the microwave?"),
    ("Do you sell liners separately?", "can I buy pizza box liners on their own?"),
    ("What sizes of pizza boxes do you have?", "which pizza box sizes do you carry?", "what box sizes are there"),
    ("Do you deliver on Sunday?", "do you deliver on sunday", "Is there delivery on Sunday?"),
    (
        "What is the cutoff time for urgent same day delivery?",
        "until what time can I order urgent for same day delivery",
    ),
    ("Can I order in pieces instead of bundles?", "can i write the quantity in pcs"),
    ("What is a pizza saver?", "what's a pizza saver for"),
)
GREETINGS = ("Hi", "hello", "Good morning", "hey there", "Hi, good afternoon")
STATUS = ("where is my order?", "status of my order pls", "has my order been confirmed?", "any update on my order?")
# How an outlet writes a product, and its catalog unit; all parse without a question (see bench/order_parsing.py).
ITEMS: tuple[tuple[str, str], ...] = (
    ('10" regular pizza box', "bundle"),
    ('12" regular pizza box', "bundle"),
    ('14" regular pizza box', "bundle"),
    ('12" premium pizza box', "bundle"),
    ("greaseproof liner", "pack"),
    ("3-compartment meal tray", "carton"),
    ("meal tray lid", "carton"),
    ("500ml round container", "carton"),
    ("750ml round container", "carton"),
    ("round container lid", "carton"),
    ("8oz paper cup", "carton"),
    ("8oz sip lid", "carton"),
    ("12oz paper cup", "carton"),
    ("12oz sip lid", "carton"),
    ("medium kraft paper bag", "bundle"),
    ("t-shirt plastic bag", "bundle"),
)
console = Console(stderr=True, width=140)


def _units(quantity: int, unit: str, short: bool = False) -> str:
    if short and unit == "carton":
        return "ctn"
    return unit if quantity == 1 else f"{unit}s"


def order_text(rng: random.Random) -> str:
    """A clear order of 1-3 units of one or two products, in one of four ways outlets write."""
    lines = [(name, unit, rng.randint(1, 3)) for name, unit in rng.sample(ITEMS, rng.choice((1, 2, 2)))]
    style = rng.randrange(4)
    if style == 0:
        return "pls send " + " and ".join(f"{q} {_units(q, u)} of {n}" for n, u, q in lines)
    if style == 1:
        return "hi, need " + ", ".join(f"{q} {_units(q, u, short=True)} {n}" for n, u, q in lines) + " thanks"
    if style == 2:
        return "ORDER FORM\n" + "\n".join(f"{n}: {q} {u}" for n, u, q in lines)
    return "can i get " + " + ".join(f"{q} {_units(q, u)} {n}" for n, u, q in lines) + ", urgent"


@dataclass
class Conversation:
    """One outlet's chat: draws its next message, and reads the desk's reply for what it waits on."""

    sender: str
    phone: str
    rng: random.Random
    awaiting: str | None = None  # clarification | confirmation
    confirm_word: str = "YES"
    orders: list[str] = field(default_factory=list)

    def next_message(self, first: bool) -> tuple[str, str]:
        """(kind, text) of the next message."""
        if self.awaiting == "confirmation":
            return "confirm", self.confirm_word
        if self.awaiting == "clarification":
            return "cancel", "cancel that"
        kind = "greeting" if first and self.rng.random() < 0.5 else self._kind()
        if kind == "greeting":
            return kind, self.rng.choice(GREETINGS)
        if kind == "order":
            return kind, order_text(self.rng)
        if kind == "status":
            if self.orders and self.rng.random() < 0.5:
                return kind, f"What's the status of {self.rng.choice(self.orders)}?"
            return kind, self.rng.choice(STATUS)
        # Popular questions are asked more often (weights 1/rank); the usual phrasing half of the time.
        group = self.rng.choices(QUESTIONS, weights=[1 / (rank + 1) for rank in range(len(QUESTIONS))])[0]
        return "question", group[0] if self.rng.random() < 0.5 else self.rng.choice(group)

    def _kind(self) -> str:
        return self.rng.choices(list(KINDS), weights=list(KINDS.values()))[0]

    def read(self, turn: dict[str, Any]) -> None:
        metadata = turn.get("metadata") or {}
        self.awaiting = metadata.get("awaiting")
        self.confirm_word = "CONFIRM" if "CONFIRM" in str(turn.get("reply", "")) else "YES"
        number = metadata.get("order_number")
        if number and metadata.get("order_outcome") == "completed" and number not in self.orders:
            self.orders.append(str(number))


@dataclass(frozen=True)
class TurnResult:
    kind: str
    intent: str
    cached: str | None
    ms: float
    error: str | None = None
    answer: str | None = None  # how a knowledge answer written in this turn was made (generative, extractive…)


def outlet_phones() -> list[str]:
    """Every outlet's first phone, then the second phones: distinct outlets first."""
    outlets = load_catalog().outlets
    width = max(len(outlet.phones) for outlet in outlets)
    return [outlet.phones[i] for i in range(width) for outlet in outlets if i < len(outlet.phones)]


async def converse(
    client: httpx.AsyncClient, conversation: Conversation, turns: int, timeout_s: float
) -> list[TurnResult]:
    """One session's turns, one after the other, each timed at the client."""
    results = []
    for number in range(turns):
        kind, text = conversation.next_message(first=number == 0)
        body = {
            "text": text,
            "sender": conversation.sender,
            "phone": conversation.phone,
            "message_id": f"{conversation.sender}-{number}",
        }
        started = time.perf_counter()
        try:
            response = await client.post(MESSAGES, json=body, timeout=timeout_s)
        except httpx.HTTPError as exc:  # timeouts included
            ms = (time.perf_counter() - started) * 1000
            results.append(TurnResult(kind, "error", None, ms, f"{type(exc).__name__}: {exc}"[:200]))
            continue
        ms = (time.perf_counter() - started) * 1000
        if not response.is_success:
            results.append(TurnResult(kind, "error", None, ms, f"HTTP {response.status_code}: {response.text[:200]}"))
            continue
        turn = response.json()
        conversation.read(turn)
        metadata = turn.get("metadata") or {}
        error = f"the runtime's failure reply to {text[:60]!r}" if metadata.get("failed") else None
        answer = None if turn.get("cached") else metadata.get("answer_method")
        results.append(TurnResult(kind, str(turn.get("intent")), turn.get("cached"), ms, error, answer))
    return results


# ---------------------------------------------------------------------------------------------- the server


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def opsdesk_server(data_dir: Path, local_llm: bool) -> Iterator[tuple[str, str, subprocess.Popen[bytes]]]:
    """(base URL, service API key, process) of `opsdesk up --demo` on a free port; its log is data_dir/opsdesk.log."""
    port = _free_port()
    env = {
        **os.environ,
        "OPSDESK_DATA_DIR": str(data_dir),
        "OPSDESK_RATE_LIMIT_PER_KEY": "100000000/minute",
        "OPSDESK_LOCAL_LLM_ENABLED": "true" if local_llm else "false",
        "OPSDESK_LOG_LEVEL": "INFO",
    }
    opsdesk = [sys.executable, "-m", "opsdesk.cli"]
    create = [*opsdesk, "apikey", "create", "--role", "service", "--quiet"]
    key = subprocess.run(create, env=env, cwd=data_dir, check=True, capture_output=True).stdout.decode().strip()
    with open(data_dir / "opsdesk.log", "wb") as log:
        up = [*opsdesk, "up", "--demo", "--host", "127.0.0.1", "--port", str(port)]
        server = subprocess.Popen(up, env=env, cwd=data_dir, stdout=log, stderr=log)
        try:
            yield f"http://127.0.0.1:{port}", key, server
        finally:
            server.terminate()
            server.wait(timeout=60)


async def _documents(client: httpx.AsyncClient, kb: str, **params: str) -> int:
    response = await client.get(f"{KNOWLEDGE_BASES}/{kb}/documents", params={"limit": 1, **params})
    response.raise_for_status()
    return int(response.json()["total"])


async def _ingested(client: httpx.AsyncClient) -> bool:
    """The order-desk policies are in, and no demo document is still waiting for the ingestion worker."""
    response = await client.get(KNOWLEDGE_BASES, params={"limit": 200})
    response.raise_for_status()
    names = [kb["name"] for kb in response.json()["items"]]
    if KB_NAME not in names or await _documents(client, KB_NAME, status="ready") < len(knowledge_documents()):
        return False
    for name in names:
        if await _documents(client, name, status="pending"):
            return False
    return True


async def wait_ready(client: httpx.AsyncClient, server: subprocess.Popen[bytes], timeout_s: float = 600) -> None:
    """Until the API answers and the demo documents are ingested (so no ingestion runs during the measurement)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"opsdesk exited with {server.returncode} before it was ready")
        try:
            if await _ingested(client):
                return
        except httpx.HTTPError:
            pass
        await asyncio.sleep(0.5)
    raise SystemExit(f"opsdesk was not ready (API up, demo documents ingested) within {timeout_s:.0f} s")


async def cache_counts(client: httpx.AsyncClient) -> Counter[tuple[str, str]]:
    """(tier, outcome) → look-ups so far, from /metrics."""
    response = await client.get("/metrics")
    response.raise_for_status()
    counts: Counter[tuple[str, str]] = Counter()
    for family in text_string_to_metric_families(response.text):
        if family.name != CACHE_METRIC:
            continue
        for sample in family.samples:
            if sample.name.endswith("_total"):
                counts[(sample.labels["tier"], sample.labels["outcome"])] += int(sample.value)
    return counts


async def warm_up(client: httpx.AsyncClient, phone: str) -> None:
    """A conversation outside the measurement: trains the intent classifier and opens the order flow."""
    conversation = Conversation("bench-warm-up", phone, random.Random(0))
    for text in ("Good day", "What is the price of a 10 inch box?", 'pls send 1 bundle of 14" regular pizza box'):
        await converse_once(client, conversation, text)
    if conversation.awaiting == "confirmation":
        await converse_once(client, conversation, conversation.confirm_word)


async def converse_once(client: httpx.AsyncClient, conversation: Conversation, text: str) -> None:
    body = {"text": text, "sender": conversation.sender, "phone": conversation.phone}
    response = await client.post(MESSAGES, json=body, timeout=300)
    if not response.is_success:
        raise SystemExit(f"warm-up message {text!r} failed: HTTP {response.status_code} {response.text[:300]}")
    conversation.read(response.json())


# ---------------------------------------------------------------------------------------------- the run


def _summary(results: Sequence[TurnResult]) -> dict[str, Any]:
    """Count, turns served from L1/L2, p50, p95 and max of the answered turns."""
    times = [result.ms for result in results if result.error is None] or [0.0]
    return {
        "turns": sum(1 for result in results if result.error is None),
        "from_cache": sum(1 for result in results if result.cached and result.error is None),
        "p50_ms": round(percentile(times, 0.50), 1),
        "p95_ms": round(percentile(times, 0.95), 1),
        "max_ms": round(max(times), 1),
    }


def _latencies(results: Sequence[TurnResult], key: str) -> dict[str, dict[str, Any]]:
    """`_summary` per intent (key "intent") or per kind of message sent (key "kind"), most turns first."""
    groups: dict[str, list[TurnResult]] = defaultdict(list)
    for result in results:
        if result.error is None:
            groups[getattr(result, key)].append(result)
    return {name: _summary(group) for name, group in sorted(groups.items(), key=lambda item: -len(item[1]))}


def _intents_by_kind(results: Sequence[TurnResult]) -> dict[str, dict[str, int]]:
    """What the API made of each kind of message, e.g. questions routed to an order intent."""
    found: dict[str, Counter[str]] = defaultdict(Counter)
    for result in results:
        found[result.kind][result.intent] += 1
    return {kind: dict(intents.most_common()) for kind, intents in found.items()}


def _tiers(before: Counter[tuple[str, str]], after: Counter[tuple[str, str]]) -> dict[str, dict[str, Any]]:
    tiers = {}
    for tier in TIERS:
        hits = after[(tier, "hit")] - before[(tier, "hit")]
        misses = after[(tier, "miss")] - before[(tier, "miss")]
        lookups = hits + misses
        tiers[tier] = {"lookups": lookups, "hits": hits, "hit_rate": round(hits / lookups, 3) if lookups else None}
    return tiers


async def run(args: argparse.Namespace) -> dict[str, Any]:
    phones = outlet_phones()
    with tempfile.TemporaryDirectory(prefix="opsdesk-bench-") as tmp:
        os.chmod(tmp, 0o755)
        data_dir = Path(tmp)
        log = data_dir / "opsdesk.log"
        console.print(f"starting opsdesk up --demo (local LLM {'on' if args.local_llm else 'off'}) …")
        with opsdesk_server(data_dir, args.local_llm) as (url, key, server):
            limits = httpx.Limits(max_connections=args.sessions + 5, max_keepalive_connections=args.sessions + 5)
            headers = {"Authorization": f"Bearer {key}"}
            async with httpx.AsyncClient(base_url=url, headers=headers, limits=limits, timeout=30) as client:
                try:
                    await wait_ready(client, server)
                    await warm_up(client, phones[-1])
                    rng = random.Random(args.seed)
                    conversations = [
                        Conversation(f"bench-{n:03d}", phones[n % len(phones)], random.Random(rng.getrandbits(64)))
                        for n in range(args.sessions)
                    ]
                    before, log_offset = await cache_counts(client), log.stat().st_size
                    console.print(f"{args.sessions} sessions x {args.turns} turns …")
                    started = time.perf_counter()
                    per_session = await asyncio.gather(
                        *(converse(client, c, args.turns, args.timeout) for c in conversations)
                    )
                    wall_s = time.perf_counter() - started
                    after = await cache_counts(client)
                    events = server_events(log, log_offset)
                except BaseException:
                    _print_server_errors(log, 0)
                    raise
        if args.server_log:
            shutil.copyfile(log, args.server_log)
        results = [result for session in per_session for result in session]
        errors = [result.error for result in results if result.error]
        errors += [f"server log: {name}" for name in events.elements() if name.startswith("error:")]
        if errors:
            _print_server_errors(log, log_offset)
    return {
        "bench": "chat_load",
        "sessions": args.sessions,
        "turns_per_session": args.turns,
        "turns": len(results),
        "seed": args.seed,
        "local_llm": args.local_llm,
        "wall_s": round(wall_s, 1),
        "turns_per_s": round(len(results) / wall_s, 2),
        "errors": len(errors),
        "error_samples": sorted(Counter(errors).items(), key=lambda item: -item[1])[:10],
        "by_intent": _latencies(results, "intent"),
        "by_kind": _latencies(results, "kind"),
        "intents_by_kind": _intents_by_kind(results),
        "all": _summary(results),
        "cache_tiers": _tiers(before, after),
        "answers_written": dict(Counter(result.answer for result in results if result.answer)),
        "server_warnings": {name: times for name, times in events.most_common() if name.startswith("warning:")},
    }


def _log_lines(log: Path, offset: int) -> list[dict[str, Any]]:
    """The server's JSON log lines from `offset` on (lines that are not JSON are skipped)."""
    with log.open("rb") as handle:
        handle.seek(offset)
        text = handle.read().decode(errors="replace")
    lines = []
    for line in text.splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if isinstance(entry, dict):
            lines.append(entry)
    return lines


def server_events(log: Path, offset: int) -> Counter[str]:
    """ "warning:event" or "error:event" → times, for what the server logged from `offset` on."""
    levels = {"warning": "warning", "error": "error", "critical": "error"}
    return Counter(
        f"{levels[entry['level']]}:{entry.get('event')}"
        for entry in _log_lines(log, offset)
        if entry.get("level") in levels
    )


def _print_server_errors(log: Path, offset: int, most: int = 20) -> None:
    if not log.exists():
        return
    found = [entry for entry in _log_lines(log, offset) if entry.get("level") in ("error", "critical")]
    for entry in found[:most]:
        console.print(json.dumps(entry)[:2000], markup=False, highlight=False)
    if len(found) > most:
        console.print(f"… {len(found) - most} more error lines in the server log")


def show(results: dict[str, Any]) -> None:
    for key, title, label in (
        ("by_intent", "by the intent the API reported", "intent"),
        ("by_kind", "by the kind of message sent", "message"),
    ):
        table = Table(
            title=f"Chat turn latency {title}: {results['sessions']} concurrent sessions x "
            f"{results['turns_per_session']} turns, {results['wall_s']} s"
        )
        for column in (label, "turns", "from L1/L2", "p50 ms", "p95 ms", "max ms"):
            table.add_column(column, justify="left" if column == label else "right")
        rows = {**results[key], "all turns": results["all"]}
        for name, row in rows.items():
            times = (f"{row[f'{q}_ms']:.0f}" for q in ("p50", "p95", "max"))
            table.add_row(name, str(row["turns"]), str(row["from_cache"]), *times)
        console.print(table)
    table = Table(title="Conversation cache tiers over the run (/metrics deltas)")
    for column in ("tier", "look-ups", "hits", "hit rate"):
        table.add_column(column, justify="left" if column == "tier" else "right")
    for tier, row in results["cache_tiers"].items():
        rate = "-" if row["hit_rate"] is None else f"{100 * row['hit_rate']:.1f} %"
        table.add_row(TIERS[tier], str(row["lookups"]), str(row["hits"]), rate)
    console.print(table)
    verdict = "[green]no errors[/green]" if not results["errors"] else f"[red]{results['errors']} errors[/red]"
    console.print(f"{results['turns']} turns, {results['turns_per_s']} turns/s; {verdict}")
    console.print("messages sent → intents reported:")
    for kind, intents in results["intents_by_kind"].items():
        console.print(f"  {kind}: " + ", ".join(f"{intent} {times}" for intent, times in intents.items()))
    written = ", ".join(f"{method} {times}" for method, times in results["answers_written"].items()) or "none"
    console.print(f"knowledge answers written during the run (not from L1/L2): {written}")
    if results["server_warnings"]:
        warned = ", ".join(
            f"{name.removeprefix('warning:')} {times}" for name, times in results["server_warnings"].items()
        )
        console.print(f"server warnings: {warned}", markup=False)
    for error, times in results["error_samples"]:
        console.print(f"  {times}x {error}", markup=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sessions", type=int, default=50, help="concurrent conversations")
    parser.add_argument("--turns", type=int, default=6, help="messages per conversation")
    parser.add_argument("--seed", type=int, default=7, help="seed of every conversation's choices")
    parser.add_argument("--timeout", type=float, default=120, help="seconds a turn may take before it is an error")
    parser.add_argument(
        "--no-local-llm",
        dest="local_llm",
        action="store_false",
        help="without the local SmolLM2 (extractive answers), instead of the shipped default",
    )
    parser.add_argument("--server-log", type=Path, help="keep a copy of the server's log (JSON lines) here")
    parser.add_argument("--json", action="store_true", help="print one JSON object as the last line")
    args = parser.parse_args()
    results = asyncio.run(run(args))
    show(results)
    publish("chat_load", results, as_json=args.json)
    if results["errors"]:
        sys.exit(1)


if __name__ == "__main__":
    main()
