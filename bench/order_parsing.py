"""Order understanding on labeled sets: line-item exact match, clarifications, parse latency — ours beside a baseline.

    python bench/order_parsing.py [--data FILE ...] [--catalog demo.json] [--embedder] [--failures] [--json]

Fourteen sets by default: `tests/data/order_messages.jsonl` (193 messages, mostly written beside the parser),
`tests/data/order_forms_real.jsonl` (55 order forms as outlets send them, written and labelled blind: headers,
footers, per-piece counts, notes, a second form while a draft waits), `tests/data/order_forms_real_2.jsonl` (50
more, written blind after the first set's fixes, in other layouts: pasted spreadsheet tables, product codes,
numbered lines, "2.5k", typos, fields on one line), `tests/data/order_forms_real_3.jsonl` (50 chat messages,
written blind after the second set's fixes: chat exports and quoted replies, voice-note transcripts, counts in
words, ranges and two units, section headings, Malay and Chinese words, outlets by company or place) and
`tests/data/order_forms_real_4.jsonl` (50 more, written blind after the third set's fixes: orders mixed with
questions, lines struck out, corrected or cancelled in the same message, the customer's own names, two outlets in
one message, removals while a draft waits) and `tests/data/order_forms_real_5.jsonl` (50 more: pasted emails,
purchasing-system printouts, several items on one line, relative, money and time quantities, orders by day) and
`tests/data/order_forms_real_6.jsonl` (50 more: photographed forms read by OCR, several staff in one message, split
messages, replies to a confirmation, standing orders, shorthand) and `tests/data/order_forms_real_7.jsonl` (50 more,
written blind after the sixth set's second round: notes-app pastes, fixed-row forms, voice notes, purposes, code
tails, mixed languages, replies to a draft) and `tests/data/order_forms_real_8.jsonl` (50 more, written blind after
the seventh set's fixes, its writer told only to send what real outlets send). Five
more were written blind against other trades' catalogs and run with them: `order_forms_bakery.jsonl` (40, a
Malaysian bakery supplier: weights, bottles, Malay units), `order_forms_hotel.jsonl` (40, a Mumbai hygiene and
disposables supplier: cans and bottles in cases, sizes as letters, Hinglish, indent slips),
`order_forms_grocery.jsonl` (40, a Manila wholesaler to sari-sari stores: Tagalog, sacks, strips, gallons),
`order_forms_drinks.jsonl` (40, a Manchester drinks wholesaler: kegs, 70cl, stock-take sheets, a CSV export) and
`order_forms_jakarta.jsonl` (40, a Jakarta restaurant supplier: Bahasa Indonesia, dus, karung, peti). Where a set
labels them, it also scores: outlets found from header
fields or the sender's phone, header/footer lines asked about as items (must be 0), the customer's notes kept, and
whether a form sent while a draft waits is told apart as a new order.

The baseline is what a quick script would do: the first number of each comma/"and" piece is the quantity and
difflib's closest catalog name is the product; no sizes, no units, no outlet phones, no questions.
With ``--embedder`` the parser also runs with the local MiniLM embedder as a second opinion (an extra column).
"""

from __future__ import annotations

import argparse
import difflib
import json
import re
import statistics
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from opsdesk.orders.parsing import Catalog, CatalogIndex, OrderParser, TextEmbedder, load_catalog
from opsdesk.orders.parsing.results import OutletSource
from opsdesk.orders.parsing.signals import DraftRelation, draft_relation

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data"
DEFAULT_DATA = [
    DATA / f"{name}.jsonl"
    for name in (
        "order_messages", "order_forms_real", "order_forms_real_2", "order_forms_real_3", "order_forms_real_4",
        "order_forms_real_5", "order_forms_real_6", "order_forms_real_7", "order_forms_real_8", "order_forms_bakery",
        "order_forms_hotel", "order_forms_grocery", "order_forms_drinks", "order_forms_jakarta",
    )
]  # fmt: skip
# Sets written against another trade's catalog, run with it unless --catalog names one for every set.
CATALOG_OF = {
    "order_forms_bakery": DATA / "catalog_bakery_supply.json",
    "order_forms_hotel": DATA / "catalog_hotel_supply.json",
    "order_forms_grocery": DATA / "catalog_grocery_wholesale.json",
    "order_forms_drinks": DATA / "catalog_drinks_wholesale.json",
    "order_forms_jakarta": DATA / "catalog_horeca_jakarta.json",
}
DEFAULT_OUT = ROOT / "bench" / "results" / "order_parsing.json"


