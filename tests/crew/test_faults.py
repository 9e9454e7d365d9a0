"""Vendor faults through the real SDKs: rate limits with Retry-After, server errors until the breaker opens,
timeouts, and responses lost after the write happened (the retry must find the write, not repeat it)."""

from __future__ import annotations

import pytest
from prometheus_client import REGISTRY

from opsdesk.crew.connectors import (
    ConfluenceConnector,
    FileChange,
    GitLabConnector,
    IssueDraft,
    JiraConnector,
    VendorRejected,
    VendorUnavailable,
)
from opsdesk.crew.connectors.base import parse_retry_after
from opsdesk.crew.demo.servers import ConfluenceServer, GitLabServer, JiraServer

_PROJECT = "opsdesk/demo"
_STORIES = [IssueDraft(key=f"run-7/story-{n}", issue_type="Story", summary=f"Story {n}") for n in range(3)]
_CODE = [FileChange("create", "app.py", "print('ok')\n"), FileChange("create", ".gitlab-ci.yml", "t:\n  script: x\n")]


def _statuses(server: JiraServer | ConfluenceServer | GitLabServer, path: str) -> list[int]:
    return [write.status for write in server.writes(path, applied_only=False)]


async def test_jira_429_with_retry_after_is_waited_out_and_the_issues_are_created_once(
    jira: JiraConnector, jira_server: JiraServer
) -> None:
    jira_server.faults.fail(r"/issue/bulk$", 429, retry_after_s=1)

    created = await jira.create_issues("DEMO", _STORIES)

    assert [issue.created for issue in created] == [True, True, True]
    assert _statuses(jira_server, r"/issue/bulk$") == [429, 201]
    assert len(jira_server.issues) == 3
    assert jira.guard.breaker_state == "closed"


async def test_jira_429_asking_for_longer_than_the_cap_fails_now_and_says_when(
    jira: JiraConnector, jira_server: JiraServer
) -> None:
    jira_server.faults.fail(r"/issue/bulk$", 429, retry_after_s=3600)

    with pytest.raises(VendorUnavailable, match=r"jira create_issues: answered 429") as caught:
        await jira.create_issues("DEMO", _STORIES)
    assert caught.value.retry_after_s == 3600
    assert caught.value.status_code == 503
    assert _statuses(jira_server, r"/issue/bulk$") == [429]


async def test_gitlab_500s_are_retried_until_the_commit_lands_once(
    gitlab: GitLabConnector, gitlab_server: GitLabServer
) -> None:
    await gitlab.ensure_branch(_PROJECT, "feature/r", "main")
    gitlab_server.faults.fail(r"/repository/commits$", 500, times=2, method="POST")

    commit = await gitlab.commit(_PROJECT, "feature/r", "run-7/code", "Add app", _CODE)

    assert commit.created
    assert _statuses(gitlab_server, r"/repository/commits$") == [500, 500, 201]
    assert gitlab_server.repos[1].log("feature/r")[0]["id"] == commit.sha


async def test_gitlab_500s_past_the_limit_give_a_clear_error_then_the_breaker_refuses_without_calling(
    gitlab: GitLabConnector, gitlab_server: GitLabServer
) -> None:
    await gitlab.ensure_branch(_PROJECT, "feature/down", "main")
    gitlab_server.faults.fail(r"/repository/commits$", 500, times=100, method="POST")

    with pytest.raises(VendorUnavailable, match=r"^gitlab commit: answered 500: Injected failure \(500\)$"):
        await gitlab.commit(_PROJECT, "feature/down", "run-7/code", "Add app", _CODE)
    assert _statuses(gitlab_server, r"/repository/commits$") == [500, 500, 500]  # one try and two retries
    assert gitlab.guard.breaker_state == "open"
    assert REGISTRY.get_sample_value("opsdesk_crew_vendor_breaker_open", {"vendor": "gitlab"}) == 1

    with pytest.raises(VendorUnavailable, match="circuit breaker is open"):
        await gitlab.commit(_PROJECT, "feature/down", "run-7/code", "Add app", _CODE)
    assert len(_statuses(gitlab_server, r"/repository/commits$")) == 3  # refused without reaching GitLab


