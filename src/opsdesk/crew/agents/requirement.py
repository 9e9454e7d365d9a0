"""Reads a requirement's own sentences into entities, fields, filters and rules, by simple parsing (no model).

What it understands: "A <entity> has <fields>" (a list in one sentence, or bullet lines after a colon), field
types and limits in the words around a field ("text, 1 to 200 characters", "an integer between 1 and 5", "one of
`low`, `high`", "a date", "true or false", "the id of a book"), "/api/<plural>" paths, "can be filtered by",
and the sentences that state rules ("rejected as invalid", "not found", "refused"). Field names in backticks are
taken exactly; otherwise the words before the field's description become a snake_case name.
"""

from __future__ import annotations

import re

from opsdesk.crew.agents.fields import ARTICLES, BACKTICK, WORD, field_from, limits
from opsdesk.crew.agents.spec import (
    EntitySpec,
    FieldSpec,
    RequirementSpec,
    RuleKind,
    RuleSpec,
    plural_of,
    singular_of,
    snake,
)

__all__ = ["EntitySpec", "FieldSpec", "RequirementSpec", "RuleSpec", "parse_requirement", "plural_of", "singular_of"]

_ENTITY_SENTENCE = re.compile(
    r"\b(?:an?|each|every)\s+`?([a-z][a-z_ -]{1,40}?)`?(?:\s*\([^)]{0,80}\)|\s*,[^,]{1,80},)?\s+"
    r"(?:has|have|holds|records|stores|carries|consists of|is described by|comes with|is made of)\b"
    r"(?:\s+(?:the\s+)?(?:following\s+)?(?:fields?|properties|attributes))?\s*:?(.*)",
    re.IGNORECASE,
)
_PATH = re.compile(r"/api/([a-z][a-z0-9_-]*)")


def sentences_of(text: str) -> list[str]:
    """The requirement's sentences and bullet lines, markdown marks removed, in order."""
    return [text for kind, text in segments_of(text) if kind in ("sentence", "bullet")]


def segments_of(text: str) -> list[tuple[str, str]]:
    """(kind, text) in order: heading, table (one row's cells joined by " | "), bullet (its first sentence) or
    sentence. Code blocks and table separators are left out."""
    found: list[tuple[str, str]] = []
    in_code = False
    for line in _paragraph_lines(text):
        if line.startswith("```"):
            in_code = not in_code
            continue
        if in_code or not line:
            continue
        if line.startswith("#"):
            found.append(("heading", line.lstrip("#").strip()))
            continue
        if line.startswith("|"):
            cells = [cell.strip() for cell in line.strip("|").split("|")]
            if not all(re.fullmatch(r":?-{2,}:?", cell) for cell in cells if cell):
                found.append(("table", " | ".join(cells)))
            continue
        bullet = re.match(r"^(?:[-*+]|\d+[.)])\s+", line)
        line = line[bullet.end() :] if bullet else line
        line = line.replace("**", "")
        parts = [part.strip() for part in re.split(r"(?<=[.!?])\s+(?=[A-Z`\"])", line) if part.strip()]
        for number, part in enumerate(parts):
            found.append(("bullet" if bullet and number == 0 else "sentence", part))
    return found


def _paragraph_lines(text: str) -> list[str]:
    """Lines with soft-wrapped continuations joined (a line that starts no heading, bullet, table or code block
    continues the line before it, as in markdown)."""
    joined: list[str] = []
    for raw in text.splitlines():
        line = raw.strip()
        starts_block = not line or re.match(r"^(?:#|\||```|[-*+]\s|\d+[.)]\s)", line)
        if joined and joined[-1] and not starts_block and not joined[-1].startswith(("#", "|", "```")):
            joined[-1] = f"{joined[-1]} {line}"
        else:
            joined.append(line)
    return joined


_GENERIC_HEADINGS = {
    "rules",
    "requirements",
    "requirement",
    "overview",
    "filters",
    "filtering",
    "validation",
    "errors",
    "notes",
    "fields",
    "api",
    "endpoints",
    "data",
    "data model",
    "entities",
    "resources",
    "business rules",
    "context",
    "background",
    "goal",
    "goals",
    "acceptance",
    "status codes",
    "out of scope",
    "summary",
    "introduction",
}
_PLURAL_SUBJECT = re.compile(
    r"^(?:the\s+)?`?([a-z][a-z_ ]{1,30}?)`?\s+(?:\(`?/api/([a-z][a-z0-9_-]*)`?\)\s+)?(?:have|has)\b\s*:?(.*)",
    re.IGNORECASE,
)