@dataclass(frozen=True, slots=True)
class Reading:
    """What a system read from one message, in the labeled set's terms."""

    outlet: str | None
    items: tuple[tuple[str, int], ...]
    urgent: bool
    kinds: frozenset[str]
    asked_spans: tuple[str, ...] = ()  # what each question is about, as written
    remarks: tuple[str, ...] = ()  # the customer's notes the reader kept
    new_order: bool | None = None  # read while a draft waits: a new order (True) or a correction (False)


@dataclass(slots=True)
class Score:
    name: str
    expected_items: int = 0
    matched_items: int = 0
    extra_items: int = 0
    messages: int = 0
    fully_correct: int = 0
    outlet_correct: int = 0
    urgent_correct: int = 0
    unclear: int = 0
    unclear_asked: int = 0
    kinds_covered: int = 0
    clear: int = 0
    clear_asked: int = 0
    outlets_expected: int = 0
    outlets_found: int = 0
    frame_lines: int = 0  # header and footer lines in the set
    frame_lines_asked: int = 0  # of those, asked about as if they were items
    notes_expected: int = 0
    notes_kept: int = 0
    pending: int = 0
    pending_told_apart: int = 0
    times_ms: list[float] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    def add(self, row: dict[str, Any], got: Reading) -> None:
        expected = row["expected"]
        want = Counter((i["sku"], int(i["quantity"])) for i in expected["items"])
        have = Counter(got.items)
        matched = sum((want & have).values())
        self.messages += 1
        self.expected_items += sum(want.values())
        self.matched_items += matched
        self.extra_items += sum((have - want).values())
        self.outlet_correct += got.outlet == expected["outlet"]
        if expected["outlet"] is not None and "header_lines" in expected:
            self.outlets_expected += 1
            self.outlets_found += got.outlet == expected["outlet"]
        frame = [*expected.get("header_lines", []), *expected.get("footer_lines", [])]
        asked_frame = [line for line in frame if any(_about(span, line) for span in got.asked_spans)]
        self.frame_lines += len(frame)
        self.frame_lines_asked += len(asked_frame)
        kept = [note for note in expected.get("notes", []) if any(_same(note, r) for r in got.remarks)]
        self.notes_expected += len(expected.get("notes", []))
        self.notes_kept += len(kept)
        if row.get("pending_draft"):
            self.pending += 1
            self.pending_told_apart += got.new_order == expected["new_order"]
        self.urgent_correct += got.urgent == expected["urgent"]
        asked = bool(got.kinds)
        if expected["needs_clarification"]:
            self.unclear += 1
            self.unclear_asked += asked
            self.kinds_covered += set(expected["clarification_kinds"]) <= got.kinds
        else:
            self.clear += 1
            self.clear_asked += asked
        ok = (
            want == have
            and got.outlet == expected["outlet"]
            and got.urgent == expected["urgent"]
            and asked == expected["needs_clarification"]
            and not asked_frame
        )
        self.fully_correct += ok
        if not ok:
            self.failures.append(
                f"{row['id']}: expected outlet={expected['outlet']} items={dict(want)} urgent={expected['urgent']} "
                f"ask={sorted(expected['clarification_kinds'])}; got outlet={got.outlet} items={dict(have)} "
                f"urgent={got.urgent} ask={sorted(got.kinds)}"
                + (f" asked about frame lines {asked_frame}" if asked_frame else "")
            )

    def summary(self) -> dict[str, Any]:
        times = sorted(self.times_ms)
        return {
            "line_item_accuracy": _ratio(self.matched_items, self.expected_items),
            "extra_items": self.extra_items,
            "messages_fully_correct": _ratio(self.fully_correct, self.messages),
            "outlet_accuracy": _ratio(self.outlet_correct, self.messages),
            "urgent_accuracy": _ratio(self.urgent_correct, self.messages),
            "clarified_ambiguous": _ratio(self.unclear_asked, self.unclear),
            "clarification_kind_recall": _ratio(self.kinds_covered, self.unclear),
            "false_clarification_rate": _ratio(self.clear_asked, self.clear),
            "outlets_found": _ratio(self.outlets_found, self.outlets_expected),
            "header_footer_lines_asked": self.frame_lines_asked,
            "notes_kept": _ratio(self.notes_kept, self.notes_expected),
            "new_order_told_apart": _ratio(self.pending_told_apart, self.pending),
            "p50_ms": round(statistics.median(times), 3) if times else 0.0,
            "p95_ms": round(times[int(0.95 * (len(times) - 1))], 3) if times else 0.0,
        }


