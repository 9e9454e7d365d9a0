"""A call's recording for a supervisor to listen to: the file its record names, served only when it is a regular file
inside the configured recordings directory, and every download written to the workspace's audit log.

Recordings hold the caller's own voice, PINs spoken aloud included, so listening needs `Permission.write` (operators
and admins), not the plain read that the masked records need; the role tables say so (`auth.roles`, `web.access`).
"""

from __future__ import annotations

from pathlib import Path

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from opsdesk.auth.audit import service as audit
from opsdesk.auth.service import Principal
from opsdesk.core.errors import NotFound
from opsdesk.core.logging import get_logger
from opsdesk.voice.calls.models import VoiceCall
from opsdesk.voice.calls.service import get_call

DOWNLOAD_ACTION = "download_call_recording"
_log = get_logger(__name__)


def confined_recording(stored: str, directory: Path) -> Path | None:
    """The real path of the recording `stored` names when it is an existing regular file strictly inside
    `directory`, once every symlink and `..` in either is resolved; None otherwise (missing, or outside)."""
    try:
        root = directory.resolve(strict=True)
        real = Path(stored).resolve(strict=True)
    except (OSError, RuntimeError):  # missing, unreadable, or a symlink loop
        return None
    if real == root or not real.is_relative_to(root) or not real.is_file():
        return None
    return real


async def recording_for_download(
    session: AsyncSession, directory: Path | None, principal: Principal, call_id: str, *, route: str
) -> tuple[VoiceCall, Path]:
    """The call and its recording's file, the download noted in the audit log (by `route`, the route's template).

    Raises NotFound when the call is not the workspace's, has no recording, recordings are off (`directory` None),
    or the file is gone or lies outside `directory`."""
    call = await get_call(session, principal.workspace_id, call_id)
    found = confined_recording(call.recording, directory) if call.recording and directory is not None else None
    if found is None:
        if call.recording:  # named but not servable: deleted by hand, or a record pointing elsewhere
            _log.warning("voice.recording_unavailable", call_id=call.call_id, recordings_dir_set=directory is not None)
        raise NotFound(f"Call {call_id} has no recording.", code="voice_recording_not_found")
    change = audit.Change(
        principal=principal,
        action=DOWNLOAD_ACTION,
        route=route,
        target={"call_id": call.call_id},
        details={},
        status=200,
        request_id=structlog.contextvars.get_contextvars().get("request_id"),
    )
    await audit.record(session, change)
    return call, found
