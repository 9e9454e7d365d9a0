"""uvicorn's httptools protocol with a bounded request head (named by `http_server.server_options`)."""

from __future__ import annotations

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from opsdesk.core.http_server import MAX_REQUEST_HEAD_BYTES, REFUSAL_431


class BoundedHeadHttpToolsProtocol(HttpToolsProtocol):
    """httptools keeps a header's pieces until the header ends, so without a bound one 50 MB header is 50 MB held;
    this answers 431 and closes once a request's head passes the limit."""

    _head_bytes = 0
    _in_head = True

    def data_received(self, data: bytes) -> None:
        if self._in_head:
            self._head_bytes += len(data)
        super().data_received(data)
        if self._in_head and self._head_bytes > MAX_REQUEST_HEAD_BYTES and not self.transport.is_closing():
            self.transport.write(REFUSAL_431)
            self.transport.close()

    def on_headers_complete(self) -> None:
        self._in_head = False
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._in_head, self._head_bytes = True, 0
        super().on_message_complete()
