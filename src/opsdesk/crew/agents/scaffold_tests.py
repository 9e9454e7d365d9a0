"""The generated project's tests, one per acceptance criterion (FastAPI's TestClient, no server, no network)."""

from __future__ import annotations

import json
import re
from typing import Any

from opsdesk.crew.agents.requirement import EntitySpec, FieldSpec
from opsdesk.crew.agents.scaffold import invalid_values, sample_value
from opsdesk.crew.agents.schemas import Backlog, Criterion, ProjectFile

_MISSING_ID = 987654321

CONFTEST = '''"""Puts the project root on sys.path so `app` imports from anywhere pytest starts."""

import pathlib
import sys

import pytest
from fastapi.testclient import TestClient

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

from app.main import app  # noqa: E402


@pytest.fixture
def client() -> TestClient:
    return TestClient(app)
'''


def _literal(value: Any) -> str:
    return repr(value) if not isinstance(value, str) else json.dumps(value)


def _writable(entity: EntitySpec) -> list[FieldSpec]:
    return [f for f in entity.fields if not f.readonly]


def factories(entities: list[EntitySpec]) -> str:
    """tests/factories.py: a valid body and a created object for each entity (creating what it refers to)."""
    lines = ['"""Valid bodies and created objects for the tests (generated from the requirement\'s fields)."""', ""]
    lines += ["import itertools", "from typing import Any", "", "_SERIAL = itertools.count(1)", "", ""]
    lines += [
        "def _distinct(value: Any, low: float | None, high: float | None, max_length: int | None) -> Any:",
        '    """Another value of the same kind for a field whose values must be unique."""',
        "    number = next(_SERIAL)",
        "    if isinstance(value, bool) or value is None:",
        "        return value",
        "    if isinstance(value, (int, float)):",
        "        span = int(high - low) + 1 if low is not None and high is not None else 10**6",
        "        start = low if low is not None else value",
        "        return type(value)(start + number % max(span, 1))",
        "    text, suffix = str(value), str(number)",
        "    if max_length is not None and len(text) + len(suffix) > max_length:",
        "        text = text[: max(max_length - len(suffix), 0)]",
        "    return (text + suffix)[-max_length:] if max_length else text + suffix",
        "",
        "",
    ]
    for entity in entities:
        lines += [
            f"def body_{entity.name}(client: Any, other: bool = False) -> dict[str, Any]:",
            "    body: dict[str, Any] = {}",
        ]
        for field in _writable(entity):
            if field.ref:
                lines.append(f'    body["{field.name}"] = make_{field.ref}(client)["id"]')
            elif field.required or field.default is None:
                first, second = sample_value(field), sample_value(field, other=True)
                value = f"{_literal(second)} if other else {_literal(first)}"
                if field.unique and not field.choices and field.type in ("str", "int", "float"):
                    low = field.ge if field.ge is not None else (field.gt + 1 if field.gt is not None else None)
                    high = field.le if field.le is not None else (field.lt - 1 if field.lt is not None else None)
                    value = f"_distinct({_literal(first)}, {low!r}, {high!r}, {field.max_length!r})"
                lines.append(f'    body["{field.name}"] = {value}')
        lines += ["    return body", "", ""]
        lines += [
            f"def make_{entity.name}(client: Any, **overrides: Any) -> dict[str, Any]:",
            f"    body = {{**body_{entity.name}(client), **overrides}}",
            f'    answer = client.post("{entity.path}", json=body)',
            "    assert answer.status_code == 201, answer.text",
            "    return dict(answer.json())",
            "",
            "",
        ]
    return "\n".join(lines).rstrip() + "\n"


def _test_name(story: str, index: int, criterion: Criterion) -> str:
    check = criterion.check
    assert check is not None
    tail = f"_{check.field}" if check.field else ""
    return re.sub(r"[^a-z0-9_]", "_", f"test_{story.lower()}_{index}_{check.entity}_{check.kind}{tail}")


