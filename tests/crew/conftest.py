"""The local Jira, Confluence and GitLab on real ports, and connectors to them with short test timings."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr

from opsdesk.crew.connectors import (
    ConfluenceConnector,
    ConnectorPolicy,
    GitLabConnector,
    JiraConnector,
    VendorCredentials,
)
from opsdesk.crew.demo.servers import ConfluenceServer, GitLabServer, JiraServer
from opsdesk.providers.resilience import RetryTiming

TOKEN = "tok-9f8e7d6c5b4a39281706"  # distinctive, so a leak into logs or answers is easy to find

# Short waits, few retries, a breaker that opens after three failures.
POLICY = ConnectorPolicy(
    timeout_s=1.0,
    max_retries=2,
    timing=RetryTiming(base_wait_s=0.01, max_wait_s=0.05, retry_after_cap_s=5.0),
    breaker_fail_max=3,
    breaker_reset_s=60.0,
    calls_per_second=1000.0,
)


def credentials(vendor: str, url: str, *, username: str | None = "opsdesk") -> VendorCredentials:
    return VendorCredentials(vendor=vendor, base_url=url, token=SecretStr(TOKEN), username=username)


@pytest.fixture
def jira_server() -> Iterator[JiraServer]:
    with JiraServer(token=TOKEN) as server:
        yield server


@pytest.fixture
def confluence_server() -> Iterator[ConfluenceServer]:
    with ConfluenceServer(token=TOKEN) as server:
        yield server


@pytest.fixture
def gitlab_server(tmp_path: Path) -> Iterator[GitLabServer]:
    with GitLabServer(tmp_path / "gitlab", token=TOKEN) as server:
        yield server


@pytest.fixture
async def jira(jira_server: JiraServer) -> AsyncIterator[JiraConnector]:
    connector = JiraConnector(credentials("jira", jira_server.url), POLICY)
    yield connector
    await connector.aclose()


@pytest.fixture
async def confluence(confluence_server: ConfluenceServer) -> AsyncIterator[ConfluenceConnector]:
    connector = ConfluenceConnector(credentials("confluence", confluence_server.url), POLICY)
    yield connector
    await connector.aclose()


@pytest.fixture
async def gitlab(gitlab_server: GitLabServer) -> AsyncIterator[GitLabConnector]:
    connector = GitLabConnector(credentials("gitlab", gitlab_server.url, username=None), POLICY)
    yield connector
    await connector.aclose()
