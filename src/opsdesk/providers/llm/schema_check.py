"""Checks a caller's JSON schema (response format, tool parameters) before any provider sees it.

A schema no provider can use is the caller's mistake: it is refused here as a 400 naming the place, instead of
reaching a provider that fails on it (and used to count that failure against the provider's circuit breaker).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote

from opsdesk.providers.llm.base import InvalidModelRequest

MAX_NODES = 2_000
MAX_DEPTH = 48
_TYPES = frozenset({"string", "number", "integer", "boolean", "object", "array", "null"})
# Keywords whose value is one schema, a map of schemas, or a list of schemas.
_ONE = (
    *("additionalProperties", "items", "additionalItems", "contains", "propertyNames"),
    *("not", "if", "then", "else", "unevaluatedItems", "unevaluatedProperties"),
)
_MAPS = ("properties", "patternProperties", "$defs", "definitions", "dependentSchemas")
_LISTS = ("allOf", "anyOf", "oneOf", "prefixItems")
# Keywords that apply their schemas to the same value: a cycle through only these (and $ref) never ends.
_SAME_VALUE = frozenset({"allOf", "anyOf", "oneOf", "not", "if", "then", "else", "dependentSchemas"})
_COUNTS = (
    *("minLength", "maxLength", "minItems", "maxItems"),
    *("minProperties", "maxProperties", "minContains", "maxContains"),
)
_NUMBERS = ("minimum", "maximum", "multipleOf")


def check_schema(schema: Any, what: str = "response_format schema") -> None:
    """Raises InvalidModelRequest (code ``invalid_schema``) naming the first problem; returns when usable."""
    if not isinstance(schema, dict):
        raise _invalid(what, "", "must be a JSON object")
    nodes: dict[int, tuple[str, dict[str, Any]]] = {}
    # Edges between schemas that apply to the same value, keyed by id() of the schema objects.
    same_value: dict[int, list[int]] = {}
    stack: list[tuple[Any, str, int]] = [(schema, "", 0)]
    while stack:
        node, pointer, depth = stack.pop()
        if isinstance(node, bool):
            continue
        if not isinstance(node, dict):
            raise _invalid(what, pointer, "must be a schema (an object or true/false)")
        if id(node) in nodes:
            continue
        if len(nodes) >= MAX_NODES:
            raise _invalid(what, pointer, f"is too large (more than {MAX_NODES} sub-schemas)")
        if depth > MAX_DEPTH:
            raise _invalid(what, pointer, f"is nested too deeply (more than {MAX_DEPTH} levels)")
        nodes[id(node)] = (pointer, node)
        _check_keywords(what, pointer, node)
        edges = same_value.setdefault(id(node), [])
        if "$ref" in node:
            target = _resolve(what, pointer, schema, node["$ref"])
            if isinstance(target, dict):
                edges.append(id(target))
                stack.append((target, unquote(node["$ref"][1:]), depth + 1))
        for key, child, child_pointer in _children(node, pointer):
            if key in _SAME_VALUE and isinstance(child, dict):
                edges.append(id(child))
            stack.append((child, child_pointer, depth + 1))
    cycle = _cycle(same_value)
    if cycle is not None:
        raise _invalid(what, nodes[cycle][0], "refers to itself without describing any value ($ref loop)")


def _check_keywords(what: str, pointer: str, node: dict[str, Any]) -> None:
    kind = node.get("type")
    if kind is not None:
        kinds = kind if isinstance(kind, list) else [kind]
        if not kinds or any(not isinstance(k, str) or k not in _TYPES for k in kinds):
            raise _invalid(what, pointer + "/type", f"must be one of {', '.join(sorted(_TYPES))}")
    required = node.get("required")
    if required is not None and (not isinstance(required, list) or any(not isinstance(name, str) for name in required)):
        raise _invalid(what, pointer + "/required", "must be a list of property names")
    enum = node.get("enum")
    if enum is not None and (not isinstance(enum, list) or not enum):
        raise _invalid(what, pointer + "/enum", "must be a non-empty list")
    for key in _COUNTS:
        value = node.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
            raise _invalid(what, f"{pointer}/{key}", "must be a non-negative integer")
    for key in _NUMBERS:
        value = node.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
            raise _invalid(what, f"{pointer}/{key}", "must be a number")
    multiple = node.get("multipleOf")
    if multiple is not None and multiple <= 0:
        raise _invalid(what, pointer + "/multipleOf", "must be greater than 0")
    for key in ("pattern", "format"):
        if key in node and not isinstance(node[key], str):
            raise _invalid(what, f"{pointer}/{key}", "must be a string")
    for key in _MAPS:
        if key in node and not isinstance(node[key], dict):
            raise _invalid(what, f"{pointer}/{key}", "must be an object of schemas")
    for key in _LISTS:
        if key in node and (not isinstance(node[key], list) or not node[key]):
            raise _invalid(what, f"{pointer}/{key}", "must be a non-empty list of schemas")


def _children(node: dict[str, Any], pointer: str) -> list[tuple[str, Any, str]]:
    out: list[tuple[str, Any, str]] = []
    for key in _ONE:
        if key not in node:
            continue
        value = node[key]
        if key == "items" and isinstance(value, list):  # drafts 4-7: a schema per position
            out += [(key, item, f"{pointer}/items/{i}") for i, item in enumerate(value)]
        else:
            out.append((key, value, f"{pointer}/{key}"))
    for key in _MAPS:
        for name, value in (node.get(key) or {}).items():
            out.append((key, value, f"{pointer}/{key}/{_escape(str(name))}"))
    for key in _LISTS:
        out += [(key, item, f"{pointer}/{key}/{i}") for i, item in enumerate(node.get(key) or [])]
    return out


def _resolve(what: str, pointer: str, root: dict[str, Any], ref: Any) -> Any:
    """The schema a local ``$ref`` ("#" or "#/json/pointer") names; anything else is refused."""
    where = pointer + "/$ref"
    if not isinstance(ref, str) or not ref.startswith("#"):
        raise _invalid(what, where, "must be a reference inside the schema ('#' or '#/$defs/…')")
    fragment = unquote(ref[1:])
    if fragment and not fragment.startswith("/"):
        raise _invalid(what, where, f"{ref!r} is not a JSON pointer ('#/$defs/…')")
    target: Any = root
    for part in fragment.split("/")[1:]:
        token = part.replace("~1", "/").replace("~0", "~")
        if isinstance(target, dict) and token in target:
            target = target[token]
        elif isinstance(target, list) and token.isdigit() and int(token) < len(target):
            target = target[int(token)]
        else:
            raise _invalid(what, where, f"{ref!r} names nothing in the schema")
    if not isinstance(target, dict | bool):
        raise _invalid(what, where, f"{ref!r} does not name a schema")
    return target


def _cycle(edges: dict[int, list[int]]) -> int | None:
    """A node on a cycle of the graph, or None (iterative depth-first search, three colours)."""
    colour: dict[int, int] = {}  # 1 on the current path, 2 done
    for start in edges:
        if colour.get(start):
            continue
        colour[start] = 1
        path: list[tuple[int, int]] = [(start, 0)]
        while path:
            node, index = path[-1]
            successors = edges.get(node, [])
            if index == len(successors):
                colour[node] = 2
                path.pop()
                continue
            path[-1] = (node, index + 1)
            nxt = successors[index]
            if colour.get(nxt) == 1:
                return nxt
            if not colour.get(nxt):
                colour[nxt] = 1
                path.append((nxt, 0))
    return None


def _escape(name: str) -> str:
    return name.replace("~", "~0").replace("/", "~1")


def _invalid(what: str, pointer: str, problem: str) -> InvalidModelRequest:
    return InvalidModelRequest(f"The {what} at '#{pointer}' {problem}.", code="invalid_schema")
