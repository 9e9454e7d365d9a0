"""Every console request goes through here: the session cookie, CSRF and origin checks, the signed-in `Principal`
with the access table applied, and on the way out the security headers and an HTML error page with the request id."""

from __future__ import annotations

import urllib.parse
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

import structlog
from fastapi import APIRouter, Depends, Request
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import RedirectResponse, Response

from opsdesk.app.context import AppContext
from opsdesk.auth import console_session as sessions
from opsdesk.auth.console_session import ConsoleSession
from opsdesk.auth.deps import get_ctx
from opsdesk.auth.models import User
from opsdesk.auth.roles import Permission
from opsdesk.auth.service import Principal, principal_for_user, workspaces_of
from opsdesk.core.errors import NotAuthenticated, OpsdeskError, PermissionDenied, RateLimited
from opsdesk.core.logging import get_logger
from opsdesk.web.access import console_access

_log = get_logger("opsdesk.web")
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "csrf_token"


@dataclass
class Console:
    """What a page handler gets: the request, the app context, who is signed in (if anyone) and their CSRF token."""

    request: Request
    ctx: AppContext
    session: ConsoleSession
    principal: Principal | None = None
    set_cookie: ConsoleSession | None = None  # written on the way out (a new anonymous session, a sign-in)
    clear_cookie: bool = False
    plots: bool = False  # the page loads Plotly (and so allows the inline styles Plotly writes)
    email: str = ""
    workspaces: list[tuple[str, str]] = field(default_factory=list)  # (slug, name) the user may switch to
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def csrf(self) -> str:
        return sessions.csrf_token(self.ctx.settings, (self.set_cookie or self.session).sid)

    def can(self, permission: Permission | str) -> bool:
        return self.principal is not None and self.principal.can(Permission(permission))

    @property
    def signed_in_principal(self) -> Principal:
        if self.principal is None:  # the access table admitted a public route; the handler needs a user
            raise NotAuthenticated("Sign in first.", code="not_signed_in")
        return self.principal

    def start_session(self, new: ConsoleSession) -> None:
        self.set_cookie = new


def _same_origin(request: Request) -> bool:
    """No state-changing request from another site: Fetch metadata, else Origin, else Referer (browsers send at
    least one on every POST; a client that sends none is no browser, and still needs the session's token)."""
    site = request.headers.get("sec-fetch-site")
    if site is not None and site not in ("same-origin", "none"):
        return False
    origin = request.headers.get("origin") or request.headers.get("referer")
    if origin == "null":
        return False
    if not origin:
        return True
    parsed = urllib.parse.urlsplit(origin)
    return f"{parsed.scheme}://{parsed.netloc}" == f"{request.url.scheme}://{request.url.netloc}"


async def _check_csrf(request: Request, ctx: AppContext, session: ConsoleSession | None) -> None:
    if not _same_origin(request):
        raise PermissionDenied("Cross-site requests are refused.", code="cross_site_request")
    presented = request.headers.get(CSRF_HEADER, "")
    if not presented and request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        value = (await request.form()).get(CSRF_FIELD)
        presented = value if isinstance(value, str) else ""
    if session is None or not sessions.csrf_matches(ctx.settings, session.sid, presented):
        raise PermissionDenied("The form is out of date or not from this site: reload and try again.", code="csrf")


async def console(request: Request, ctx: AppContext = Depends(get_ctx)) -> Console:
    """Reads the session, checks CSRF on every state-changing request and applies the access table to the route."""
    found = sessions.read(request, ctx.settings)
    if found is not None and found.signed_in and await sessions.has_ended(ctx.limiter, found.sid):
        found = None
    if request.method not in _SAFE_METHODS:
        await _check_csrf(request, ctx, found)
    current = Console(request, ctx, found or sessions.new_session())
    if found is None:
        current.set_cookie = current.session
    request.state.console = current
    route = request.scope.get("route")
    access = console_access(request.method, getattr(route, "path", request.url.path))
    if current.session.signed_in and current.session.user_id and current.session.workspace_id:
        async with ctx.db.session() as db:
            try:
                current.principal = await principal_for_user(db, current.session.user_id, current.session.workspace_id)
                user = await db.get(User, current.session.user_id)
                current.email = user.email if user else ""
                memberships = await workspaces_of(db, current.session.user_id)
                current.workspaces = [(workspace.slug, workspace.name) for workspace, _ in memberships]
            except NotAuthenticated:
                current.clear_cookie = True
                current.set_cookie = sessions.new_session()
    if isinstance(access, Permission):
        principal = current.signed_in_principal
        await ctx.limiter.hit("user", str(principal.subject_id), ctx.settings.rate_limit_per_user)
        principal.require(access)
    return current


