"""A mixed load against 2 API processes + 1 worker while faults are injected one at a time (issue 10).

    .venv/bin/python bench/chaos.py [--external] [--seconds-per-fault 20] [--clients 4] [--json]

`opsdesk up --demo --workers 2` runs on a throwaway data dir: on its embedded PostgreSQL by default, or with
`--external` through `OPSDESK_DATABASE_URL` on a pgserver instance this script starts apart from opsdesk. Redis
(127.0.0.1:6379, database 9) and RabbitMQ (127.0.0.1:5672) are configured with OPSDESK_REDIS_URL / OPSDESK_AMQP_URL.

A few async clients send orders through the order desk (`/orders/messages`: an order from a registered outlet
phone, then "YES"), upload documents, chat and query the knowledge base. Clients retry a request that got a
dropped connection, 429 or 503 with the same message id or Idempotency-Key, as Meta and any sane client do.
Each phase runs `--seconds-per-fault` seconds and injects one fault a quarter of the way in:

- `api`: kill -9 one API process (uvicorn's supervisor starts another);
- `worker`: kill -9 the background worker;
- `postgres`: kill -9 the postmaster (opsdesk's supervisor should restart the embedded server; `--external`: this
  script restarts it at once, as an operator's service manager would);
- `redis`: `redis-cli shutdown nosave`, restarted after 3 s (other engineers' tests share this Redis);
- `rabbitmq`: `rabbitmqctl stop_app`, `start_app` after 3 s.

Per fault: acknowledged writes lost (an order answered 200 with a number that is not in the database afterwards;
an upload answered 202 with no document afterwards), duplicates (two orders for one message id or for one
conversation, which carries one order), unexpected errors (any answer other than 2xx, 429 and 503), dropped
connections (counted apart), and seconds from the fault until every request succeeds again. Target: 0 / 0 / 0 and
recovery within 10 s. Events: a durable queue of the bench's own, bound to opsdesk's exchange, receives every
`order.confirmed` the worker's relay publishes, and the `bench.tick` events the bench itself commits into the outbox
five times a second (so the relay is exercised however slowly the HTTP load moves on a busy machine); per phase, the
events written to the outbox that never arrived (must be 0), those that arrived more than once (at-least-once allows
it; consumers drop them by id), and the longest and median time from an event's commit to its arrival. What
opsdesk does not bring back within 20 s (a killed worker, the embedded server) the bench brings back itself so that
the run can go on, and reports the fault's recovery as "never".
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import aio_pika
import httpx
import psutil
from rich.console import Console
from rich.table import Table
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

FAULTS = ("api", "worker", "postgres", "redis", "rabbitmq")
TARGET_RECOVER_S = 10.0
REDIS_URL = "redis://127.0.0.1:6379/9"  # a database of its own on the shared Redis
AMQP_URL = "amqp://guest:guest@127.0.0.1:5672/"
EXCHANGE = "opsdesk.events"  # the default of OPSDESK_AMQP_EXCHANGE
REDIS_START = [
    "redis-server", "--daemonize", "yes", "--bind", "127.0.0.1", "-::1", "--port", "6379", "--save", "",
    "--appendonly", "no", "--dir", "/var/lib/redis", "--logfile", "/var/log/redis/ci.log",
]  # fmt: skip
RESCUE_AFTER_S = 20.0  # what opsdesk does not bring back in this long, the bench does (and says so)
OUTAGE_S = 3.0  # how long Redis and RabbitMQ stay down
RETRY_FOR_S = 20.0  # a client gives up on one request after this long
PHONES = ["+65 9123 4501", "+65 9123 4502", "+65 9123 4503", "+65 9234 1188", "+65 9345 2210", "+65 9456 3321"]
ORDER_TEXTS = ['pls send {n} bundles of 10" regular boxes', '{n} bundles 12" pizza box', "{n} packs pizza liner"]
QUESTIONS = ["what are your delivery hours?", "what is the order cut-off time?", "how do I cancel an order?"]
console = Console(stderr=True, width=150)


@dataclass
class Outcome:
    """One attempt of one request."""

    kind: str
    started: float
    ended: float
    status: int | None  # None: the connection dropped or timed out
    error: str = ""


@dataclass
class Ledger:
    """What the clients sent and what opsdesk acknowledged."""

    attempts: list[Outcome] = field(default_factory=list)
    orders: dict[str, str] = field(default_factory=dict)  # order number -> the message id that was answered with it
    uploads: set[str] = field(default_factory=set)  # acknowledged documents' source keys
    order_at: dict[str, float] = field(default_factory=dict)
    upload_at: dict[str, float] = field(default_factory=dict)
    sessions: dict[str, float] = field(default_factory=dict)  # order conversation -> when its first message went


@dataclass
class Stack:
    """The opsdesk processes under test and what they run on."""

    url: str
    key: str
    data_dir: Path
    env: dict[str, str]
    up: subprocess.Popen[bytes]
    database_url: str = ""
    external: Any = None
    extra_workers: list[subprocess.Popen[bytes]] = field(default_factory=list)
    rescuer: Any = None  # the embedded server, when the bench had to start it again
    back_at: dict[str, float] = field(default_factory=dict)  # fault -> when the bench started the component again

    def children(self) -> list[tuple[int, str]]:
        """(pid, command line) of the live processes under `opsdesk up`."""
        found = []
        for child in psutil.Process(self.up.pid).children(recursive=True):
            try:
                if child.status() != psutil.STATUS_ZOMBIE:
                    found.append((child.pid, " ".join(child.cmdline())))
            except psutil.Error:  # it ended while we looked
                continue
        return found

    def api_pids(self) -> list[int]:
        return [pid for pid, command in self.children() if "spawn_main" in command]

    def worker_pids(self) -> list[int]:
        ours = [pid for pid, command in self.children() if "opsdesk.cli worker" in command]
        return ours + [p.pid for p in self.extra_workers if p.poll() is None]

    def postmaster_pid(self) -> int:
        pgdata = self.external.pgdata if self.external is not None else self.data_dir / "pg"
        return int((pgdata / "postmaster.pid").read_text().splitlines()[0])


class EventWatch:
    """A durable queue of the bench's own on opsdesk's exchange: each `order.confirmed` and `bench.*` event RabbitMQ
    delivers, and when.

    A robust connection comes back by itself after RabbitMQ does; the queue (durable, persistent messages) keeps what
    the relay published meanwhile. Deleted at the end.
    """

    def __init__(self) -> None:
        self.received: list[tuple[str, float]] = []  # (message id = event id, wall-clock time)
        self.name = f"chaos-bench.{uuid.uuid4().hex[:8]}"
        self._connection: Any = None

    async def start(self) -> None:
        self._connection = await aio_pika.connect_robust(AMQP_URL, timeout=5)
        channel = await self._connection.channel()
        await channel.set_qos(prefetch_count=100)
        exchange = await channel.declare_exchange(EXCHANGE, aio_pika.ExchangeType.TOPIC, durable=True)
        # Unused for 10 minutes (the bench died), RabbitMQ deletes it.
        queue = await channel.declare_queue(self.name, durable=True, arguments={"x-expires": 600_000})
        await queue.bind(exchange, routing_key="order.confirmed")
        await queue.bind(exchange, routing_key="bench.#")
        await queue.consume(self._on_message)

    async def relay_running(self, stack: Stack, timeout_s: float) -> None:
        """Waits until the worker's relay publishes an event the bench writes into the outbox (a worker still
        starting would otherwise count as delay in the first phase)."""
        engine = create_async_engine(stack.database_url)
        try:
            ping = await _commit_event(engine, "bench.ping")
        finally:
            await engine.dispose()
        await _wait(lambda: _true(any(m == ping for m, _ in self.received)), "the relay publishes", timeout_s)

    async def _on_message(self, message: aio_pika.abc.AbstractIncomingMessage) -> None:
        self.received.append((message.message_id or "", time.time()))
        await message.ack()

    async def stop(self) -> None:
        """Closes the robust connection first (it would declare the queue again), then deletes the queue."""
        if self._connection is None:
            return
        await self._connection.close()
        connection = await aio_pika.connect(AMQP_URL, timeout=5)
        async with connection:
            channel = await connection.channel()
            await channel.queue_delete(self.name)


_INSERT_EVENT = text(
    "INSERT INTO event_outbox (id, event_type, payload, occurred_at, attempts, next_attempt_at) "
    "VALUES (CAST(:id AS uuid), :type, '{}'::jsonb, now(), 0, now())"
)


async def _commit_event(engine: AsyncEngine, event_type: str) -> str:
    """Commits one event into opsdesk's outbox, as any of its transactions would; returns its id."""
    event_id = str(uuid.uuid4())
    async with engine.begin() as conn:
        await conn.execute(_INSERT_EVENT, {"id": event_id, "type": event_type})
    return event_id


