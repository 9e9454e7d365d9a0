"""Reading one field from the words said about it: its name (backticked, or the words before its description),
type, limits, choices, default, and whether it is required, optional or set by the service."""

from __future__ import annotations

import re

from opsdesk.crew.agents.spec import FieldSpec, snake

ARTICLES = re.compile(r"^(?:an?|the|its|their|one|each|optional(?:ly)?|required)\s+", re.IGNORECASE)
NUMBER = r"-?\d+(?:\.\d+)?"
BACKTICK = re.compile(r"`([^`]+)`")
WORD = re.compile(r"[a-z][a-z0-9_]*")
_INTEGER_WORDS = (
    r"\bid of\b|\bidentifier of\b|integer|whole number|\bint\b|number of|count\b|\bminutes\b|\bdays\b"
    r"|\bhours\b|\bseats\b"
)
_NOT_NAMES = {"and", "or", "a", "an", "the", "with", "of", "is", "it", "which", "that"}


def field_from(item: str) -> FieldSpec | None:
    text = re.sub(r"^(?:and|or)\s+", "", item.strip(), flags=re.IGNORECASE)
    ticked = BACKTICK.match(ARTICLES.sub("", text)) or BACKTICK.search(text.split("(")[0])
    if ticked:
        name = snake(ticked.group(1))
        described = text.replace(ticked.group(0), " ", 1)
    else:
        head = re.split(
            "[(:\u2014\u2013]| - | which | that | between | from | of type ", ARTICLES.sub("", text), maxsplit=1
        )[0]
        words = [w for w in WORD.findall(head.lower()) if w not in _NOT_NAMES]
        if not words or len(words) > 4:
            return None
        for marker in ("flag", "date", "number", "text", "count", "integer", "boolean", "amount"):
            if len(words) > 1 and words[-1] == marker:
                words = words[:-1]
        name = snake(" ".join(words))
        described = text[len(head) :] + " " + head
    if not name or not re.match(r"^[a-z][a-z0-9_]*$", name):
        return None
    field = FieldSpec(name=name, source=item.strip())
    describe(field, described.lower(), original=described)
    return field


def describe(field: FieldSpec, words: str, *, original: str) -> None:
    """Type, limits, choices, default, optional and read-only from the words said about the field."""
    name = field.name
    choice_match = re.search(
        r"one of\s*:?\s*(.+?)(?:\)|;|$| and is| \(|, (?:required|optional|default))", original, re.I
    )
    if choice_match:
        choices = BACKTICK.findall(choice_match.group(1)) or re.findall(r"\"([^\"]+)\"", choice_match.group(1))
        if not choices:
            choices = [c.strip(" .'") for c in re.split(r",|\bor\b", choice_match.group(1)) if c.strip(" .'")]
        field.choices = [c for c in choices if c][:20]
    if re.search(r"date[ -]?(?:and|&)[ -]?time|datetime|timestamp|date-time|\btime\b", words) or name.endswith("_at"):
        field.type = "datetime"
    elif re.search(r"\bdate\b", words) or name.endswith("_date") or name in {"date", "due", "birthday"}:
        field.type = "date"
    elif re.search(r"true or false|boolean|\bflag\b|yes or no|yes/no|\bbool\b", words) or name.startswith("is_"):
        field.type = "bool"
    elif re.search(_INTEGER_WORDS, words) or name.endswith("_id"):
        field.type = "int"
    elif re.search(r"decimal|\bnumber\b|amount|price|cost|\bfloat\b|rate\b|money|euros|dollars", words):
        field.type = "float"
    if field.choices:
        field.type = "str"
    elif field.type == "str" and re.search(rf"between\s+{NUMBER}\s+and\s+{NUMBER}", words) and "char" not in words:
        field.type = "float" if re.search(r"between\s+-?\d+\.\d", words) else "int"
    limits(field, words)
    if re.search(r"\boptional\b|\bmay be (?:empty|left out|omitted)|\bcan be (?:left out|omitted)|\bnullable\b", words):
        field.required = False
    if re.search(
        r"set by the (?:service|server|system)|computed|calculated|read-only|cannot be set|assigned by", words
    ):
        field.readonly = True
        field.required = False
    if re.search(r"\bunique\b|\bno two\b|\bnot be (?:used|shared) twice\b|already (?:exists|taken|used)", words):
        field.unique = True
    default = re.search(r"(?:defaults? (?:to|is)|starts? (?:as|at)|initially)\s+`?\"?([^`\",;)]+)", original, re.I)
    if default:
        field.default = typed(field, default.group(1).strip().rstrip("."))
        field.required = False


def limits(field: FieldSpec, words: str) -> None:
    span = re.search(rf"({NUMBER})\s*(?:to|-|\u2013|and)\s*({NUMBER})\s*(?:characters|chars|letters)", words)
    between = re.search(rf"(?:between|from)\s+({NUMBER})\s+(?:and|to)\s+({NUMBER})", words)
    if span or (between and field.type == "str" and re.search(r"characters|chars", words)):
        low, high = (span or between).groups()  # type: ignore[union-attr]
        field.min_length, field.max_length = int(float(low)), int(float(high))
    elif between and field.type in ("int", "float"):
        field.ge, field.le = float(between.group(1)), float(between.group(2))
    for pattern, attribute in (
        (rf"(?:at most|up to|no more than|maximum(?: of)?|max\.?)\s+({NUMBER})\s*(?:characters|chars|letters)", "max"),
        (rf"(?:at least|minimum(?: of)?|min\.?)\s+({NUMBER})\s*(?:characters|chars|letters)", "min"),
    ):
        found = re.search(pattern, words)
        if found:
            setattr(field, f"{attribute}_length", int(float(found.group(1))))
    if field.type == "str" and re.search(r"\bnot (?:be )?(?:empty|blank)\b|non-empty|\bnonempty\b", words):
        field.min_length = field.min_length or 1
    if field.type in ("int", "float"):
        for pattern, attribute in (
            (rf"(?:at least|minimum(?: of)?|no less than|>=)\s+({NUMBER})(?!\s*char)", "ge"),
            (rf"(?:at most|maximum(?: of)?|no more than|up to|<=)\s+({NUMBER})(?!\s*char)", "le"),
            (rf"(?:greater than|more than|above|over|>)\s+({NUMBER})", "gt"),
            (rf"(?:less than|below|under|<)\s+({NUMBER})", "lt"),
        ):
            found = re.search(pattern, words)
            if found and getattr(field, attribute) is None:
                setattr(field, attribute, float(found.group(1)))
        if re.search(r"\bpositive\b", words) and field.gt is None and field.ge is None:
            field.gt = 0
        if re.search(r"non-negative|not negative|zero or more|never negative", words) and field.ge is None:
            field.ge = 0
    if field.type == "str" and field.max_length is None:
        found = re.search(r"exactly\s+(\d+)\s*(?:characters|digits|letters)", words)
        if found:
            field.min_length = field.max_length = int(found.group(1))


def typed(field: FieldSpec, value: str) -> str | int | float | bool | None:
    try:
        if field.type == "bool":
            return value.lower() in ("true", "yes")
        if field.type == "int":
            return int(float(value))
        if field.type == "float":
            return float(value)
    except ValueError:
        return None
    return value
