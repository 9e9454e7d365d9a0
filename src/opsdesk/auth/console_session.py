"""The web console's session (here, beside the other credentials, so the API's WebSocket can accept it too): a
signed cookie naming the user and workspace, its CSRF token, and sign-out.

The cookie is signed (itsdangerous, keyed by the app's secret) and holds no secret of its own: a random session id,
the user, the workspace and when it was issued. Every request re-checks the user's membership in the database, as
API tokens are, so a removed member loses the console at once. Signing out records the session id as ended in the
rate-limit layer (Redis when configured), so a copied cookie stops working in every process too.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
import uuid
from dataclasses import dataclass

from itsdangerous import BadSignature, URLSafeTimedSerializer
from starlette.requests import Request
from starlette.responses import Response

from opsdesk.core.ratelimit import RateLimiter
from opsdesk.core.settings import Settings

COOKIE = "opsdesk_session"
_SALT = "opsdesk.console.session"


@dataclass(frozen=True)
class ConsoleSession:
    """One browser's session; anonymous (no user) until sign-in replaces it with a new id."""

    sid: str
    user_id: uuid.UUID | None = None
    workspace_id: uuid.UUID | None = None
    issued: int = 0

    @property
    def signed_in(self) -> bool:
        return self.user_id is not None and self.workspace_id is not None


def new_session(user_id: uuid.UUID | None = None, workspace_id: uuid.UUID | None = None) -> ConsoleSession:
    """A fresh session id: every sign-in and workspace switch gets one, so a planted id is never promoted."""
    return ConsoleSession(secrets.token_urlsafe(32), user_id, workspace_id, int(time.time()))


def _serializer(settings: Settings) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(settings.jwt_secret(), salt=_SALT)


def _max_age(settings: Settings) -> int:
    return settings.console_session_hours * 3600


def read(request: Request, settings: Settings) -> ConsoleSession | None:
    """The request's session, or None when the cookie is missing, forged, malformed or too old."""
    raw = request.cookies.get(COOKIE)
    if not raw:
        return None
    try:
        data = _serializer(settings).loads(raw, max_age=_max_age(settings))
        sid, user, workspace, issued = data["s"], data.get("u"), data.get("w"), int(data.get("i", 0))
        return ConsoleSession(
            str(sid), uuid.UUID(user) if user else None, uuid.UUID(workspace) if workspace else None, issued
        )
    except (BadSignature, KeyError, TypeError, ValueError):
        return None


def _secure(request: Request, settings: Settings) -> bool:
    if settings.console_secure_cookie == "auto":
        return request.url.scheme == "https"
    return settings.console_secure_cookie == "always"


def write(response: Response, request: Request, settings: Settings, session: ConsoleSession) -> None:
    data = {
        "s": session.sid,
        "u": str(session.user_id or ""),
        "w": str(session.workspace_id or ""),
        "i": session.issued,
    }
    response.set_cookie(
        COOKIE,
        _serializer(settings).dumps(data),
        max_age=_max_age(settings),
        path="/",
        httponly=True,
        samesite="lax",
        secure=_secure(request, settings),
    )


def clear(response: Response, request: Request, settings: Settings) -> None:
    response.delete_cookie(COOKIE, path="/", httponly=True, samesite="lax", secure=_secure(request, settings))


def csrf_token(settings: Settings, sid: str) -> str:
    """The form token of a session: derived from its id, so it changes whenever the id does."""
    return hmac.new(settings.jwt_secret().encode(), f"console-csrf:{sid}".encode(), hashlib.sha256).hexdigest()


def csrf_matches(settings: Settings, sid: str, presented: str) -> bool:
    return bool(presented) and hmac.compare_digest(csrf_token(settings, sid), presented)


async def end(limiter: RateLimiter, settings: Settings, sid: str) -> None:
    """Marks a session id as ended until the cookie could have expired anyway."""
    await limiter.count(f"console:ended:{sid}", _max_age(settings))


async def has_ended(limiter: RateLimiter, sid: str) -> bool:
    count, _ = await limiter.peek(f"console:ended:{sid}")
    return count > 0
