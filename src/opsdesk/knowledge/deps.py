"""Dependencies shared by the knowledge routers: permissions, a session committed before the response, NUL guards
(paging is `opsdesk.auth.deps.paging`, as for every list)."""

from __future__ import annotations

from fastapi import Depends, Request

from opsdesk.auth.deps import get_session, require_in_workspace
from opsdesk.auth.roles import Permission
from opsdesk.core.errors import InvalidInput

PREFIX = "/api/v1/workspaces/{workspace}/knowledge-bases"
can_read = require_in_workspace(Permission.read)
can_write = require_in_workspace(Permission.write)
# Committed before the response is sent: a client told "created" can read it back at once, and a failed commit is
# an error response rather than a lost write.
session_dep = Depends(get_session, scope="function")


async def reject_nul(request: Request) -> None:
    """PostgreSQL text cannot hold NUL characters: refuse them in the path and query with a 400, not a 500."""
    for name, value in [*request.path_params.items(), *request.query_params.multi_items()]:
        if "\x00" in str(value):
            raise InvalidInput(f"'{name}' must not contain NUL characters.", code="invalid_value")


guards = [Depends(reject_nul)]
