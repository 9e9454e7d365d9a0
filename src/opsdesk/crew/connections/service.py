"""The crew's vendor connections: stored per workspace with the token encrypted, turned into connectors on use."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from opsdesk.core.errors import InvalidInput, NotFound
from opsdesk.crew.connections.models import CrewConnection
from opsdesk.crew.connections.schemas import ConnectionCheck, ConnectionIn, Vendor
from opsdesk.crew.connections.secrets import TokenCipher
from opsdesk.crew.connectors import (
    ConfluenceConnector,
    ConnectorPolicy,
    GitLabConnector,
    JiraConnector,
    VendorCredentials,
    VendorError,
)
from opsdesk.db.paging import page

Connector = JiraConnector | ConfluenceConnector | GitLabConnector


async def list_connections(session: AsyncSession, workspace_id: uuid.UUID) -> list[CrewConnection]:
    """The workspace's connections, by vendor."""
    rows = await session.scalars(
        select(CrewConnection).where(CrewConnection.workspace_id == workspace_id).order_by(CrewConnection.vendor)
    )
    return list(rows)


async def page_connections(
    session: AsyncSession, workspace_id: uuid.UUID, *, limit: int, offset: int
) -> tuple[list[CrewConnection], int]:
    """A page of the workspace's connections by vendor (one per vendor, so a page never repeats or skips one) and
    their count."""
    query = select(CrewConnection).where(CrewConnection.workspace_id == workspace_id)
    return await page(session, query.order_by(CrewConnection.vendor), limit, offset)


async def get_connection(session: AsyncSession, workspace_id: uuid.UUID, vendor: Vendor) -> CrewConnection:
    """The workspace's connection to ``vendor`` (NotFound when there is none)."""
    row = await session.scalar(
        select(CrewConnection).where(CrewConnection.workspace_id == workspace_id, CrewConnection.vendor == vendor)
    )
    if row is None:
        raise NotFound(f"No {vendor} connection in this workspace.", code="crew_connection_not_found")
    return row


async def put_connection(
    session: AsyncSession, workspace_id: uuid.UUID, vendor: Vendor, body: ConnectionIn, cipher: TokenCipher
) -> tuple[CrewConnection, bool]:
    """Creates or replaces the connection; a new one needs a token. Returns it and whether it is new."""
    row = await session.scalar(
        select(CrewConnection)
        .where(CrewConnection.workspace_id == workspace_id, CrewConnection.vendor == vendor)
        .with_for_update()
    )
    created = row is None
    if row is None:
        if body.token is None:
            raise InvalidInput(f"A new {vendor} connection needs a token.", code="token_required")
        row = CrewConnection(workspace_id=workspace_id, vendor=vendor)
        session.add(row)
    row.base_url = body.base_url.rstrip("/")
    row.username = body.username
    row.scope = body.scope
    if body.token is not None:
        row.token_encrypted = cipher.encrypt(body.token)
    await session.flush()
    await session.refresh(row)
    return row, created


async def delete_connection(session: AsyncSession, workspace_id: uuid.UUID, vendor: Vendor) -> None:
    """Forgets the connection and its token."""
    await session.delete(await get_connection(session, workspace_id, vendor))
    await session.flush()


def credentials_of(row: CrewConnection, cipher: TokenCipher) -> VendorCredentials:
    """The connection's credentials with the token decrypted (as a SecretStr)."""
    return VendorCredentials(
        vendor=row.vendor, base_url=row.base_url, token=cipher.decrypt(row.token_encrypted), username=row.username
    )


def connector_for(row: CrewConnection, cipher: TokenCipher, policy: ConnectorPolicy | None = None) -> Connector:
    """A new connector for the stored connection (its own breaker and pace; close it after use)."""
    credentials = credentials_of(row, cipher)
    if row.vendor == "jira":
        return JiraConnector(credentials, policy)
    if row.vendor == "confluence":
        return ConfluenceConnector(credentials, policy)
    return GitLabConnector(credentials, policy)


class Connectors:
    """The process's connectors, one per stored connection version, so that a vendor's breaker and pace are shared
    by every run of the workspace (a new connector per call would forget that the vendor is failing)."""

    def __init__(self, cipher: TokenCipher, policy: ConnectorPolicy | None = None, *, capacity: int = 256) -> None:
        self._cipher = cipher
        self._policy = policy
        self._capacity = capacity
        self._open: dict[tuple[uuid.UUID, datetime], Connector] = {}

    async def get(self, row: CrewConnection) -> Connector:
        """The connector for this connection; a changed connection (new URL or token) gets a new one."""
        key = (row.id, row.updated_at)
        connector = self._open.get(key)
        if connector is None:
            for stale in [k for k in self._open if k[0] == row.id]:
                await self._open.pop(stale).aclose()
            if len(self._open) >= self._capacity:
                await self._open.pop(next(iter(self._open))).aclose()
            connector = self._open[key] = connector_for(row, self._cipher, self._policy)
        return connector

    async def aclose(self) -> None:
        """Closes every connector."""
        while self._open:
            await self._open.popitem()[1].aclose()


async def check_connection(
    session: AsyncSession, workspace_id: uuid.UUID, vendor: Vendor, cipher: TokenCipher, policy: ConnectorPolicy
) -> ConnectionCheck:
    """Signs in and looks the scope up (Jira project, Confluence space, GitLab project); says what went wrong."""
    row = await get_connection(session, workspace_id, vendor)
    if not row.scope:
        raise InvalidInput(f"Set the {vendor} connection's scope first: the check looks it up.", code="scope_required")
    connector = connector_for(row, cipher, policy)
    try:
        if isinstance(connector, JiraConnector):
            project = await connector.project(row.scope)
            detail = f"Jira project {project.key} ({project.name})"
        elif isinstance(connector, ConfluenceConnector):
            space = await connector.space(row.scope)
            detail = f"Confluence space {space.key} ({space.name})"
        else:
            repo = await connector.project(row.scope)
            detail = f"GitLab project {repo.path} (default branch {repo.default_branch})"
    except VendorError as exc:
        return ConnectionCheck(vendor=vendor, ok=False, detail=exc.message)
    finally:
        await connector.aclose()
    return ConnectionCheck(vendor=vendor, ok=True, detail=detail)
