"""The Jira connector through the official SDK against the local Jira: epics and stories, links, transitions,
comments and defects, each write once however often it is asked for."""

from __future__ import annotations

import pytest

from opsdesk.crew.connectors import IssueDraft, JiraConnector, VendorRejected
from opsdesk.crew.demo.servers import JiraServer
from opsdesk.crew.demo.servers.jira import ACCEPTANCE, EPIC_LINK, EPIC_NAME, STORY_POINTS
from tests.crew.conftest import POLICY, TOKEN, credentials


def _story(n: int, run: str = "run-1") -> IssueDraft:
    return IssueDraft(
        key=f"{run}/story-{n}",
        issue_type="Story",
        summary=f"Customer can do thing {n}",
        description=f"As a customer I want thing {n}.",
        acceptance_criteria=(f"Given a customer When they ask for thing {n} Then they get it",),
        story_points=3,
    )


async def test_project_lookup_names_the_project_and_its_issue_types(jira: JiraConnector) -> None:
    project = await jira.project("DEMO")
    assert (project.key, project.name) == ("DEMO", "Demo project")
    assert {"Epic", "Story", "Bug"} <= set(project.issue_types)


async def test_unknown_project_is_a_clear_rejection(jira: JiraConnector) -> None:
    with pytest.raises(VendorRejected, match=r"jira refused the request \(404\).*NOPE"):
        await jira.project("NOPE")


async def test_epic_and_stories_are_created_in_bulk_with_criteria_points_and_epic_link(
    jira: JiraConnector, jira_server: JiraServer
) -> None:
    epic = await jira.create_issue("DEMO", IssueDraft(key="run-1/epic-1", issue_type="Epic", summary="Self-service"))
    stories = await jira.create_issues("DEMO", [_story(1), _story(2)])
    await jira.add_to_epic(epic.key, [story.key for story in stories])
    await jira.link("Blocks", stories[0].key, stories[1].key)

    assert epic.created and all(story.created for story in stories)
    stored_epic = jira_server.issues[epic.key]["fields"]
    assert stored_epic[EPIC_NAME] == "Self-service"
    first = jira_server.issues[stories[0].key]["fields"]
    assert first[ACCEPTANCE] == "* Given a customer When they ask for thing 1 Then they get it"
    assert first[STORY_POINTS] == 3
    assert first[EPIC_LINK] == epic.key
    raw = await jira.issue(stories[1].key)
    assert raw["fields"]["parent"]["key"] == epic.key
    assert [(link["type"]["name"], link["inwardIssue"]["key"]) for link in raw["fields"]["issuelinks"]] == [
        ("Blocks", stories[0].key)
    ]
    assert len(jira_server.writes(r"/issue/bulk$")) == 2  # the epic, then both stories in one request


async def test_asking_twice_creates_nothing_more(jira: JiraConnector, jira_server: JiraServer) -> None:
    first = await jira.create_issues("DEMO", [_story(1), _story(2)])
    again = await jira.create_issues("DEMO", [_story(2), _story(1), _story(3)])

    assert [issue.key for issue in again[:2]] == [first[1].key, first[0].key]
    assert [issue.created for issue in again] == [False, False, True]
    assert len(jira_server.issues) == 3


async def test_links_and_epic_membership_are_written_once(jira: JiraConnector, jira_server: JiraServer) -> None:
    epic = await jira.create_issue("DEMO", IssueDraft(key="r/epic", issue_type="Epic", summary="Epic"))
    a, b = await jira.create_issues("DEMO", [_story(1), _story(2)])
    for _ in range(2):
        await jira.add_to_epic(epic.key, [a.key, b.key])
        await jira.link("Blocks", a.key, b.key)

    assert len(jira_server.writes(r"/epic/.*/issue$")) == 1
    assert len(jira_server.writes(r"/issueLink$")) == 1


async def test_transition_moves_to_the_status_and_twice_is_harmless(
    jira: JiraConnector, jira_server: JiraServer
) -> None:
    story = await jira.create_issue("DEMO", _story(1))
    assert await jira.transition(story.key, "In Progress") == "In Progress"
    assert await jira.transition(story.key, "in progress") == "In Progress"
    assert await jira.transition(story.key, "Done") == "Done"

    assert jira_server.issues[story.key]["status"] == "10001"
    assert len(jira_server.writes(r"/transitions$")) == 2


