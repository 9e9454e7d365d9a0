"""The call records' retention purge, as a task of the job layer (daily). It applies the message retention
setting (OPSDESK_MESSAGE_RETENTION_DAYS): a call's transcript is a conversation's messages by another channel.
Recordings go after OPSDESK_VOICE_RECORDING_RETENTION_DAYS (the message retention when unset), and with their
record at the latest."""

from __future__ import annotations

import asyncio

from opsdesk.app.context import AppContext
from opsdesk.core.logging import get_logger
from opsdesk.jobs.registry import JobRun, task
from opsdesk.voice.calls.service import purge_old_calls, purge_old_recordings, purge_recordings_dir

_log = get_logger(__name__)


@task("voice.calls_retention_purge", cron="35 3 * * *", max_attempts=3, backoff_base_s=300.0)
async def calls_retention_purge(ctx: AppContext, job: JobRun) -> dict[str, int]:
    """Deletes recordings and call records older than their retention periods (0 keeps everything)."""
    settings = ctx.settings
    recording_days = settings.voice_recording_retention_days
    if recording_days is None:
        recording_days = settings.message_retention_days
    async with ctx.db.session() as session:
        recordings = await purge_old_recordings(session, recording_days)
        purged = await purge_old_calls(session, settings.message_retention_days)
    if settings.voice_recordings_dir is not None:  # files no record names: a call without a workspace
        recordings += await asyncio.to_thread(purge_recordings_dir, settings.voice_recordings_dir, recording_days)
    if purged or recordings:
        _log.info("voice_calls_purged", purged=purged, recordings=recordings)
    return {"purged_calls": purged, "purged_recordings": recordings}
