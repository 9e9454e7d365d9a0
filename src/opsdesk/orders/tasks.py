"""Background work of the order desk in one process: recover interrupted orders at start, retry pending invoices."""

from __future__ import annotations

import asyncio
import contextlib

from opsdesk.core.context import AppContext
from opsdesk.core.logging import get_logger
from opsdesk.orders.posting import retry_pending_invoices
from opsdesk.orders.runtime import close_order_flow, recover

log = get_logger(__name__)
_TASK_KEY = "orders.background"


async def run_once(ctx: AppContext) -> None:
    """One round: finish interrupted orders, then post the invoices whose retry time has come."""
    await recover(ctx)
    outcomes = await retry_pending_invoices(ctx)
    if outcomes:
        log.info("invoices_retried", attempted=len(outcomes), posted=sum(o.status == "posted" for o in outcomes))


async def _loop(ctx: AppContext) -> None:
    while True:
        try:
            await run_once(ctx)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a failed round must not end the loop; the next one tries again
            log.error("order_background_failed", error=f"{type(exc).__name__}: {exc}")
        await asyncio.sleep(ctx.settings.order_invoice_retry_s)


def start_in_process(ctx: AppContext) -> asyncio.Task[None]:
    """Starts the background loop (what `opsdesk up` calls beside the other workers)."""
    task = ctx.extras.get(_TASK_KEY)
    if isinstance(task, asyncio.Task) and not task.done():
        return task
    task = asyncio.create_task(_loop(ctx), name="orders-background")
    ctx.extras[_TASK_KEY] = task
    return task


async def stop_in_process(ctx: AppContext) -> None:
    """Stops the loop and closes the order flow and accounting clients (call before ``ctx.close()``)."""
    task = ctx.extras.pop(_TASK_KEY, None)
    if isinstance(task, asyncio.Task):
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    await close_order_flow(ctx)
