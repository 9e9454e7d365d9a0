"""PINs, dates of birth and security answers kept only as salted scrypt hashes, compared in constant time."""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import unicodedata
from datetime import date

# RFC 7914's interactive-login cost: about 16 MB and some tens of ms per check on one core.
_N, _R, _P = 2**14, 8, 1


def hash_secret(secret: str, salt: bytes | None = None) -> str:
    """`scrypt$n$r$p$salt$hash` of an already normalised secret; a fresh random salt unless one is given."""
    salt = salt if salt is not None else os.urandom(16)
    digest = hashlib.scrypt(secret.encode(), salt=salt, n=_N, r=_R, p=_P, dklen=32)
    return f"scrypt${_N}${_R}${_P}${salt.hex()}${digest.hex()}"


def verify_secret(secret: str, stored: str) -> bool:
    """Whether the normalised secret hashes to the stored value (constant-time comparison)."""
    try:
        scheme, n, r, p, salt, expected = stored.split("$")
        if scheme != "scrypt":
            return False
        digest = hashlib.scrypt(
            secret.encode(), salt=bytes.fromhex(salt), n=int(n), r=int(r), p=int(p), dklen=len(expected) // 2
        )
    except ValueError:
        return False
    return hmac.compare_digest(digest.hex(), expected)


def normalise_pin(pin: str) -> str:
    """Only the digits: a PIN keyed as DTMF or read out by the ASR with spaces."""
    return re.sub(r"\D", "", pin)


def normalise_dob(value: date) -> str:
    return value.isoformat()


def normalise_answer(answer: str) -> str:
    """Case, accents' composition, punctuation and spacing do not count: "Fluffy " == "fluffy" == "FLUFFY!"."""
    text = unicodedata.normalize("NFKC", answer).casefold()
    text = re.sub("['\u2019]", "", text)  # "St Patrick's" == "St Patricks"
    text = re.sub(r"[^\w\s]", " ", text)
    return " ".join(text.split())
