"""The developer, offline: a design from the backlog, then the scaffold project and its tests as a set of files."""

from __future__ import annotations

from opsdesk.crew.agents.requirement import EntitySpec, FieldSpec
from opsdesk.crew.agents.scaffold import STORE, TYPES, entity_module, main_module
from opsdesk.crew.agents.scaffold_tests import test_files
from opsdesk.crew.agents.schemas import Backlog, Decision, Design, Endpoint, Implementation, Module, ProjectFile
from opsdesk.crew.agents.writer import markdown_text

REQUIREMENTS = "fastapi>=0.110\nhttpx>=0.27\npytest>=8\nuvicorn>=0.29\n"
PYPROJECT = """[project]
name = "{name}"
version = "0.1.0"
requires-python = ">=3.11"
dependencies = ["fastapi>=0.110", "uvicorn>=0.29"]

[tool.pytest.ini_options]
testpaths = ["tests"]
"""


def _field_text(field: FieldSpec) -> str:
    limits = [
        f"{key} {value:g}"
        for key, value in (("≥", field.ge), ("≤", field.le), (">", field.gt), ("<", field.lt))
        if value is not None
    ]
    if field.min_length is not None or field.max_length is not None:
        limits.append(f"length {field.min_length or 0}..{field.max_length if field.max_length is not None else '∞'}")
    if field.choices:
        limits.append("one of " + ", ".join(field.choices))
    if field.ref:
        limits.append(f"id of a {field.ref}")
    flags = ("required" if field.required else "optional") + (", set by the service" if field.readonly else "")
    return f"{field.name}: {field.type} ({flags}{'; ' + '; '.join(limits) if limits else ''})"


def _entity_line(entity: EntitySpec) -> str:
    return f"{entity.name} (id: int, server-assigned) — " + "; ".join(_field_text(f) for f in entity.fields)


def design(backlog: Backlog, *, feedback: list[str] | None = None) -> Design:
    """Modules, data model, API and decisions for the backlog's entities."""
    spec = backlog.requirement
    modules = [
        Module(path="app/main.py", purpose="the FastAPI application `app` with one router per entity"),
        Module(path="app/store.py", purpose="in-memory tables with server-assigned integer ids"),
        Module(path="app/types.py", purpose="strict JSON field types, so a wrong type is a 422"),
        *[Module(path=f"app/{e.name}.py", purpose=f"{e.path}: models, validation and routes") for e in spec.entities],
        Module(path="tests/", purpose="one test per acceptance criterion (FastAPI TestClient)"),
    ]
    api: list[Endpoint] = []
    for entity in spec.entities:
        filters = "&".join(f"{f}=<value>" for f in entity.filters)
        api += [
            Endpoint(method="POST", path=entity.path, answers="201 created; 422 invalid; 404 unknown referenced id"),
            Endpoint(method="GET", path=entity.path + (f"?{filters}" if filters else ""), answers="200 list"),
            Endpoint(method="GET", path=f"{entity.path}/{{id}}", answers="200; 404 not found"),
            Endpoint(method="PATCH", path=f"{entity.path}/{{id}}", answers="200 updated; 422 invalid; 404"),
            Endpoint(method="DELETE", path=f"{entity.path}/{{id}}", answers="204; 404"),
        ]
    decisions = [
        Decision(
            title="FastAPI with pydantic models per entity",
            context="The requirement names resources served under /api/<plural> with typed, limited fields.",
            decision="One FastAPI router and a Create/Update pydantic model pair per entity; strict JSON types.",
            consequences="Invalid bodies are rejected with 422 by validation before any code runs.",
        ),
        Decision(
            title="In-memory storage behind a small table class",
            context="Nothing in the requirement asks for persistence across restarts.",
            decision="Rows live in process memory with integer ids from a counter; one lock per table.",
            consequences="Data is lost on restart; a database replaces app/store.py without touching the routes.",
        ),
        Decision(
            title="Rules on stored state are left to a person (scaffold)",
            context="The crew ran offline: a template cannot derive rules such as conflicts from sentences.",
            decision="Each such rule is a story, a TODO in its module and a skipped test.",
            consequences="The project is honest about what it does not do yet; the rule stories stay open.",
        ),
    ]
    notes = [f"Reviewer's comment addressed in the design: “{comment}”" for comment in feedback or []]
    return Design(
        summary=f"A FastAPI service for “{spec.title}” with {len(spec.entities)} resource(s), generated as a scaffold.",
        modules=modules,
        data_model=[_entity_line(entity) for entity in spec.entities],
        api=api,
        decisions=decisions,
        notes=notes,
    )


def implement(
    backlog: Backlog,
    plan: Design,
    *,
    feedback: list[str] | None = None,
    defects: list[str] | None = None,
    round: int = 0,
) -> Implementation:
    """The project's files: app package, tests from the criteria, requirements, and a SCAFFOLD.md that says so."""
    spec = backlog.requirement
    files = [
        ProjectFile(path="app/__init__.py", content=""),
        ProjectFile(path="app/store.py", content=STORE),
        ProjectFile(path="app/types.py", content=TYPES),
        ProjectFile(path="app/main.py", content=main_module(spec)),
        *[ProjectFile(path=f"app/{e.name}.py", content=entity_module(e, spec.rules)) for e in spec.entities],
    ]
    tests, _ = test_files(backlog)
    files += tests
    files.append(ProjectFile(path="requirements.txt", content=REQUIREMENTS))
    files.append(ProjectFile(path="pyproject.toml", content=PYPROJECT.format(name=_project_name(spec.title))))
    notes = [f"Reviewer's comment recorded for the developer: “{comment}”" for comment in feedback or []]
    notes += [f"Defect seen in round {round}: {defect}" for defect in defects or []]
    todo = [rule.sentence for rule in spec.rules if rule.kind in ("conflict", "other")]
    files.append(ProjectFile(path="SCAFFOLD.md", content=_scaffold_notice(plan, todo, notes)))
    return Implementation(files=files, scaffold=True, notes=notes, round=round)


def _project_name(title: str) -> str:
    cleaned = "".join(c if c.isalnum() else "-" for c in title.lower()).strip("-")
    return "-".join(part for part in cleaned.split("-") if part)[:50] or "service"


def _scaffold_notice(plan: Design, todo: list[str], notes: list[str]) -> str:
    lines = [
        "# This project is a scaffold",
        "",
        "It was generated offline by the opsdesk delivery crew from the requirement's own sentences, without a",
        "language model that can write code. It serves every named entity with create, list (with the stated",
        "filters), read, partial update and delete, validates the stated field types and limits (422), answers",
        "404 for unknown ids, and its tests are generated from the acceptance criteria.",
        "",
        "## Not implemented yet",
        "",
        *([f"- {markdown_text(sentence)}" for sentence in todo] or ["- nothing the requirement stated as a rule"]),
        "",
        "## Design",
        "",
        markdown_text(plan.summary),
    ]
    if notes:
        lines += ["", "## Review notes", "", *[f"- {markdown_text(note)}" for note in notes]]
    return "\n".join(lines) + "\n"
