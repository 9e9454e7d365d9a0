"""Digest authentication of callers (RFC 3261 §22, RFC 2617 MD5 with qop=auth), for trunks that can send it.

Nonces are stateless: a timestamp signed with a per-process key, valid for five minutes, so a flood of INVITEs
costs no memory. Passwords can be given as HA1 (`MD5(user:realm:password)`) so the clear text needs not be kept.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time

from opsdesk.voice.sip.message import SipRequest, params

NONCE_SECONDS = 300


def ha1(user: str, realm: str, password: str) -> str:
    return _md5(f"{user}:{realm}:{password}")


class DigestAuth:
    def __init__(self, credentials: dict[str, str], *, realm: str = "opsdesk", hashed: bool = False) -> None:
        """`credentials` maps user names to passwords (or to HA1 values with `hashed=True`)."""
        self.realm = realm
        self._ha1 = dict(credentials) if hashed else {user: ha1(user, realm, pw) for user, pw in credentials.items()}
        self._key = secrets.token_bytes(32)

    def challenge(self) -> str:
        """The WWW-Authenticate value for a 401."""
        stamp = str(int(time.time()))
        nonce = f"{stamp}.{self._sign(stamp)}"
        return f'Digest realm="{self.realm}", nonce="{nonce}", algorithm=MD5, qop="auth"'

    def verify(self, request: SipRequest) -> str | None:
        """The authenticated user name, or None (no credentials, a wrong password, a stale or forged nonce)."""
        header = request.header("Authorization") or ""
        if not header.lower().startswith("digest "):
            return None
        fields = params(";" + header[7:].replace(",", ";"))
        user, nonce, uri, answer = (fields.get(k, "") for k in ("username", "nonce", "uri", "response"))
        secret = self._ha1.get(user)
        if secret is None or fields.get("realm") != self.realm or not self._fresh(nonce):
            return None
        ha2 = _md5(f"{request.method}:{uri}")
        if fields.get("qop") == "auth":
            expected = _md5(f"{secret}:{nonce}:{fields.get('nc', '')}:{fields.get('cnonce', '')}:auth:{ha2}")
        else:
            expected = _md5(f"{secret}:{nonce}:{ha2}")
        return user if hmac.compare_digest(expected, answer.lower()) else None

    def _fresh(self, nonce: str) -> bool:
        stamp, _, signature = nonce.partition(".")
        if not stamp.isdigit() or not hmac.compare_digest(signature, self._sign(stamp)):
            return False
        return 0 <= time.time() - int(stamp) <= NONCE_SECONDS

    def _sign(self, stamp: str) -> str:
        return hmac.new(self._key, stamp.encode(), hashlib.sha256).hexdigest()[:32]


def _md5(text: str) -> str:
    return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()
