"""The crew's blind evaluation set (tests/data/crew) keeps its shape, and nothing the crew runs can read it."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

_ROOT = Path(__file__).resolve().parents[2]
_SET = _ROOT / "tests" / "data" / "crew"
_SPECS = sorted(p for p in _SET.iterdir() if p.is_dir() and re.fullmatch(r"\d\d-[a-z0-9-]+", p.name))
# A path to the set written as one string, split into parts, or the hidden tests' file name.
_REFERENCE = re.compile(r"data/crew|[\"']data[\"']\s*[/,]\s*[\"']crew[\"']|hidden_acceptance")


def test_there_are_ten_numbered_specs() -> None:
    assert [p.name[:2] for p in _SPECS] == [f"{n:02d}" for n in range(1, 11)]
    assert (_SET / "README.md").is_file()


@pytest.mark.parametrize("spec", _SPECS, ids=lambda p: p.name)
def test_a_requirement_is_plain_prose_with_given_when_then_criteria(spec: Path) -> None:
    text = (spec / "requirement.md").read_text(encoding="utf-8")
    assert 80 <= len(text.split()) <= 250
    criteria = [line for line in text.splitlines() if re.search(r"\bGiven\b.*\bwhen\b.*\bthen\b", line, re.I)]
    assert len(criteria) >= 3
    assert "/api/" in text  # the requirement names where its entities are served


@pytest.mark.parametrize("spec", _SPECS, ids=lambda p: p.name)
def test_hidden_acceptance_tests_parse_and_use_the_contract(spec: Path) -> None:
    assert not list(spec.glob("test_*.py")) and not list(spec.glob("*_test.py"))  # pytest must not collect them
    tree = ast.parse((spec / "hidden_acceptance.py").read_text(encoding="utf-8"))
    tests = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name.startswith("test_")]
    assert len(tests) >= 4
    imports = {(n.module, a.name) for n in tree.body if isinstance(n, ast.ImportFrom) for a in n.names}
    assert ("app.main", "app") in imports and ("fastapi.testclient", "TestClient") in imports


def test_nothing_under_src_reads_the_set() -> None:
    offenders = [
        str(path.relative_to(_ROOT))
        for path in (_ROOT / "src").rglob("*")
        if path.is_file()
        and path.suffix in {".py", ".md", ".txt", ".toml", ".yaml", ".yml", ".json", ".j2", ".html"}
        and _REFERENCE.search(path.read_text(encoding="utf-8", errors="replace"))
    ]
    assert offenders == []
