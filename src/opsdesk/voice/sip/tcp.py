"""SIP over TCP (RFC 3261 §18.3): messages framed by Content-Length on a stream, handed to the same user agent.

Each connection is registered under its peer address, so the user agent's responses and in-dialog requests to that
address go back on the connection the peer opened; when it closes they fall back to UDP.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import Callable

from opsdesk.voice.sip.message import MAX_MESSAGE_BYTES

_CONTENT_LENGTH = re.compile(rb"^(?:content-length|l)[ \t]*:[ \t]*(\d{1,6})[ \t]*\r?$", re.I | re.M)
_IDLE_SECONDS = 600.0

Deliver = Callable[[bytes, tuple[str, int]], None]


class TcpTransport:
    """Accepts SIP connections; `deliver` gets each framed message with the peer's address."""

    def __init__(self, deliver: Deliver, *, allowed: Callable[[str], bool]) -> None:
        self._deliver = deliver
        self._allowed = allowed
        self._writers: dict[tuple[str, int], asyncio.StreamWriter] = {}
        self._server: asyncio.Server | None = None
        self.port = 0

    async def start(self, host: str, port: int) -> None:
        self._server = await asyncio.start_server(self._connection, host, port, limit=MAX_MESSAGE_BYTES)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            for writer in list(self._writers.values()):
                writer.close()
            await self._server.wait_closed()
            self._server = None

    def connected(self, address: tuple[str, int]) -> bool:
        writer = self._writers.get(address)
        return writer is not None and not writer.is_closing()

    def send(self, data: bytes, address: tuple[str, int]) -> bool:
        """Writes on the peer's connection; False when there is none (the caller then uses UDP)."""
        writer = self._writers.get(address)
        if writer is None or writer.is_closing():
            return False
        writer.write(data)
        return True

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername")
        address = (str(peer[0]), int(peer[1]))
        if not self._allowed(address[0]):
            writer.close()
            return
        self._writers[address] = writer
        try:
            while True:
                message = await asyncio.wait_for(self._read_message(reader), _IDLE_SECONDS)
                if message is None:
                    break
                if message.strip():  # CRLF keep-alives carry nothing
                    self._deliver(message, address)
        except (TimeoutError, ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError):
            pass  # an idle, broken or oversized stream: drop the connection, never the gateway
        finally:
            self._writers.pop(address, None)
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    @staticmethod
    async def _read_message(reader: asyncio.StreamReader) -> bytes | None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError as exc:
            if exc.partial.strip():
                raise
            return None
        match = _CONTENT_LENGTH.search(head)
        length = int(match.group(1)) if match else 0
        if len(head) + length > MAX_MESSAGE_BYTES:
            raise ValueError("message too large")
        return head + (await reader.readexactly(length) if length else b"")
