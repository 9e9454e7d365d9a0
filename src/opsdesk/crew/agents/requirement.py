"""Reads a requirement's own sentences into entities, fields, filters and rules, by simple parsing (no model).

What it understands: "A <entity> has <fields>" (a list in one sentence, or bullet lines after a colon), field
types and limits in the words around a field ("text, 1 to 200 characters", "an integer between 1 and 5", "one of
`low`, `high`", "a date", "true or false", "the id of a book"), "/api/<plural>" paths, "can be filtered by",
and the sentences that state rules ("rejected as invalid", "not found", "refused"). Field names in backticks are
taken exactly; otherwise the words before the field's description become a snake_case name.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, Field

FieldType = Literal["str", "int", "float", "bool", "date", "datetime"]
RuleKind = Literal["invalid", "not_found", "conflict", "other"]

_ARTICLES = re.compile(r"^(?:an?|the|its|their|one|each|optional(?:ly)?|required)\s+", re.IGNORECASE)
_ENTITY_SENTENCE = re.compile(
    r"\b(?:an?|each|every)\s+`?([a-z][a-z_ -]{1,40}?)`?\s+(?:has|have|holds|records|stores|carries|consists of)\b"
    r"(?:\s+(?:the\s+)?(?:following\s+)?fields?)?\s*:?(.*)",
    re.IGNORECASE,
)
_PATH = re.compile(r"/api/([a-z][a-z0-9_-]*)")
_NUMBER = r"-?\d+(?:\.\d+)?"
_BACKTICK = re.compile(r"`([^`]+)`")
_WORD = re.compile(r"[a-z][a-z0-9_]*")
_INTEGER_WORDS = (
    r"\bid of\b|\bidentifier of\b|integer|whole number|\bint\b|number of|count\b|\bminutes\b|\bdays\b"
    r"|\bhours\b|\bseats\b"
)
_NOT_NAMES = {"and", "or", "a", "an", "the", "with", "of", "is", "it", "which", "that"}


class FieldSpec(BaseModel):
    """One field of an entity with what the requirement says about its type and limits."""

    name: str
    type: FieldType = "str"
    required: bool = True
    default: str | int | float | bool | None = None
    readonly: bool = False  # set or computed by the service, not accepted on create
    ge: float | None = None
    le: float | None = None
    gt: float | None = None
    lt: float | None = None
    min_length: int | None = None
    max_length: int | None = None
    pattern: str | None = None
    choices: list[str] = Field(default_factory=list)
    ref: str | None = None  # the entity whose id this field holds
    source: str = ""  # the words it was read from


class EntitySpec(BaseModel):
    name: str  # snake_case singular
    plural: str
    fields: list[FieldSpec] = Field(default_factory=list)
    filters: list[str] = Field(default_factory=list)

    @property
    def path(self) -> str:
        return f"/api/{self.plural}"

    @property
    def title(self) -> str:
        return self.name.replace("_", " ")


class RuleSpec(BaseModel):
    kind: RuleKind
    sentence: str
    entity: str | None = None


class RequirementSpec(BaseModel):
    title: str
    summary: str
    entities: list[EntitySpec] = Field(default_factory=list)
    rules: list[RuleSpec] = Field(default_factory=list)
    sentences: list[str] = Field(default_factory=list)


def snake(words: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", words.strip().lower()).strip("_")


def plural_of(name: str) -> str:
    if re.search(r"[^aeiou]y$", name):
        return name[:-1] + "ies"
    if re.search(r"(s|x|z|ch|sh)$", name):
        return name + "es"
    return name + "s"


def singular_of(plural: str) -> str:
    if plural.endswith("ies"):
        return plural[:-3] + "y"
    if re.search(r"(sses|xes|zes|ches|shes)$", plural):
        return plural[:-2]
    if plural.endswith("s") and not plural.endswith("ss"):
        return plural[:-1]
    return plural


def sentences_of(text: str) -> list[str]:
    """The requirement's sentences and bullet lines, markdown marks removed, in order."""
    found: list[str] = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#") or line.startswith("```"):
            continue
        line = re.sub(r"^(?:[-*+]|\d+[.)])\s+", "", line).replace("**", "")
        found.extend(part.strip() for part in re.split(r"(?<=[.!?])\s+(?=[A-Z`\"])", line) if part.strip())
    return found


