"""RabbitMQ for tests: the machine's broker (or OPSDESK_TEST_AMQP_URL), and a TCP proxy in front of it that can cut
every connection, as a broker restart or a network fault would (the event bus tests and the crew's crash tests)."""

from __future__ import annotations

import asyncio
import os
import socket
from typing import NoReturn
from urllib.parse import urlsplit

import pytest


def amqp_url_or_skip() -> str:
    """RabbitMQ for tests: OPSDESK_TEST_AMQP_URL or the local default; if unreachable, fails under CI, else skips."""
    url = os.environ.get("OPSDESK_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")
    parts = urlsplit(url)
    try:
        socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 5672), timeout=1).close()
    except OSError as exc:
        _unavailable(f"RabbitMQ not reachable at {parts.hostname}:{parts.port}: {exc}")
    return url


def _unavailable(reason: str) -> NoReturn:
    if os.environ.get("CI") == "true":
        pytest.fail(reason)
    pytest.skip(reason)


class TcpProxy:
    """Forwards 127.0.0.1:<port> to RabbitMQ; `cut()` drops every connection and refuses new ones until `restore()`."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port = 0
        self._server: asyncio.Server | None = None
        self._pipes: set[asyncio.StreamWriter] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.port, reuse_address=True)
        self.port = self._server.sockets[0].getsockname()[1]

    def url(self, amqp_url: str) -> str:
        parts = urlsplit(amqp_url)
        credentials = parts.netloc.rsplit("@", 1)[0]
        return parts._replace(netloc=f"{credentials}@127.0.0.1:{self.port}").geturl()

    async def cut(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for writer in list(self._pipes):
            writer.transport.abort()
        self._pipes.clear()

    async def restore(self) -> None:
        await self.start()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.transport.abort()
            return
        self._pipes |= {writer, upstream_writer}
        await asyncio.gather(
            self._pipe(reader, upstream_writer), self._pipe(upstream_reader, writer), return_exceptions=True
        )

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        finally:
            self._pipes.discard(writer)
            writer.transport.abort()
