"""The knowledge service as MCP tools (`search`, `ask`, `get_document`) through the official `mcp` SDK.

Two transports, one server definition:

* stdio: `opsdesk mcp`, scoped to the workspace of an API key (or, on the server's own machine, `--workspace`);
* streamable HTTP at `/mcp` in the opsdesk app, authenticated per request by `Authorization: Bearer <API key>` and
  scoped to that key's workspace. Stateless, so any API process can serve any request: every POST is answered with
  one JSON response, and since there are no sessions and nothing is ever sent unasked, a GET (the optional event
  stream) or DELETE (ending a session) is answered 405 at once, as the streamable-HTTP transport allows.

A failed tool call is an error result whose text and `structuredContent.error` say what went wrong and carry a code
(`invalid_argument`, `not_found`, `forbidden`, `unauthenticated`, `rate_limited`, `unavailable`, `internal`); an
unexpected failure says only that, with an id to find it in the server's log.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, Literal

import orjson
from fastapi import FastAPI
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError, UnexpectedToolError
from mcp.server.transport_security import TransportSecuritySettings
from mcp.shared.exceptions import MCPError
from mcp.types import CallToolResult, InputRequiredResult, TextContent
from pydantic import ValidationError
from sqlalchemy import select
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from opsdesk import __version__
from opsdesk.app.context import AppContext
from opsdesk.auth.roles import Permission
from opsdesk.auth.security import API_KEY_PREFIX
from opsdesk.auth.service import Principal, principal_for_api_key
from opsdesk.core.errors import (
    InvalidInput,
    NotAuthenticated,
    NotFound,
    OpsdeskError,
    PermissionDenied,
    RateLimited,
)
from opsdesk.core.logging import get_logger
from opsdesk.knowledge import service
from opsdesk.knowledge.models import Chunk
from opsdesk.knowledge.query.retrieval import workspace_kbs
from opsdesk.knowledge.query.schemas import QueryFilters, QueryIn
from opsdesk.knowledge.query.service import run_query

log = get_logger(__name__)
MCP_PATH = "/mcp"
_STATE_KEY = "opsdesk_principal"
_DOCUMENT_CHARS = 20_000


@dataclass(frozen=True)
class McpScope:
    """The one workspace an MCP session may read."""

    workspace_id: uuid.UUID
    workspace_slug: str


ScopeResolver = Callable[[Context], Awaitable[McpScope]]

INSTRUCTIONS = (
    "opsdesk knowledge bases. Use `search` to find passages (each result has a citation: document, version, "
    "section, page), `ask` for a short answer with numbered citations, and `get_document` to read a cited document."
)


class _CodedToolError(ToolError):
    """A failure the tool foresaw, with the code the caller can act on."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class KnowledgeMCPServer(MCPServer):
    """The SDK's server, with every tool failure reported as a message and a code the caller can act on."""

    async def call_tool(
        self, name: str, arguments: dict[str, Any], context: Context[Any, Any] | None = None
    ) -> CallToolResult | InputRequiredResult:
        try:
            return await super().call_tool(name, arguments, context)
        except MCPError:
            raise
        except ToolError as exc:  # the SDK wraps every failure of the tool (or of its arguments) in one
            return tool_error_result(name, exc)


def tool_error_result(tool: str, exc: ToolError) -> CallToolResult:
    """An error result: "<code>: <message>" as text and ``{"error": {"code", "message"}}`` as structured content."""
    code, message = _classify(tool, exc)
    return CallToolResult(
        content=[TextContent(type="text", text=f"{code}: {message}")],
        structured_content={"error": {"code": code, "message": message}},
        is_error=True,
    )


def _classify(tool: str, exc: ToolError) -> tuple[str, str]:
    cause = exc.__cause__
    if isinstance(cause, _CodedToolError):
        return cause.code, cause.message
    if isinstance(cause, OpsdeskError):
        return _code_of(cause), cause.message
    if isinstance(cause, ValidationError):  # the arguments, or a value a tool built from them
        return "invalid_argument", f"Invalid arguments for {tool}: {_fields(cause)}."
    if isinstance(exc, UnexpectedToolError) or cause is not None:
        reference = uuid.uuid4().hex[:12]
        log.error("mcp_tool_failed", tool=tool, reference=reference, error=repr(cause or exc)[:500])
        return "internal", f"The {tool} tool failed unexpectedly (reference {reference} in the server log)."
    if str(exc).startswith("Unknown tool"):
        return "not_found", str(exc)
    return "invalid_argument", str(exc)


def _code_of(exc: OpsdeskError) -> str:
    for kind, code in _CODES:
        if isinstance(exc, kind):
            return code
    return "invalid_argument" if 400 <= exc.status_code < 500 else "unavailable"


