"""The local Jira, Confluence and GitLab on real ports, and connectors to them with short test timings."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from opsdesk.app.context import AppContext
from opsdesk.crew.connections.schemas import ConnectionIn
from opsdesk.crew.connections.secrets import TokenCipher
from opsdesk.crew.connections.service import put_connection
from opsdesk.crew.connectors import (
    ConfluenceConnector,
    ConnectorPolicy,
    GitLabConnector,
    JiraConnector,
    VendorCredentials,
)
from opsdesk.crew.demo.servers import ConfluenceServer, GitLabServer, JiraServer
from opsdesk.crew.demo.servers.run import DemoVendors
from opsdesk.crew.flow.runtime import CrewFlow, new_crew_flow
from opsdesk.crew.sandbox import SandboxLimits
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
# The flow's connectors: the same short waits, and a breaker that a few faults in a row do not open (the fault tests
# check that the run pauses and resumes, not the breaker, which tests/crew/test_faults.py covers).
FLOW_POLICY = ConnectorPolicy(
    timeout_s=2.0,
    max_retries=2,
    timing=RetryTiming(base_wait_s=0.01, max_wait_s=0.05, retry_after_cap_s=5.0),
    breaker_fail_max=50,
    breaker_reset_s=1.0,
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


# ------------------------------------------------------------------------------------------- the flow's fixtures


@pytest.fixture
async def crew_workspace(ctx: AppContext, tenant: Any, tmp_path: Path) -> AsyncIterator[CrewWorkspace]:
    """A workspace connected to a local Jira, Confluence and GitLab (on their own ports, state in tmp_path)."""
    vendors = DemoVendors.start(tmp_path / "vendors", token=TOKEN)
    cipher = TokenCipher(ctx.settings.jwt_secret())
    async with ctx.db.session() as session:
        for vendor, url, username, scope in (
            ("jira", vendors.jira.url, "opsdesk", "DEMO"),
            ("confluence", vendors.confluence.url, "opsdesk", "DEMO"),
            ("gitlab", vendors.gitlab.url, None, "opsdesk/demo"),
        ):
            body = ConnectionIn(base_url=url, username=username, token=TOKEN, scope=scope)
            await put_connection(session, tenant.workspace_id, vendor, body, cipher)  # type: ignore[arg-type]
    try:
        yield CrewWorkspace(tenant.workspace_id, vendors, tenant)
    finally:
        vendors.stop()


@dataclass
class CrewWorkspace:
    workspace_id: uuid.UUID
    vendors: DemoVendors
    tenant: Any


@pytest.fixture
async def crew_flow(ctx: AppContext) -> AsyncIterator[CrewFlow]:
    """A crew flow on the test database with the short connector policy (its own pool; closed after the test)."""
    flow = await new_crew_flow(ctx, policy=FLOW_POLICY, limits=SandboxLimits(time_s=120))
    yield flow
    await flow.aclose()
