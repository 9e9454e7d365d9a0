"""Background work of the conversation runtime: SLA checks of the operator inbox, the message retention purge, and
WhatsApp replies to send again."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass

from opsdesk.conversation.escalation import check_sla
from opsdesk.conversation.service import purge_old_messages
from opsdesk.conversation.whatsapp import tasks as whatsapp_tasks
from opsdesk.core.context import AppContext
from opsdesk.core.logging import get_logger

_log = get_logger(__name__)
_TASK_KEY = "conversation.background"
SLA_CHECK_EVERY_S = 60.0
PURGE_EVERY_S = 3600.0


@dataclass(frozen=True)
class Maintenance:
    bumped: int
    purged_messages: int


async def run_once(ctx: AppContext, *, purge: bool = True) -> Maintenance:
    """One round over every workspace: move overdue escalations up, and (with `purge`) apply retention."""
    async with ctx.db.session() as session:
        bumped = await check_sla(session, ctx.settings)
    purged = 0
    if purge:
        async with ctx.db.session() as session:
            purged = (await purge_old_messages(session, ctx.settings.message_retention_days)).messages
    if bumped or purged:
        _log.info("conversation_maintenance", bumped=len(bumped), purged_messages=purged)
    await whatsapp_tasks.run_once(ctx, purge=purge)  # WhatsApp replies due again (a failed send, a died process)
    return Maintenance(len(bumped), purged)


async def _loop(ctx: AppContext) -> None:
    last_purge = 0.0
    loop = asyncio.get_running_loop()
    while True:
        try:
            purge = loop.time() - last_purge >= PURGE_EVERY_S
            await run_once(ctx, purge=purge)
            if purge:
                last_purge = loop.time()
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a failed round must not end the loop; the next one tries again
            _log.error("conversation_maintenance_failed", error=f"{type(exc).__name__}: {exc}")
        await asyncio.sleep(SLA_CHECK_EVERY_S)


def start_in_process(ctx: AppContext) -> asyncio.Task[None]:
    """Starts the maintenance loop once per process (what `opsdesk up` or a worker calls)."""
    task = ctx.extras.get(_TASK_KEY)
    if isinstance(task, asyncio.Task) and not task.done():
        return task
    task = ctx.extras[_TASK_KEY] = asyncio.create_task(_loop(ctx), name="conversation-maintenance")
    return task


async def stop(ctx: AppContext) -> None:
    task = ctx.extras.pop(_TASK_KEY, None)
    if isinstance(task, asyncio.Task):
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
