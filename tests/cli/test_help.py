"""Every `opsdesk` command shows its help: a help text the terminal cannot render (rich markup such as
"[/<model>]" read as a closing tag) made `opsdesk crew run --help` crash."""

from __future__ import annotations

from typing import Any

import typer
from typer.testing import CliRunner

from opsdesk.cli import app


def _command_paths(group: Any, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    paths = [prefix]
    commands: dict[str, Any] = getattr(group, "commands", {})  # a group's sub-commands (typer bundles its click)
    for name, command in sorted(commands.items()):
        paths += _command_paths(command, (*prefix, name))
    return paths


def test_every_command_shows_its_help() -> None:
    root = typer.main.get_command(app)
    paths = _command_paths(root)
    assert len(paths) > 20 and ("crew", "run") in paths and ("voice", "serve") in paths
    runner = CliRunner()
    broken = {}
    for path in paths:
        result = runner.invoke(app, [*path, "--help"])
        if result.exit_code != 0 or "Usage" not in result.output:
            broken[" ".join(path)] = repr(result.exception) or result.output[-300:]
    assert broken == {}
