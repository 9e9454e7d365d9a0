"""Background work of the conversation runtime, as tasks of the job layer: SLA checks of the operator inbox (every
minute), WhatsApp replies to send again (every minute) and the retention purge (daily). Any worker process runs
them, each slot once."""

from __future__ import annotations

from typing import Any

from opsdesk.app.context import AppContext
from opsdesk.conversation.escalation import check_sla
from opsdesk.conversation.service import purge_old_messages
from opsdesk.conversation.whatsapp import outbound
from opsdesk.conversation.whatsapp import tasks as whatsapp_tasks
from opsdesk.core.logging import get_logger
from opsdesk.jobs.registry import JobRun, task

_log = get_logger(__name__)


# Sweeps get one attempt per slot: the next slot, a minute later, is their retry.
@task("conversation.sla_check", every=60.0, max_attempts=1)
async def sla_check(ctx: AppContext, job: JobRun) -> dict[str, int]:
    """Moves overdue escalations of every workspace up one level."""
    async with ctx.db.session() as session:
        bumped = await check_sla(session, ctx.settings)
    if bumped:
        _log.info("conversation_sla_bumped", bumped=len(bumped))
    return {"bumped": len(bumped)}


@task("conversation.whatsapp_sweep", every=60.0, max_attempts=1)
async def whatsapp_sweep(ctx: AppContext, job: JobRun) -> dict[str, int]:
    """Sends the WhatsApp replies that are due again (a failed send, a process that died mid-reply)."""
    return await whatsapp_tasks.run_once(ctx, purge=False)


@task(outbound.TASK, max_attempts=8, backoff_base_s=30.0, backoff_cap_s=1800.0)
async def whatsapp_staff_message(ctx: AppContext, job: JobRun) -> dict[str, Any]:
    """Sends a message staff wrote to a WhatsApp customer (queued when it was stored)."""
    return await outbound.send_staff_message(ctx, whatsapp_tasks.worker(ctx).client, job)


@task("conversation.retention_purge", cron="20 3 * * *", max_attempts=3, backoff_base_s=300.0)
async def retention_purge(ctx: AppContext, job: JobRun) -> dict[str, int]:
    """Applies the message retention (OPSDESK_MESSAGE_RETENTION_DAYS; 0 keeps everything) to messages and to the
    WhatsApp queue's finished rows."""
    async with ctx.db.session() as session:
        purged = (await purge_old_messages(session, ctx.settings.message_retention_days)).messages
    await whatsapp_tasks.run_once(ctx, purge=True)
    if purged:
        _log.info("conversation_retention_purged", purged_messages=purged)
    return {"purged_messages": purged}
