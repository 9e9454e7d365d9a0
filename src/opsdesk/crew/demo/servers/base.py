"""What the local vendor servers share: credentials, fault injection, a log of every write, a uvicorn thread.

Each server is an ASGI app with in-memory state. In front of its routes sits one middleware that, in order: applies
an injected fault for the request's path (an error status N times, optionally with Retry-After, or a delay), checks
the credentials (HTTP Basic ``username:token`` or ``Bearer token``; GitLab also ``PRIVATE-TOKEN``), runs the route
and records every write (any method but GET/HEAD/OPTIONS) with the status it got, for "each write exactly once"
checks.

With a ``state_file`` the state and the write log are saved (atomically, as JSON) after every write and read back
at start, so a server in its own process can be restarted without forgetting what it was sent.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import os
import re
import socket
import threading
import time
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Self

import uvicorn

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_READS = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass
class Fault:
    """One injected misbehaviour for requests whose path matches ``path`` (a regular expression, searched)."""

    path: re.Pattern[str]
    method: str | None
    remaining: int
    status: int | None = None
    retry_after_s: int | None = None
    delay_s: float = 0.0
    after_applying: bool = False  # serve the request, then answer with ``status`` instead (a lost response)
    after: int = 0  # matching requests served normally before the fault starts to apply


@dataclass(frozen=True)
class Write:
    """One write request the server received and the status it answered."""

    method: str
    path: str
    status: int
    body: Any = None  # the JSON body; {"bytes": n} for anything else (multipart uploads)

    @property
    def applied(self) -> bool:
        """Whether the write took effect (a 2xx answer)."""
        return 200 <= self.status < 300


@dataclass
class Faults:
    """Thread-safe list of injected faults; the first matching one with uses left applies."""

    _items: list[Fault] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def fail(
        self,
        path: str,
        status: int = 500,
        *,
        times: int = 1,
        method: str | None = None,
        retry_after_s: int | None = None,
        after_applying: bool = False,
    ) -> None:
        """The next ``times`` matching requests get ``status`` (429 answers carry ``Retry-After`` when given).

        With ``after_applying`` the request is served first and only its answer is replaced: the write happened but
        the client never hears of it, as when a connection drops or a process dies mid-call.
        """
        fault = Fault(re.compile(path), method, times, status=status, retry_after_s=retry_after_s)
        fault.after_applying = after_applying
        self._add(fault)

    def delay(self, path: str, seconds: float, *, times: int = 1, method: str | None = None, after: int = 0) -> None:
        """The next ``times`` matching requests are held ``seconds`` before they are served (or the client leaves);
        with ``after`` the first that many matching requests go through first (hold a step's second write)."""
        self._add(Fault(re.compile(path), method, times, delay_s=seconds, after=after))

    def clear(self) -> None:
        """Removes every fault."""
        with self._lock:
            self._items.clear()

    def take(self, method: str, path: str) -> Fault | None:
        """The fault for this request, counting one use of it."""
        with self._lock:
            for fault in self._items:
                if fault.remaining > 0 and fault.method in (None, method) and fault.path.search(path):
                    if fault.after > 0:
                        fault.after -= 1
                        continue
                    fault.remaining -= 1
                    return fault
        return None

    def _add(self, fault: Fault) -> None:
        with self._lock:
            self._items.append(fault)


class VendorServer:
    """Base of the local Jira, Confluence and GitLab: subclasses give the routes and the vendor's error shape."""

    name = "vendor"

    def __init__(
        self, *, username: str = "opsdesk", token: str = "local-token", state_file: Path | None = None
    ) -> None:
        self.username = username
        self.token = token
        self.state_file = state_file
        self.faults = Faults()
        self._counters: dict[str, int] = {}
        self._writes: list[Write] = []
        self._writes_lock = threading.Lock()
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self.url = ""
        self.lock = threading.RLock()  # guards the subclass's state: routes may run on uvicorn's thread pool

    # -- what subclasses provide -------------------------------------------------------------------------------------

    def app(self) -> ASGIApp:
        """The vendor's routes as an ASGI app."""
        raise NotImplementedError

    def error_body(self, status: int, message: str) -> dict[str, Any]:
        """The vendor's JSON shape for an error."""
        return {"message": message}

    def extra_token(self, headers: dict[str, str]) -> str | None:
        """A vendor-specific credential header (GitLab's PRIVATE-TOKEN)."""
        return None

    def state(self) -> dict[str, Any]:
        """The vendor's data as JSON-able values (for the state file)."""
        raise NotImplementedError

    def restore(self, state: dict[str, Any]) -> None:
        """Takes back what ``state`` returned."""
        raise NotImplementedError

    # -- ids and the state file ------------------------------------------------------------------------------------

    def next_number(self, counter: str, first: int) -> int:
        """The next number of a sequence (ids, issue numbers); sequences are saved with the state."""
        with self.lock:
            value = self._counters.get(counter, first)
            self._counters[counter] = value + 1
            return value

    def save(self) -> None:
        """Writes the state file (when there is one) atomically."""
        if self.state_file is None:
            return
        with self.lock, self._writes_lock:
            data = {"state": self.state(), "counters": self._counters, "writes": [asdict(w) for w in self._writes]}
            self.state_file.parent.mkdir(parents=True, exist_ok=True)
            scratch = self.state_file.with_name(self.state_file.name + ".tmp")
            scratch.write_text(json.dumps(data), encoding="utf-8")
            os.replace(scratch, self.state_file)

    def load(self) -> None:
        """Reads the state file back, when there is one."""
        if self.state_file is None or not self.state_file.exists():
            return
        data = json.loads(self.state_file.read_text(encoding="utf-8"))
        with self.lock, self._writes_lock:
            self.restore(data["state"])
            self._counters = {str(name): int(value) for name, value in data["counters"].items()}
            self._writes = [Write(**write) for write in data["writes"]]

    # -- the write log ---------------------------------------------------------------------------------------------

    def writes(self, path: str | None = None, *, applied_only: bool = True) -> list[Write]:
        """Writes received (those that took effect unless ``applied_only`` is False), optionally by path regex."""
        pattern = re.compile(path) if path else None
        with self._writes_lock:
            return [
                write
                for write in self._writes
                if (write.applied or not applied_only) and (pattern is None or pattern.search(write.path))
            ]

    def forget_writes(self) -> None:
        """Empties the write log."""
        with self._writes_lock:
            self._writes.clear()

    # -- running ---------------------------------------------------------------------------------------------------

    def start(self, host: str = "127.0.0.1", port: int = 0, timeout_s: float = 30.0) -> Self:
        """Serves on ``host:port`` (0: a free port) in a daemon thread; ``url`` is then the base URL."""
        self.load()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        bound_port = sock.getsockname()[1]
        config = uvicorn.Config(
            self.asgi(), log_config=None, access_log=False, lifespan="off", timeout_graceful_shutdown=2
        )
        server = uvicorn.Server(config)
        thread = threading.Thread(
            target=server.run, kwargs={"sockets": [sock]}, daemon=True, name=f"{self.name}-server"
        )
        thread.start()
        deadline = time.monotonic() + timeout_s
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the local {self.name} server did not start")
            time.sleep(0.02)
        self._server, self._thread = server, thread
        self.url = f"http://{host}:{bound_port}"
        return self

    def stop(self) -> None:
        """Stops serving."""
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(timeout=10)
        self._server = self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def asgi(self) -> ASGIApp:
        """The vendor's app behind the fault, credential and write-log middleware."""
        inner = self.app()

        async def front(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] != "http":
                await inner(scope, receive, send)
                return
            await self._serve(inner, scope, receive, send)

        return front

    async def _serve(self, inner: ASGIApp, scope: Scope, receive: Receive, send: Send) -> None:
        method: str = scope["method"]
        path: str = scope["path"]
        body = await _read_body(receive)
        status: list[int] = []
        replayed: list[bool] = []

        async def replay() -> Message:
            if not replayed:
                replayed.append(True)
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        async def recording_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                status.append(int(message["status"]))
            await send(message)

        fault = self.faults.take(method, path)
        if fault is not None and fault.delay_s and await _client_left(receive, fault.delay_s):
            return
        headers = {key.decode("latin-1").lower(): value.decode("latin-1") for key, value in scope["headers"]}
        if not self._authorised(headers) and (fault is None or fault.status is None or fault.after_applying):
            await self._send_error(recording_send, 401, "You are not authenticated. Authentication required.", {})
        elif fault is not None and fault.status is not None:
            if fault.after_applying:
                applied: list[int] = []

                async def swallow(message: Message) -> None:
                    if message["type"] == "http.response.start":
                        applied.append(int(message["status"]))

                await inner(scope, replay, swallow)
                # It took effect (or not) as the status says; the client hears only the injected failure.
                self._record_write(method, path, applied[0] if applied else 500, body, headers)
            extra = {"retry-after": str(fault.retry_after_s)} if fault.retry_after_s is not None else {}
            await self._send_error(recording_send, fault.status, f"Injected failure ({fault.status})", extra)
        else:
            await inner(scope, replay, recording_send)
        if method not in _READS and not (fault is not None and fault.after_applying and fault.status is not None):
            self._record_write(method, path, status[0] if status else 500, body, headers)
        if method not in _READS:
            self.save()

    def _authorised(self, headers: dict[str, str]) -> bool:
        if self.extra_token(headers) == self.token:
            return True
        scheme, _, value = headers.get("authorization", "").partition(" ")
        if scheme.lower() == "bearer":
            return value.strip() == self.token
        if scheme.lower() == "basic":
            try:
                decoded = base64.b64decode(value.strip(), validate=True).decode()
            except (binascii.Error, UnicodeDecodeError):
                return False
            return decoded == f"{self.username}:{self.token}"
        return False

    async def _send_error(self, send: Send, status: int, message: str, headers: dict[str, str]) -> None:
        payload = json.dumps(self.error_body(status, message)).encode()
        raw_headers = [
            (b"content-type", b"application/json;charset=UTF-8"),
            (b"content-length", str(len(payload)).encode()),
        ]
        raw_headers += [(key.encode(), value.encode()) for key, value in headers.items()]
        await send({"type": "http.response.start", "status": status, "headers": raw_headers})
        await send({"type": "http.response.body", "body": payload})

    def _record_write(self, method: str, path: str, status: int, body: bytes, headers: dict[str, str]) -> None:
        with self._writes_lock:
            self._writes.append(Write(method, path, status, _describe(body, headers)))


async def _read_body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


async def _client_left(receive: Receive, seconds: float) -> bool:
    """Waits ``seconds``, or less when the client hangs up first (then True: nobody is left to answer)."""
    try:
        async with asyncio.timeout(seconds):
            while (await receive())["type"] != "http.disconnect":
                pass
            return True
    except TimeoutError:
        return False


def _describe(body: bytes, headers: dict[str, str]) -> Any:
    if not body:
        return None
    if headers.get("content-type", "").startswith("application/json"):
        try:
            return json.loads(body)
        except ValueError:
            pass
    return {"bytes": len(body)}