def parse_requirement(text: str) -> RequirementSpec:
    """The requirement as entities, fields, filters and rules; never fails (an empty spec at worst)."""
    title = next((line.lstrip("#").strip() for line in text.splitlines() if line.strip()), "Requirement")[:120]
    sentences = sentences_of(text)
    entities: dict[str, EntitySpec] = {}
    paths = {singular_of(p.replace("-", "_")): p for p in _PATH.findall(text)}
    current: EntitySpec | None = None
    for index, sentence in enumerate(sentences):
        match = _ENTITY_SENTENCE.search(sentence)
        if match and _looks_like_entity(match.group(1)):
            name = snake(_ARTICLES.sub("", match.group(1)))
            current = entities.setdefault(name, EntitySpec(name=name, plural=paths.get(name, plural_of(name))))
            rest = match.group(2).strip()
            if rest and rest not in (":",):
                _add_fields(current, _split_items(rest.rstrip(".:")))
            continue
        if current is not None and _is_field_line(sentence, sentences, index):
            _add_fields(current, [sentence.rstrip(".;")])
    for name, plural in paths.items():  # a path named without a "has" sentence is still an entity
        if name and name not in entities and all(e.plural != plural for e in entities.values()):
            entities[name] = EntitySpec(name=name, plural=plural)
    for entity in entities.values():
        for field in entity.fields:
            _resolve_ref(field, entities)
    rules = []
    for sentence in sentences:
        _apply_constraint_sentence(sentence, entities)
        _apply_filters(sentence, entities)
        kind = _rule_kind(sentence)
        if kind is not None:
            rules.append(RuleSpec(kind=kind, sentence=sentence, entity=_entity_in(sentence, entities)))
    summary = next((s for s in sentences if not _ENTITY_SENTENCE.search(s)), title)
    return RequirementSpec(
        title=title, summary=summary, entities=list(entities.values()), rules=rules, sentences=sentences
    )


def _looks_like_entity(words: str) -> bool:
    cleaned = _ARTICLES.sub("", words.strip().lower())
    return 0 < len(cleaned.split()) <= 3 and cleaned.split()[0] not in {"user", "it", "list", "request", "client"}


def _is_field_line(sentence: str, sentences: list[str], index: int) -> bool:
    """A bullet under an entity: it starts with a backticked name, or follows a line ending with ':'."""
    if sentence.startswith("`"):
        return True
    before = sentences[index - 1] if index else ""
    return before.endswith(":") and len(sentence) < 200 and not _ENTITY_SENTENCE.search(sentence)


def _split_items(text: str) -> list[str]:
    """Splits a field list on top-level commas, semicolons and ' and ' (not inside parentheses)."""
    items, depth, start = [], 0, 0
    for position, char in enumerate(text):
        depth += (char in "([" and 1) or 0
        depth -= (char in ")]" and 1) or 0
        if depth == 0 and char in ",;":
            items.append(text[start:position])
            start = position + 1
    items.append(text[start:])
    out: list[str] = []
    for item in items:
        parts = re.split(r"\s+and\s+(?=(?:an?\s+|the\s+)?`?[a-z])(?![^(]*\))", item.strip(), flags=re.IGNORECASE)
        out.extend(part for part in parts if part.strip())
    return out


def _add_fields(entity: EntitySpec, items: list[str]) -> None:
    for item in items:
        field = _field_from(item.strip())
        if field is not None and field.name not in {f.name for f in entity.fields} and field.name != "id":
            entity.fields.append(field)


def _field_from(item: str) -> FieldSpec | None:
    text = re.sub(r"^(?:and|or)\s+", "", item.strip(), flags=re.IGNORECASE)
    ticked = _BACKTICK.match(_ARTICLES.sub("", text)) or _BACKTICK.search(text.split("(")[0])
    if ticked:
        name = snake(ticked.group(1))
        described = text.replace(ticked.group(0), " ", 1)
    else:
        head = re.split(
            "[(:\u2014\u2013]| - | which | that | between | from | of type ", _ARTICLES.sub("", text), maxsplit=1
        )[0]
        words = [w for w in _WORD.findall(head.lower()) if w not in _NOT_NAMES]
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
    _describe(field, described.lower(), original=described)
    return field


def _describe(field: FieldSpec, words: str, *, original: str) -> None:
    """Type, limits, choices, default, optional and read-only from the words said about the field."""
    name = field.name
    choice_match = re.search(
        r"one of\s*:?\s*(.+?)(?:\)|;|$| and is| \(|, (?:required|optional|default))", original, re.I
    )
    if choice_match:
        choices = _BACKTICK.findall(choice_match.group(1)) or re.findall(r"\"([^\"]+)\"", choice_match.group(1))
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
    _limits(field, words)
    if re.search(r"\boptional\b|\bmay be (?:empty|left out|omitted)|\bcan be (?:left out|omitted)|\bnullable\b", words):
        field.required = False
    if re.search(
        r"set by the (?:service|server|system)|computed|calculated|read-only|cannot be set|assigned by", words
    ):
        field.readonly = True
        field.required = False
    default = re.search(r"(?:defaults? (?:to|is)|starts? (?:as|at)|initially)\s+`?\"?([^`\",;)]+)", original, re.I)
    if default:
        field.default = _typed(field, default.group(1).strip().rstrip("."))
        field.required = False