_CODES: tuple[tuple[type[OpsdeskError], str], ...] = (
    (NotFound, "not_found"),
    (PermissionDenied, "forbidden"),
    (NotAuthenticated, "unauthenticated"),
    (RateLimited, "rate_limited"),
    (InvalidInput, "invalid_argument"),
)


def _fields(exc: ValidationError) -> str:
    """Each bad field and why, without echoing the values (they are the caller's data)."""
    problems = []
    for error in exc.errors()[:5]:
        where = ".".join(str(part) for part in error["loc"]) or "arguments"
        problems.append(f"{where}: {error['msg']}")
    return "; ".join(problems)


def build_server(get_ctx: Callable[[], AppContext], resolve_scope: ScopeResolver) -> MCPServer:
    """The MCP server; `resolve_scope` says which workspace each request may read."""
    mcp = KnowledgeMCPServer(name="opsdesk-knowledge", version=__version__, instructions=INSTRUCTIONS)

    @mcp.tool(description="Search a knowledge base; returns ranked passages with scores and citations.")
    async def search(
        query: str,
        context: Context,
        kb: str | None = None,
        top_k: int = 5,
        mode: Literal["hybrid", "semantic", "keyword"] = "hybrid",
        tags: list[str] | None = None,
        doc_types: list[str] | None = None,
    ) -> dict[str, Any]:
        scope = await resolve_scope(context)
        filters = QueryFilters(tags=tags or [], doc_types=doc_types or [])
        request = QueryIn(query=query, mode=mode, top_k=max(1, min(top_k, 50)), filters=filters)
        result = await _query(get_ctx(), scope, kb, request)
        return {
            "kb": result.kb,
            "results": [hit.model_dump(mode="json") for hit in result.hits],
        }

    @mcp.tool(description="Answer a question from a knowledge base, with numbered citations [n] to the passages.")
    async def ask(question: str, context: Context, kb: str | None = None) -> dict[str, Any]:
        scope = await resolve_scope(context)
        result = await _query(get_ctx(), scope, kb, QueryIn(query=question, top_k=5, answer=True))
        answer = result.answer
        if answer is None:
            raise _CodedToolError("unavailable", "No answer could be produced for this question; try `search`.")
        return {
            "kb": result.kb,
            "answer": answer.text,
            "known": answer.known,
            "method": answer.method,
            "citations": [citation.model_dump(mode="json") for citation in answer.citations],
        }

    @mcp.tool(description="Read a document by id (the latest version, or the one named), as its indexed text.")
    async def get_document(document_id: str, context: Context, version: str | None = None) -> dict[str, Any]:
        scope = await resolve_scope(context)
        return await _document(get_ctx(), scope, document_id, version)

    return mcp


async def _query(ctx: AppContext, scope: McpScope, kb: str | None, request: QueryIn) -> Any:
    if kb is None:
        async with ctx.db.session() as session:
            kbs = await workspace_kbs(session, scope.workspace_id)
        if len(kbs) != 1:
            names = ", ".join(base.name for base in kbs) or "none"
            raise _CodedToolError("invalid_argument", f"Name the knowledge base in `kb`; this workspace has: {names}.")
        kb = str(kbs[0].id)
    return await run_query(ctx, scope.workspace_id, kb, request)


async def _document(ctx: AppContext, scope: McpScope, document_id: str, version: str | None) -> dict[str, Any]:
    async with ctx.db.session() as session:
        document = await service.get_document(session, scope.workspace_id, document_id)
        if version is not None:
            chosen = await service.get_version(session, document, version)
            version_id, label = chosen.id, chosen.version
        elif document.latest_version_id is not None and document.latest_version is not None:
            version_id, label = document.latest_version_id, document.latest_version
        else:
            raise NotFound(f"Document {document_id} has no ready version yet.", code="no_ready_version")
        rows = await session.execute(
            select(Chunk.ordinal, Chunk.section_path, Chunk.page, Chunk.text)
            .where(Chunk.version_id == version_id, Chunk.workspace_id == scope.workspace_id)
            .order_by(Chunk.ordinal)
        )
        chunks = list(rows)
    text, used = [], 0
    for _, _, _, body in chunks:
        if used >= _DOCUMENT_CHARS:
            break
        text.append(body[: _DOCUMENT_CHARS - used])
        used += len(text[-1])
    return {
        "document_id": str(document.id),
        "kb_id": str(document.kb_id),
        "title": document.title,
        "source_key": document.source_key,
        "doc_type": document.doc_type,
        "tags": list(document.tags),
        "version": label,
        "sections": sorted({section for _, section, _, _ in chunks if section}),
        "text": "\n\n".join(text),
        "truncated": used >= _DOCUMENT_CHARS,
    }


# --- stdio -------------------------------------------------------------------------------------------------------


