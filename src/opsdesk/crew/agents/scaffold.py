"""The offline developer's template: a FastAPI project with one resource per named entity, in-memory storage,
pydantic validation from the stated field types and limits, list filters, and tests from the acceptance criteria.

It is a scaffold and says so (SCAFFOLD.md, module docstrings): rules that depend on stored state ("refused as a
conflict") are listed as TODO with a skipped test, because a template cannot know them.
"""

from __future__ import annotations

import json
import keyword
import re
from typing import Any

from opsdesk.crew.agents.requirement import EntitySpec, FieldSpec, RequirementSpec, RuleSpec

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")

_PY_TYPES = {
    "str": "StrictStr",
    "int": "StrictInt",
    "float": "Number",
    "bool": "StrictBool",
    "date": "dt.date",
    "datetime": "dt.datetime",
}

_QUERY_TYPES = {
    "str": "str",
    "int": "int",
    "float": "float",
    "bool": "bool",
    "date": "dt.date",
    "datetime": "dt.datetime",
}

STORE = '''"""In-memory tables: rows are JSON-ready dicts with a server-assigned integer id (scaffold storage)."""

from __future__ import annotations

import itertools
import threading
from typing import Any


class Table:
    def __init__(self) -> None:
        self.rows: dict[int, dict[str, Any]] = {}
        self._ids = itertools.count(1)
        self.lock = threading.Lock()

    def insert(self, data: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            row = {"id": next(self._ids), **data}
            self.rows[row["id"]] = row
            return row

    def get(self, row_id: int) -> dict[str, Any] | None:
        return self.rows.get(row_id)

    def delete(self, row_id: int) -> bool:
        with self.lock:
            return self.rows.pop(row_id, None) is not None


class Tables:
    def __init__(self) -> None:
        self._tables: dict[str, Table] = {}

    def table(self, name: str) -> Table:
        return self._tables.setdefault(name, Table())


tables = Tables()
'''

TYPES = '''"""Field types: strict JSON types, so a wrong type is rejected as invalid (422) instead of converted."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BeforeValidator, StrictBool, StrictInt, StrictStr


def _number(value: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError("must be a number")
    return value


Number = Annotated[float, BeforeValidator(_number)]

__all__ = ["Number", "StrictBool", "StrictInt", "StrictStr"]
'''


# Names the generated modules use themselves: a field called so gets a trailing underscore and an alias.
_TAKEN = {
    "dt",
    "Any",
    "Literal",
    "APIRouter",
    "HTTPException",
    "Response",
    "Query",
    "BaseModel",
    "ConfigDict",
    "Field",
    "tables",
    "table",
    "router",
    "body",
    "row",
    "data",
    "changes",
    "item_id",
    "value",
    "name",
    "wanted",
    "Number",
    "StrictBool",
    "StrictInt",
    "StrictStr",
    "REQUIRED",
    "REFERENCES",
    "READ_ONLY_DEFAULTS",
}


def docstring_text(text: str) -> str:
    """Requirement text as it may stand inside a generated module's triple-quoted docstring: always text, never code.

    A quote or backslash in a title or a rule sentence would otherwise end the docstring early (or start an escape),
    and what followed would run when the module is imported; control characters (NUL is refused by the compiler)
    become spaces.
    """
    return _CONTROL.sub(" ", text).replace("\\", "\\\\").replace('"', '\\"')


def ident(name: str) -> str:
    """A Python identifier for a field or entity name (keywords and the module's own names get a trailing _)."""
    cleaned = re.sub(r"\W", "_", name)
    cleaned = cleaned if cleaned and not cleaned[0].isdigit() else f"f_{cleaned}"
    return cleaned + "_" if keyword.iskeyword(cleaned) or cleaned in _TAKEN else cleaned


def _class_name(entity: EntitySpec) -> str:
    return "".join(part.title() for part in entity.name.split("_"))


def _constraints(field: FieldSpec) -> str:
    parts = []
    for key in ("ge", "le", "gt", "lt"):
        value = getattr(field, key)
        if value is not None and field.type in ("int", "float") and not field.choices:
            parts.append(f"{key}={int(value) if field.type == 'int' else value!r}")
    for key in ("min_length", "max_length"):
        value = getattr(field, key)
        if value is not None and field.type == "str":
            parts.append(f"{key}={value}")
    return ", ".join(parts)


def _annotation(field: FieldSpec) -> str:
    if field.choices:
        return "Literal[" + ", ".join(json.dumps(choice) for choice in field.choices) + "]"
    return _PY_TYPES[field.type]


