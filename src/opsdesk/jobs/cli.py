"""`opsdesk jobs schedules|enable|disable`: the installation's background work from a terminal.

Schedules serve every workspace, so turning one off is for whoever runs the installation (this CLI, with the
database's credentials), not for a workspace's admin over the API, which can only read them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from opsdesk.core.commands import run_command
from opsdesk.core.settings import get_settings

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

jobs_app = typer.Typer(help="Background jobs and their schedules.", no_args_is_help=True)
console = Console()
err_console = Console(stderr=True, soft_wrap=True)
T = TypeVar("T")
_TIME = "%Y-%m-%d %H:%M:%S"


def _in_session(action: Callable[[AsyncSession], Awaitable[T]]) -> T:
    from opsdesk.db.engine import Database

    async def main() -> T:
        db = Database(get_settings())
        await db.connect()
        try:
            async with db.session() as session:
                return await action(session)
        finally:
            await db.close()
            db.stop_server()

    return run_command(main)


@jobs_app.command("schedules")
def schedules() -> None:
    """List the recurring tasks, whether each is on, and when it runs next."""
    from opsdesk.jobs import service

    rows = _in_session(service.list_schedules)
    if not rows:
        console.print("No schedules yet: a worker writes them when it starts (`opsdesk worker` or `opsdesk up`).")
        return
    table = Table("name", "when", "on", "next run (UTC)", "last run (UTC)")
    for row in rows:
        when = f"cron {row.cron}" if row.cron else f"every {row.interval_s:g} s"
        last = row.last_run_at.strftime(_TIME) if row.last_run_at else "never"
        table.add_row(row.name, when, "yes" if row.enabled else "no", row.next_run_at.strftime(_TIME), last)
    console.print(table)


def _set(name: str, enabled: bool) -> None:
    from opsdesk.jobs import service

    async def action(session: AsyncSession) -> None:
        await service.set_schedule_enabled(session, name, enabled)

    _in_session(action)
    console.print(f"Schedule {name} is {'on' if enabled else 'off'}.")


@jobs_app.command("enable")
def enable(name: str = typer.Argument(..., help="A schedule's name (see `opsdesk jobs schedules`).")) -> None:
    """Turn a schedule back on; it runs at its next slot from now (missed slots are not fired)."""
    _set(name, True)


@jobs_app.command("disable")
def disable(name: str = typer.Argument(..., help="A schedule's name (see `opsdesk jobs schedules`).")) -> None:
    """Turn a schedule off for every worker (kept when workers restart)."""
    _set(name, False)
