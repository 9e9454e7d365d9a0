"""The Confluence connector through atlassian-python-api against the local Confluence: spaces, pages created or
updated with their version, conflicts, the page tree and attachments."""

from __future__ import annotations

import pytest

from opsdesk.crew.connectors import ConfluenceConnector, VendorConflict, VendorRejected
from opsdesk.crew.demo.servers import ConfluenceServer


async def test_space_lookup(confluence: ConfluenceConnector) -> None:
    space = await confluence.space("DEMO")
    assert (space.key, space.name) == ("DEMO", "Demo space")


async def test_unknown_space_is_a_clear_rejection(confluence: ConfluenceConnector) -> None:
    with pytest.raises(VendorRejected, match=r"\(404\): No space with key : NOPE Not Found$"):
        await confluence.space("NOPE")


async def test_put_creates_then_updates_the_same_page_by_title(
    confluence: ConfluenceConnector, confluence_server: ConfluenceServer
) -> None:
    created = await confluence.put_page("DEMO", "Design", "<p>v1</p>")
    same = await confluence.put_page("DEMO", "Design", "<p>v1</p>")
    updated = await confluence.put_page("DEMO", "Design", "<p>v2</p>")

    assert (created.created, created.version) == (True, 1)
    assert (same.id, same.version, same.changed, same.created) == (created.id, 1, False, False)
    assert (updated.id, updated.version, updated.changed) == (created.id, 2, True)
    assert confluence_server.contents[created.id]["body"] == "<p>v2</p>"
    assert len(confluence_server.writes(r"/rest/api/content")) == 2  # one create, one update


async def test_update_based_on_a_stale_version_is_a_conflict(
    confluence: ConfluenceConnector, confluence_server: ConfluenceServer
) -> None:
    page = await confluence.put_page("DEMO", "Runbook", "<p>v1</p>")
    await confluence.update_page(page.id, "Runbook", "<p>mine</p>", base_version=1)

    with pytest.raises(VendorConflict, match="Current version is: 2") as caught:
        await confluence.update_page(page.id, "Runbook", "<p>theirs</p>", base_version=1)
    assert caught.value.status == 409
    assert confluence_server.contents[page.id]["body"] == "<p>mine</p>"


async def test_page_tree_holds_children_and_grandchildren_in_order(confluence: ConfluenceConnector) -> None:
    root = await confluence.put_page("DEMO", "Project", "<p>root</p>")
    design = await confluence.put_page("DEMO", "Design", "<p>d</p>", parent_id=root.id)
    await confluence.put_page("DEMO", "ADR 1", "<p>a</p>", parent_id=design.id)
    await confluence.put_page("DEMO", "API", "<p>api</p>", parent_id=root.id)

    tree = await confluence.page_tree(root.id)
    assert tree.title == "Project"
    assert [(child.title, [grand.title for grand in child.children]) for child in tree.children] == [
        ("Design", ["ADR 1"]),
        ("API", []),
    ]
    adr = await confluence.find_page("DEMO", "ADR 1")
    assert adr is not None
    assert await confluence.ancestors(adr.id) == ["Project", "Design"]


async def test_a_parent_in_no_space_is_refused(confluence: ConfluenceConnector) -> None:
    with pytest.raises(VendorRejected, match="parent page 424242 does not exist"):
        await confluence.put_page("DEMO", "Orphan", "<p>x</p>", parent_id="424242")


async def test_attachment_is_uploaded_once_and_a_changed_file_becomes_its_next_version(
    confluence: ConfluenceConnector, confluence_server: ConfluenceServer
) -> None:
    page = await confluence.put_page("DEMO", "Reports", "<p>r</p>")
    first = await confluence.attach(page.id, "report.txt", b"all green", "text/plain")
    same = await confluence.attach(page.id, "report.txt", b"all green", "text/plain")
    changed = await confluence.attach(page.id, "report.txt", b"one red", "text/plain")

    assert (first.created, first.version) == (True, 1)
    assert (same.id, same.changed) == (first.id, False)
    assert (changed.id, changed.version, changed.created) == (first.id, 2, False)
    assert confluence_server.files[first.id] == b"one red"
    assert len(confluence_server.writes(r"/child/attachment")) == 2


async def test_page_tree_follows_confluences_pages_of_children(
    confluence: ConfluenceConnector, confluence_server: ConfluenceServer
) -> None:
    root = await confluence.put_page("DEMO", "Many", "<p>root</p>")
    for n in range(30):  # more than one page of Confluence's default 25
        await confluence.put_page("DEMO", f"Child {n:02d}", "<p>c</p>", parent_id=root.id)

    tree = await confluence.page_tree(root.id)

    assert [child.title for child in tree.children] == [f"Child {n:02d}" for n in range(30)]
