"""Reading a planner's chat question with rules and fuzzy matching, never a language model: which kind of question,
which items or model line it is about, and which constraint change a what-if asks for (with its range checked).

Pure functions over the workspace's items (keys, names, model lines, variants); the numbers in the answers come
from stored runs (planner.chat), so a misread question can at worst pick the wrong stored line, never invent one.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from rapidfuzz import fuzz

from opsdesk.core.text import singular

_FUZZY = 85.0  # rapidfuzz ratio for a word of five or more letters ("Exploer" is Explorer, "Lariet" is not Lariat)
_EXACT_UP_TO = 4  # shorter words must match exactly: XL is not XLT, AWD is not 4WD
_WORD = re.compile(r"[a-z0-9][a-z0-9'\u2019\-]*")
_STOP_WORDS = (
    "a about all an and any are as at be buy by can could did do does for from get give go got had has have how i "
    "in is it many me more much my need next no not now number of on only or order ordering our plan please pls "
    "quantity recommend recommendation recommended reason should show so the this to total units unit us we week "
    "weeks what whats why will with would you few less explain come limiting binding stopped drives lot lots "
    "space spaces budget allocation days supply mix share constraint constraints limit limits one which if "
    "nothing line lines happen happens suppose gives"
)
_STOP = frozenset(_STOP_WORDS.split())


class Kind(StrEnum):
    quantity = "plan_quantity"
    explain = "plan_explain"
    what_if = "plan_what_if"
    other = "other"


_HYPOTHETICAL = re.compile(
    r"\bwhat\s+(?:if|happens|would)\b|\bsuppose\b|\bimagine\b|\bif\s+(?:we|i|the|our|ford|lot|budget)\b|"
    r"\bre-?(?:run|solve|plan)\b|\bsimulate\b|\btry\b|\bhow\s+would\b|\bwith\s+(?:a\s+|only\s+)?\$?\d",
    re.IGNORECASE,
)
_EXPLAIN = re.compile(
    r"\bwhy\b|\bhow\s+come\b|\bexplain\w*\b|\breasons?\b|\bso\s+(?:few|many|little|much)\b|\bonly\s+(?:\d+|one|two|"
    r"three|a\s+few)\b|\bnot\s+more\b|\blimit\w*\b|\bbinding\b|\bbound\b|\bstopp?\w*\b|\bdrives?\b|\bhow\s+did\b",
    re.IGNORECASE,
)
_QUANTITY = re.compile(
    r"\bhow\s+many\b|\bquantit\w*\b|\border\w*\b|\brecommend\w*\b|\bplan\b|\bbuy\b|\bget\b", re.IGNORECASE
)


@dataclass(frozen=True)
class ItemRef:
    """One item as questions name it."""

    key: str
    line: str
    variant: str = ""
    name: str = ""

    @property
    def label(self) -> str:
        return self.name or " ".join(part for part in (self.line, self.variant) if part) or self.key


@dataclass(frozen=True)
class Subject:
    """What a question is about: one item, items it named, a whole model line, or several items it might mean."""

    items: tuple[ItemRef, ...]
    lines: tuple[str, ...] = ()  # the model lines named (a line question when no item word narrowed it)
    ambiguous: bool = False

    @property
    def is_line(self) -> bool:
        return bool(self.lines) and not self.ambiguous and len(self.items) != 1


def _norm(word: str) -> str:
    return re.sub(r"[^a-z0-9]", "", word.lower().replace("\u2019s", "").replace("'s", ""))


def words_of(text: str) -> list[str]:
    """Normalised words: lower case, hyphens and apostrophes dropped ("F-150" is "f150", "Bronco's" is "bronco")."""
    return [w for w in (_norm(raw) for raw in _WORD.findall(text.lower())) if w]


def _matches(word: str, candidates: Sequence[str]) -> bool:
    """A question word is one of the candidate words: exactly when short, else by fuzzy ratio (or its singular)."""
    forms = {word, singular(word)}
    for candidate in candidates:
        if candidate in forms:
            return True
        if len(candidate) > _EXACT_UP_TO and max(fuzz.ratio(form, candidate) for form in forms) >= _FUZZY:
            return True
    return False


def _has_all(question: Sequence[str], wanted: Sequence[str]) -> bool:
    return bool(wanted) and all(_matches_any(token, question) for token in wanted)


def _matches_any(token: str, question: Sequence[str]) -> bool:
    return any(_matches(word, [token]) for word in question)


def distinguishing_words(items: Sequence[ItemRef]) -> dict[str, frozenset[str]]:
    """Each item's own words (variant, name, key parts) without its line's name and the words every item of its
    line shares: "XLT RWD" for EXP-XLT-RWD, never "Explorer" or "EXP"."""
    own: dict[str, set[str]] = {}
    by_line: dict[str, list[str]] = {}
    for item in items:
        line_words = set(words_of(item.line))
        parts = re.split(r"[-_/\s.]+", item.key.lower())
        found = set(words_of(f"{item.variant} {item.name}")) | {_norm(p) for p in parts if _norm(p)}
        own[item.key] = found - line_words - _STOP
        by_line.setdefault(item.line, []).append(item.key)
    for keys in by_line.values():
        if len(keys) > 1:
            shared = set.intersection(*(own[key] for key in keys))
            for key in keys:
                own[key] -= shared
    return {key: frozenset(words) for key, words in own.items()}


def find_subject(text: str, items: Sequence[ItemRef]) -> Subject | None:
    """The items or model line the question names; None when it names none of the workspace's."""
    named = [item for item in items if re.search(rf"(?<![\w-]){re.escape(item.key)}(?![\w-])", text, re.IGNORECASE)]
    if named:
        return Subject(tuple(named))
    question = words_of(text)
    lines = sorted({item.line for item in items if item.line and _has_all(question, words_of(item.line))})
    pool = [item for item in items if item.line in lines] if lines else list(items)
    own = distinguishing_words(pool)
    scores = {item.key: sum(_matches_any(word, question) for word in own[item.key]) for item in pool}
    best = max(scores.values(), default=0)
    if best > 0:
        winners = tuple(item for item in pool if scores[item.key] == best)
        return Subject(winners, tuple(lines), ambiguous=len(winners) > 1)
    if lines:
        return Subject(tuple(pool), tuple(lines))
    return None


