"""Behaviour only a real server shows: connections, pipelining, oversized request heads."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI

from opsdesk.api import create_app
from opsdesk.app.context import AppContext
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


def _send_oversized_head(port: int, header_bytes: int) -> bytes:
    """Sends a GET /healthz whose one header is `header_bytes` long; returns what came back before the close."""
    received = b""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: t\r\nX-Big: ")
        chunk, sent = b"a" * 65536, 0
        try:
            while sent < header_bytes:
                sock.sendall(chunk)
                sent += len(chunk)
                sock.setblocking(False)
                try:
                    received += sock.recv(65536)
                except BlockingIOError:
                    pass
                sock.setblocking(True)
                if received:
                    break
            else:
                sock.sendall(b"\r\n\r\n")
            while data := sock.recv(65536):
                received += data
        except (BrokenPipeError, ConnectionResetError):
            pass  # refused by closing: fine, the point is that it was not taken in
    return received


@pytest.mark.parametrize("parser", ["httptools", "h11"])
def test_a_one_megabyte_header_is_refused_and_the_server_goes_on(ctx: AppContext, parser: str) -> None:
    from opsdesk.core.http_server import server_options

    options = server_options() if parser == "httptools" else {**server_options(), "http": "h11"}
    server = LiveServer(create_app(ctx.settings, context=ctx), **options).start()
    try:
        received = _send_oversized_head(server.port, 1024 * 1024)
        normal = _exchange(server.port, b"GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
    finally:
        server.stop()
    assert not received.startswith(b"HTTP/1.1 200"), received[:200]
    if parser == "httptools":
        assert received.startswith(b"HTTP/1.1 431 "), received[:200]
    else:  # h11 answers its own limit with a 400 and closes
        assert received == b"" or received.startswith((b"HTTP/1.1 431 ", b"HTTP/1.1 400 ")), received[:200]
    assert normal.startswith(b"HTTP/1.1 200 ")


async def test_any_server_gets_431_for_a_head_past_the_limit(client: Any) -> None:
    response = await client.get("/healthz", headers={"X-Big": "a" * 100_000})
    assert response.status_code == 431
    assert response.json()["error"]["code"] == "headers_too_large"
    assert (await client.get("/healthz", headers={"X-Fine": "a" * 8_000})).status_code == 200
