"""The call records' retention purge, as a task of the job layer (daily). It applies the message retention
setting (OPSDESK_MESSAGE_RETENTION_DAYS): a call's transcript is a conversation's messages by another channel."""

from __future__ import annotations

from opsdesk.app.context import AppContext
from opsdesk.core.logging import get_logger
from opsdesk.jobs.registry import JobRun, task
from opsdesk.voice.calls.service import purge_old_calls

_log = get_logger(__name__)


@task("voice.calls_retention_purge", cron="35 3 * * *", max_attempts=3, backoff_base_s=300.0)
async def calls_retention_purge(ctx: AppContext, job: JobRun) -> dict[str, int]:
    """Deletes call records older than the retention period (0 keeps everything)."""
    async with ctx.db.session() as session:
        purged = await purge_old_calls(session, ctx.settings.message_retention_days)
    if purged:
        _log.info("voice_calls_purged", purged=purged)
    return {"purged_calls": purged}