def loose_words(text: str) -> str:
    """The question's content words (what an unknown item was called), for saying what was not found."""
    found = re.findall(r"[A-Za-z0-9][\w\-]*", text)
    kept = [raw for raw in found if raw.lower() not in _STOP and len(raw) > 1 and not raw.isdigit()]
    return " ".join(kept[:6])


def question_kind(text: str, intent: str) -> Kind:
    """Rules first (they read a what-if's number and a "why" reliably); the classifier's intent breaks ties."""
    if _HYPOTHETICAL.search(text) and any(pattern.search(text) for pattern, _ in _FIELDS):
        return Kind.what_if
    if _EXPLAIN.search(text):
        return Kind.explain
    if _QUANTITY.search(text):
        return Kind.quantity
    return Kind(intent) if intent in {k.value for k in Kind} else Kind.other


def stated_count(text: str) -> int | None:
    """The count a "why only 2 Broncos?" states, to set it beside the stored plan."""
    found = re.search(r"\bonly\s+(\d{1,6})\b|(?<![\w-])(\d{1,6})\s+[A-Za-z]", text)
    if found is None:
        return None
    return int(found.group(1) or found.group(2))


# ------------------------------------------------------------------------------------------------ what-if


@dataclass(frozen=True)
class Limit:
    field: str
    words: str  # how the reply names it
    low: float
    high: float
    unit: str


LIMITS = {
    "lot_space": Limit("lot_space", "lot space", 1, 1_000_000, "spaces"),
    "budget": Limit("budget", "budget", 1, 1e12, ""),
    "allocation": Limit("allocation", "allocation", 0, 100_000, "units"),
    "min_days_of_supply": Limit("min_days_of_supply", "minimum days of supply", 0, 3650, "days"),
}
_FIELDS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"\bdays?\s+(?:of\s+)?supply\b|\bdos\b", re.IGNORECASE), "min_days_of_supply"),
    (re.compile(r"\balloc\w*\b|\b(?:gives?|supplies|supply|ships?|sends?)\s+us\b", re.IGNORECASE), "allocation"),
    (re.compile(r"\blots?\b|\bspaces?\b|\bparking\b", re.IGNORECASE), "lot_space"),
    (re.compile(r"\bbudget\w*\b|\bspend\w*\b|\bmoney\b|\bcash\b|\bcapital\b", re.IGNORECASE), "budget"),
)
_NUMBER = re.compile(
    r"(?<![\w.])(?P<sign>[-\u2212\u2013])?\s*\$?\s*(?P<num>\d[\d,]*(?:\.\d+)?)\s*(?P<scale>k\b|m\b|million\b|thousand\b|%|"
    r"percent\b|per\s+cent\b)?",
    re.IGNORECASE,
)
_DOWN = re.compile(r"\b(?:less|lower|fewer|down|cut|smaller|reduc\w*|drops?|minus|shrinks?)\b", re.IGNORECASE)
_UP = re.compile(r"\b(?:more|higher|up|increase\w*|bigger|extra|raised?|grows?|plus|larger)\b", re.IGNORECASE)