def _limits(field: FieldSpec, words: str) -> None:
    span = re.search(rf"({_NUMBER})\s*(?:to|-|\u2013|and)\s*({_NUMBER})\s*(?:characters|chars|letters)", words)
    between = re.search(rf"(?:between|from)\s+({_NUMBER})\s+(?:and|to)\s+({_NUMBER})", words)
    if span or (between and field.type == "str" and re.search(r"characters|chars", words)):
        low, high = (span or between).groups()  # type: ignore[union-attr]
        field.min_length, field.max_length = int(float(low)), int(float(high))
    elif between:
        field.ge, field.le = float(between.group(1)), float(between.group(2))
    for pattern, attribute in (
        (rf"(?:at most|up to|no more than|maximum(?: of)?|max\.?)\s+({_NUMBER})\s*(?:characters|chars|letters)", "max"),
        (rf"(?:at least|minimum(?: of)?|min\.?)\s+({_NUMBER})\s*(?:characters|chars|letters)", "min"),
    ):
        found = re.search(pattern, words)
        if found:
            setattr(field, f"{attribute}_length", int(float(found.group(1))))
    if field.type == "str" and re.search(r"\bnot (?:be )?(?:empty|blank)\b|non-empty|\bnonempty\b", words):
        field.min_length = field.min_length or 1
    if field.type in ("int", "float"):
        for pattern, attribute in (
            (rf"(?:at least|minimum(?: of)?|no less than|>=)\s+({_NUMBER})(?!\s*char)", "ge"),
            (rf"(?:at most|maximum(?: of)?|no more than|up to|<=)\s+({_NUMBER})(?!\s*char)", "le"),
            (rf"(?:greater than|more than|above|over|>)\s+({_NUMBER})", "gt"),
            (rf"(?:less than|below|under|<)\s+({_NUMBER})", "lt"),
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


def _typed(field: FieldSpec, value: str) -> str | int | float | bool | None:
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


def _resolve_ref(field: FieldSpec, entities: dict[str, EntitySpec]) -> None:
    target = None
    found = re.search(r"\bid of (?:an?|the)\s+`?([a-z_ ]+?)`?(?:\W|$)", field.source.lower())
    if found:
        target = snake(found.group(1))
    elif field.name.endswith("_id"):
        target = field.name[:-3]
    if target and target in entities:
        field.ref = target
        field.type = "int"


def _entity_in(sentence: str, entities: dict[str, EntitySpec]) -> str | None:
    lowered = sentence.lower()
    for entity in entities.values():
        if entity.path in lowered or re.search(rf"\b({entity.title}|{entity.plural.replace('_', ' ')})\b", lowered):
            return entity.name
    return None


def _apply_filters(sentence: str, entities: dict[str, EntitySpec]) -> None:
    found = re.search(r"filter(?:ed|able)? by\s+(.+)", sentence, re.IGNORECASE)
    if not found:
        return
    owner = _entity_in(sentence.split("filter")[0], entities) or _entity_in(sentence, entities)
    if owner is None and len(entities) == 1:
        owner = next(iter(entities))
    if owner is None:
        return
    entity = entities[owner]
    named = _BACKTICK.findall(found.group(1)) or _WORD.findall(found.group(1).lower())
    known = {f.name: f for f in entity.fields}
    for word in named:
        key = snake(word.split("=")[0])
        if key in known and key not in entity.filters:
            entity.filters.append(key)


def _apply_constraint_sentence(sentence: str, entities: dict[str, EntitySpec]) -> None:
    """Limits stated in a sentence of their own ("`year` must be between 1450 and 2100") join the named field."""
    names = [snake(n) for n in _BACKTICK.findall(sentence)]
    if not names or _ENTITY_SENTENCE.search(sentence):
        return
    owner = _entity_in(sentence, entities)
    lowered = sentence.lower()
    for entity in entities.values():
        if owner is not None and entity.name != owner:
            continue
        for field in entity.fields:
            if field.name in names and len(names) == 1:
                before = field.model_dump()
                probe = field.model_copy()
                _limits(probe, lowered)
                for key in ("ge", "le", "gt", "lt", "min_length", "max_length"):
                    if before[key] is None and getattr(probe, key) is not None:
                        setattr(field, key, getattr(probe, key))


def _rule_kind(sentence: str) -> RuleKind | None:
    lowered = sentence.lower()
    if "conflict" in lowered or re.search(r"\brefused\b|\brefuses\b", lowered):
        return "conflict"
    if "not found" in lowered:
        return "not_found"
    if "invalid" in lowered or "rejected" in lowered:
        return "invalid"
    if re.search(r"\b(?:must|cannot|can not|never|only)\b", lowered):
        return "other"
    return None
