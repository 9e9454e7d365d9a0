"""What changed in a crew artefact since its last version, as the run page's approval shows it: a unified diff per
file for code, of the JSON for the other artefacts; nothing when there is no earlier version."""

from __future__ import annotations

from typing import Any

from opsdesk.web.pages.crew_diff import artefact_changes


def _code(files: dict[str, str], **rest: Any) -> dict[str, Any]:
    return {"files": [{"path": path, "content": content} for path, content in files.items()], **rest}


def _lines(diff: dict[str, Any]) -> list[tuple[str, str]]:
    return [(line["kind"], line["text"]) for line in diff["lines"]]


def test_code_is_diffed_file_by_file_with_added_removed_and_unchanged_files() -> None:
    before = _code({"app/main.py": "a = 1\nb = 2\n", "old.txt": "gone\n", "README.md": "# App\n"}, scaffold=False)
    after = _code({"app/main.py": "a = 1\nb = 3\n", "new.txt": "hello\n", "README.md": "# App\n"}, scaffold=False)
    changes = artefact_changes("implementation", before, after)
    assert changes is not None
    files = {diff["path"]: diff for diff in changes["files"]}
    assert list(files) == ["app/main.py", "new.txt", "old.txt"]
    assert files["app/main.py"]["change"] == "changed"
    assert _lines(files["app/main.py"]) == [
        ("hunk", "@@ -1,2 +1,2 @@"),
        ("context", " a = 1"),
        ("del", "-b = 2"),
        ("add", "+b = 3"),
    ]
    assert (files["app/main.py"]["added"], files["app/main.py"]["removed"]) == (1, 1)
    assert files["new.txt"]["change"] == "added" and ("add", "+hello") in _lines(files["new.txt"])
    assert files["old.txt"]["change"] == "removed" and ("del", "-gone") in _lines(files["old.txt"])
    assert changes["unchanged"] == ["README.md"]


def test_a_change_outside_the_files_is_shown_as_json() -> None:
    before = _code({"Dockerfile": "FROM python\n"}, notes=[])
    after = _code({"Dockerfile": "FROM python\n"}, notes=["Review comment: cache pip."])
    changes = artefact_changes("devops", before, after)
    assert changes is not None and changes["unchanged"] == ["Dockerfile"]
    (other,) = changes["files"]
    assert other["path"] == "other fields (JSON)"
    assert ("add", '+    "Review comment: cache pip."') in _lines(other)


def test_other_artefacts_are_diffed_as_their_json() -> None:
    before = {"epics": [{"key": "E1"}], "stories": [{"key": "S1", "title": "Log in"}]}
    after = {"epics": [{"key": "E1"}], "stories": [{"key": "S1", "title": "Log in"}, {"key": "S2", "title": "Ask"}]}
    changes = artefact_changes("backlog", before, after)
    assert changes is not None
    (diff,) = changes["files"]
    assert diff["path"] == "backlog (JSON)" and diff["change"] == "changed"
    assert ("add", '+      "title": "Ask"') in _lines(diff)


def test_no_earlier_version_or_the_same_version_says_so() -> None:
    assert artefact_changes("backlog", None, {"epics": []}) is None
    same = artefact_changes("backlog", {"epics": []}, {"epics": []})
    assert same == {"files": [], "unchanged": ["backlog (JSON)"], "cut": False}