def _field_line(field: FieldSpec, *, partial: bool) -> str:
    constraints = _constraints(field)
    annotation = _annotation(field)
    if partial or not field.required:
        default = "None" if partial or field.default is None else repr(field.default)
        annotation = f"{annotation} | None"
    else:
        default = "..."
    alias = f"alias={json.dumps(field.name)}" if ident(field.name) != field.name else ""
    args = ", ".join(part for part in (default, alias, constraints) if part)
    return f"    {ident(field.name)}: {annotation} = Field({args})"


def _query_type(field: FieldSpec) -> str:
    return "str" if field.choices else _QUERY_TYPES[field.type]


def entity_module(entity: EntitySpec, rules: list[RuleSpec]) -> str:
    """The router and models of one entity."""
    cls = _class_name(entity)
    writable = [f for f in entity.fields if not f.readonly]
    readonly = [f for f in entity.fields if f.readonly]
    required = [f.name for f in writable if f.required]
    refs = {f.name: f.ref for f in entity.fields if f.ref}
    unique = tuple(f.name for f in entity.fields if f.unique)
    todo = [rule.sentence for rule in rules if rule.kind in ("conflict", "other") and rule.entity == entity.name]
    lines = [
        f'"""{docstring_text(entity.title.title())} at {entity.path} — SCAFFOLD generated offline by the opsdesk '
        "delivery crew.",
        "",
        "Create, list (with filters), get, partial update and delete, with validation from the requirement's field",
        "types and limits. Rules on stored state are not implemented yet:",
        *[f"TODO: {docstring_text(sentence)}" for sentence in todo],
        '"""',
        "",
        "from __future__ import annotations",
        "",
        "import datetime as dt",
        "from typing import Any, Literal",
        "",
        "from fastapi import APIRouter, HTTPException, Query, Response",
        "from pydantic import BaseModel, ConfigDict, Field",
        "",
        "from app.store import tables",
        "from app.types import Number, StrictBool, StrictInt, StrictStr",
        "",
        f'router = APIRouter(prefix="{entity.path}", tags=["{entity.plural}"])',
        f'table = tables.table("{entity.name}")',
        f"REQUIRED = {tuple(required)!r}",
        f"REFERENCES = {refs!r}",
        f"UNIQUE = {unique!r}",
        "READ_ONLY_DEFAULTS: dict[str, Any] = "
        + repr({f.name: f.default for f in readonly if not isinstance(f.default, str) or f.type == "str"}),
        "_UNUSED = (dt, Literal, Number, Query, StrictBool, StrictInt, StrictStr)",
        "",
        "",
        f"class {cls}Create(BaseModel):",
        '    model_config = ConfigDict(extra="ignore", populate_by_name=True)',
        "",
        *([_field_line(f, partial=False) for f in writable] or ["    pass"]),
        "",
        "",
        f"class {cls}Update(BaseModel):",
        '    model_config = ConfigDict(extra="ignore", populate_by_name=True)',
        "",
        *([_field_line(f, partial=True) for f in writable] or ["    pass"]),
        "",
        "",
        "def _check_references(data: dict[str, Any]) -> None:",
        "    for name, entity in REFERENCES.items():",
        "        value = data.get(name)",
        "        if value is not None and tables.table(entity).get(value) is None:",
        '            raise HTTPException(404, f"{entity} {value} not found")',
        "",
        "",
        "def _check_unique(data: dict[str, Any], item_id: int | None = None) -> None:",
        "    for name in UNIQUE:",
        "        value = data.get(name)",
        "        taken = any(r.get(name) == value and r['id'] != item_id for r in list(table.rows.values()))",
        "        if value is not None and taken:",
        '            raise HTTPException(409, f"another object has this {name}")',
        "",
        "",
        "def _found(item_id: int) -> dict[str, Any]:",
        "    row = table.get(item_id)",
        "    if row is None:",
        f'        raise HTTPException(404, f"{entity.title} {{item_id}} not found")',
        "    return row",
        "",
        "",
        "def _json(value: Any) -> Any:",
        "    return value.isoformat() if isinstance(value, (dt.date, dt.datetime)) else value",
        "",
        "",
        '@router.post("", status_code=201)',
        f"def create_{entity.name}(body: {cls}Create) -> dict[str, Any]:",
        '    data = body.model_dump(mode="json", by_alias=True)',
        "    _check_references(data)",
        "    _check_unique(data)",
        "    data.update(READ_ONLY_DEFAULTS)",
        "    return table.insert(data)",
        "",
        "",
        '@router.get("")',
    ]
    filter_fields = [f for f in entity.fields if f.name in entity.filters]
    params = ", ".join(
        f"{ident(f.name)}: {_query_type(f)} | None = Query(None, alias={json.dumps(f.name)})" for f in filter_fields
    )
    plural = ident(re.sub(r"\W", "_", entity.plural))
    lines += [
        f"def list_{plural}({params}) -> list[dict[str, Any]]:",
        "    wanted = {" + ", ".join(f'"{f.name}": _json({ident(f.name)})' for f in filter_fields) + "}",
        "    return [",
        "        row for row in list(table.rows.values())",
        "        if all(value is None or row.get(name) == value for name, value in wanted.items())",
        "    ]",
        "",
        "",
        '@router.get("/{item_id}")',
        f"def get_{entity.name}(item_id: int) -> dict[str, Any]:",
        "    return _found(item_id)",
        "",
        "",
        '@router.patch("/{item_id}")',
        f"def update_{entity.name}(item_id: int, body: {cls}Update) -> dict[str, Any]:",
        "    row = _found(item_id)",
        '    changes = body.model_dump(mode="json", by_alias=True, exclude_unset=True)',
        "    for name in REQUIRED:",
        "        if name in changes and changes[name] is None:",
        '            raise HTTPException(422, f"{name} is required")',
        "    _check_references(changes)",
        "    _check_unique(changes, item_id)",
        "    row.update(changes)",
        "    return row",
        "",
        "",
        '@router.delete("/{item_id}", status_code=204)',
        f"def delete_{entity.name}(item_id: int) -> Response:",
        "    _found(item_id)",
        "    table.delete(item_id)",
        "    return Response(status_code=204)",
        "",
    ]
    return "\n".join(lines)


