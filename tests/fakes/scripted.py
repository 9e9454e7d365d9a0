"""What the vendor fakes share: scripted behaviours per endpoint, recorded requests, a real HTTP server thread."""

from __future__ import annotations

import asyncio
import json
import threading
from collections import defaultdict, deque
from dataclasses import dataclass, field
from typing import Any, Self

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.routing import Route

from tests.support.live_server import LiveServer


@dataclass
class Behaviour:
    """What the fake does with one request."""

    status: int = 200
    delay_s: float = 0.0
    retry_after: str | None = None
    text: str | None = None  # None: the server's default reply (or a schema sample)
    tool_calls: list[tuple[str, dict[str, Any]]] | None = None  # None: a call only when the request forces one
    cut: bool = False  # streams: drop the connection halfway through

    @classmethod
    def parse(cls, spec: str | Behaviour) -> Behaviour:
        """ "ok", "500", "429" / "429:2" (Retry-After 2 s), "delay:1.5", "text:Hello there"."""
        if isinstance(spec, Behaviour):
            return spec
        kind, _, arg = spec.partition(":")
        if kind == "ok":
            return cls()
        if kind == "delay":
            return cls(delay_s=float(arg))
        if kind == "text":
            return cls(text=arg)
        if kind == "cut":
            return cls(cut=True)
        if kind.isdigit():
            status = int(kind)
            return cls(status=status, retry_after=(arg or "1") if status == 429 else None)
        raise ValueError(f"unknown fake behaviour {spec!r}")


@dataclass
class Recorded:
    """One request the fake received."""

    endpoint: str
    headers: dict[str, str]
    body: dict[str, Any] = field(default_factory=dict)


class ScriptedServer:
    """A real HTTP server on 127.0.0.1 whose answers follow a per-endpoint script, then the default (ok)."""

    default_endpoint = "chat"

    def __init__(self, reply: str = "Hello from the fake.", model: str = "fake-model") -> None:
        self.reply = reply
        self.model = model
        self.requests: list[Recorded] = []
        self._scripts: dict[str, deque[Behaviour]] = defaultdict(deque)
        self._lock = threading.Lock()
        self._server: LiveServer | None = None

    def routes(self) -> list[Route]:
        """The vendor's endpoints; subclasses define them."""
        raise NotImplementedError

    @property
    def url(self) -> str:
        """Base URL to hand to the SDK (``http://127.0.0.1:<port>/v1``)."""
        if self._server is None:
            raise RuntimeError("the fake server is not running")
        return self._server.url + "/v1"

    @property
    def root_url(self) -> str:
        """Base URL without the /v1 suffix (the Anthropic SDK adds it itself)."""
        return self.url.removesuffix("/v1")

    def script(self, behaviours: list[str | Behaviour], endpoint: str | None = None) -> None:
        """Queues behaviours for the next requests to ``endpoint`` (the chat endpoint by default)."""
        with self._lock:
            self._scripts[endpoint or self.default_endpoint].extend(Behaviour.parse(spec) for spec in behaviours)

    def count(self, endpoint: str | None = None) -> int:
        """How many requests ``endpoint`` has received."""
        endpoint = endpoint or self.default_endpoint
        with self._lock:
            return sum(1 for request in self.requests if request.endpoint == endpoint)

    def last(self, endpoint: str | None = None) -> Recorded:
        """The latest request to ``endpoint``."""
        endpoint = endpoint or self.default_endpoint
        with self._lock:
            return next(request for request in reversed(self.requests) if request.endpoint == endpoint)

    def reset(self) -> None:
        """Forgets scripts and recorded requests."""
        with self._lock:
            self._scripts.clear()
            self.requests.clear()

    def start(self) -> Self:
        """Starts serving in a background thread."""
        self._server = LiveServer(Starlette(routes=self.routes())).start()
        return self

    def stop(self) -> None:
        """Stops the server thread."""
        if self._server is not None:
            self._server.stop()
            self._server = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    async def receive(self, endpoint: str, request: Request) -> tuple[dict[str, Any], Behaviour]:
        """Records the request, takes its behaviour from the script and waits out any delay."""
        raw = await request.body()
        body = json.loads(raw) if raw else {}
        with self._lock:
            self.requests.append(Recorded(endpoint, dict(request.headers), body))
            queue = self._scripts[endpoint]
            behaviour = queue.popleft() if queue else Behaviour()
        if behaviour.delay_s:
            await _sleep_unless_gone(request, behaviour.delay_s)
        return body, behaviour


async def _sleep_unless_gone(request: Request, seconds: float) -> None:
    # Stop early when the client has hung up, so the server can shut down without waiting out long delays.
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while loop.time() < deadline:
        await asyncio.sleep(min(0.05, max(0.0, deadline - loop.time())))
        if await request.is_disconnected():
            return


def words(text: str) -> int:
    """A crude token count, good enough for usage numbers."""
    return len(text.split())


def prompt_words(messages: list[dict[str, Any]]) -> int:
    """Words in every message content (strings or content blocks)."""
    total = 0
    for message in messages:
        content = message.get("content")
        if isinstance(content, str):
            total += words(content)
        elif isinstance(content, list):
            total += sum(words(str(block.get("text") or block.get("content") or "")) for block in content)
    return max(total, 1)


def sample_for(schema: dict[str, Any]) -> Any:
    """A small value that satisfies a JSON schema (enough for the schemas tests use)."""
    if "const" in schema:
        return schema["const"]
    if "enum" in schema:
        return schema["enum"][0]
    for key in ("anyOf", "oneOf"):
        if key in schema:
            return sample_for(schema[key][0])
    kind = schema.get("type", "object")
    if isinstance(kind, list):
        kind = kind[0]
    if kind == "object":
        properties: dict[str, Any] = schema.get("properties", {})
        return {name: sample_for(sub) for name, sub in properties.items()}
    if kind == "array":
        return [sample_for(schema.get("items", {"type": "string"}))] * max(1, schema.get("minItems", 1))
    return {"string": "sample", "integer": 1, "number": 1.5, "boolean": True, "null": None}.get(kind, "sample")


class CutStream(Exception):
    """Raised inside a streaming body so the server drops the connection mid-reply."""


def chunks_of(text: str, size: int = 8) -> list[str]:
    """Splits text into pieces the way a stream would deliver it."""
    return [text[start : start + size] for start in range(0, len(text), size)] or [""]
