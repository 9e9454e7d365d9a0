"""The up-front check of a caller's JSON schema: usable schemas pass, the rest are 400s naming the place."""

from __future__ import annotations

from typing import Any

import pytest

from opsdesk.providers.llm.base import InvalidModelRequest
from opsdesk.providers.llm.schema_check import MAX_DEPTH, check_schema

TREE = {"type": "object", "properties": {"children": {"type": "array", "items": {"$ref": "#"}}}}


@pytest.mark.parametrize(
    "schema",
    [
        {"type": "object", "properties": {"n": {"type": "integer", "minimum": 1}}, "required": ["n"]},
        TREE,  # recursion through a property describes finite values
        {"$defs": {"sku": {"type": "string"}}, "type": "array", "items": {"$ref": "#/$defs/sku"}},
        {"anyOf": [{"type": "string"}, {"type": "null"}]},
    ],
)
def test_usable_schemas_pass(schema: dict[str, Any]) -> None:
    check_schema(schema)


@pytest.mark.parametrize(
    ("schema", "where", "problem"),
    [
        ({"$ref": "#"}, "'#'", "$ref loop"),
        ({"anyOf": [{"$ref": "#"}, {"type": "string"}]}, "'#'", "$ref loop"),
        ({"$defs": {"a": {"allOf": [{"$ref": "#/$defs/a"}]}}, "$ref": "#/$defs/a"}, "'#/$defs/a'", "$ref loop"),
        ({"$ref": "#/$defs/missing"}, "'#/$ref'", "names nothing"),
        ({"$ref": "https://example.com/schema.json"}, "'#/$ref'", "inside the schema"),
        ({"type": "nonsense"}, "'#/type'", "must be one of"),
        ({"properties": {"a": 5}}, "'#/properties/a'", "must be a schema"),
        ({"required": "a"}, "'#/required'", "list of property names"),
        ({"type": "string", "maxLength": -1}, "'#/maxLength'", "non-negative integer"),
    ],
)
def test_unusable_schemas_are_invalid_requests_naming_the_place(
    schema: dict[str, Any], where: str, problem: str
) -> None:
    with pytest.raises(InvalidModelRequest) as caught:
        check_schema(schema)

    assert caught.value.code == "invalid_schema" and caught.value.status_code == 400
    assert where in caught.value.message and problem in caught.value.message


def test_deep_nesting_is_refused_without_recursing() -> None:
    schema: dict[str, Any] = {"type": "string"}
    for _ in range(5_000):
        schema = {"type": "array", "items": schema}

    with pytest.raises(InvalidModelRequest, match="nested too deeply"):
        check_schema(schema)
    assert MAX_DEPTH < 5_000