def _ratio(part: int, whole: int) -> float:
    return round(part / whole, 4) if whole else 1.0


def _plain(text: str) -> str:
    return " ".join(re.findall(r"[a-z0-9]+", text.lower()))


def _about(span: str, line: str) -> bool:
    """A question's span comes from this line (spans are lower-cased pieces of a line)."""
    piece = _plain(span)
    return bool(piece) and piece in _plain(line)


def _same(note: str, remark: str) -> bool:
    """The note is kept: in the remark, with or without its "Remarks:" key (a form's remark is kept as its value)."""
    note = re.sub(r"^\W*(?:remarks?|notes?|nb|ps)\s*:\s*", "", note, flags=re.IGNORECASE)
    return _plain(note) in _plain(remark) if _plain(note) else False


# ------------------------------------------------------------------------------------------------ systems


def ours(catalog: Catalog, embedder: TextEmbedder | None = None) -> Callable[[str, str | None], Reading]:
    parser = OrderParser(CatalogIndex(catalog, embedder=embedder))

    def read(text: str, phone: str | None, pending: bool = False) -> Reading:
        result = parser.parse(text, phone)
        return Reading(
            result.outlet_code,
            tuple((i.sku, i.quantity) for i in result.items),
            result.urgent,
            frozenset(result.clarification_kinds),
            tuple(c.span for c in result.clarifications if c.span),
            tuple(getattr(result, "remarks", ())),
            _new_order(text, result, parser.index.outlet_by_phone(phone)) if pending else None,
        )

    return read


def _new_order(text: str, result: Any, draft_outlet: Any) -> bool:
    """Sent while a draft waits: a new order (or a form to ask about) rather than a correction of the draft.

    The set does not say which outlet the waiting draft is for; the sender's registered outlet stands in for it.
    """
    named = result.outlet_code if result.outlet and result.outlet.source is not OutletSource.PHONE else None
    relation = draft_relation(
        text, items=len(result.items), outlet_named=named, draft_outlet=draft_outlet.code if draft_outlet else None
    )
    return relation is not DraftRelation.CORRECTION


def baseline(catalog: Catalog) -> Callable[[str, str | None], Reading]:
    names: dict[str, str] = {}
    for product in catalog.products:
        for text in (product.name, *product.aliases):
            names.setdefault(text.lower(), product.sku)
    outlets: dict[str, str] = {}
    for outlet in catalog.outlets:
        for text in (outlet.name, *outlet.aliases):
            outlets.setdefault(text.lower(), outlet.code)
    split = re.compile(r",|;|\n|\band\b|&|\+")
    number = re.compile(r"\d+")

    def read(text: str, phone: str | None, pending: bool = False) -> Reading:
        items: list[tuple[str, int]] = []
        for piece in split.split(text.lower()):
            found = number.search(piece)
            words = number.sub(" ", piece).strip()
            if not found or not words:
                continue
            best = difflib.get_close_matches(words, list(names), n=1, cutoff=0.3)
            if best:
                items.append((names[best[0]], int(found.group(0))))
        outlet = next((code for name, code in outlets.items() if name in text.lower()), None)
        return Reading(outlet, tuple(items), "urgent" in text.lower() or "asap" in text.lower(), frozenset())

    return read


