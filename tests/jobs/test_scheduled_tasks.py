"""The periodic work of the order desk and the conversation runtime runs as scheduled tasks of the job layer."""

from __future__ import annotations

import asyncio
from pathlib import Path

from sqlalchemy import select

from opsdesk.jobs import registry
from opsdesk.jobs.models import Job, JobSchedule
from opsdesk.jobs.worker import JobWorker
from opsdesk.orders import tasks as order_tasks
from opsdesk.orders.chat.handlers import handle_order_message
from opsdesk.orders.models import Invoice
from tests.fakes.xero_server import FakeXero
from tests.orders.order_helpers import FORM_ORDER, TAMPINES_PHONE, Desk, open_desk, xero_settings


async def _invoice_status(desk: Desk) -> str:
    async with desk.ctx.db.session() as session:
        invoice = await session.scalar(select(Invoice).where(Invoice.workspace_id == desk.workspace_id))
    assert invoice is not None
    return invoice.status


async def _a_retry_run_posted(desk: Desk) -> bool:
    async with desk.ctx.db.session() as session:
        runs = await session.scalars(select(Job).where(Job.task == "orders.retry_pending_invoices"))
        return any(job.status == "succeeded" and (job.result or {}).get("posted") == 1 for job in runs)


async def test_the_invoice_retry_schedule_posts_a_pending_invoice(
    database_url: str, tmp_path: Path, fake_xero: FakeXero
) -> None:
    async with open_desk(database_url, tmp_path, **xero_settings(fake_xero, order_invoice_retry_s=0.2)) as desk:
        fake_xero.script(["500", "500"], "invoices")  # the first posting and its one retry
        await handle_order_message(desk.ctx, desk.workspace_id, "chat-1", TAMPINES_PHONE, FORM_ORDER, message_id="m1")
        await handle_order_message(desk.ctx, desk.workspace_id, "chat-1", TAMPINES_PHONE, "yes", message_id="m2")
        assert await _invoice_status(desk) == "pending"
        orders = {name: t for name, t in registry.registered().items() if name.startswith("orders.")}
        worker = JobWorker(desk.ctx, tasks=orders, poll_s=0.05)

        worker.start()
        try:
            for _ in range(600):  # a busy machine may take a while; the loop ends once the run that posted it ended
                if await _invoice_status(desk) == "posted" and await _a_retry_run_posted(desk):
                    break
                await asyncio.sleep(0.05)
        finally:
            await worker.stop()

        async with desk.ctx.db.session() as session:
            jobs = await session.scalars(select(Job).order_by(Job.created_at))
            seen = [(job.task, job.status, job.last_error) for job in jobs]
        assert await _invoice_status(desk) == "posted", seen
        assert len(fake_xero.invoices) == 1
        async with desk.ctx.db.session() as session:
            schedule = await session.get(JobSchedule, "orders.retry_pending_invoices")
            runs = list(await session.scalars(select(Job).where(Job.task == "orders.retry_pending_invoices")))
        assert schedule is not None and schedule.interval_s == 0.2  # from OPSDESK_ORDER_INVOICE_RETRY_S
        assert any(job.status == "succeeded" and (job.result or {}).get("posted") == 1 for job in runs), seen
        assert all((job.dedupe_key or "").startswith("schedule:orders.retry_pending_invoices:") for job in runs)


def test_the_periodic_work_is_declared_as_schedules() -> None:
    from opsdesk.conversation import tasks as conversation_tasks

    assert conversation_tasks.sla_check is not None and order_tasks.retry_invoices is not None
    tasks = registry.registered()
    assert tasks["conversation.sla_check"].every == 60.0
    assert tasks["conversation.whatsapp_sweep"].every == 60.0
    assert tasks["conversation.retention_purge"].cron == "20 3 * * *"  # daily
    assert tasks["orders.recover_interrupted"].scheduled
