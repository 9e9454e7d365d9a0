"""An edit at a gate names files only inside the project: `../x`, `/etc/x`, `.git/hooks/x` or a control character in
a path is a 422 naming the path when the answer is given, and the run still waits (before, the edit was accepted and
the run failed later, when the sandbox or GitLab refused to write the file)."""

from __future__ import annotations

import httpx
import pytest
from pydantic import ValidationError

from opsdesk.app.context import AppContext
from opsdesk.auth.roles import Role
from opsdesk.crew.agents.schemas import DevOpsFiles, ProjectFile
from opsdesk.crew.flow.runtime import CrewFlow
from tests.crew.conftest import CrewWorkspace
from tests.crew.test_flow import load
from tests.crew.test_parallel_approvals import _at_both_gates
from tests.crew.test_runs_api import runs_url

OUTSIDE = ("../escape.py", "/etc/cron.d/x", "app/../../x", ".git/hooks/pre-commit", "a\\..\\b", "app/\x01.py", "a//b")


def test_paths_outside_the_project_are_refused_and_ordinary_ones_kept() -> None:
    for path in OUTSIDE:
        with pytest.raises(ValidationError, match="not a relative path inside the project"):
            ProjectFile(path=path, content="")
    for path in (".gitlab-ci.yml", "Dockerfile", "docs/adr/0001-use-fastapi.md", "app/.env.example", ".gitignore"):
        assert ProjectFile(path=path, content="").path == path


@pytest.mark.slow
async def test_an_edit_with_a_file_outside_the_project_is_a_422_and_the_run_still_waits(
    ctx: AppContext, client: httpx.AsyncClient, crew_workspace: CrewWorkspace, crew_flow: CrewFlow
) -> None:
    run_id = await _at_both_gates(ctx, crew_workspace, crew_flow)
    devops = DevOpsFiles.model_validate((await load(ctx, run_id)).artefacts["devops"]).model_dump(mode="json")
    tenant, url = crew_workspace.tenant, f"{runs_url(crew_workspace.tenant)}/{run_id}/approve"

    for path in ("../../.ssh/authorized_keys", ".git/hooks/post-checkout"):
        edited = {**devops, "files": [*devops["files"], {"path": path, "content": "x"}]}
        answer = {"decision": "edit", "gate": "approve_pipeline", "artefact": edited}
        refused = await client.post(url, json=answer, headers=tenant.headers(Role.operator))
        assert refused.status_code == 422, refused.text
        assert path in refused.json()["error"]["message"]

    shown = await load(ctx, run_id)
    assert shown.status == "waiting" and "approve_pipeline" in [
        s["step"] for s in shown.steps if s["status"] == "waiting"
    ]