async def test_transition_to_an_unknown_status_says_which_exist(jira: JiraConnector) -> None:
    story = await jira.create_issue("DEMO", _story(1))
    with pytest.raises(VendorRejected, match=r"cannot move from To Do to Shipped \(possible: Done, In Progress\)"):
        await jira.transition(story.key, "Shipped")


async def test_comment_is_added_once_per_key(jira: JiraConnector, jira_server: JiraServer) -> None:
    story = await jira.create_issue("DEMO", _story(1))
    first = await jira.comment(story.key, "run-1/review", "Looks good.")
    again = await jira.comment(story.key, "run-1/review", "Looks good.")
    other = await jira.comment(story.key, "run-1/qa", "Tested.")

    assert first == again != other
    bodies = [comment["body"] for comment in jira_server.comments[story.key]]
    assert len(bodies) == 2 and bodies[0].startswith("Looks good.")


async def test_defect_is_a_bug_with_the_defect_label(jira: JiraConnector) -> None:
    bug = await jira.create_defect("DEMO", "run-1/defect-1", "Login fails", "Steps: open, log in. Expected: in.")
    again = await jira.create_defect("DEMO", "run-1/defect-1", "Login fails", "Steps: open, log in. Expected: in.")

    assert (bug.issue_type, bug.status) == ("Bug", "To Do")
    assert "defect" in bug.labels
    assert again.key == bug.key and not again.created


async def test_a_refused_issue_in_a_bulk_says_why_and_the_others_are_kept(
    jira: JiraConnector, jira_server: JiraServer
) -> None:
    bad = IssueDraft(key="run-1/bad", issue_type="Story", summary="   ")
    with pytest.raises(VendorRejected, match="You must specify a summary"):
        await jira.create_issues("DEMO", [_story(1), bad])
    assert len(jira_server.issues) == 1
    retried = await jira.create_issues("DEMO", [_story(1)])
    assert not retried[0].created and len(jira_server.issues) == 1


async def test_jira_cloud_search_uses_the_enhanced_endpoint() -> None:
    with JiraServer(token=TOKEN, cloud=True) as server:
        connector = JiraConnector(credentials("jira", server.url), POLICY)
        try:
            await connector.create_issue("DEMO", _story(1))
            again = await connector.create_issue("DEMO", _story(1))
        finally:
            await connector.aclose()
    assert not again.created and len(server.issues) == 1
    assert server.writes() and not [w for w in server.writes() if "search" in w.path]


async def test_optional_fields_the_create_screen_lacks_are_left_out_and_criteria_go_to_the_description() -> None:
    with JiraServer(token=TOKEN, off_screen=(ACCEPTANCE, STORY_POINTS, EPIC_NAME)) as server:
        connector = JiraConnector(credentials("jira", server.url), POLICY)
        try:
            epic = await connector.create_issue("DEMO", IssueDraft(key="r/epic", issue_type="Epic", summary="Epic"))
            first = await connector.create_issues("DEMO", [_story(1)])
            second = await connector.create_issues("DEMO", [_story(2)])
        finally:
            await connector.aclose()
    assert epic.created and first[0].created and second[0].created
    story = server.issues[first[0].key]["fields"]
    assert ACCEPTANCE not in story and STORY_POINTS not in story
    assert story["description"].endswith(
        "h3. Acceptance criteria\n* Given a customer When they ask for thing 1 Then they get it"
    )
    # refused once, then known: the second call sends one bulk request that Jira accepts
    assert [w.status for w in server.writes(r"/issue/bulk$", applied_only=False)] == [400, 201, 400, 201, 201]


async def test_issues_created_here_are_found_by_key_while_jiras_search_index_lags(
    jira: JiraConnector, jira_server: JiraServer
) -> None:
    jira_server.index_lag = True
    first = await jira.create_issues("DEMO", [_story(1), _story(2)])
    again = await jira.create_issues("DEMO", [_story(1), _story(2)])

    assert [issue.key for issue in again] == [issue.key for issue in first]
    assert not any(issue.created for issue in again)
    assert len(jira_server.issues) == 2 and len(jira_server.writes(r"/issue/bulk$")) == 1
