"""Sign in with email and password, sign out, and switch workspace; each sign-in or switch starts a new session id."""

from __future__ import annotations

from fastapi import Form
from starlette.responses import RedirectResponse, Response

from opsdesk.auth import console_session as sessions
from opsdesk.auth import service as auth
from opsdesk.auth.login_guard import LoginGuard
from opsdesk.core.errors import NotAuthenticated, PermissionDenied, RateLimited
from opsdesk.web.console import Console, PageConsole, page_router
from opsdesk.web.templating import render

router = page_router()


def safe_next(target: str | None) -> str:
    """Only a path on this site (never `//evil.example` or a full URL) is followed after sign-in."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return "/"
    return target


def _form(c: Console, *, error: str = "", email: str = "", next_url: str = "/", status: int = 200) -> Response:
    return render(c, "signin.html", {"error": error, "email": email, "next": next_url}, status=status)


@router.get("/signin")
async def signin_page(next: str = "/", c: Console = PageConsole) -> Response:
    """The sign-in form (or home, for someone already signed in)."""
    if c.principal is not None:
        return RedirectResponse(safe_next(next), status_code=303)
    return _form(c, next_url=safe_next(next))


@router.post("/signin")
async def signin(
    email: str = Form(..., max_length=320),
    password: str = Form(..., max_length=1000),
    next: str = Form("/", max_length=2000),
    c: Console = PageConsole,
) -> Response:
    """Checks the password under the same limits as the API's token endpoint, then starts a new session."""
    client = c.request.client.host if c.request.client else "unknown"
    account = email.strip().lower()
    guard = LoginGuard(c.ctx.limiter)
    try:
        await guard.before_attempt(client, account)
    except RateLimited as exc:
        return _form(c, error=exc.message, email=email, next_url=safe_next(next), status=429)
    async with c.ctx.db.session() as db:
        try:
            user = await auth.verify_user(db, email, password)
        except NotAuthenticated:
            await guard.failed(client, account)
            return _form(c, error="Wrong email or password.", email=email, next_url=safe_next(next), status=401)
        memberships = await auth.workspaces_of(db, user.id)
    await guard.succeeded(client, account)
    if not memberships:
        raise PermissionDenied("This account is not a member of any workspace yet.", code="no_workspace")
    await sessions.end(c.ctx.limiter, c.ctx.settings, c.session.sid)  # the pre-sign-in id is never reused
    c.start_session(sessions.new_session(user.id, memberships[0][0].id))
    return RedirectResponse(safe_next(next), status_code=303)


@router.post("/signout")
async def signout(c: Console = PageConsole) -> Response:
    """Ends the session here and in every process (the id is recorded as ended), and drops the cookie."""
    await sessions.end(c.ctx.limiter, c.ctx.settings, c.session.sid)
    c.start_session(sessions.new_session())
    return RedirectResponse("/signin", status_code=303)


@router.post("/workspace")
async def switch_workspace(workspace: str = Form(..., max_length=63), c: Console = PageConsole) -> Response:
    """Moves the session to another workspace the user belongs to (with a new session id)."""
    principal = c.signed_in_principal
    async with c.ctx.db.session() as db:
        memberships = await auth.workspaces_of(db, principal.subject_id)
    chosen = next((ws for ws, _ in memberships if ws.slug == workspace), None)
    if chosen is None:
        raise PermissionDenied("You are not a member of that workspace.", code="wrong_workspace")
    await sessions.end(c.ctx.limiter, c.ctx.settings, c.session.sid)
    c.start_session(sessions.new_session(principal.subject_id, chosen.id))
    return RedirectResponse("/", status_code=303)