def _csp(plots: bool) -> str:
    # Plotly writes <style> elements at run time; only pages that plot allow inline styles, never inline scripts.
    styles = "'self' 'unsafe-inline'" if plots else "'self'"
    return (
        "default-src 'self'; script-src 'self'; "
        f"style-src {styles}; img-src 'self' data: blob:; font-src 'self'; connect-src 'self'; "
        "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    )


def secure_headers(response: Response, *, plots: bool = False) -> None:
    # A stricter policy a route set stays: stored files served for download carry `sandbox`.
    policy = _csp(plots)
    if response.headers.get("Content-Security-Policy") != "sandbox":
        response.headers["Content-Security-Policy"] = policy
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["Cross-Origin-Opener-Policy"] = "same-origin"
    response.headers["Permissions-Policy"] = "camera=(), geolocation=(), payment=()"
    response.headers.setdefault("Cache-Control", "no-store")


def request_id() -> str:
    return str(structlog.contextvars.get_contextvars().get("request_id") or "")


def _error_page(request: Request, exc: Exception) -> Response:
    from opsdesk.web.templating import render

    current: Console | None = getattr(request.state, "console", None)
    if isinstance(exc, NotAuthenticated) and request.method in _SAFE_METHODS:
        target = "/signin?" + urllib.parse.urlencode({"next": request.url.path})
        if request.headers.get("hx-request"):
            return Response(status_code=204, headers={"HX-Redirect": target})
        return RedirectResponse(target, status_code=303)
    if isinstance(exc, OpsdeskError):
        status, message, code = exc.status_code, exc.message, exc.code
    elif isinstance(exc, StarletteHTTPException):
        status, message, code = exc.status_code, str(exc.detail), "http_error"
    elif isinstance(exc, RequestValidationError):
        status, message, code = 422, "Some fields of the form are missing or invalid.", "invalid_value"
    else:
        _log.exception("console_error", error=f"{type(exc).__name__}: {exc}")
        status, message, code = 500, "Something went wrong on our side.", "internal"
    data = {"status": status, "message": message, "code": code, "request_id": request_id()}
    if current is None:  # refused before the session was read (CSRF, origin): a page without a user
        current = Console(request, request.app.state.ctx, sessions.new_session())
    response = render(current, "error.html", data, status=status)
    if isinstance(exc, RateLimited):
        response.headers["Retry-After"] = str(exc.retry_after_s)
    return response


class ConsoleRoute(APIRoute):
    """Console routes answer errors with an HTML page (status, message, request id) and carry the security headers
    and the session cookie on every response."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            try:
                response = await handler(request)
            except Exception as exc:
                response = _error_page(request, exc)
            current: Console | None = getattr(request.state, "console", None)
            if current is not None:
                if current.clear_cookie and current.set_cookie is None:
                    sessions.clear(response, request, current.ctx.settings)
                if current.set_cookie is not None:
                    sessions.write(response, request, current.ctx.settings, current.set_cookie)
            secure_headers(response, plots=current is not None and current.plots)
            return response

        return route


def page_router() -> APIRouter:
    """A page module's router: console routes, kept out of the OpenAPI schema, every one behind `console` (so a
    handler that forgets to ask for it is still checked against the access table)."""
    return APIRouter(route_class=ConsoleRoute, include_in_schema=False, dependencies=[Depends(console)])


PageConsole = Depends(console)
