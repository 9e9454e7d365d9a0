"""How well a passage unit fits a question beyond its meaning: the question's own words, and its quantities.

* `KeywordOverlap`: the share of a question's words (rarity-weighted among the units, word forms matched by
  `keyword`) that a unit says. A sentence model alone misses a unit that says the question's rare words
  ("restocking", "overdue") in other company.
* `measures`, `thresholds`, `condition_fit`: quantities of a kind (money, days, a time of day, percent, a count) and
  the bounds a passage states ("below SGD 150", "within 24 hours", "more than 45 days", "before 11:00"), so that
  "$700" is compared with "more than SGD 500" and never with "cartons of 500", "2 months" with "45 days overdue".
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from opsdesk.knowledge.query.grounding import FUNCTION_WORDS, words


def keyword(word: str) -> str:
    """A word's key for matching a question's words with a passage's: plural and -ed/-ing endings dropped, then its
    first five letters ("delivered", "delivery" -> "deliv"; "approves", "approval" -> "appro"). Numbers stay whole."""
    if not word.isalpha():
        return word.replace(",", "")
    if len(word) > 4 and word.endswith("ies"):
        word = word[:-3] + "y"
    elif word.endswith("es") and word[:-2].endswith(("x", "ch", "sh", "ss")):
        word = word[:-2]
    elif len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us")):
        word = word[:-1]
    for suffix in ("ing", "ed"):
        if len(word) - len(suffix) >= 3 and word.endswith(suffix):
            word = word[: -len(suffix)]
            break
    return word[:5]


def keywords(text: str) -> set[str]:
    """The keys of a text's content words and numbers (see `keyword`)."""
    return {keyword(word) for word in words(text) if word not in FUNCTION_WORDS and "'" not in word}


class KeywordOverlap:
    """How much of a question's vocabulary each of a set of passage units shares, weighted by rarity among them.

    MiniLM alone misses a unit that says the question's own rare words ("restocking", "overdue", "CONFIRM") in
    other company; this measures that: the share of the question's keys (those the units know at all) found in a
    unit and its heading, each key weighted by its inverse frequency among the units.
    """

    def __init__(self, units: Sequence[str]) -> None:
        self.units = [keywords(unit) for unit in units]
        frequency: dict[str, int] = {}
        for keys in self.units:
            for key in keys:
                frequency[key] = frequency.get(key, 0) + 1
        total = len(self.units) + 1
        self.weight = {key: math.log(total / (count + 0.5)) for key, count in frequency.items()}
        self.unknown = math.log(total / 1.5)

    def __call__(self, question: str) -> np.ndarray:
        keys = keywords(question)
        asked = {key: self.weight[key] for key in keys if key in self.weight}
        # A word no unit says weighs as a word of one unit would: the units cannot answer that part of the question.
        whole = sum(asked.values()) + self.unknown * len(keys - asked.keys())
        if whole <= 0:
            return np.zeros(len(self.units), dtype=np.float32)
        return np.asarray(
            [sum(weight for key, weight in asked.items() if key in keys) / whole for keys in self.units],
            dtype=np.float32,
        )


# Quantities, each of a kind, so that an amount is compared with amounts, a duration with durations, a time of day
# with times of day and a count with counts ("$700" with "more than SGD 500", never with "cartons of 500").
_CURRENCY = r"(?:sgd|s\$|\$|usd|eur|€|£)"
_MEASURE = re.compile(
    rf"(?<![\w:.])(?P<money>{_CURRENCY}\s*)?(?P<number>\d[\d,]*(?:\.\d+)?)(?P<clock>:\d\d)?(?![\d:]|,\d)"
    r"(?:\s*(?P<unit>k\b|%|per\s?cent\b|am\b|pm\b|a\.m\.|p\.m\.|(?:working |business )?(?:minute|min|hour|hr|day|"
    r"week|month|year|yr)s?\b|inch(?:es)?\b|oz\b|ml\b|cm\b|mm\b|kg\b|\"|units?\b|bundles?\b|cartons?\b|packs?\b|"
    r"pcs\b|pieces?\b|boxes\b|items?\b))?",
    re.IGNORECASE,
)
_DAYS = {"minute": 1 / 1440, "min": 1 / 1440, "hour": 1 / 24, "hr": 1 / 24, "day": 1, "week": 7, "month": 30,
         "year": 365, "yr": 365}  # fmt: skip
_SIZES = frozenset({"inch", "inches", "oz", "ml", "cm", "mm", "kg", '"'})
_CLOCK_BEFORE = re.compile(r"\b(?:at|by|before|after|around)\s+$", re.IGNORECASE)
_RELATIVE_DAYS = {"yesterday": 1.0, "today": 0.0, "tonight": 0.0, "tomorrow": 1.0}
COMPARABLE = 0.25  # condition_fit of a unit whose bound is of the question's kind but does not admit its quantity
_BELOW = r"below|under|less than|fewer than|before|minimum(?: order value)?:?"
_AT_MOST_WORDS = r"up to|within|at most|no more than|not more than"
_ABOVE = r"above|over|more than|exceeding|after|beyond"
_AT_LEAST_WORDS = r"at least|from"
_COMPARATOR = re.compile(
    rf"\b(?P<word>{_BELOW}|{_AT_MOST_WORDS}|{_ABOVE}|{_AT_LEAST_WORDS})\s+(?:the\s+|a\s+)?$", re.IGNORECASE
)
_AND_ABOVE = re.compile(r"^\s*(?:or more|and above|and over|or above|\+)", re.IGNORECASE)
_RANGE_TO = re.compile(r"^\s*(?:to|-|\u2013)\s*$", re.IGNORECASE)


