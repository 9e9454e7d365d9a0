"""Encrypts vendor tokens at rest: Fernet (AES-128-CBC + HMAC-SHA256) with a key derived from opsdesk's secret key.

The key is HKDF-SHA256 of ``OPSDESK_SECRET_KEY`` (or the generated one in the data dir) with a purpose label, so
the same secret never serves two purposes. Changing the secret key makes stored tokens unreadable: they must be
entered again (the API says so instead of failing obscurely).
"""

from __future__ import annotations

import base64

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from pydantic import SecretStr

from opsdesk.core.errors import Conflict

_PURPOSE = b"opsdesk crew connection tokens v1"


class TokenUnreadable(Conflict):
    """A stored token was encrypted under another secret key."""


class TokenCipher:
    """Encrypts and decrypts one installation's vendor tokens."""

    def __init__(self, secret_key: str) -> None:
        derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_PURPOSE).derive(secret_key.encode())
        self._fernet = Fernet(base64.urlsafe_b64encode(derived))

    def encrypt(self, token: str) -> str:
        """The token as stored."""
        return self._fernet.encrypt(token.encode()).decode("ascii")

    def decrypt(self, stored: str) -> SecretStr:
        """The token back, wrapped so that it does not print."""
        try:
            return SecretStr(self._fernet.decrypt(stored.encode("ascii")).decode())
        except (InvalidToken, ValueError) as exc:
            raise TokenUnreadable(
                "The stored token cannot be read (opsdesk's secret key changed since it was saved); enter it again.",
                code="token_unreadable",
            ) from exc