def main_module(spec: RequirementSpec) -> str:
    imports = "\n".join(f"from app.{entity.name} import router as {entity.name}_router" for entity in spec.entities)
    includes = "\n".join(f"app.include_router({entity.name}_router)" for entity in spec.entities)
    return (
        f'"""{docstring_text(spec.title)} — SCAFFOLD generated offline by the opsdesk delivery crew '
        '(see SCAFFOLD.md)."""\n\n'
        "from fastapi import FastAPI\n\n"
        f"{imports}\n\n"
        f"app = FastAPI(title={json.dumps(spec.title)})\n"
        f"{includes}\n"
    )


def sample_value(field: FieldSpec, *, other: bool = False) -> Any:
    """A value the field accepts (``other``: a second, different one where possible)."""
    if field.choices:
        return field.choices[-1] if other and len(field.choices) > 1 else field.choices[0]
    if field.type == "bool":
        return not other
    if field.type == "date":
        return "2030-01-16" if other else "2030-01-15"
    if field.type == "datetime":
        return "2030-01-15T11:00:00" if other else "2030-01-15T10:00:00"
    if field.type in ("int", "float"):
        low = field.ge if field.ge is not None else (field.gt + 1 if field.gt is not None else 1)
        high = field.le if field.le is not None else (field.lt - 1 if field.lt is not None else low + 10)
        value = min(max(low, 1 if low <= 1 <= high else low), high) + (1 if other and high - low >= 1 else 0)
        value = min(value, high)
        return int(value) if field.type == "int" else float(value)
    text = f"{'Other' if other else 'Sample'} {field.name.replace('_', ' ')}"
    if field.max_length is not None:
        text = text[: field.max_length]
    if field.min_length is not None and len(text) < field.min_length:
        text = text + "x" * (field.min_length - len(text))
    return text


def invalid_values(field: FieldSpec) -> list[tuple[str, Any]]:
    """(why, value) pairs the field must refuse with 422."""
    found: list[tuple[str, Any]] = []
    if field.choices:
        found.append(("not one of the choices", "not-a-choice"))
    if field.type in ("int", "float"):
        found.append(("not a number", "not-a-number"))
        for key, delta in (("ge", -1), ("gt", 0), ("le", 1), ("lt", 0)):
            bound = getattr(field, key)
            if bound is not None:
                found.append(
                    (f"outside the range ({key} {bound:g})", (int if field.type == "int" else float)(bound + delta))
                )
    elif field.type in ("date", "datetime"):
        found.append(("not a date", "not-a-date"))
    elif field.type == "bool":
        found.append(("not true or false", "maybe"))
    elif field.type == "str":
        found.append(("not text", 12345))
        if field.max_length is not None:
            found.append((f"longer than {field.max_length} characters", "x" * (field.max_length + 1)))
        if field.min_length:
            found.append((f"shorter than {field.min_length} characters", "x" * (field.min_length - 1)))
    return found