@dataclass(frozen=True)
class Measure:
    """A quantity of a text: its kind (money, days, clock, percent, count) and value in that kind's unit."""

    kind: str
    value: float
    start: int
    end: int


def measures(text: str) -> list[Measure]:
    """The quantities of a text with their kinds: "$700" money, "2 months" 60 days, "yesterday" 1 day, "10am" and
    "11:00" clock minutes, "10%" percent, "250 bundles" a count. Sizes ("12 inch", "500 ml") are left out."""
    found: list[Measure] = []
    for match in _MEASURE.finditer(text):
        unit = (match.group("unit") or "").lower().replace(".", "")
        number = float(match.group("number").replace(",", ""))
        if unit in _SIZES and not match.group("money"):
            continue
        if _CLOCK_BEFORE.search(text[max(0, match.start() - 8) : match.start()]) and re.fullmatch(
            r"\d{1,2}\.\d\d", match.group("number")
        ):  # "at 11.30"
            hours, minutes = match.group("number").split(".")
            found.append(Measure("clock", int(hours) * 60 + int(minutes), match.start(), match.end()))
            continue
        if match.group("clock") or unit in ("am", "pm"):
            hours = number if not match.group("clock") else float(match.group("number"))
            minutes = int(match.group("clock")[1:]) if match.group("clock") else 0
            hours = hours % 12 + (12 if unit == "pm" else 0) if unit in ("am", "pm") else hours
            if hours < 24:
                found.append(Measure("clock", hours * 60 + minutes, match.start(), match.end()))
            continue
        if match.group("money") or unit == "k":
            found.append(Measure("money", number * (1000 if unit == "k" else 1), match.start(), match.end()))
        elif unit in ("%", "percent", "per cent"):
            found.append(Measure("percent", number, match.start(), match.end()))
        elif unit:
            base = unit.split()[-1].rstrip("s") if unit.split()[-1] not in ("units", "bundles") else "count"
            days = _DAYS.get(base) if base != "count" else None
            found.append(Measure("days", number * days, match.start(), match.end()) if days is not None
                         else Measure("count", number, match.start(), match.end()))  # fmt: skip
        else:
            found.append(Measure("count", number, match.start(), match.end()))
    for word, days in _RELATIVE_DAYS.items():
        for match in re.finditer(rf"\b{word}\b", text, re.IGNORECASE):
            found.append(Measure("days", days, match.start(), match.end()))
    return found


@dataclass(frozen=True)
class Threshold:
    """A bound a passage states: `kind`, and the values it admits (low, high; inclusive unless strict)."""

    kind: str
    low: float
    high: float
    strict_low: bool = False
    strict_high: bool = False

    def admits(self, value: float) -> bool:
        above = value > self.low if self.strict_low else value >= self.low
        below = value < self.high if self.strict_high else value <= self.high
        return above and below


def thresholds(text: str) -> list[Threshold]:
    """The bounds a passage states: "below SGD 150", "within 24 hours", "more than 45 days", "before 11:00",
    "above 200 units", "SGD 800 or more", "SGD 150 to SGD 299.99", "09:00-12:00"; a minimum ("minimum order
    value: SGD 60") bounds what falls short of it."""
    found: list[Threshold] = []
    quantities = measures(text)
    for index, measure in enumerate(quantities):
        before = _COMPARATOR.search(text[max(0, measure.start - 30) : measure.start])
        after = text[measure.end : measure.end + 12]
        following = quantities[index + 1] if index + 1 < len(quantities) else None
        if (
            following is not None
            and following.kind == measure.kind
            and _RANGE_TO.match(text[measure.end : following.start])
            and measure.value < following.value
        ):
            found.append(Threshold(measure.kind, measure.value, following.value))
        elif before is not None:
            word = before.group("word").lower()
            if re.fullmatch(_BELOW, word):
                found.append(Threshold(measure.kind, -math.inf, measure.value, strict_high=True))
            elif re.fullmatch(_AT_MOST_WORDS, word):
                found.append(Threshold(measure.kind, -math.inf, measure.value))
            elif re.fullmatch(_ABOVE, word):
                found.append(Threshold(measure.kind, measure.value, math.inf, strict_low=True))
            else:
                found.append(Threshold(measure.kind, measure.value, math.inf))
        elif _AND_ABOVE.match(after):
            found.append(Threshold(measure.kind, measure.value, math.inf))
    return found


def condition_fit(question: str, unit: str, kinds: frozenset[str] | None = None) -> float:
    """How well a unit's bounds fit the question's quantities: 1 when a quantity of the question falls inside a
    bound the unit states ("$700" and "more than SGD 500", "2 months" and "more than 45 days overdue"), COMPARABLE
    when the unit states a bound of that kind that the quantity falls outside (the rule the amount is judged by:
    "$300" and "more than SGD 500"), else 0. Fee tiers, limits and time windows are chosen this way. `kinds` limits
    the question's quantities to those kinds (e.g. money and counts)."""
    asked = [measure for measure in measures(question) if measure.kind != "count" or measure.value >= 2]
    if kinds is not None:
        asked = [measure for measure in asked if measure.kind in kinds]
    if not asked:
        return 0.0
    fit = 0.0
    for bound in thresholds(unit):
        for measure in asked:
            if measure.kind == bound.kind:
                if bound.admits(measure.value):
                    return 1.0
                fit = COMPARABLE
    return fit