async def test_refusals_are_not_retried_and_never_open_the_breaker(
    gitlab: GitLabConnector, gitlab_server: GitLabServer
) -> None:
    for _ in range(5):
        with pytest.raises(VendorRejected, match="404 Project Not Found"):
            await gitlab.project("opsdesk/missing")
    assert gitlab.guard.breaker_state == "closed"
    assert (await gitlab.project(_PROJECT)).id == 1


async def test_confluence_that_never_answers_in_time_is_a_clear_timeout(
    confluence: ConfluenceConnector, confluence_server: ConfluenceServer
) -> None:
    confluence_server.faults.delay(r"/rest/api/content$", 10, times=10, method="POST")

    with pytest.raises(VendorUnavailable, match=r"^confluence put_page: timed out after 1s$"):
        await confluence.put_page("DEMO", "Slow", "<p>x</p>")
    assert confluence_server.contents == {}


async def test_confluence_slow_once_is_retried_and_the_page_made_once(
    confluence: ConfluenceConnector, confluence_server: ConfluenceServer
) -> None:
    confluence_server.faults.delay(r"/rest/api/content$", 10, times=1, method="POST")

    page = await confluence.put_page("DEMO", "Slow once", "<p>x</p>")

    assert page.created and len(confluence_server.contents) == 1


async def test_lost_jira_answer_after_the_bulk_create_does_not_create_twice(
    jira: JiraConnector, jira_server: JiraServer
) -> None:
    jira_server.faults.fail(r"/issue/bulk$", 502, after_applying=True)

    issues = await jira.create_issues("DEMO", _STORIES)

    assert len(jira_server.issues) == 3 and len(jira_server.writes(r"/issue/bulk$")) == 1
    assert sorted(issue.key for issue in issues) == sorted(jira_server.issues)


async def test_lost_gitlab_answers_do_not_commit_or_open_twice(
    gitlab: GitLabConnector, gitlab_server: GitLabServer
) -> None:
    await gitlab.ensure_branch(_PROJECT, "feature/lost", "main")
    gitlab_server.faults.fail(r"/repository/commits$", 502, method="POST", after_applying=True)
    gitlab_server.faults.fail(r"/merge_requests$", 502, method="POST", after_applying=True)

    commit = await gitlab.commit(_PROJECT, "feature/lost", "run-7/code", "Add app", _CODE)
    mr = await gitlab.merge_request(
        _PROJECT, "run-7/mr", source="feature/lost", target="main", title="T", description="D"
    )

    log = gitlab_server.repos[1].log("feature/lost")
    assert len(log) == 2 and log[0]["id"] == commit.sha
    assert len(gitlab_server.writes(r"/repository/commits$")) == 1
    assert [m["iid"] for m in gitlab_server.merge_requests[1]] == [mr.iid]


async def test_lost_confluence_answer_does_not_create_the_page_twice(
    confluence: ConfluenceConnector, confluence_server: ConfluenceServer
) -> None:
    confluence_server.faults.fail(r"/rest/api/content$", 500, method="POST", after_applying=True)

    page = await confluence.put_page("DEMO", "Once", "<p>x</p>")

    assert [c["title"] for c in confluence_server.contents.values()] == ["Once"]
    assert page.id in confluence_server.contents


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("7", 7.0),
        (" 2.5 ", 2.5),
        ("-3", 0.0),
        ("inf", None),
        ("nan", None),
        ("Wed, 21 Oct 2026 07:28:00 GMT", None),
        ("", None),
    ],
)
def test_retry_after_is_read_in_seconds_and_nonsense_is_ignored(header: str, seconds: float | None) -> None:
    assert parse_retry_after(header) == seconds
