"""Every number a JSON request body carries is bounded above, so NaN, Infinity and 1e400 (which the JSON body parser
accepts) are a 422 naming the field rather than a 500 when PostgreSQL's JSON or a numeric column cannot hold them.
A new body field without a maximum fails here unless it is allowlisted below with the reason."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from opsdesk.api import create_app
from tests.conftest import make_settings

# "Schema.field": why it has no upper bound.
UNBOUNDED = {
    "WhatsAppStatusError.code": "Meta's own error code in a signed delivery webhook, read leniently and never stored "
    "as a number (only compared and shown in a reason)",
    "EscalateIn.amount": "a Decimal of at most 14 digits with allow_inf_nan=False (OpenAPI shows no maximum for it)",
}


def _referenced(schema: Any, components: dict[str, Any], seen: set[str]) -> None:
    if isinstance(schema, dict):
        ref = schema.get("$ref")
        if isinstance(ref, str) and ref.split("/")[-1] not in seen:
            seen.add(ref.split("/")[-1])
            _referenced(components[ref.split("/")[-1]], components, seen)
        for value in schema.values():
            _referenced(value, components, seen)
    elif isinstance(schema, list):
        for value in schema:
            _referenced(value, components, seen)


def _unbounded(schema: Any, where: str) -> Iterator[str]:
    if isinstance(schema, dict):
        if schema.get("type") in ("number", "integer") and not {"maximum", "exclusiveMaximum"} & set(schema):
            yield where
        for key, value in schema.items():
            if key == "properties":
                for name, field in value.items():
                    yield from _unbounded(field, f"{where}.{name}")
            else:
                yield from _unbounded(value, where)
    elif isinstance(schema, list):
        for value in schema:
            yield from _unbounded(value, where)


def test_every_number_in_a_json_request_body_has_an_upper_bound(tmp_path: Path) -> None:
    spec = create_app(make_settings("postgresql://unused@127.0.0.1:1/unused", tmp_path)).openapi()
    components = spec["components"]["schemas"]
    bodies: set[str] = set()
    for operations in spec["paths"].values():
        for operation in operations.values():
            for media, content in (operation.get("requestBody") or {}).get("content", {}).items():
                if "json" in media:
                    _referenced(content["schema"], components, bodies)
    assert bodies, "no JSON request bodies found: the walk is broken"
    found = {where for name in bodies for where in _unbounded(components[name], name)}

    assert found - UNBOUNDED.keys() == set()
