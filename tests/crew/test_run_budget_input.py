"""A crew run's budget takes only finite numbers within reach: NaN, Infinity and absurd limits are a 422 naming the
field (Infinity used to reach PostgreSQL's JSON and answer 500)."""

from __future__ import annotations

import json

import httpx
import pytest

from tests.conftest import Tenant

REQUIREMENT = "# Notes\n\nA note has a `text` (text)."


@pytest.mark.parametrize(
    ("field", "raw"),
    [
        ("max_cost_usd", "Infinity"),
        ("max_cost_usd", "NaN"),
        ("max_work_s", "-Infinity"),
        ("max_work_s", "1e400"),
        ("max_tokens", "1" + "0" * 40),
    ],
)
async def test_a_non_finite_or_absurd_budget_is_a_422_naming_the_field(
    client: httpx.AsyncClient, tenant: Tenant, field: str, raw: str
) -> None:
    body = f'{{"requirement": {json.dumps(REQUIREMENT)}, "budget": {{"{field}": {raw}}}}}'  # raw: not JSON-encodable
    headers = {**tenant.headers(), "Content-Type": "application/json"}

    answer = await client.post(f"/api/v1/workspaces/{tenant.slug}/crew/runs", content=body, headers=headers)

    assert answer.status_code == 422, answer.text
    assert f"budget.{field}" in answer.json()["error"]["message"]


async def test_a_budget_within_reach_is_taken(client: httpx.AsyncClient, tenant: Tenant) -> None:
    body = {"requirement": REQUIREMENT, "budget": {"max_tokens": 50_000, "max_cost_usd": 2.5, "max_work_s": 3600}}

    answer = await client.post(f"/api/v1/workspaces/{tenant.slug}/crew/runs", json=body, headers=tenant.headers())

    assert answer.status_code == 202, answer.text
    assert answer.json()["budget"] == body["budget"]
