"""Demo data for `make run`: what a new user needs to try opsdesk at once."""

from __future__ import annotations

from opsdesk.core.context import AppContext
from opsdesk.core.logging import get_logger

_log = get_logger(__name__)


async def load_demo(ctx: AppContext) -> None:
    """Loads every solution's demo data that is not there yet (idempotent)."""
    _log.info("demo_loaded", workspace=ctx.settings.default_workspace)