@dataclass(frozen=True)
class Change:
    """One constraint set to a value (absolute), or moved by a percentage of its current value."""

    field: str
    value: float
    percent: bool = False
    line: str | None = None  # the model line of an allocation


@dataclass(frozen=True)
class WhatIf:
    changes: tuple[Change, ...] = ()
    problem: str | None = None  # why the question cannot be re-solved as asked (nothing is re-solved then)


def _number(clause: str) -> tuple[float, bool] | None:
    found = _NUMBER.search(clause)
    if found is None:
        return None
    value = float(found.group("num").replace(",", ""))
    scale = (found.group("scale") or "").lower()
    if scale == "k" or scale == "thousand":
        value *= 1_000
    elif scale in ("m", "million"):
        value *= 1_000_000
    percent = scale.startswith("%") or scale.startswith("per")
    if found.group("sign"):
        value = -value
    if percent:
        if _DOWN.search(clause):
            value = -value
        elif not _UP.search(clause):
            return None
    return value, percent


def parse_what_if(text: str, lines: Sequence[str]) -> WhatIf:
    """The constraint changes of a what-if question, clause by clause ("lot space 140 and budget 1.2m")."""
    changes: list[Change] = []
    for clause in re.split(r"\s*(?:;|,\s*(?=[a-z])|\band\b|\balso\b)\s*", text, flags=re.IGNORECASE):
        named = next((name for pattern, name in _FIELDS if pattern.search(clause)), None)
        if named is None:
            continue
        number = _number(clause)
        limit = LIMITS[named]
        if number is None:
            return WhatIf(problem=f"What should the {limit.words} be? Give a number, e.g. \"what if {limit.words} is "
                          f"{_example(named)}?\" (or a change such as \"10% more {limit.words}\").")  # fmt: skip
        line = None
        if named == "allocation":
            question = words_of(clause)
            line = next((name for name in lines if _has_all(question, words_of(name))), None)
            if line is None:
                known = ", ".join(lines) or "none"
                return WhatIf(problem=f"Which model line's allocation? The lines are: {known}.")
        changes.append(Change(named, number[0], number[1], line))
    if not changes:
        names = ", ".join(limit.words for limit in LIMITS.values())
        return WhatIf(problem=f"I can re-solve the plan with a different {names}. Which one, and to what value?")
    return WhatIf(tuple(changes))


def _example(name: str) -> str:
    return {"lot_space": "140", "budget": "1,200,000", "allocation": "5", "min_days_of_supply": "30"}[name]


def resolve(change: Change, current: float | None) -> tuple[float | None, str | None]:
    """(new value, None) within the limit's range, or (None, why not) for a clear refusal."""
    limit = LIMITS[change.field]
    value = change.value
    if change.percent:
        if current is None:
            return None, f"The plan has no {limit.words} limit now, so a percentage of it means nothing; give a number."
        value = current * (1 + change.value / 100)
    if change.field == "allocation":
        value = float(round(value))
    if not limit.low <= value <= limit.high:
        unit = f" {limit.unit}" if limit.unit else ""
        return None, (
            f"I can't re-solve with a {limit.words} of {value:,.10g}{unit}: it must be between {limit.low:,.0f} and "
            f"{limit.high:,.0f}{unit}. Nothing was re-solved."
        )
    return value, None


@dataclass(frozen=True)
class Resolved:
    changes: dict[str, object] = field(default_factory=dict)  # for recommendations.what_if
    said: tuple[str, ...] = ()  # each change in words, with its old value
    problem: str | None = None


def constraint_changes(what_if: WhatIf, constraints: dict[str, object], allocation: dict[str, int]) -> Resolved:
    """The `changes` for a what-if run from the base run's constraints and its effective allocation per line."""
    if what_if.problem is not None:
        return Resolved(problem=what_if.problem)
    out: dict[str, object] = {}
    said: list[str] = []
    new_allocation = dict(allocation)
    for change in what_if.changes:
        limit = LIMITS[change.field]
        if change.field == "allocation":
            assert change.line is not None
            current: float | None = allocation.get(change.line)
        else:
            raw = constraints.get(change.field)
            current = float(raw) if isinstance(raw, int | float) else None
        value, problem = resolve(change, current)
        if problem is not None or value is None:
            return Resolved(problem=problem)
        was = "no limit" if current is None else f"{current:,.10g}"
        if change.field == "allocation":
            assert change.line is not None
            new_allocation[change.line] = int(value)
            out["allocation"] = new_allocation
            said.append(f"{change.line} allocation {int(value):,} units (was {was})")
        else:
            out[change.field] = value
            said.append(f"{limit.words} {value:,.10g}{' ' + limit.unit if limit.unit else ''} (was {was})")
    return Resolved(out, tuple(said))
