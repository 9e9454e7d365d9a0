"""Knowledge bases: create, read, update, delete, list with paging and filters, parents, roles, idempotency."""

from __future__ import annotations

from opsdesk.auth.roles import Role
from tests.knowledge.conftest import KnowledgeApi


async def test_create_read_update_and_delete_a_knowledge_base(api: KnowledgeApi) -> None:
    created = await api.create_kb("handbook", description="Company handbook", tags=["hr", "policies", "hr"])
    assert created["status"] == "active"
    assert created["tags"] == ["hr", "policies"]
    assert created["content_version"] == 0

    by_name = (await api.get("/handbook")).json()
    by_id = (await api.get(f"/{created['id']}")).json()
    assert by_name == by_id

    updated = await api.patch("/handbook", {"description": "HR handbook", "status": "archived", "name": "hr-handbook"})
    assert updated.status_code == 200, updated.text
    assert updated.json()["name"] == "hr-handbook"
    assert updated.json()["status"] == "archived"

    assert (await api.delete("/hr-handbook")).status_code == 200
    missing = await api.get("/hr-handbook")
    assert missing.status_code == 404
    assert "hr-handbook" in missing.json()["error"]["message"]


async def test_list_pages_and_filters_by_status_tag_and_name_prefix(api: KnowledgeApi) -> None:
    for index in range(5):
        await api.create_kb(f"team-{index}", tags=["even"] if index % 2 == 0 else ["odd"])
    await api.create_kb("archive-2020")
    await api.patch("/archive-2020", {"status": "archived"})

    first = (await api.get("", limit=2, offset=0)).json()
    second = (await api.get("", limit=2, offset=2)).json()
    assert first["total"] == 6 and first["limit"] == 2
    assert [kb["name"] for kb in first["items"]] == ["archive-2020", "team-0"]
    assert [kb["name"] for kb in second["items"]] == ["team-1", "team-2"]

    assert (await api.get("", status="archived")).json()["total"] == 1
    assert {kb["name"] for kb in (await api.get("", tag="even")).json()["items"]} == {"team-0", "team-2", "team-4"}
    assert (await api.get("", name_prefix="team-")).json()["total"] == 5
    assert (await api.get("", name_prefix="%")).json()["total"] == 0  # no wildcard injection


async def test_duplicate_names_conflict_and_bad_names_are_refused(api: KnowledgeApi) -> None:
    await api.create_kb("docs")
    duplicate = await api.post("", {"name": "docs"})
    assert duplicate.status_code == 409
    assert "already exists" in duplicate.json()["error"]["message"]
    bad = await api.post("", {"name": "../etc"})
    assert bad.status_code == 422


async def test_parent_must_exist_and_cannot_create_a_cycle(api: KnowledgeApi) -> None:
    await api.create_kb("root")
    await api.create_kb("child", parent="root")
    await api.create_kb("grandchild", parent="child")
    children = (await api.get("", parent="root")).json()["items"]
    assert [kb["name"] for kb in children] == ["child"]

    cycle = await api.patch("/root", {"parent": "grandchild"})
    assert cycle.status_code == 400
    assert "descendants" in cycle.json()["error"]["message"]
    unknown = await api.post("", {"name": "orphan", "parent": "nowhere"})
    assert unknown.status_code == 404

    detached = await api.patch("/child", {"parent": None})
    assert detached.json()["parent_id"] is None


async def test_idempotency_key_replays_the_first_creation(api: KnowledgeApi) -> None:
    headers = {"Idempotency-Key": "create-docs-1"}
    first = await api.post("", {"name": "docs"}, headers=headers)
    again = await api.post("", {"name": "docs"}, headers=headers)
    assert first.status_code == 201 and again.status_code == 201
    assert first.json()["id"] == again.json()["id"]
    other_body = await api.post("", {"name": "docs-2"}, headers=headers)
    assert other_body.status_code == 409


async def test_a_viewer_reads_but_cannot_write(api: KnowledgeApi) -> None:
    await api.create_kb("docs")
    viewer = api.as_role(Role.viewer)
    assert (await viewer.get("/docs")).status_code == 200
    assert (await viewer.post("", {"name": "mine"})).status_code == 403
    assert (await viewer.patch("/docs", {"description": "x"})).status_code == 403
    assert (await viewer.delete("/docs")).status_code == 403
    service_key = api.as_role(Role.service)
    assert (await service_key.post("", {"name": "by-service"})).status_code == 201
