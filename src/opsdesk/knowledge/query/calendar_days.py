"""Named days in a question, with the generic terms policies state them in.

Policies say "public holidays", "Sundays" or "Monday to Friday"; customers write "good friday", "deepavali", "sat
3pm". `with_generic_days` names a holiday's kind beside it ("our delivery falls on good friday — a public holiday,
when will we get it"), spells out a day's short form ("sat 3pm" -> "Saturday 3pm") and says which days a weekend or
a weekday is, so that the sentence model and the keyword match find the rule the question is about. The holidays
are the public holidays of the markets the order desk serves (Singapore, Malaysia) and a few kept widely elsewhere;
the eve of a holiday is not one ("cny eve" is left alone: a policy names it when it matters).
"""

from __future__ import annotations

import re

_HOLIDAYS = (
    r"new year'?s? day",
    r"chinese new year",
    r"lunar new year",
    r"cny",
    r"good friday",
    r"easter(?: monday| sunday)?",
    r"labou?r day",
    r"w?vesak(?: day)?",
    r"wesak(?: day)?",
    r"hari raya(?: puasa| haji| aidilfitri| aidiladha)?",
    r"aidilfitri",
    r"aidiladha",
    r"eid(?: al-fitr| al-adha| ul-fitr| ul-adha)?",
    r"national day",
    r"merdeka(?: day)?",
    r"malaysia day",
    r"deepavali",
    r"diwali",
    r"thaipusam",
    r"christmas(?: day)?",
    r"x'?mas(?: day)?",
    r"boxing day",
)
_HOLIDAY = re.compile(
    rf"(?<![\w-])(?<!eve of )(?<!eve of the )(?:{'|'.join(_HOLIDAYS)})(?![\w-])(?!'?s? eve\b)(?! eve\b)",
    re.IGNORECASE,
)
PUBLIC_HOLIDAY = "a public holiday"

_DAYS = {
    "mon": "Monday",
    "tue": "Tuesday",
    "tues": "Tuesday",
    "wed": "Wednesday",
    "thu": "Thursday",
    "thur": "Thursday",
    "thurs": "Thursday",
    "fri": "Friday",
    "sat": "Saturday",
    "sun": "Sunday",
}
# Short forms that are also English words ("sat down", "the sun", "wed") count as days only next to a day's cue.
_AMBIGUOUS = frozenset({"sat", "sun", "wed"})
_SHORT_DAY = re.compile(rf"(?<![\w'-])({'|'.join(_DAYS)})(?![\w'-])", re.IGNORECASE)
_CUE_BEFORE = re.compile(r"(?:\b(?:on|this|next|last|every|by|till|until|from|to|and|or)|,|&)\s*$", re.IGNORECASE)
_CUE_AFTER = re.compile(
    r"^\s*(?:\d|morning|afternoon|evening|night|noon|delivery|order|,|&|/|\b(?:and|or|to)\s+(?:mon|tue|wed|thu|fri|"
    r"sat|sun))",
    re.IGNORECASE,
)
_WEEKEND = re.compile(r"(?<![\w-])weekends?(?![\w-])", re.IGNORECASE)
_WEEKDAY = re.compile(r"(?<![\w-])weekdays?(?![\w-])", re.IGNORECASE)


def _spell_day(text: str) -> str:
    def spell(match: re.Match[str]) -> str:
        short = match.group(1).lower()
        if short in _AMBIGUOUS and not (
            _CUE_BEFORE.search(text[: match.start()]) or _CUE_AFTER.match(text[match.end() :])
        ):
            return match.group(0)
        return _DAYS[short]

    return _SHORT_DAY.sub(spell, text)


def _named_holiday(match: re.Match[str], text: str) -> str:
    """ "good friday" -> "good friday — a public holiday —" (no closing dash before punctuation). An aside, not
    brackets: MiniLM read "national day (a public holiday)" as closest to "the eve of Chinese New Year"; and not
    between commas, which made it an ask of its own that brought the delivery rule to a payment question."""
    if text[match.end() : match.end() + 1] in (",", ".", "?", "!", ";", ":", ""):
        return f"{match.group(0)} — {PUBLIC_HOLIDAY}"
    return f"{match.group(0)} — {PUBLIC_HOLIDAY} —"


def with_generic_days(question: str) -> str:
    """The question with the generic term beside each named day: a holiday's kind ("deepavali — a public holiday —"),
    a day's full name for its short form ("sat" -> "Saturday"), "weekend (Saturday and Sunday)" and "weekday (Monday
    to Friday)". A question that says "public holiday" already keeps its wording there; one that names no day is
    returned unchanged."""
    text = _spell_day(question)
    if "public holiday" not in text.lower():
        text = _HOLIDAY.sub(lambda match: _named_holiday(match, text), text, count=1)
    text = _WEEKEND.sub(lambda match: f"{match.group(0)} (Saturday and Sunday)", text, count=1)
    return _WEEKDAY.sub(lambda match: f"{match.group(0)} (Monday to Friday)", text, count=1)