async def stdio_scope(ctx: AppContext, *, api_key: str | None, workspace: str | None) -> McpScope:
    """The workspace of an API key, or one named (trusted: whoever runs the CLI on the server already owns the data)."""
    from opsdesk.auth.service import get_workspace

    async with ctx.db.session() as session:
        if api_key:
            principal = await principal_for_api_key(session, api_key)
            principal.require(Permission.read)
            return McpScope(principal.workspace_id, principal.workspace_slug)
        if workspace:
            found = await get_workspace(session, workspace)
            return McpScope(found.id, found.slug)
    raise NotAuthenticated("`opsdesk mcp` needs an API key (--api-key or OPSDESK_API_KEY) or --workspace.")


async def serve_stdio(ctx: AppContext, scope: McpScope) -> None:
    """Serves MCP over this process's stdin/stdout until the client closes it."""

    async def fixed(_: Context) -> McpScope:
        return scope

    await build_server(lambda: ctx, fixed).run_stdio_async()


# --- streamable HTTP inside the app ------------------------------------------------------------------------------


async def http_scope(context: Context) -> McpScope:
    """The workspace of the API key the HTTP middleware authenticated for this request."""
    request = context.request_context.request
    state = getattr(request, "scope", {}).get("state", {}) if request is not None else {}
    principal = state.get(_STATE_KEY)
    if not isinstance(principal, Principal):
        raise _CodedToolError("unauthenticated", "This request is not authenticated.")
    return McpScope(principal.workspace_id, principal.workspace_slug)


class ApiKeyAuth:
    """ASGI middleware: a POST with a valid API key with read permission; else a 405/401/403/429 JSON error at once.

    Anything but POST is refused before authentication: this stateless endpoint has no event stream to open (GET)
    and no session to end (DELETE), and the SDK would otherwise hold a GET open without ever sending on it.
    """

    def __init__(self, app: ASGIApp, get_ctx: Callable[[], AppContext]) -> None:
        self.app = app
        self.get_ctx = get_ctx

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope["method"] != "POST":
            await _error(send, MethodNotAllowed(), {"allow": "POST"})
            return
        try:
            principal = await self._authenticate(scope)
        except OpsdeskError as exc:
            await _error(send, exc)
            return
        scope.setdefault("state", {})[_STATE_KEY] = principal
        await self.app(scope, receive, send)

    async def _authenticate(self, scope: Scope) -> Principal:
        headers = {key.decode("latin-1").lower(): value.decode("latin-1") for key, value in scope["headers"]}
        scheme, _, credential = headers.get("authorization", "").partition(" ")
        credential = credential.strip()
        if scheme.lower() != "bearer" or not credential.startswith(API_KEY_PREFIX):
            raise NotAuthenticated("MCP over HTTP needs 'Authorization: Bearer <API key>'.", code="missing_api_key")
        ctx = self.get_ctx()
        async with ctx.db.session() as session:
            principal = await principal_for_api_key(session, credential)
        principal.require(Permission.read)
        await ctx.limiter.hit("api_key", str(principal.subject_id), ctx.settings.rate_limit_per_key)
        return principal


class MethodNotAllowed(OpsdeskError):
    status_code = 405
    error_type = "method_not_allowed"

    def __init__(self) -> None:
        super().__init__(
            "This MCP endpoint is stateless: it opens no event stream (GET) and keeps no session (DELETE). "
            "Send each JSON-RPC message with POST; the answer comes back as JSON."
        )


async def _error(send: Send, exc: OpsdeskError, extra: Mapping[str, str] | None = None) -> None:
    body = orjson.dumps({"error": {"message": exc.message, "type": exc.error_type, "code": exc.code}})
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    headers += [(name.encode("latin-1"), value.encode("latin-1")) for name, value in (extra or {}).items()]
    if exc.status_code == 401:
        headers.append((b"www-authenticate", b'Bearer realm="opsdesk"'))
    if isinstance(exc, RateLimited):
        headers.append((b"retry-after", str(exc.retry_after_s).encode()))
    await send({"type": "http.response.start", "status": exc.status_code, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def install_mcp(app: FastAPI) -> MCPServer:
    """Serves MCP at `/mcp` in `app` (API-key auth) and runs its session manager within the app's lifespan."""

    def get_ctx() -> AppContext:
        ctx: AppContext = app.state.ctx
        return ctx

    server = build_server(get_ctx, http_scope)
    asgi = server.streamable_http_app(
        streamable_http_path=MCP_PATH,
        stateless_http=True,
        json_response=True,
        # Auth is a bearer API key, never a cookie, so DNS rebinding gains an attacker nothing; the app may be
        # served under any host name.
        transport_security=TransportSecuritySettings(enable_dns_rebinding_protection=False),
    )
    app.router.routes.append(Route(MCP_PATH, endpoint=ApiKeyAuth(asgi, get_ctx)))
    inner = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(target: Any) -> AsyncIterator[Any]:
        async with inner(target) as state, server.session_manager.run():
            yield state

    app.router.lifespan_context = lifespan
    return server
