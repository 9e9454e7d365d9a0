"""What changed in a crew artefact since its last version, for the gate that shows it: a unified diff per file for
code (the project's files, the pipeline's), of the JSON for the other artefacts. Python's difflib on the server; the
page shows the lines as text, each marked added, removed, context or hunk header for its CSS class."""

from __future__ import annotations

import difflib
import json
from typing import Any

FILE_ARTEFACTS = ("implementation", "devops")  # artefacts that are a set of files: {"files": [{path, content}]}
OTHER_FIELDS = "other fields (JSON)"
_CONTEXT = 3  # lines of context around each change, as `diff -u`
_MAX_LINES = 4000  # diff lines shown in all; past this the diff is cut, and says so
_KIND = {"+": "add", "-": "del", " ": "context"}


def _as_json(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=False, default=str) + "\n"


def _files(artefact: Any) -> dict[str, str] | None:
    """A code artefact's files by path, or None when it is not shaped as one (then it is diffed as JSON)."""
    files = artefact.get("files") if isinstance(artefact, dict) else None
    if not isinstance(files, list):
        return None
    found: dict[str, str] = {}
    for file in files:
        if not isinstance(file, dict) or not isinstance(file.get("path"), str):
            return None
        found[file["path"]] = str(file.get("content", ""))
    return found


def _file_diff(path: str, before: str | None, after: str | None) -> dict[str, Any]:
    lines = difflib.unified_diff(
        (before or "").splitlines(), (after or "").splitlines(), f"a/{path}", f"b/{path}", n=_CONTEXT, lineterm=""
    )
    shown = [
        {"kind": "hunk" if line.startswith("@@") else _KIND.get(line[:1], "context"), "text": line}
        for index, line in enumerate(lines)
        if index >= 2  # the ---/+++ header: the page names the file itself
    ]
    change = "added" if before is None else "removed" if after is None else "changed"
    return {
        "path": path,
        "change": change,
        "lines": shown,
        "added": sum(line["kind"] == "add" for line in shown),
        "removed": sum(line["kind"] == "del" for line in shown),
    }


def artefact_changes(key: str, previous: Any, current: Any) -> dict[str, Any] | None:
    """The diff of `current` against `previous` (None when there is no earlier version): the files that changed,
    the names of those that did not, and whether the diff was cut for length."""
    if previous is None or current is None:
        return None
    old, new = _files(previous), _files(current)
    pairs: list[tuple[str, str | None, str | None]]
    if key in FILE_ARTEFACTS and old is not None and new is not None:
        pairs = [(path, old.get(path), new.get(path)) for path in [*new, *sorted(set(old) - set(new))]]
        rest_before = {name: value for name, value in previous.items() if name != "files"}
        rest_after = {name: value for name, value in current.items() if name != "files"}
        if rest_before != rest_after:  # the notes or the scaffold flag: listed only when they changed
            pairs.append((OTHER_FIELDS, _as_json(rest_before), _as_json(rest_after)))
    else:
        pairs = [(f"{key} (JSON)", _as_json(previous), _as_json(current))]
    files: list[dict[str, Any]] = []
    unchanged: list[str] = []
    budget, cut = _MAX_LINES, False
    for path, before, after in pairs:
        if before == after:
            unchanged.append(path)
            continue
        diff = _file_diff(path, before, after)
        if len(diff["lines"]) > budget:
            diff["lines"], cut = diff["lines"][:budget], True
        budget -= len(diff["lines"])
        files.append(diff)
    return {"files": files, "unchanged": unchanged, "cut": cut}