def parse_requirement(text: str) -> RequirementSpec:
    """The requirement as entities, fields, filters and rules; never fails (an empty spec at worst)."""
    title = next((line.lstrip("#").strip() for line in text.splitlines() if line.strip()), "Requirement")[:120]
    segments = segments_of(text)
    sentences = [part for kind, part in segments if kind in ("sentence", "bullet")]
    entities: dict[str, EntitySpec] = {}
    paths = {snake(singular_of(p.replace("-", "_"))): p for p in _PATH.findall(text)}
    _served_at(sentences, text, paths)
    current: EntitySpec | None = None
    heading_entity: str | None = None  # a heading that may name an entity: it becomes one when fields follow
    previous = ""
    context: list[str | None] = []
    for kind, part in segments:
        context.append(current.name if current is not None else heading_entity)
        if kind == "heading":
            heading_entity = _entity_of_heading(part, paths)
            current = entities.get(heading_entity) if heading_entity else None
            previous = part
            continue
        match = _ENTITY_SENTENCE.search(part) if kind != "table" else None
        subject = _PLURAL_SUBJECT.search(part) if kind != "table" and not match else None
        if match and _looks_like_entity(match.group(1)):
            current = _entity(entities, snake(ARTICLES.sub("", match.group(1))), paths)
            rest = match.group(2).strip()
        elif subject and _looks_like_entity(subject.group(1)) and (subject.group(2) or _is_known(subject, paths)):
            name = snake(singular_of(snake(subject.group(1))))
            if subject.group(2):
                paths.setdefault(name, subject.group(2))
            current = _entity(entities, name, paths)
            rest = subject.group(3).strip()
        else:
            rest = None
        if rest is not None:
            if rest and rest != ":":
                _add_fields(current, _split_items(rest.rstrip(".:")))
        elif kind == "table" or _is_field_line(kind, part, previous):
            if current is None and heading_entity:
                current = _entity(entities, heading_entity, paths)
            if current is not None:
                _add_fields(current, [_table_item(part) if kind == "table" else part.rstrip(".;")])
        previous = part
    for name, plural in paths.items():  # a path named without a "has" sentence is still an entity
        if name and name not in entities and all(e.plural != plural for e in entities.values()):
            entities[name] = EntitySpec(name=name, plural=plural)
    for (kind, part), owner in zip(segments, context, strict=True):
        if kind in ("sentence", "bullet"):
            _harvest(part, owner, entities)
    for entity in entities.values():
        for field in entity.fields:
            _resolve_ref(field, entities)
    _apply_required_policy(text, entities)
    rules = []
    for sentence in sentences:
        _apply_constraint_sentence(sentence, entities)
        _apply_filters(sentence, entities)
        rule = _rule_kind(sentence)
        if rule is not None and not _is_uniqueness(sentence, entities):
            rules.append(RuleSpec(kind=rule, sentence=sentence, entity=_entity_in(sentence, entities)))
    summary = next((s for s in sentences if not _ENTITY_SENTENCE.search(s)), title)
    return RequirementSpec(
        title=title, summary=summary, entities=list(entities.values()), rules=rules, sentences=sentences
    )


# Words before a backticked token that make it a value, not a field name ("one of `low`", "starts as `open`").
_VALUE_BEFORE = re.compile(
    r"(?:one of|either|\bas|\bto|\bfrom|equals?|=|\bor|is|becomes|default(?:s)?(?: to)?|values?|choices?|status(?:es)?"
    r"|e\.g\.|like|such as|example)\s*[:,]?\s*(?:`[^`]*`\s*,\s*)*$",
    re.IGNORECASE,
)
_TYPE_WORDS = re.compile(
    r"\b(?:text|string|integer|int|number|decimal|float|date|time|datetime|timestamp|boolean|bool|true|false|flag"
    r"|one of|id of|identifier|between|at least|at most|characters|required|optional|positive|amount|price|count"
    r"|minutes|hours|days|list|email|name|title)\b",
    re.IGNORECASE,
)


def _harvest(sentence: str, owner: str | None, entities: dict[str, EntitySpec]) -> None:
    """Backticked names described as fields ("a `title` (text …)", "`due_date` — a date") in a sentence about an
    entity join that entity, when the "has" sentence or bullet form missed them."""
    named = _entity_in(sentence.split("`")[0], entities) if "`" in sentence else None
    target = entities.get(named or owner or "")
    if target is None or _PATH.search(sentence.split("`")[0] if named else ""):
        return
    known = {f.name for e in entities.values() for f in e.fields}
    values = {c for e in entities.values() for f in e.fields for c in f.choices}
    tokens = list(BACKTICK.finditer(sentence))
    for index, token in enumerate(tokens):
        name = token.group(1)
        if not re.fullmatch(r"[a-z][a-z0-9_]*", name) or name in known or name in values or name in entities:
            continue
        if _VALUE_BEFORE.search(sentence[: token.start()]) or name in {e.plural for e in entities.values()}:
            continue
        end = tokens[index + 1].start() if index + 1 < len(tokens) else len(sentence)
        after = sentence[token.end() : end]
        if "one of" in after:  # the choices follow in backticks: read on to the end of the sentence
            after = sentence[token.end() :]
        if not _TYPE_WORDS.search(after[:120]):
            continue
        field = field_from(f"`{name}` {after}")
        if field is not None:
            field.required = field.required and bool(re.search(r"\brequired\b|\bmust\b", after[:120]))
            target.fields.append(field)
            known.add(name)


