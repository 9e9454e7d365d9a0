"""What the banking dialogue may keep of a caller's input, and where the rest waits: masking by the step the call is
at, and a per-call vault for the raw input (decision 47)."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field

from opsdesk.core.masking import mask_digits, mask_number


@dataclass(slots=True)
class Vault:
    """The caller's raw input (digits, words) per call, held only until the step that reads it."""

    by_call: dict[str, dict[str, str]] = field(default_factory=dict)

    def put(self, call_id: str, value: str) -> str:
        token = secrets.token_hex(8)
        self.by_call.setdefault(call_id, {})[token] = value
        return token

    def peek(self, call_id: str, token: str | None) -> str:
        return self.by_call.get(call_id, {}).get(token or "", "")

    def take(self, call_id: str, token: str | None) -> str:
        return self.by_call.get(call_id, {}).pop(token or "", "")

    def drop(self, call_id: str) -> None:
        self.by_call.pop(call_id, None)


_DIGIT_WORD = re.compile(r"\b(zero|oh|one|two|three|four|five|six|seven|eight|nine)\b", re.IGNORECASE)


_SECRET_STEPS = ("dob", "secret")  # a date of birth, a security answer: nothing of them is kept


def mask_caller_text(text: str, step: str) -> str:
    """What may be kept of the caller's words: number runs cut to their last four; at the PIN step, every digit;
    a date of birth or a security answer, nothing."""
    if step in _SECRET_STEPS:
        return "[withheld]"
    if step == "pin":
        return _DIGIT_WORD.sub("•", re.sub(r"\d", "•", text))
    return mask_digits(text)


def mask_keys(digits: str, step: str) -> str:
    """What may be kept of keys pressed: a PIN never, a number by its last four, short entries as a count."""
    if step not in ("pin", *_SECRET_STEPS) and len(re.sub(r"\D", "", digits)) >= 6:
        return f"[keys {mask_number(digits)}]"
    return f"[{len(digits)} keys]"