def _body(criterion: Criterion, entity: EntitySpec, rules: dict[str, str]) -> list[str]:
    check = criterion.check
    assert check is not None
    path, name = entity.path, entity.name
    field = next((f for f in entity.fields if f.name == check.field), None)
    kind = check.kind
    if kind == "create":
        return [
            f"    body = body_{name}(client)",
            f'    answer = client.post("{path}", json=body)',
            "    assert answer.status_code == 201, answer.text",
            "    created = answer.json()",
            '    assert isinstance(created["id"], int)',
            "    for key, value in body.items():",
            "        assert created[key] == value",
        ]
    if kind == "get":
        return [
            f"    created = make_{name}(client)",
            f"    answer = client.get(f\"{path}/{{created['id']}}\")",
            "    assert answer.status_code == 200",
            "    assert answer.json() == created",
        ]
    if kind == "list":
        return [
            f"    created = make_{name}(client)",
            f'    answer = client.get("{path}")',
            "    assert answer.status_code == 200",
            '    assert created["id"] in [item["id"] for item in answer.json()]',
        ]
    if kind == "not_found":
        return [f'    assert client.get("{path}/{_MISSING_ID}").status_code == 404']
    if kind == "missing_required" and field is not None:
        return [
            f"    body = body_{name}(client)",
            f'    body.pop("{field.name}", None)',
            f'    assert client.post("{path}", json=body).status_code == 422',
        ]
    if kind == "invalid_value" and field is not None:
        lines = [f"    created = make_{name}(client)"]
        for _, value in invalid_values(field):
            lines += [
                f"    body = body_{name}(client)",
                f'    body["{field.name}"] = {_literal(value)}',
                f'    assert client.post("{path}", json=body).status_code == 422',
                f'    change = {{"{field.name}": {_literal(value)}}}',
                f"    patched = client.patch(f\"{path}/{{created['id']}}\", json=change)",
                "    assert patched.status_code == 422",
            ]
        return lines
    if kind == "unique" and field is not None:
        return [
            f"    first = make_{name}(client)",
            f"    again = {{**body_{name}(client), {json.dumps(field.name)}: first[{json.dumps(field.name)}]}}",
            f'    assert client.post("{path}", json=again).status_code == 409',
            f'    listed = client.get("{path}").json()',
            f'    same = [item["id"] for item in listed if item["{field.name}"] == first["{field.name}"]]',
            '    assert same == [first["id"]]',
        ]
    if kind == "unknown_reference" and field is not None:
        return [
            f"    body = body_{name}(client)",
            f'    body["{field.name}"] = {_MISSING_ID}',
            f'    assert client.post("{path}", json=body).status_code == 404',
        ]
    if kind == "update":
        writable = [f for f in _writable(entity) if not f.ref]
        if not writable:
            return [
                f"    created = make_{name}(client)",
                f"    assert client.patch(f\"{path}/{{created['id']}}\", json={{}}).status_code == 200",
            ]
        target = writable[0]
        return [
            f"    created = make_{name}(client)",
            f"    change = {{{json.dumps(target.name)}: {_literal(sample_value(target, other=True))}}}",
            f"    answer = client.patch(f\"{path}/{{created['id']}}\", json=change)",
            "    assert answer.status_code == 200, answer.text",
            "    updated = answer.json()",
            '    assert updated["id"] == created["id"]',
            "    for key, value in change.items():",
            "        assert updated[key] == value",
        ]
    if kind == "delete":
        return [
            f"    created = make_{name}(client)",
            f"    assert client.delete(f\"{path}/{{created['id']}}\").status_code == 204",
            f"    assert client.get(f\"{path}/{{created['id']}}\").status_code == 404",
        ]
    if kind == "filter" and field is not None:
        return [
            f"    first = make_{name}(client)",
            f"    second = make_{name}(client, **body_{name}(client, other=True))",
            f'    value = first["{field.name}"]',
            "    if value is None:",
            '        pytest.skip("scaffold: the service sets this field, and the scaffold does not compute it yet")',
            "    query = str(value).lower() if isinstance(value, bool) else str(value)",
            f'    answer = client.get("{path}", params={{"{field.name}": query}})',
            "    assert answer.status_code == 200",
            "    found = answer.json()",
            '    assert first["id"] in [item["id"] for item in found]',
            f'    assert all(item["{field.name}"] == value for item in found)',
            f'    if second["{field.name}"] != value:',
            '        assert second["id"] not in [item["id"] for item in found]',
        ]
    reason = rules.get(name, "a rule a template cannot implement")
    return [f"    pytest.skip({json.dumps('scaffold: not implemented yet: ' + reason[:150])})"]


def test_files(backlog: Backlog) -> tuple[list[ProjectFile], dict[str, str]]:
    """The test files and, per criterion text, the test that checks it."""
    entities = {entity.name: entity for entity in backlog.requirement.entities}
    rules = {rule.entity or "": rule.sentence for rule in backlog.requirement.rules}
    per_file: dict[str, list[str]] = {}
    covers: dict[str, str] = {}
    for story in backlog.stories:
        for index, criterion in enumerate(story.criteria, start=1):
            check = criterion.check
            if check is None or check.entity not in entities:
                continue
            name = _test_name(story.key, index, criterion)
            body = _body(criterion, entities[check.entity], rules)
            file_name = "tests/test_rules.py" if check.kind == "rule" else f"tests/test_{check.entity}.py"
            per_file.setdefault(file_name, []).extend(
                [f"def {name}(client: Any) -> None:", f'    """{criterion.text()}"""'.replace("\\", "/"), *body, "", ""]
            )
            covers[criterion.text()] = f"{file_name}::{name}"
    imports = ", ".join(f"body_{e}, make_{e}" for e in entities)
    header = [
        '"""Generated from the acceptance criteria by the opsdesk delivery crew (scaffold)."""',
        "",
        "from typing import Any",
        "",
        "import pytest",
        "",
        f"from tests.factories import {imports}" if imports else "",
        "",
        "_UNUSED = (pytest, " + ", ".join(f"body_{e}, make_{e}" for e in entities) + ")",
        "",
        "",
    ]
    files = [
        ProjectFile(path=path, content="\n".join(header + lines).rstrip() + "\n") for path, lines in per_file.items()
    ]
    files.append(ProjectFile(path="tests/__init__.py", content=""))
    files.append(ProjectFile(path="tests/conftest.py", content=CONFTEST))
    files.append(ProjectFile(path="tests/factories.py", content=factories(list(entities.values()))))
    return files, covers