async def tick_events(stack: Stack, stop: asyncio.Event, every_s: float = 0.2) -> None:
    """Commits a `bench.tick` event every `every_s` until stopped (skipping beats while the database is away)."""
    engine = create_async_engine(stack.database_url, connect_args={"timeout": 2})
    try:
        while not stop.is_set():
            with contextlib.suppress(OSError, SQLAlchemyError, TimeoutError):
                async with asyncio.timeout(5):
                    await _commit_event(engine, "bench.tick")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=every_s)
    finally:
        await engine.dispose()


class Load:
    """Clients that keep a mixed load going until stopped."""

    def __init__(self, stack: Stack, ledger: Ledger, clients: int) -> None:
        self.stack = stack
        self.ledger = ledger
        self.clients = clients
        self._stop = asyncio.Event()
        self._serial = itertools.count()
        self._headers = {"Authorization": f"Bearer {stack.key}"}
        self._base = f"{stack.url}/api/v1/workspaces/default"

    async def run(self) -> None:
        limits = httpx.Limits(max_connections=self.clients * 2)
        async with httpx.AsyncClient(timeout=45, limits=limits, headers=self._headers) as http:
            await asyncio.gather(*(self._client(http, n) for n in range(self.clients)))

    def stop(self) -> None:
        self._stop.set()

    async def _client(self, http: httpx.AsyncClient, n: int) -> None:
        steps: list[Callable[[httpx.AsyncClient], Awaitable[None]]] = [self._order, self._chat, self._query]
        if n == 0:  # one uploader: ingestion is CPU work for the worker on a 2-core machine
            steps.insert(1, self._upload)
        for step in itertools.cycle(steps):
            if self._stop.is_set():
                return
            await step(http)
            await asyncio.sleep(0.05)

    async def _send(
        self, http: httpx.AsyncClient, kind: str, send: Callable[[], Awaitable[httpx.Response]]
    ) -> httpx.Response | None:
        """Sends until an answer other than 429/503 (or a dropped connection) comes, for RETRY_FOR_S at most."""
        deadline = time.monotonic() + RETRY_FOR_S
        while True:
            started = time.monotonic()
            error = ""
            try:
                response: httpx.Response | None = await send()
            except httpx.TransportError as exc:
                response, error = None, f"{type(exc).__name__}: {exc}"[:120]
            status = response.status_code if response is not None else None
            self.ledger.attempts.append(Outcome(kind, started, time.monotonic(), status, error))
            if status not in (None, 429, 503) or time.monotonic() > deadline:
                return response
            pause = float(response.headers.get("retry-after", 1)) if response is not None else 0.5
            await asyncio.sleep(min(pause, 2.0))

    async def _order(self, http: httpx.AsyncClient) -> None:
        serial = next(self._serial)
        session, phone = f"chaos-{uuid.uuid4().hex[:12]}", PHONES[serial % len(PHONES)]
        self.ledger.sessions[session] = time.monotonic()
        for step, words in enumerate((ORDER_TEXTS[serial % len(ORDER_TEXTS)].format(n=2 + serial % 5), "YES")):
            message_id = f"{session}-{step}"
            body = {"session_id": session, "text": words, "sender_phone": phone, "message_id": message_id}
            response = await self._send(http, "order", partial(http.post, f"{self._base}/orders/messages", json=body))
            if response is None or response.status_code != 200:
                return
            number = response.json().get("order_number")
            if number:
                self.ledger.orders.setdefault(number, message_id)
                self.ledger.order_at.setdefault(number, time.monotonic())
            if response.json().get("awaiting") != "confirmation":
                return

    async def _upload(self, http: httpx.AsyncClient) -> None:
        name = f"chaos-{next(self._serial):05d}-{uuid.uuid4().hex[:8]}.md"
        content = f"# Chaos note {name}\n\nDeliveries to outlet {name} leave the depot at 08:30.\n".encode()
        headers = {"Idempotency-Key": name}

        def send() -> Awaitable[httpx.Response]:
            files = {"files": (name, content, "text/markdown")}
            return http.post(f"{self._base}/knowledge-bases/chaos/documents", files=files, headers=headers)

        response = await self._send(http, "upload", send)
        if response is not None and response.status_code == 202:
            self.ledger.uploads.add(name)
            self.ledger.upload_at[name] = time.monotonic()

    async def _chat(self, http: httpx.AsyncClient) -> None:
        serial = next(self._serial)
        body = {"text": QUESTIONS[serial % len(QUESTIONS)], "sender": f"chaos-chat-{serial % 7}",
                "message_id": f"chat-{uuid.uuid4().hex}"}  # fmt: skip
        await self._send(http, "chat", lambda: http.post(f"{self._base}/conversations/messages", json=body))

    async def _query(self, http: httpx.AsyncClient) -> None:
        body = {"query": QUESTIONS[next(self._serial) % len(QUESTIONS)], "cache": False}
        await self._send(http, "query", lambda: http.post(f"{self._base}/knowledge-bases/order-desk/query", json=body))


