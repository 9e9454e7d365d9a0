"""The requirement's own words in the generated project stay text: a title or rule sentence with quotes, backslashes
or control characters neither breaks a module nor becomes code that runs when it is imported."""

from __future__ import annotations

import ast

from opsdesk.crew.agents.analyst import analyse
from opsdesk.crew.agents.developer import design, implement

TITLE = 'Shop """ + __import__("os").getcwd() + """ \\'
RULE = (
    'A book that is on loan cannot be lent again """; import os; os.getcwd(); """ \\N{x}" \x00 refused as a conflict.'
)
HOSTILE = f"""# {TITLE}

A book has a `title` (text, 1 to 200 characters) and a `year` (an integer between 1450 and 2100).
Books are served at /api/books.

{RULE}
"""


def _modules() -> dict[str, str]:
    backlog = analyse(HOSTILE)
    files = implement(backlog, design(backlog)).files
    return {f.path: f.content for f in files if f.path.endswith(".py")}


def test_every_generated_module_compiles_and_runs_nothing_but_its_own_code() -> None:
    modules = _modules()
    assert {"app/main.py", "app/book.py"} <= set(modules)
    for path, source in modules.items():
        tree = ast.parse(source, path)
        compile(source, path, "exec")  # NUL bytes or a misplaced `from __future__` would fail here
        names = {node.attr for node in ast.walk(tree) if isinstance(node, ast.Attribute)}
        names |= {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)}
        assert not names & {"getcwd", "__import__", "os"}, f"the requirement's words became code in {path}"


def test_the_title_and_the_rule_are_the_docstrings_text() -> None:
    modules = _modules()
    main_doc = ast.get_docstring(ast.parse(modules["app/main.py"])) or ""
    book_doc = ast.get_docstring(ast.parse(modules["app/book.py"])) or ""

    assert main_doc.startswith(TITLE + " — SCAFFOLD")
    assert "TODO: " + RULE.replace("\x00", " ") in book_doc
