"""Masks personal data (emails, phone numbers, card numbers, national ids) in text bound for logs."""

from __future__ import annotations

import re
from typing import Any

_EMAIL = re.compile(r"\b([A-Za-z0-9._%+-])[A-Za-z0-9._%+-]*@([A-Za-z0-9.-]+\.[A-Za-z]{2,})\b")
_CARD = re.compile(r"\b(?:\d[ -]?){12,18}\d\b")
# Singapore NRIC/FIN, US SSN, UK National Insurance numbers.
_NATIONAL_ID = re.compile(
    r"\b[STFGM]\d{7}[A-Z]\b|\b\d{3}-\d{2}-\d{4}\b|\b[A-CEGHJ-PR-TW-Z]{2}\s?\d{2}\s?\d{2}\s?\d{2}\s?[A-D]\b",
)
_PHONE = re.compile(r"(?<![\w])\+?\d[\d ()-]{6,}\d(?![\w])")


def luhn_valid(digits: str) -> bool:
    """Whether a string of digits passes the Luhn check that card numbers carry."""
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char)
        if index % 2 == 1:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


def _mask_card(match: re.Match[str]) -> str:
    digits = re.sub(r"\D", "", match.group(0))
    if 13 <= len(digits) <= 19 and luhn_valid(digits):
        return f"[card ****{digits[-4:]}]"
    return match.group(0)


def _mask_phone(match: re.Match[str]) -> str:
    digits = re.sub(r"\D", "", match.group(0))
    if len(digits) < 7:
        return match.group(0)
    return f"[phone ***{digits[-2:]}]"


def mask_text(text: str) -> str:
    """The text with personal data replaced by short, non-identifying placeholders."""
    text = _EMAIL.sub(lambda m: f"{m.group(1)}***@{m.group(2)}", text)
    text = _CARD.sub(_mask_card, text)
    text = _NATIONAL_ID.sub("[national-id]", text)
    return _PHONE.sub(_mask_phone, text)


def mask_value(value: Any) -> Any:
    """Masks strings inside nested dicts, lists and tuples."""
    if isinstance(value, str):
        return mask_text(value)
    if isinstance(value, dict):
        return {key: mask_value(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(mask_value(item) for item in value)
    return value


MASK = "••••"
_DIGIT_WORDS = {
    "zero": "0", "oh": "0", "one": "1", "two": "2", "three": "3", "four": "4",
    "five": "5", "six": "6", "seven": "7", "eight": "8", "nine": "9",
}  # fmt: skip
_DIGIT_TOKEN = r"(?:\d+|\b(?:" + "|".join(_DIGIT_WORDS) + r")\b)"
_DIGIT_RUN = re.compile(_DIGIT_TOKEN + r"(?:[ \t-]*" + _DIGIT_TOKEN + r")*", re.IGNORECASE)


def mask_number(number: str) -> str:
    """A card or account number reduced to its last four digits: `••••4821`."""
    digits = re.sub(r"\D", "", number)
    return f"{MASK}{digits[-4:]}"


def _mask_run(match: re.Match[str]) -> str:
    tokens = re.findall(_DIGIT_TOKEN, match.group(0), re.IGNORECASE)
    digits = "".join(_DIGIT_WORDS.get(token.lower(), token) for token in tokens)
    return mask_number(digits) if len(digits) >= 6 else match.group(0)


def mask_digits(text: str) -> str:
    """The text with every run of six or more digits (numerals or spoken words, spaced or not) cut to `••••` + last 4.

    For transcripts, where a caller reads out a card or account number: "four zero zero zero 1234 5678" and
    "4000-1234-5678" both become `••••5678`. Shorter runs (amounts, a day of the month) are left alone.
    """
    return _DIGIT_RUN.sub(_mask_run, text)