# --- the stack -------------------------------------------------------------------------------------------------


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _env(data_dir: Path, database_url: str | None) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("OPSDESK_")}
    env.update(
        {
            "OPSDESK_ENV": "test",
            "OPSDESK_DATA_DIR": str(data_dir),
            "OPSDESK_SECRET_KEY": "chaos-bench-secret-key-that-is-long-enough-for-hs256",
            "OPSDESK_LOCAL_LLM_ENABLED": "false",
            "OPSDESK_LOG_LEVEL": "WARNING",
            "OPSDESK_REDIS_URL": REDIS_URL,
            "OPSDESK_AMQP_URL": AMQP_URL,
        }
    )
    if database_url:
        env["OPSDESK_DATABASE_URL"] = database_url
    return env


async def _wait(condition: Callable[[], Awaitable[bool]], what: str, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while not await condition():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting until {what}")
        await asyncio.sleep(0.2)


async def start_stack(external: bool) -> Stack:
    """`opsdesk up --demo --workers 2` on a new data dir, an admin key and a knowledge base for uploads."""
    data_dir = Path(tempfile.mkdtemp(prefix="opsdesk-chaos-"))
    os.chmod(data_dir, 0o755)  # the embedded server runs as its own system user
    server = None
    database_url = None
    if external:
        from opsdesk.db.embedded import EmbeddedPostgres

        (data_dir / "external").mkdir()
        server = EmbeddedPostgres(data_dir / "external", cleanup_mode="stop")  # a server opsdesk did not start
        server.start()
        database_url = server.url("asyncpg")
    (data_dir / "opsdesk").mkdir()
    env = _env(data_dir / "opsdesk", database_url)
    port = _free_port()
    command = ["up", "--demo", "--workers", "2", "--host", "127.0.0.1", "--port", str(port)]
    up = await asyncio.to_thread(_spawn, command, env, data_dir / "up.log")
    stack = Stack(f"http://127.0.0.1:{port}", "", data_dir / "opsdesk", env, up, external=server)
    async with httpx.AsyncClient(timeout=2) as http:

        async def ready() -> bool:
            if up.poll() is not None:
                raise RuntimeError(f"opsdesk up exited; see {data_dir / 'up.log'}")
            try:
                return (await http.get(f"{stack.url}/readyz")).status_code == 200
            except httpx.TransportError:
                return False

        await _wait(ready, "opsdesk up is ready", 240)
    await _wait(lambda: _true(len(stack.worker_pids()) == 1), "the worker runs", 60)
    stack.database_url = database_url or _child_env(stack.worker_pids()[0])["OPSDESK_DATABASE_URL"]
    env["OPSDESK_DATABASE_URL"] = stack.database_url  # one-off commands join the running server
    stack.key = await asyncio.to_thread(_admin_key, env)
    async with httpx.AsyncClient(timeout=30, headers={"Authorization": f"Bearer {stack.key}"}) as http:
        made = await http.post(f"{stack.url}/api/v1/workspaces/default/knowledge-bases", json={"name": "chaos"})
        made.raise_for_status()
    return stack


def _spawn(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen([sys.executable, "-m", "opsdesk.cli", *args], env=env, stdout=out, stderr=out)


def _admin_key(env: dict[str, str]) -> str:
    command = [sys.executable, "-m", "opsdesk.cli", "apikey", "create", "--role", "admin", "--quiet"]
    created = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
    return created.stdout.strip().splitlines()[-1]


async def _true(value: bool) -> bool:
    return value


def _child_env(pid: int) -> dict[str, str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    return dict(item.decode().split("=", 1) for item in raw if b"=" in item)


def stop_stack(stack: Stack) -> None:
    for worker in stack.extra_workers:
        if worker.poll() is None:
            worker.terminate()
            worker.wait(30)
    if stack.up.poll() is None:
        stack.up.send_signal(signal.SIGTERM)
        try:
            stack.up.wait(60)
        except subprocess.TimeoutExpired:
            stack.up.kill()
    for server in (stack.rescuer, stack.external):
        if server is not None:
            server.stop()


# --- the faults ------------------------------------------------------------------------------------------------


async def _run(*command: str) -> None:
    process = await asyncio.create_subprocess_exec(
        *command, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL
    )
    await process.wait()


async def inject(fault: str, stack: Stack, notes: list[str]) -> bool:
    """Injects one fault; True when opsdesk did not bring the component back by itself and the bench had to."""
    if fault == "api":
        before = set(stack.api_pids())
        os.kill(sorted(before)[0], signal.SIGKILL)
        await _wait(lambda: _true(len(set(stack.api_pids()) - before) == 1), "a new API process", 60)
        return False
    if fault == "worker":
        os.kill(stack.worker_pids()[0], signal.SIGKILL)
        try:
            await _wait(lambda: _true(bool(stack.worker_pids())), "a new worker", RESCUE_AFTER_S)
            return False
        except RuntimeError:
            notes.append(
                f"worker: opsdesk up did not restart the killed worker in {RESCUE_AFTER_S:.0f} s; the bench started one"
            )
            worker = await asyncio.to_thread(_spawn, ["worker"], stack.env, stack.data_dir.parent / "worker.log")
            stack.extra_workers.append(worker)
            return True
    if fault == "postgres":
        killed = stack.postmaster_pid()
        os.kill(killed, signal.SIGKILL)
        if stack.external is not None:  # nothing in opsdesk starts an external server: the operator's job
            await _restart_external(stack)
            return False

        async def restarted() -> bool:
            try:
                pid = stack.postmaster_pid()
            except (FileNotFoundError, IndexError, ValueError):
                return False
            return pid != killed and psutil.pid_exists(pid)

        try:
            await _wait(restarted, "the embedded PostgreSQL is restarted", RESCUE_AFTER_S)
            return False
        except RuntimeError:
            notes.append(
                f"postgres: nothing restarted the embedded PostgreSQL in {RESCUE_AFTER_S:.0f} s after kill -9; "
                "the bench started it"
            )
            await _rescue_embedded(stack)
            return True
    if fault == "redis":
        await _run("redis-cli", "-p", "6379", "shutdown", "nosave")
        await asyncio.sleep(OUTAGE_S)
        await _run(*REDIS_START)
        return False
    if fault == "rabbitmq":
        await _run("rabbitmqctl", "stop_app")
        await asyncio.sleep(OUTAGE_S)
        await _run("rabbitmqctl", "start_app")
        stack.back_at[fault] = time.monotonic()
        return False
    raise ValueError(fault)


async def _rescue_embedded(stack: Stack) -> None:
    """Starts the embedded server on opsdesk's data dir from this process (and stops it when the run ends)."""
    from opsdesk.db.embedded import EmbeddedPostgres

    server = EmbeddedPostgres(stack.data_dir, cleanup_mode="stop")
    pause = 0.5
    for _ in range(20):
        try:
            await asyncio.to_thread(server.start)
            stack.rescuer = server
            return
        except Exception:  # the dead postmaster's children hold its shared memory for a moment
            await asyncio.sleep(pause)
            pause = min(pause * 2, 4.0)


async def _restart_external(stack: Stack) -> None:
    """Starts the external server again at once, as a service manager would (a new handle: the old one's view of
    the dead postmaster is stale); the dead server's children hold its shared memory for a moment."""
    from opsdesk.db.embedded import EmbeddedPostgres

    pause = 0.5
    for _ in range(20):
        server = EmbeddedPostgres(stack.external.pgdata.parent, cleanup_mode="stop")
        try:
            await asyncio.to_thread(server.start)
        except Exception:
            await asyncio.sleep(pause)
            pause = min(pause * 2, 4.0)
            continue
        old, stack.external = stack.external, server
        await asyncio.to_thread(old.stop)  # leaves only: the new handle still uses the server
        return
    raise RuntimeError("the external PostgreSQL did not start again")


# --- the verdict -----------------------------------------------------------------------------------------------


@dataclass
class EventVerdict:
    """The `order.confirmed` and `bench.tick` events committed in one phase, and what the bench's queue received."""

    written: int = 0
    lost: int = 0  # in the outbox, never arrived
    duplicates: int = 0  # arrived more than once (consumers drop these by event id)
    max_delay_s: float | None = None  # commit to first arrival
    median_delay_s: float | None = None
    caught_up_s: float | None = None  # from RabbitMQ back until every event committed before then had arrived


@dataclass
class Verdict:
    acked_lost: int
    duplicates: int
    unexpected_errors: int
    dropped: int
    recover_s: float | None
    requests: int
    events: EventVerdict = field(default_factory=EventVerdict)

    def as_json(self) -> dict[str, Any]:
        return {
            "acked_lost": self.acked_lost,
            "duplicates": self.duplicates,
            "unexpected_errors": self.unexpected_errors,
            "recover_s": self.recover_s,
            "dropped": self.dropped,
            "requests": self.requests,
            "events": self.events.written,
            "events_lost": self.events.lost,
            "events_duplicates": self.events.duplicates,
            "events_max_delay_s": self.events.max_delay_s,
            "events_median_delay_s": self.events.median_delay_s,
            "events_caught_up_s": self.events.caught_up_s,
        }


async def persisted(stack: Stack, ledger: Ledger, wait_s: float) -> tuple[set[str], set[str], dict[str, int]]:
    """Order numbers and document keys in the database (waiting for ingestion), and duplicate counts by id."""
    engine = create_async_engine(stack.database_url)
    try:
        deadline = time.monotonic() + wait_s
        while True:
            try:
                found = await _persisted_once(engine)
            except (OSError, SQLAlchemyError):
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(1)
                continue
            if ledger.uploads <= found[1] or time.monotonic() > deadline:
                return found
            await asyncio.sleep(1)
    finally:
        await engine.dispose()


async def _persisted_once(engine: AsyncEngine) -> tuple[set[str], set[str], dict[str, int]]:
    async with engine.connect() as conn:
        numbers = set((await conn.execute(text("SELECT number FROM orders"))).scalars())
        keys = set(
            (
                await conn.execute(
                    text(
                        "SELECT d.source_key FROM documents d JOIN knowledge_bases k ON k.id = d.kb_id "
                        "WHERE k.name = 'chaos'"
                    )
                )
            ).scalars()
        )
        dup_rows = await conn.execute(
            text(
                "SELECT coalesce(session_id, source_message_id), count(*) FROM orders "
                "WHERE session_id LIKE 'chaos-%' GROUP BY 1 HAVING count(*) > 1 "
                "UNION ALL SELECT source_message_id, count(*) FROM orders "
                "WHERE source_message_id IS NOT NULL GROUP BY 1 HAVING count(*) > 1"
            )
        )
        duplicates = {str(name): int(count) for name, count in dup_rows}
    return numbers, keys, duplicates


def judge(
    ledger: Ledger, window: tuple[float, float], fault_at: float | None, numbers: set[str], keys: set[str],
    duplicates: dict[str, int],
) -> Verdict:  # fmt: skip
    """The verdict on the attempts and acknowledgements made inside `window`."""
    start, end = window
    attempts = [a for a in ledger.attempts if start <= a.started < end]
    unexpected = [a for a in attempts if a.status is not None and not (200 <= a.status < 300 or a.status in (429, 503))]
    failed = [a for a in attempts if a.status is None or not 200 <= a.status < 300]
    lost = [n for n, at in ledger.order_at.items() if start <= at < end and n not in numbers]
    lost += [k for k, at in ledger.upload_at.items() if start <= at < end and k not in keys]
    sessions = {session for session, at in ledger.sessions.items() if start <= at < end}
    dups = sum(1 for key in duplicates if key in sessions or key.rsplit("-", 1)[0] in sessions)
    recover: float | None = None
    if fault_at is not None:
        after = [a for a in failed if a.ended >= fault_at]
        recover = round(max((a.ended for a in after), default=fault_at) - fault_at, 2)
    return Verdict(len(lost), dups, len(unexpected), sum(a.status is None for a in attempts), recover, len(attempts))


async def relayed_events(stack: Stack, watch: EventWatch, wait_s: float) -> tuple[list[tuple[str, float]], int]:
    """The `order.confirmed` and `bench.tick` events in the outbox as (id, committed at, wall clock) once the relay
    has sent them all and the bench's queue has them (or `wait_s` passed), and how many confirmed orders have no
    `order.confirmed` event."""
    engine = create_async_engine(stack.database_url)
    try:
        deadline = time.monotonic() + wait_s
        while True:
            async with engine.connect() as conn:
                rows = (
                    await conn.execute(
                        text(
                            "SELECT id::text, extract(epoch FROM occurred_at), published_at IS NOT NULL "
                            "FROM event_outbox WHERE event_type IN ('order.confirmed', 'bench.tick')"
                        )
                    )
                ).all()
                unannounced = await conn.scalar(
                    text(
                        "SELECT count(*) FROM orders o WHERE o.confirmed_at IS NOT NULL AND NOT EXISTS ("
                        "SELECT 1 FROM event_outbox e WHERE e.event_type = 'order.confirmed' "
                        "AND e.payload->>'order_id' = o.id::text)"
                    )
                )
            arrived = {message_id for message_id, _ in watch.received}
            if all(sent and event_id in arrived for event_id, _, sent in rows) or time.monotonic() > deadline:
                return [(event_id, float(at)) for event_id, at, _ in rows], int(unannounced or 0)
            await asyncio.sleep(1)
    finally:
        await engine.dispose()


def judge_events(
    events: list[tuple[str, float]], watch: EventWatch, window: tuple[float, float], back_at: float | None
) -> EventVerdict:
    """The verdict on the events committed inside `window` (wall clock); `back_at`: when RabbitMQ was back."""
    start, end = window
    arrivals: dict[str, list[float]] = {}
    for message_id, at in watch.received:
        arrivals.setdefault(message_id, []).append(at)
    mine = [(event_id, at) for event_id, at in events if start <= at < end]
    delays = [min(arrivals[event_id]) - at for event_id, at in mine if event_id in arrivals]
    return EventVerdict(
        written=len(mine),
        lost=sum(event_id not in arrivals for event_id, _ in mine),
        duplicates=sum(len(arrivals.get(event_id, [])) - 1 for event_id, _ in mine if event_id in arrivals),
        max_delay_s=round(max(delays), 2) if delays else None,
        median_delay_s=round(statistics.median(delays), 2) if delays else None,
        caught_up_s=None if back_at is None else _caught_up(mine, arrivals, back_at),
    )


def _caught_up(mine: list[tuple[str, float]], arrivals: dict[str, list[float]], back_at: float) -> float | None:
    waited = [min(arrivals[event_id]) for event_id, at in mine if at < back_at and event_id in arrivals]
    return round(max(0.0, max(waited) - back_at), 2) if waited else None


# --- the run ---------------------------------------------------------------------------------------------------


async def run(args: argparse.Namespace) -> tuple[dict[str, Verdict], list[str], dict[str, list[int]]]:
    stack = await start_stack(args.external)
    watch = EventWatch()
    stop_ticks = asyncio.Event()
    wall = time.time() - time.monotonic()  # monotonic -> wall clock, as events record when they were committed
    keep = args.keep
    ledger = Ledger()
    load = Load(stack, ledger, args.clients)
    notes: list[str] = []
    windows: dict[str, tuple[float, float, float | None]] = {}
    helped: set[str] = set()
    try:
        await watch.start()
        await watch.relay_running(stack, timeout_s=120)
        ticking = asyncio.create_task(tick_events(stack, stop_ticks))
        running = asyncio.create_task(load.run())
        started = time.monotonic()
        await asyncio.sleep(args.warmup)
        windows["none"] = (started, time.monotonic(), None)
        for fault in args.faults:
            console.print(f"[bold]{fault}[/bold]: fault in {args.seconds_per_fault / 4:.0f} s")
            phase = time.monotonic()
            await asyncio.sleep(args.seconds_per_fault / 4)
            fault_at = time.monotonic()
            try:
                rescued = await inject(fault, stack, notes)
            except Exception as exc:  # a fault that could not be injected is reported, not fatal
                notes.append(f"{fault}: the fault could not be injected or undone: {exc!r}")
                rescued = True
            await asyncio.sleep(max(0.0, phase + args.seconds_per_fault - time.monotonic()))
            windows[fault] = (phase, time.monotonic(), fault_at)
            if rescued:
                helped.add(fault)
        load.stop()
        stop_ticks.set()
        await running
        await ticking
        console.print("verifying: waiting for ingestion of the acknowledged uploads")
        numbers, keys, duplicates = await persisted(stack, ledger, wait_s=120)
        console.print("verifying: waiting for the relay to send every event")
        events, unannounced = await relayed_events(stack, watch, wait_s=60)
    finally:
        await watch.stop()
        stop_stack(stack)
        if keep:
            console.print(f"logs: {stack.data_dir.parent}")
        else:
            shutil.rmtree(stack.data_dir.parent, ignore_errors=True)
    verdicts = {
        name: judge(ledger, (start, end), fault_at, numbers, keys, duplicates)
        for name, (start, end, fault_at) in windows.items()
    }
    for name, (start, end, _) in windows.items():
        back_at = stack.back_at.get(name)
        verdicts[name].events = judge_events(
            events, watch, (start + wall, end + wall), None if back_at is None else back_at + wall
        )
    if unannounced:
        notes.append(f"{unannounced} confirmed orders have no order.confirmed event in the outbox")
    for name in helped:  # opsdesk did not recover by itself: "never", with what the bench's help took
        notes.append(
            f"{name}: requests succeeded again {verdicts[name].recover_s} s after the fault, with the bench's help"
        )
        verdicts[name].recover_s = None
    statuses: dict[str, list[int]] = {}
    for name, (start, end, _) in windows.items():
        statuses[name] = sorted({a.status or 0 for a in ledger.attempts if start <= a.started < end})
    if duplicates:
        notes.append(f"duplicate order keys: {duplicates}")
    for name, (start, end, _) in windows.items():
        odd = [a for a in ledger.attempts if start <= a.started < end and (a.status is None or a.status >= 400)]
        for (kind, status, error), count in Counter((a.kind, a.status, a.error) for a in odd).most_common(6):
            notes.append(f"{name}: {count}x {kind} -> {status or 'dropped'} {error}".rstrip())
    notes.append(f"acknowledged: {len(ledger.orders)} order numbers, {len(ledger.uploads)} uploads")
    return verdicts, notes, statuses


def report(verdicts: dict[str, Verdict], notes: list[str], statuses: dict[str, list[int]], database: str) -> None:
    table = Table(title=f"Chaos: 2 API processes + 1 worker, {database} PostgreSQL, Redis, RabbitMQ")
    for column in ("fault", "requests", "acked lost", "duplicates", "unexpected errors", "dropped", "recover s",
                   "events lost/dup/max s", "statuses seen", "baseline"):  # fmt: skip
        table.add_column(column, justify="left" if column in ("fault", "statuses seen", "baseline") else "right")
    for name, v in verdicts.items():
        recover = "-" if name == "none" else ("never" if v.recover_s is None else f"{v.recover_s:.1f}")
        e = v.events
        delay = "-" if e.max_delay_s is None else f"{e.max_delay_s:.1f}"
        events = f"{e.lost}/{e.duplicates}/{delay} of {e.written}"
        if e.caught_up_s is not None:
            events += f", caught up {e.caught_up_s:.1f} s after"
        ok = v.acked_lost == v.duplicates == v.unexpected_errors == e.lost == 0 and (
            name == "none" or (v.recover_s is not None and v.recover_s <= TARGET_RECOVER_S)
        )
        table.add_row(
            name, str(v.requests), str(v.acked_lost), str(v.duplicates), str(v.unexpected_errors), str(v.dropped),
            recover, events, ",".join(str(s) if s else "drop" for s in statuses[name]),
            ("0/0/0/≤10 s " + ("[green]met[/green]" if ok else "[red]missed[/red]")),
        )  # fmt: skip
    console.print(table)
    for note in notes:
        console.print(f"- {note}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--external", action="store_true", help="PostgreSQL through OPSDESK_DATABASE_URL")
    parser.add_argument("--seconds-per-fault", type=float, default=20.0)
    parser.add_argument("--warmup", type=float, default=8.0, help="seconds of load before the first fault")
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--faults", nargs="+", choices=FAULTS, default=list(FAULTS))
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--keep", action="store_true", help="keep the data dir and its logs")
    args = parser.parse_args()
    verdicts, notes, statuses = asyncio.run(run(args))
    database = "external" if args.external else "embedded"
    report(verdicts, notes, statuses, database)
    results = {name: v.as_json() for name, v in verdicts.items() if name != "none"}
    if args.json:
        print(json.dumps(results))


if __name__ == "__main__":
    main()