_SAYS_REQUIRED = re.compile(
    r"\brequired\b|\bmandatory\b|\bmust be (?:given|provided|present|set|sent)\b|cannot be (?:missing|omitted)",
    re.IGNORECASE,
)


def _apply_required_policy(text: str, entities: dict[str, EntitySpec]) -> None:
    """When the requirement marks fields as required (or optional) anywhere, only fields it calls required are;
    the others may be left out. A requirement that never says either keeps every described field required."""
    if not re.search(r"\brequired\b|\bmandatory\b|\boptional\b", text, re.IGNORECASE):
        return
    for entity in entities.values():
        for field in entity.fields:
            if field.required and not _SAYS_REQUIRED.search(field.source) and not _named_required(field, text):
                field.required = False


def _named_required(field: FieldSpec, text: str) -> bool:
    """A sentence of its own that names the field as required ("`title` is required")."""
    for sentence in re.split(r"(?<=[.!?\n])\s+", text):
        if f"`{field.name}`" in sentence and _SAYS_REQUIRED.search(sentence) and "optional" not in sentence.lower():
            return True
    return False


def _entity(entities: dict[str, EntitySpec], name: str, paths: dict[str, str]) -> EntitySpec:
    return entities.setdefault(name, EntitySpec(name=name, plural=paths.get(name, plural_of(name))))


def _is_known(subject: re.Match[str], paths: dict[str, str]) -> bool:
    return snake(singular_of(snake(subject.group(1)))) in paths


def _entity_of_heading(heading: str, paths: dict[str, str]) -> str | None:
    path = _PATH.search(heading)
    if path:
        name = snake(singular_of(path.group(1).replace("-", "_")))
        paths.setdefault(name, path.group(1))
        return name
    words = re.sub(r"[`*_]", " ", heading).strip().lower()
    words = re.sub(r"^(?:\d+[.)]?\s*)", "", words)
    if not words or words in _GENERIC_HEADINGS or len(words.split()) > 3 or not re.fullmatch(r"[a-z ]+", words):
        return None
    return snake(singular_of(snake(words)))


def _table_item(row: str) -> str:
    cells = [cell for cell in row.split(" | ")]
    name = cells[0].strip("` ")
    if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_ ]*", name) or name.lower() in ("field", "name", "attribute", "column"):
        return ""
    return f"`{snake(name)}` (" + ", ".join(cell for cell in cells[1:] if cell) + ")"


def _looks_like_entity(words: str) -> bool:
    cleaned = ARTICLES.sub("", words.strip().lower())
    return 0 < len(cleaned.split()) <= 3 and cleaned.split()[0] not in {"user", "it", "list", "request", "client"}


def _is_field_line(kind: str, part: str, previous: str) -> bool:
    """A field under an entity: a bullet or line that starts with a backticked name, a bullet after a line ending
    with ':', or a bullet shaped "name: description" / "name (description)"."""
    if part.startswith("`"):
        return True
    if kind != "bullet" or _ENTITY_SENTENCE.search(part) or len(part) > 240:
        return False
    return previous.endswith(":") or bool(
        re.match(r"^[a-z][a-z0-9_ ]{0,40}\s*(?:[:(]|\s[\u2014\u2013-]\s)", part, re.I)
    )


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


def _add_fields(entity: EntitySpec | None, items: list[str]) -> None:
    if entity is None:
        return
    for item in items:
        if not item:
            continue
        field = field_from(item.strip())
        if field is not None and field.name not in {f.name for f in entity.fields} and field.name != "id":
            entity.fields.append(field)


def _resolve_ref(field: FieldSpec, entities: dict[str, EntitySpec]) -> None:
    target = None
    found = re.search(r"\b(?:id|identifier) of (?:an?|the|one)\s+`?([a-z_ ]+)", field.source.lower())
    if found:
        words = found.group(1).replace("_", " ").split()[:4]
        for size in range(len(words), 0, -1):  # the longest run of words that names an entity
            candidate = snake(" ".join(words[:size]))
            if candidate in entities or singular_of(candidate) in entities:
                target = candidate if candidate in entities else singular_of(candidate)
                break
    if target is None and field.name.endswith("_id"):
        target = field.name[:-3]
    if target and target in entities:
        field.ref = target
        field.type = "int"


