"""FastAPI dependencies: the app context, a database session, the calling principal and its permissions, paging."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TypeVar

from fastapi import Depends, Query, Request
from sqlalchemy.ext.asyncio import AsyncSession

from opsdesk.app.context import AppContext
from opsdesk.auth.roles import Permission, route_access
from opsdesk.auth.schemas import Page
from opsdesk.auth.security import API_KEY_PREFIX, decode_token, hash_api_key
from opsdesk.auth.service import (
    Principal,
    api_key_cache,
    listen_for_revocations,
    principal_for_api_key,
    principal_for_user,
    refresh_cached_api_key,
)
from opsdesk.core.errors import NotAuthenticated


async def get_ctx(request: Request) -> AppContext:
    """The app context (async: FastAPI runs a plain `def` dependency in its thread pool, on every request)."""
    ctx: AppContext = request.app.state.ctx
    return ctx


async def get_session(ctx: AppContext = Depends(get_ctx)) -> AsyncIterator[AsyncSession]:
    """A transaction for one request. Always use it as `Depends(get_session, scope="function")`: with FastAPI's
    default request scope the commit would run after the response is sent, so a client could be told "created"
    about a write that then fails."""
    async with ctx.db.session() as session:
        yield session


def presented_credential(headers: Mapping[str, str]) -> str | None:
    """The bearer token or API key a request (or a WebSocket handshake) presents, None when it presents neither; a
    malformed Authorization header is refused."""
    header = headers.get("authorization", "")
    if header:
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            raise NotAuthenticated("Use 'Authorization: Bearer <token or API key>'.", code="invalid_authorization")
        return value.strip()
    return headers.get("x-api-key", "").strip() or None


def _credential(request: Request) -> str:
    credential = presented_credential(request.headers)
    if credential:
        return credential
    raise NotAuthenticated("Credentials are required: a bearer token or an API key.", code="missing_credentials")


async def current_principal(request: Request, ctx: AppContext = Depends(get_ctx)) -> Principal:
    """Authenticates the caller, counts the request against its rate limit and applies the role table to the route."""
    credential = _credential(request)
    cached: Principal | None = None
    if credential.startswith(API_KEY_PREFIX):
        listen_for_revocations(ctx.extras, ctx.db.url)  # keys revoked by other processes leave the cache at once
        key_hash = hash_api_key(credential)
        cached = api_key_cache.get(key_hash)
        if cached is None and (cached := api_key_cache.get_stale(key_hash)) is not None:
            api_key_cache.refresh_in_background(key_hash, lambda: refresh_cached_api_key(ctx.db, credential))
    if cached is not None:
        principal = cached
    else:
        async with ctx.db.session() as session:
            principal = await _resolve(ctx, session, credential)
    if principal.kind == "api_key":
        await ctx.limiter.hit("api_key", str(principal.subject_id), ctx.settings.rate_limit_per_key)
    else:
        await ctx.limiter.hit("user", str(principal.subject_id), ctx.settings.rate_limit_per_user)
    _check_route_access(request, principal)
    request.state.principal = principal
    return principal


def _check_route_access(request: Request, principal: Principal) -> None:
    """The role table (`roles.ROUTE_ACCESS`) decides for every route; a route's own `require` can only add to it."""
    route = request.scope.get("route")
    access = route_access(request.method, getattr(route, "path", None) or request.url.path)
    if isinstance(access, Permission):
        principal.require(access)


async def _resolve(ctx: AppContext, session: AsyncSession, credential: str) -> Principal:
    if credential.startswith(API_KEY_PREFIX):
        return await principal_for_api_key(session, credential)
    claims = decode_token(ctx.settings.jwt_secret(), credential)
    return await principal_for_user(session, claims.user_id, claims.workspace_id)


def require(permission: Permission) -> Callable[..., Awaitable[Principal]]:
    """A dependency that admits callers whose role grants `permission`."""

    async def _check(principal: Principal = Depends(current_principal)) -> Principal:
        principal.require(permission)
        return principal

    return _check


def require_in_workspace(permission: Permission) -> Callable[..., Awaitable[Principal]]:
    """Like `require`, and the path's `{workspace}` must be the caller's own workspace."""

    async def _check(workspace: str, principal: Principal = Depends(current_principal)) -> Principal:
        principal.require_workspace(workspace)
        principal.require(permission)
        return principal

    return _check


T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Paging:
    """Which part of a list was asked for; `page()` answers it in the one list envelope."""

    limit: int
    offset: int

    def page(self, items: Sequence[T], total: int) -> Page[T]:
        return Page[T](items=list(items), total=total, limit=self.limit, offset=self.offset)


def paging_up_to(maximum: int) -> Callable[..., Awaitable[Paging]]:
    """`limit` (1 to `maximum`, 50 unless asked) and `offset` (0 to 1,000,000) of a list; most lists use `paging`."""

    async def _paging(
        limit: int = Query(50, ge=1, le=maximum, description="At most this many items."),
        offset: int = Query(0, ge=0, le=1_000_000, description="Skip this many items first."),
    ) -> Paging:
        return Paging(limit, offset)

    return _paging


# A list endpoint's `limit` and `offset`, bounded alike everywhere (an offset past int64 was a 500).
paging = paging_up_to(200)
