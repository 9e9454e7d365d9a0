"""A vendor token never reaches logs or error messages, whatever happens on the way (opsdesk's and the SDKs' logs
at DEBUG, 401s, 500s, timeouts)."""

from __future__ import annotations

import base64
import logging
from collections.abc import Coroutine
from typing import Any

import pytest
from pydantic import SecretStr

from opsdesk.crew.connectors import (
    ConfluenceConnector,
    GitLabConnector,
    IssueDraft,
    JiraConnector,
    VendorCredentials,
    VendorError,
)
from opsdesk.crew.demo.servers import ConfluenceServer, GitLabServer, JiraServer
from tests.crew.conftest import POLICY, TOKEN, credentials

_BASIC = base64.b64encode(f"opsdesk:{TOKEN}".encode()).decode()


async def test_no_token_in_logs_or_errors_through_failures_of_every_vendor(
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
    jira: JiraConnector,
    jira_server: JiraServer,
    confluence: ConfluenceConnector,
    confluence_server: ConfluenceServer,
    gitlab: GitLabConnector,
    gitlab_server: GitLabServer,
) -> None:
    caplog.set_level(logging.DEBUG)
    jira_server.faults.fail(r"/issue/bulk$", 500, times=5)
    confluence_server.faults.fail(r"/rest/api/space", 429, retry_after_s=0, times=5)
    gitlab_server.faults.delay(r"/projects/", 10, times=5)
    errors: list[VendorError] = []

    await jira.project("DEMO")
    for call in (
        jira.create_issues("DEMO", []),
        jira.create_issue("DEMO", IssueDraft("run-1/story", "Story", "A story")),
        confluence.space("DEMO"),
        gitlab.project("opsdesk/demo"),
        jira.project("NOPE"),
    ):
        try:
            await call
        except VendorError as exc:
            errors.append(exc)

    assert len(errors) == 4
    captured = capsys.readouterr()
    seen = caplog.text + captured.out + captured.err + "".join(f"{exc!s}{exc!r}" for exc in errors)
    assert "crew_vendor_call" in seen
    assert TOKEN not in seen and _BASIC not in seen


@pytest.mark.parametrize("vendor", ["jira", "confluence", "gitlab"])
async def test_a_wrong_token_is_a_rejection_that_does_not_repeat_the_token(
    vendor: str,
    caplog: pytest.LogCaptureFixture,
    jira_server: JiraServer,
    confluence_server: ConfluenceServer,
    gitlab_server: GitLabServer,
) -> None:
    caplog.set_level(logging.DEBUG)
    wrong = "wrong-" + TOKEN[::-1]
    url = {"jira": jira_server.url, "confluence": confluence_server.url, "gitlab": gitlab_server.url}[vendor]
    creds = VendorCredentials(vendor=vendor, base_url=url, token=SecretStr(wrong), username="opsdesk")
    connector: JiraConnector | ConfluenceConnector | GitLabConnector
    lookup: Coroutine[Any, Any, object]
    if vendor == "jira":
        connector = JiraConnector(creds, POLICY)
        lookup = connector.project("DEMO")
    elif vendor == "confluence":
        connector = ConfluenceConnector(creds, POLICY)
        lookup = connector.space("DEMO")
    else:
        connector = GitLabConnector(creds, POLICY)
        lookup = connector.project("opsdesk/demo")
    try:
        with pytest.raises(VendorError, match=r"refused the credentials or permission \(401\)") as caught:
            await lookup
    finally:
        await connector.aclose()
    assert connector.guard.breaker_state == "closed"
    assert wrong not in caplog.text + str(caught.value) + repr(creds)
    assert credentials(vendor, url).token.get_secret_value() not in repr(credentials(vendor, url))