_SERVED_AT = re.compile(
    r"^(?:the\s+)?`?([a-z][a-z_ ]{1,40}?)`?\s+(?:are|is)\s+(?:served|available|exposed|listed|managed|kept|stored"
    r"|reachable|found)?\s*(?:at|under|on|via)\s+`?(?:GET\s+|POST\s+)?/api/([a-z][a-z0-9_-]*)",
    re.IGNORECASE,
)


def _served_at(sentences: list[str], text: str, paths: dict[str, str]) -> None:
    """ "Deliveries are served at /api/delivery-records": the path belongs to the sentence's subject, unless the
    path's own name is used as an entity elsewhere in the text."""
    lowered = text.lower()
    for sentence in sentences:
        found = _SERVED_AT.search(sentence)
        if not found:
            continue
        subject = snake(singular_of(snake(found.group(1))))
        derived = snake(singular_of(found.group(2).replace("-", "_")))
        if subject == derived or not subject:
            continue
        if derived.replace("_", " ") in lowered.replace(found.group(2).replace("-", " "), ""):
            continue
        paths.pop(derived, None)
        paths[subject] = found.group(2)


def _entity_in(sentence: str, entities: dict[str, EntitySpec]) -> str | None:
    lowered = sentence.lower()
    for entity in entities.values():
        if entity.path in lowered or re.search(rf"\b({entity.title}|{entity.plural.replace('_', ' ')})\b", lowered):
            return entity.name
    return None


def _apply_filters(sentence: str, entities: dict[str, EntitySpec]) -> None:
    for plural, query in re.findall(r"/api/([a-z][a-z0-9_-]*)\?([^\s`)]+)", sentence):
        for entity in entities.values():
            if entity.plural == plural:
                for key in re.findall(r"([a-z][a-z0-9_]*)=", query):
                    if key in {f.name for f in entity.fields} and key not in entity.filters:
                        entity.filters.append(key)
    found = re.search(r"(?:filter(?:ed|able|s)?|narrowed|searched)\s+(?:by|on|with)\s+(.+)", sentence, re.IGNORECASE)
    found = found or re.search(r"query parameters?\s+(.+)", sentence, re.IGNORECASE)
    if not found:
        return
    owner = _entity_in(sentence.split(found.group(0))[0], entities) or _entity_in(sentence, entities)
    named = BACKTICK.findall(found.group(1)) or WORD.findall(found.group(1).lower())
    if owner is None:  # the entity whose fields the filter names (when only one has them all)
        keys = {snake(word.split("=")[0]) for word in named}
        having = [e.name for e in entities.values() if keys and keys <= {f.name for f in e.fields}]
        owner = having[0] if len(having) == 1 else None
    if owner is None:
        return
    entity = entities[owner]
    known = {f.name: f for f in entity.fields}
    for word in named:
        key = snake(word.split("=")[0])
        if key in known and key not in entity.filters:
            entity.filters.append(key)


def _apply_constraint_sentence(sentence: str, entities: dict[str, EntitySpec]) -> None:
    """Limits stated in a sentence of their own ("`year` must be between 1450 and 2100") join the named field."""
    names = sorted({snake(n) for n in BACKTICK.findall(sentence)})
    if not names or _ENTITY_SENTENCE.search(sentence):
        return
    owner = _entity_in(sentence, entities)
    lowered = sentence.lower()
    for entity in entities.values():
        if owner is not None and entity.name != owner:
            continue
        for field in entity.fields:
            if (
                field.name in names
                and len(names) == 1
                and re.search(
                    r"\bunique\b|\bsame\b.*\b(?:refused|conflict|rejected)|already (?:exists|taken|used)", lowered
                )
            ):
                field.unique = True
            if field.name in names and len(names) == 1:
                before = field.model_dump()
                probe = field.model_copy()
                limits(probe, lowered)
                for key in ("ge", "le", "gt", "lt", "min_length", "max_length"):
                    if before[key] is None and getattr(probe, key) is not None:
                        setattr(field, key, getattr(probe, key))


def _is_uniqueness(sentence: str, entities: dict[str, EntitySpec]) -> bool:
    """A rule that only says a field's values are unique: the scaffold implements it (409), so it is no open rule."""
    if not re.search(r"\bunique\b|\bsame\b|already (?:exists|taken|used)", sentence, re.IGNORECASE):
        return False
    names = {snake(n) for n in BACKTICK.findall(sentence)}
    return bool(names) and all(
        any(f.name == name and f.unique for e in entities.values() for f in e.fields) for name in names
    )


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
