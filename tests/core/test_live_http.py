"""Behaviour only a real server shows: connections, pipelining, oversized request heads."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI

from opsdesk.api import create_app
from opsdesk.core.context import AppContext
from tests.support.live_server import LiveServer


def _exchange(port: int, raw: bytes, *, read_timeout: float = 10.0) -> bytes:
    """Sends `raw` on one connection and reads until the server closes it or goes quiet."""
    with socket.create_connection(("127.0.0.1", port), timeout=read_timeout) as sock:
        sock.sendall(raw)
        received = b""
        while True:
            try:
                chunk = sock.recv(65536)
            except TimeoutError:
                return received
            if not chunk:
                return received
            received += chunk
            if received.count(b"HTTP/1.1 ") >= raw.count(b" HTTP/1.1\r\n") and received.endswith(b"}"):
                return received


@pytest.fixture
def live(ctx: AppContext) -> Iterator[tuple[LiveServer, FastAPI]]:
    app = create_app(ctx.settings, context=ctx)

    @app.get("/test-only/boom", include_in_schema=False)
    async def boom() -> Any:
        raise RuntimeError("a bug in one request")

    server = LiveServer(app).start()
    try:
        yield server, app
    finally:
        server.stop()


def test_a_500_closes_nothing_but_itself(live: tuple[LiveServer, FastAPI]) -> None:
    server, _ = live
    pipelined = b"GET /test-only/boom HTTP/1.1\r\nHost: t\r\n\r\nGET /healthz HTTP/1.1\r\nHost: t\r\n\r\n"
    received = _exchange(server.port, pipelined)
    assert received.startswith(b"HTTP/1.1 500 "), received[:200]
    assert b'"code":"internal"' in received
    assert b"HTTP/1.1 200 " in received, "the request behind the failed one on the same connection was answered"

