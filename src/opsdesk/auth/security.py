"""Password hashing (argon2), API key generation and hashing, JWT access tokens."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import jwt
from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher

from opsdesk.auth.roles import Role
from opsdesk.core.errors import NotAuthenticated

API_KEY_PREFIX = "odk_"
_ISSUER = "opsdesk"
_ALGORITHM = "HS256"
_passwords = PasswordHash((Argon2Hasher(),))


def hash_password(password: str) -> str:
    return _passwords.hash(password)


def verify_password(password: str, password_hash: str) -> bool:
    try:
        return _passwords.verify(password, password_hash)
    except Exception:
        return False


def new_api_key() -> tuple[str, str, str]:
    """(key shown once, its display prefix, its SHA-256 stored at rest)."""
    key = API_KEY_PREFIX + secrets.token_urlsafe(32)
    return key, key[:12], hash_api_key(key)


def hash_api_key(key: str) -> str:
    # API keys carry 256 random bits, so a fast hash is safe and keeps per-request lookups cheap.
    return hashlib.sha256(key.encode()).hexdigest()


@dataclass(frozen=True)
class TokenClaims:
    user_id: uuid.UUID
    workspace_id: uuid.UUID
    role: Role
    expires_at: datetime


def issue_token(secret: str, user_id: uuid.UUID, workspace_id: uuid.UUID, role: Role, ttl: timedelta) -> str:
    now = datetime.now(UTC)
    payload = {
        "iss": _ISSUER,
        "sub": str(user_id),
        "ws": str(workspace_id),
        "role": role.value,
        "iat": int(now.timestamp()),
        "exp": int((now + ttl).timestamp()),
        "jti": secrets.token_hex(8),
    }
    return jwt.encode(payload, secret, algorithm=_ALGORITHM)


def decode_token(secret: str, token: str) -> TokenClaims:
    """Verifies signature, issuer and expiry; any problem is NotAuthenticated with the reason."""
    try:
        payload = jwt.decode(
            token, secret, algorithms=[_ALGORITHM], issuer=_ISSUER, options={"require": ["exp", "sub", "ws"]}
        )
        return TokenClaims(
            user_id=uuid.UUID(payload["sub"]),
            workspace_id=uuid.UUID(payload["ws"]),
            role=Role(payload["role"]),
            expires_at=datetime.fromtimestamp(payload["exp"], UTC),
        )
    except jwt.ExpiredSignatureError as exc:
        raise NotAuthenticated("The access token has expired; request a new one.", code="token_expired") from exc
    except (jwt.InvalidTokenError, ValueError, KeyError) as exc:
        raise NotAuthenticated("The access token is invalid.", code="invalid_token") from exc
