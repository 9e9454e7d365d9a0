"""How opsdesk runs uvicorn: a bounded request head whichever HTTP parser serves it."""

from __future__ import annotations

import importlib.util
from typing import Any

import orjson

MAX_REQUEST_HEAD_BYTES = 64 * 1024  # request line plus all headers; a large JWT and cookies fit many times over
_BODY = orjson.dumps(
    {
        "error": {
            "message": f"The request line and headers exceed {MAX_REQUEST_HEAD_BYTES} bytes.",
            "type": "invalid_request_error",
            "code": "headers_too_large",
        }
    }
)
REFUSAL_431 = (
    b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-type: application/json\r\n"
    + f"content-length: {len(_BODY)}\r\nconnection: close\r\n\r\n".encode()
    + _BODY
)


def server_options() -> dict[str, Any]:
    """uvicorn arguments that bound the request head: httptools (when installed) through a protocol that counts
    what it buffers before the headers end, h11 through its own incomplete-event limit. Named by string, so the
    options also reach the processes of `--workers N`."""
    options: dict[str, Any] = {"h11_max_incomplete_event_size": MAX_REQUEST_HEAD_BYTES}
    if importlib.util.find_spec("httptools") is None:
        return {**options, "http": "h11"}
    return {**options, "http": "opsdesk.core.bounded_httptools:BoundedHeadHttpToolsProtocol"}
