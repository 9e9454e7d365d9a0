"""What a running opsdesk process holds: settings, database, providers, rate limiter. One per process."""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from opsdesk.core.logging import get_logger
from opsdesk.core.ratelimit import RateLimiter
from opsdesk.core.settings import Settings, get_settings
from opsdesk.db.engine import Database
from opsdesk.providers.accounting import CallRecorder
from opsdesk.providers.factory import ProviderRegistry

_log = get_logger(__name__)
T = TypeVar("T")


@dataclass
class AppContext:
    settings: Settings
    db: Database
    recorder: CallRecorder
    providers: ProviderRegistry
    limiter: RateLimiter
    extras: dict[str, Any] = field(default_factory=dict)

    @classmethod
    async def open(cls, settings: Settings, *, migrate: bool = True) -> AppContext:
        """Connects to (or starts) the database, applies migrations, builds providers."""
        db = Database(settings)
        await db.connect(migrate=migrate)
        recorder = CallRecorder(db)
        await recorder.start()
        providers = ProviderRegistry.from_settings(settings, recorder)
        redis_url = settings.redis_url.get_secret_value() if settings.redis_url else None
        return cls(settings=settings, db=db, recorder=recorder, providers=providers, limiter=RateLimiter(redis_url))

    async def close(self) -> None:
        """Closes what domains parked in `extras` (caches, flow pools, vendor clients), newest first, then the core."""
        for key in reversed(list(self.extras)):
            closer = getattr(self.extras.pop(key), "aclose", None)
            if closer is not None and inspect.iscoroutinefunction(closer):
                try:
                    await closer()
                except Exception as exc:  # one failing client must not keep the rest open
                    _log.warning("close_failed", extra_key=key, error=f"{type(exc).__name__}: {exc}")
        await self.providers.aclose()
        await self.recorder.aclose()
        await self.db.close()


def run_in_context(action: Callable[[AppContext], Awaitable[T]], settings: Settings | None = None) -> T:
    """A terminal command's whole use of the app: opens a context (starting the embedded database if needed), runs
    `action` with it, closes it and stops the database it started; an OpsdeskError ends the command with status 1."""
    from opsdesk.core.commands import run_command  # only terminal commands need Typer

    async def main() -> T:
        ctx = await AppContext.open(settings or get_settings())
        try:
            return await action(ctx)
        finally:
            await ctx.close()
            ctx.db.stop_server()

    return run_command(main)
