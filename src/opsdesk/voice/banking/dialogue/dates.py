"""A date of birth as a caller says or keys it: "the 14th of March 1985", "March 14, 1985", "fourteenth of march
nineteen eighty five", "14/03/1985", or eight keys DDMMYYYY (day first, as a UK bank asks)."""

from __future__ import annotations

import re
from datetime import date

_MONTHS = {
    name: index
    for index, names in enumerate(
        (
            ("january", "jan"), ("february", "feb"), ("march", "mar"), ("april", "apr"), ("may",), ("june", "jun"),
            ("july", "jul"), ("august", "aug"), ("september", "sep", "sept"), ("october", "oct"),
            ("november", "nov"), ("december", "dec"),
        ),
        start=1,
    )
    for name in names
}  # fmt: skip
_UNITS = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9,
    "first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6, "seventh": 7, "eighth": 8, "ninth": 9,
}  # fmt: skip
_TEENS = {
    "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15, "sixteen": 16,
    "seventeen": 17, "eighteen": 18, "nineteen": 19, "tenth": 10, "eleventh": 11, "twelfth": 12, "thirteenth": 13,
    "fourteenth": 14, "fifteenth": 15, "sixteenth": 16, "seventeenth": 17, "eighteenth": 18, "nineteenth": 19,
}  # fmt: skip
_TENS = {
    "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90,
    "twentieth": 20, "thirtieth": 30,
}  # fmt: skip


def _compound(words: list[str], index: int) -> tuple[int | None, int]:
    """The number of one or two words at `index` ("eighty five", "fourteenth", "1985") and the index after it."""
    word = words[index]
    if word.isdigit():
        return int(word), index + 1
    if word in _TENS:
        if index + 1 < len(words) and words[index + 1] in _UNITS:
            return _TENS[word] + _UNITS[words[index + 1]], index + 2
        return _TENS[word], index + 1
    value = _TEENS.get(word, _UNITS.get(word))
    return value, index + 1


def _numbers(words: list[str]) -> list[int]:
    """Numbers said in words, in order: "nineteen eighty five" → [19, 85]; "two thousand and three" → [2003]."""
    found: list[int] = []
    index = 0
    while index < len(words):
        value, after = _compound(words, index)
        if value is None:
            if words[index] in ("oh", "o") and found and after < len(words) and words[after] in _UNITS:
                found.append(_UNITS[words[after]])  # "twenty oh three": 20, 3
                after += 1
            index = after
            continue
        if after < len(words) and words[after] == "thousand":
            value, after = value * 1000, after + 1
            after += 1 if after < len(words) and words[after] == "and" else 0
            if after < len(words):
                rest, beyond = _compound(words, after)
                if rest is not None and rest < 100:
                    value, after = value + rest, beyond
        found.append(value)
        index = after
    return found


def spoken_date(text: str) -> date | None:
    """The date in the caller's words or keys, or None when there is no whole, valid date."""
    lowered = text.lower().replace(",", " ")
    keyed = re.sub(r"\D", "", lowered)
    if re.fullmatch(r"\s*[\d\s]{8,}\s*", lowered) and len(keyed) == 8:
        return _valid(int(keyed[4:]), int(keyed[2:4]), int(keyed[:2]))
    numeric = re.search(r"\b(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})\b", lowered)
    if numeric:
        return _valid(int(numeric.group(3)), int(numeric.group(2)), int(numeric.group(1)))
    words = re.findall(r"[a-z]+|\d+", re.sub(r"(\d+)(st|nd|rd|th)\b", r"\1", lowered))
    month_at = next((i for i, word in enumerate(words) if word in _MONTHS), None)
    if month_at is None:
        return None
    month = _MONTHS[words[month_at]]
    before, after = _numbers(words[:month_at]), _numbers(words[month_at + 1 :])
    if before:  # "the 14th of March 1985"
        day, year_parts = before[-1], after
    elif after:  # "March 14, 1985"
        day, year_parts = after[0], after[1:]
    else:
        return None
    return _valid(_year(year_parts), month, day)


def _year(parts: list[int]) -> int:
    if not parts:
        return 0
    if parts[0] >= 1000:
        return parts[0]
    if len(parts) >= 2 and 10 <= parts[0] <= 29 and parts[1] < 100:  # "nineteen eighty five", "twenty oh three"
        return parts[0] * 100 + parts[1]
    return 0


def _valid(year: int, month: int, day: int) -> date | None:
    if not 1900 <= year <= 2100:
        return None
    try:
        return date(year, month, day)
    except ValueError:
        return None