# -------------------------------------------------------------------------------------------------- runner


def run(system: Callable[..., Reading], rows: list[dict[str, Any]], name: str, repeat: int) -> Score:
    score = Score(name)
    for row in rows:  # warm-up: first calls pay for caches and lazy imports
        system(row["text"], row.get("sender_phone"))
    for row in rows:
        got = system(row["text"], row.get("sender_phone"), bool(row.get("pending_draft")))
        score.add(row, got)
        for _ in range(repeat):
            start = time.perf_counter()
            system(row["text"], row.get("sender_phone"))
            score.times_ms.append((time.perf_counter() - start) * 1000)
    return score


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, nargs="+", default=DEFAULT_DATA, help="labeled JSONL sets")
    parser.add_argument(
        "--catalog", type=Path, default=None, help="catalog JSON for every set (default: the set's own, or the demo's)"
    )
    parser.add_argument("--repeat", type=int, default=5, help="timed parses per message")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="where to write the JSON result")
    parser.add_argument("--failures", action="store_true", help="list the messages each system got wrong")
    parser.add_argument("--embedder", action="store_true", help="also run with the local MiniLM second opinion")
    parser.add_argument("--json", action="store_true", help="print the result as one JSON object on the last line")
    args = parser.parse_args()

    started = time.perf_counter()
    console = Console()
    sets: dict[str, Any] = {}
    for path in args.data:
        rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        catalog = load_catalog(args.catalog or CATALOG_OF.get(path.stem))
        sets[path.stem] = _measure(console, path, rows, catalog, args)
    result = {
        "bench": "order_parsing",
        "sets": sets,
        **next(iter(sets.values())),  # the first set's numbers at the top level, as before
        "seconds": round(time.perf_counter() - started, 2),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    if args.json:
        print(json.dumps(result))


def _measure(
    console: Console, path: Path, rows: list[dict[str, Any]], catalog: Catalog, args: argparse.Namespace
) -> dict[str, Any]:
    our_score = run(ours(catalog), rows, "opsdesk parser", args.repeat)
    scores = [our_score]
    if args.embedder:
        from opsdesk.providers.embedding.local_minilm import LocalMiniLM

        scores.append(run(ours(catalog, LocalMiniLM()), rows, "parser + MiniLM", args.repeat))
    base_score = run(baseline(catalog), rows, "regex + difflib baseline", args.repeat)
    scores.append(base_score)
    ours_summary, base_summary = our_score.summary(), base_score.summary()

    title = f"Order parsing — {path.name}: {len(rows)} labeled messages, {our_score.expected_items} expected items"
    table = Table(title=title)
    table.add_column("metric")
    for score in scores:
        table.add_column(score.name, justify="right")
    table.add_column("target", justify="right")
    targets = {
        "line_item_accuracy": "≥ 0.98",
        "clarified_ambiguous": "1.0",
        "p95_ms": "≤ 50",
        "outlets_found": "1.0",
        "header_footer_lines_asked": "0",
    }
    summaries = [score.summary() for score in scores]
    for key in ours_summary:
        table.add_row(key, *(str(summary[key]) for summary in summaries), targets.get(key, ""))
    console.print(table)
    if args.failures:
        for score in scores:
            console.print(f"[bold]{score.name}[/bold]: {len(score.failures)} messages not fully correct")
            for line in score.failures:
                console.print(f"  {line}", markup=False)
    return {
        "data": str(path.relative_to(ROOT) if path.is_relative_to(ROOT) else path),
        "messages": len(rows),
        "expected_items": our_score.expected_items,
        **ours_summary,
        "baseline": base_summary,
        **({"with_embedder": summaries[1]} if args.embedder else {}),
    }


if __name__ == "__main__":
    main()
