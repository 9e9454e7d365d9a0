"""HTTP plumbing shared by every router: JSON error bodies, request ids, body limits, access logs, metrics."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote_to_bytes

import orjson
import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from opsdesk.core.errors import OpsdeskError, RateLimited, ServiceUnavailable, is_database_unreachable
from opsdesk.core.http_server import MAX_REQUEST_HEAD_BYTES
from opsdesk.core.ids import new_request_id
from opsdesk.core.logging import get_logger
from opsdesk.core.metrics import HTTP_LATENCY, HTTP_REQUESTS, OVERHEAD
from opsdesk.core.upstream_clock import start_clock

_log = get_logger("opsdesk.http")
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
# C0 controls and DEL: never part of an identifier, a name or a filter. PostgreSQL cannot store NUL at all.
CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f]")
_CONTROL_BYTES = re.compile(rb"[\x00-\x1f\x7f]")
_PG_CHARACTER_NOT_IN_REPERTOIRE = "22021"  # what PostgreSQL says to a NUL in text
_PG_UNTRANSLATABLE_CHARACTER = "22P05"  # ... and to a \u0000 in JSON (JSONB), e.g. a string inside a stored answer
_STATUS_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    405: "invalid_request_error",
    409: "conflict_error",
    413: "payload_too_large",
    415: "invalid_request_error",
    422: "invalid_request_error",
    429: "rate_limit_error",
    431: "invalid_request_error",
}
DATABASE_RETRY_AFTER_S = 2


def error_body(status: int, message: str, *, code: str, error_type: str | None = None, **extra: Any) -> bytes:
    """The one error shape (OpenAI's, so its SDKs parse it): {"error": {message, type, code, ...}}."""
    error = {"message": message, "type": error_type or _STATUS_TYPES.get(status, "api_error"), "code": code}
    error.update({key: value for key, value in extra.items() if value is not None})
    request_id = structlog.contextvars.get_contextvars().get("request_id")
    return orjson.dumps({"error": error, "request_id": request_id})


def _json(status: int, body: bytes, headers: dict[str, str] | None = None) -> JSONResponse:
    response = JSONResponse(content=None, status_code=status, headers=headers)
    response.body = body
    response.headers["content-length"] = str(len(body))
    return response


def _validation_message(errors: list[dict[str, Any]]) -> tuple[str, str, list[dict[str, Any]]]:
    details: list[dict[str, Any]] = []
    for err in errors:
        loc = [str(part) for part in err.get("loc") or ()]
        details.append({"loc": loc, "msg": str(err.get("msg", "")), "type": err.get("type")})
    if any(err.get("type") == "json_invalid" for err in errors):
        return "The request body is not valid JSON.", "invalid_json", details
    first: dict[str, Any] = details[0] if details else {"loc": [], "msg": "invalid input"}
    where = ".".join(part for part in first["loc"] if part != "body") or "request"
    return f"Invalid value at '{where}': {first['msg']}", "invalid_value", details


def install_error_handlers(app: FastAPI) -> None:
    """Every error becomes the same JSON shape; unexpected ones are logged and never leak internals."""

    @app.exception_handler(OpsdeskError)
    async def _opsdesk_error(_: Request, exc: OpsdeskError) -> JSONResponse:
        retry = isinstance(exc, RateLimited | ServiceUnavailable)
        headers = {"Retry-After": str(exc.retry_after_s)} if retry else None  # type: ignore[attr-defined]
        body = error_body(exc.status_code, exc.message, code=exc.code, error_type=exc.error_type, details=exc.details)
        return _json(exc.status_code, body, headers)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        message, code, details = _validation_message(list(exc.errors()))
        status = 400 if code == "invalid_json" else 422
        return _json(status, error_body(status, message, code=code, details=details))

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        message = exc.detail if isinstance(exc.detail, str) else "Request failed."
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return _json(exc.status_code, error_body(exc.status_code, message, code=code), dict(exc.headers or {}))

    async def _database_unreachable(request: Request, exc: Exception) -> JSONResponse:
        """The database cannot be reached (down, restarting, pool exhausted): 503 at once, the client retries."""
        sqlstate = getattr(getattr(exc, "orig", exc), "sqlstate", None)
        if sqlstate in (_PG_CHARACTER_NOT_IN_REPERTOIRE, _PG_UNTRANSLATABLE_CHARACTER):
            # The backstop for text no route checked: a NUL anywhere in input is the caller's mistake, not a 500.
            message = "Text must not contain NUL characters."
            return _json(422, error_body(422, message, code="control_character"))
        if not is_database_unreachable(exc):
            raise exc  # not ours: the catch-all below answers it
        _log.warning("database_unavailable", path=request.url.path, error=f"{type(exc).__name__}: {exc}"[:300])
        unavailable = ServiceUnavailable(
            "The database is unavailable; retry shortly.",
            code="database_unavailable",
            retry_after_s=DATABASE_RETRY_AFTER_S,
        )
        return await _opsdesk_error(request, unavailable)

    for driver_error in _driver_error_types():
        app.add_exception_handler(driver_error, _database_unreachable)

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        return _internal_error(exc)


def _internal_error(exc: BaseException) -> JSONResponse:
    _log.exception("unhandled_error", error=f"{type(exc).__name__}: {exc}")
    return _json(500, _internal_body())


def _internal_body() -> bytes:
    return error_body(500, "Internal error; the request id helps find it in the logs.", code="internal")


def _control_character_in(scope: Scope) -> str | None:
    """Where a control character is in the request line: "the path", a query parameter, or None."""
    if CONTROL_CHARACTERS.search(scope["path"]):
        return "the path"
    query: bytes = scope.get("query_string", b"")
    if b"%" in query or _CONTROL_BYTES.search(query):
        for pair in query.split(b"&"):
            name, _, value = pair.partition(b"=")
            if _CONTROL_BYTES.search(unquote_to_bytes(value)) or _CONTROL_BYTES.search(unquote_to_bytes(name)):
                return f"query parameter '{CONTROL_CHARACTERS.sub('?', unquote_to_bytes(name).decode('latin-1'))}'"
    return None


def _driver_error_types() -> tuple[type[Exception], ...]:
    """The exception bases a lost database connection surfaces as (each driver's, SQLAlchemy's, the socket's)."""
    import asyncpg
    import psycopg
    import psycopg_pool
    from sqlalchemy.exc import SQLAlchemyError

    return (
        OSError,
        SQLAlchemyError,
        asyncpg.PostgresError,
        asyncpg.InterfaceError,
        psycopg.Error,
        psycopg_pool.PoolTimeout,
    )


class RequestContextMiddleware:
    """Request id, body size limit, access log and metrics, in plain ASGI (no per-request task overhead)."""

    def __init__(self, app: ASGIApp, *, max_body: int, body_limit_for: Callable[[str], int] | None = None) -> None:
        self.app = app
        self.max_body = max_body
        self.body_limit_for = body_limit_for

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        incoming = headers.get(b"x-request-id", b"").decode("latin-1")
        request_id = incoming if _REQUEST_ID.match(incoming) else new_request_id()
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(request_id=request_id)
        path: str = scope["path"]
        limit = self.body_limit_for(path) if self.body_limit_for else self.max_body
        started = time.perf_counter()
        clock = start_clock()
        status_holder = {"status": 500, "started": False, "complete": False}

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                status_holder["status"] = message["status"]
                status_holder["started"] = True
                extra = [(b"x-request-id", request_id.encode())]
                if clock.calls:
                    overhead = max(0.0, time.perf_counter() - started - clock.seconds)
                    route = scope.get("route")
                    OVERHEAD.labels(getattr(route, "path", None) or "unmatched").observe(overhead)
                    extra.append((b"x-opsdesk-overhead-ms", f"{overhead * 1000:.3f}".encode()))
                message["headers"] = [*message.get("headers", []), *extra]
            elif message["type"] == "http.response.body" and not message.get("more_body", False):
                status_holder["complete"] = True
            await send(message)

        head = len(scope.get("raw_path") or b"") + len(scope.get("query_string", b""))
        head += sum(len(name) + len(value) + 4 for name, value in scope.get("headers") or ())
        if head > MAX_REQUEST_HEAD_BYTES:  # servers without a bound of their own (opsdesk up has one: http_server.py)
            refusal = f"The request line and headers exceed {MAX_REQUEST_HEAD_BYTES} bytes."
            await self._send_error(send_wrapper, 431, error_body(431, refusal, code="headers_too_large"))
            self._observe(scope, status_holder, started)
            return

        where = _control_character_in(scope)
        if where is not None:
            refusal = f"Control characters (such as NUL) are not allowed in {where}."
            await self._send_error(send_wrapper, 422, error_body(422, refusal, code="control_character"))
            self._observe(scope, status_holder, started)
            return

        declared = headers.get(b"content-length")
        if declared is not None:
            try:
                too_big = int(declared) > limit
            except ValueError:
                too_big = False
            if too_big:
                await self._reject_too_large(send_wrapper, limit)
                self._observe(scope, status_holder, started)
                return

        if declared is None and scope["method"] in ("POST", "PUT", "PATCH"):
            # A chunked body has no declared length: read it up to the limit first, then replay it to the app.
            buffered: list[Message] = []
            received = 0
            while True:
                message = await receive()
                buffered.append(message)
                if message["type"] != "http.request":
                    break
                received += len(message.get("body", b""))
                if received > limit:
                    await self._reject_too_large(send_wrapper, limit)
                    self._observe(scope, status_holder, started)
                    return
                if not message.get("more_body", False):
                    break

            async def replay() -> Message:
                return buffered.pop(0) if buffered else await receive()

            receive = replay

        try:
            await self.app(scope, receive, send_wrapper)
        except Exception as exc:
            # Answered here, not re-raised: a server that sees an exception closes the connection, and with it any
            # request pipelined behind this one. Only a response cut short must close it (the client would take a
            # partial body for a whole one).
            if not status_holder["started"]:
                _log.exception("unhandled_error", error=f"{type(exc).__name__}: {exc}")
                await self._send_error(send_wrapper, 500, _internal_body())
            elif not status_holder["complete"]:
                raise
            else:
                _log.exception("unhandled_error_after_response", error=f"{type(exc).__name__}: {exc}")
        finally:
            self._observe(scope, status_holder, started)

    async def _reject_too_large(self, send: Send, limit: int) -> None:
        body = error_body(413, f"The request body exceeds the limit of {limit} bytes.", code="body_too_large")
        await self._send_error(send, 413, body)

    async def _send_error(self, send: Send, status: int, body: bytes) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
            }
        )
        await send({"type": "http.response.body", "body": body})

    def _observe(self, scope: Scope, status_holder: dict[str, Any], started: float) -> None:
        route = scope.get("route")
        template = getattr(route, "path", None) or "unmatched"
        elapsed = time.perf_counter() - started
        status = int(status_holder["status"])
        HTTP_REQUESTS.labels(template, scope["method"], str(status)).inc()
        HTTP_LATENCY.labels(template, scope["method"]).observe(elapsed)
        if status >= 500:
            _log.error("request", method=scope["method"], path=template, status=status, ms=round(elapsed * 1000, 2))
        elif template not in ("/healthz", "/metrics", "/readyz"):
            _log.info("request", method=scope["method"], path=template, status=status, ms=round(elapsed * 1000, 2))
