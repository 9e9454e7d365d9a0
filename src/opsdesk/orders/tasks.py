"""Background work of the order desk, as tasks of the job layer: finish orders a crash interrupted, and post the
invoices whose retry time has come. Both recur every OPSDESK_ORDER_INVOICE_RETRY_S seconds (the first run when a
worker starts); any worker process runs them, each slot once."""

from __future__ import annotations

from opsdesk.app.context import AppContext
from opsdesk.core.logging import get_logger
from opsdesk.core.settings import Settings
from opsdesk.jobs.registry import JobRun, task
from opsdesk.orders.chat.runtime import close_order_flow, recover
from opsdesk.orders.posting import retry_pending_invoices

log = get_logger(__name__)


def _every(settings: Settings) -> float:
    return float(settings.order_invoice_retry_s)


# One attempt per slot: the next slot is the retry (each invoice keeps its own backoff in `next_attempt_at`).
@task("orders.recover_interrupted", every=_every, max_attempts=1)
async def recover_interrupted(ctx: AppContext, job: JobRun) -> dict[str, int]:
    """Finishes confirmed orders a crash left without their delivery order or invoice."""
    return {"finished": await recover(ctx)}


@task("orders.retry_pending_invoices", every=_every, max_attempts=1)
async def retry_invoices(ctx: AppContext, job: JobRun) -> dict[str, int]:
    """Posts the pending invoices whose retry time has come."""
    outcomes = await retry_pending_invoices(ctx)
    posted = sum(outcome.status == "posted" for outcome in outcomes)
    if outcomes:
        log.info("invoices_retried", attempted=len(outcomes), posted=posted)
    return {"attempted": len(outcomes), "posted": posted}


async def close(ctx: AppContext) -> None:
    """Closes the order flow and accounting clients of this process (call before ``ctx.close()``)."""
    await close_order_flow(ctx)
