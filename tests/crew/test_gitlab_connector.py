"""The GitLab connector through python-gitlab against the local GitLab, whose repositories are real bare git
repositories: branch, one commit with many actions (checked with git itself), merge request, pipeline."""

from __future__ import annotations

import subprocess

import pytest
from pydantic import SecretStr

from opsdesk.crew.connectors import FileChange, GitLabConnector, VendorRejected
from opsdesk.crew.demo.servers import GitLabServer

_PROJECT = "opsdesk/demo"
_CHANGES = [
    FileChange("create", "app/main.py", "from fastapi import FastAPI\n\napp = FastAPI()\n"),
    FileChange("create", "tests/test_main.py", "def test_app() -> None:\n    assert True\n"),
    FileChange("upsert", "README.md", "# demo\n\nA scaffold.\n"),
    FileChange("create", ".gitlab-ci.yml", "test:\n  script: pytest\n"),
]


def _git(server: GitLabServer, *args: str) -> str:
    command = ["git", "--git-dir", str(server.repo_path(_PROJECT)), *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=10, check=True).stdout


async def test_project_lookup_by_path(gitlab: GitLabConnector) -> None:
    project = await gitlab.project(_PROJECT)
    assert (project.id, project.path, project.default_branch) == (1, _PROJECT, "main")


async def test_unknown_project_is_a_clear_rejection(gitlab: GitLabConnector) -> None:
    with pytest.raises(VendorRejected, match=r"\(404\): 404 Project Not Found"):
        await gitlab.project("opsdesk/nope")


async def test_branch_then_one_commit_with_every_action_lands_in_the_git_repository(
    gitlab: GitLabConnector, gitlab_server: GitLabServer
) -> None:
    head, created = await gitlab.ensure_branch(_PROJECT, "feature/login", "main")
    commit = await gitlab.commit(_PROJECT, "feature/login", "run-1/code", "Add the login service", _CHANGES)

    assert created and commit.created and commit.title == "Add the login service"
    assert _git(gitlab_server, "rev-parse", "feature/login").strip() == commit.sha
    assert _git(gitlab_server, "rev-parse", f"{commit.sha}^").strip() == head
    assert _git(gitlab_server, "log", "--format=%s", "feature/login").splitlines() == [
        "Add the login service",
        "Initial commit",
    ]
    files = _git(gitlab_server, "ls-tree", "-r", "--name-only", "feature/login").split()
    assert files == [".gitlab-ci.yml", "README.md", "app/main.py", "tests/test_main.py"]
    assert _git(gitlab_server, "show", "feature/login:README.md") == "# demo\n\nA scaffold.\n"
    assert await gitlab.read_file(_PROJECT, "app/main.py", "feature/login") == _CHANGES[0].content.encode()  # type: ignore[union-attr]
    assert await gitlab.read_file(_PROJECT, "app/missing.py", "feature/login") is None
    assert sorted(await gitlab.tree(_PROJECT, "feature/login")) == files


async def test_commit_asked_for_twice_is_made_once(gitlab: GitLabConnector, gitlab_server: GitLabServer) -> None:
    await gitlab.ensure_branch(_PROJECT, "feature/x", "main")
    first = await gitlab.commit(_PROJECT, "feature/x", "run-1/code", "Add code", _CHANGES)
    again = await gitlab.commit(_PROJECT, "feature/x", "run-1/code", "Add code", _CHANGES)
    _, created_again = await gitlab.ensure_branch(_PROJECT, "feature/x", "main")

    assert again.sha == first.sha and not again.created and not created_again
    assert len(_git(gitlab_server, "log", "--format=%H", "feature/x").split()) == 2
    assert len(gitlab_server.writes(r"/repository/commits$")) == 1


async def test_commit_that_cannot_apply_says_why(gitlab: GitLabConnector) -> None:
    await gitlab.ensure_branch(_PROJECT, "feature/y", "main")
    with pytest.raises(VendorRejected, match=r"A file with this name already exists: README\.md"):
        await gitlab.commit(_PROJECT, "feature/y", "run-1/y", "Oops", [FileChange("create", "README.md", "x")])


async def test_merge_request_has_description_and_checklist_and_is_opened_once(
    gitlab: GitLabConnector, gitlab_server: GitLabServer
) -> None:
    await gitlab.ensure_branch(_PROJECT, "feature/mr", "main")
    await gitlab.commit(_PROJECT, "feature/mr", "run-1/code", "Add code", _CHANGES)
    kwargs = {"source": "feature/mr", "target": "main", "title": "Login service", "description": "Adds login."}
    checklist = ["Tests pass", "Docs updated"]
    mr = await gitlab.merge_request(_PROJECT, "run-1/mr", checklist=checklist, labels=["crew"], **kwargs)
    again = await gitlab.merge_request(_PROJECT, "run-1/mr", checklist=["Tests pass"], **kwargs)

    assert mr.created and not again.created and again.iid == mr.iid == 1
    stored = gitlab_server.merge_requests[1][0]
    assert stored["description"].startswith("Adds login.\n\n## Checklist\n- [ ] Tests pass\n- [ ] Docs updated")
    assert stored["labels"] == ["crew"] and mr.web_url.endswith("/opsdesk/demo/-/merge_requests/1")


async def test_pipeline_runs_once_per_commit_and_reports_its_status(
    gitlab: GitLabConnector, gitlab_server: GitLabServer
) -> None:
    await gitlab.ensure_branch(_PROJECT, "feature/ci", "main")
    commit = await gitlab.commit(_PROJECT, "feature/ci", "run-1/code", "Add code", _CHANGES)
    pipeline = await gitlab.start_pipeline(_PROJECT, "feature/ci", {"OPSDESK_RUN": "run-1"})
    again = await gitlab.start_pipeline(_PROJECT, "feature/ci")

    assert pipeline.created and not again.created and again.id == pipeline.id and pipeline.sha == commit.sha
    seen = [(await gitlab.pipeline(_PROJECT, pipeline.id)).status for _ in range(4)]
    assert seen == ["pending", "running", "success", "success"]
    assert gitlab_server.pipelines[1][0]["variables"] == [{"key": "OPSDESK_RUN", "value": "run-1"}]


async def test_pipeline_without_ci_file_is_refused_with_gitlabs_reason(gitlab: GitLabConnector) -> None:
    with pytest.raises(VendorRejected, match="Missing CI config file"):
        await gitlab.start_pipeline(_PROJECT, "main")


async def test_pipeline_through_a_trigger_token_and_a_wrong_one_is_refused(
    gitlab: GitLabConnector, gitlab_server: GitLabServer
) -> None:
    await gitlab.ensure_branch(_PROJECT, "feature/trigger", "main")
    await gitlab.commit(_PROJECT, "feature/trigger", "run-1/code", "Add code", _CHANGES)
    with pytest.raises(VendorRejected, match="404"):
        await gitlab.start_pipeline(_PROJECT, "feature/trigger", trigger_token=SecretStr("not-a-trigger"))

    pipeline = await gitlab.start_pipeline(
        _PROJECT, "feature/trigger", {"STAGE": "qa"}, trigger_token=SecretStr("local-trigger-token")
    )

    assert pipeline.created and gitlab_server.pipelines[1][0]["source"] == "trigger"
    assert gitlab_server.pipelines[1][0]["variables"] == [{"key": "STAGE", "value": "qa"}]
