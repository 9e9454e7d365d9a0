"""A workspace to import into, on the suite's real PostgreSQL."""

from __future__ import annotations

import uuid

import pytest

from opsdesk.app.context import AppContext
from opsdesk.auth import service as auth


@pytest.fixture
async def workspace(ctx: AppContext) -> uuid.UUID:
    async with ctx.db.session() as session:
        workspace = await auth.create_workspace(session, "lakeside-ford")
        return uuid.UUID(str(workspace.id))
