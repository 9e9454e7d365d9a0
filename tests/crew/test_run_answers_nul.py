"""A NUL inside an answer's JSON (a rejection's comment, a string in an edited artefact) is the caller's mistake: a
422, never a 500 (PostgreSQL's JSONB refuses \\u0000 with its own error, which the NUL backstop did not know), and the
run still waits for a proper answer."""

from __future__ import annotations

import httpx
import pytest

from opsdesk.app.context import AppContext
from opsdesk.auth.roles import Role
from tests.crew.conftest import CrewWorkspace
from tests.crew.test_runs_api import SAMPLE, runs_url, work_off


@pytest.mark.slow
async def test_a_nul_in_an_answer_is_a_422_and_the_run_still_waits(
    ctx: AppContext, client: httpx.AsyncClient, crew_workspace: CrewWorkspace
) -> None:
    tenant = crew_workspace.tenant
    headers = tenant.headers(Role.operator)
    run_id = (await client.post(runs_url(tenant), json={"requirement": SAMPLE}, headers=headers)).json()["id"]
    await work_off(ctx)
    backlog = (await client.get(f"{runs_url(tenant)}/{run_id}", headers=headers)).json()["artefacts"]["backlog"]
    backlog["stories"][0]["title"] = "a\x00b"

    for answer in ({"decision": "reject", "comment": "no\x00pe"}, {"decision": "edit", "artefact": backlog}):
        refused = await client.post(f"{runs_url(tenant)}/{run_id}/approve", json=answer, headers=headers)
        assert refused.status_code == 422, refused.text
        assert refused.json()["error"]["code"] == "control_character"

    shown = (await client.get(f"{runs_url(tenant)}/{run_id}", headers=headers)).json()
    assert (shown["status"], shown["waiting_for"]) == ("waiting", "approve_stories")
    approved = await client.post(f"{runs_url(tenant)}/{run_id}/approve", json={"decision": "approve"}, headers=headers)
    assert approved.status_code == 202, approved.text
