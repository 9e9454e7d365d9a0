"""First start: the default workspace and its first admin, so a new install can be used at once."""

from __future__ import annotations

import os
import secrets

from sqlalchemy import func, select

from opsdesk.app.context import AppContext
from opsdesk.auth import service as auth
from opsdesk.auth.models import User
from opsdesk.auth.roles import Role
from opsdesk.core.logging import get_logger
from opsdesk.core.settings import Settings
from opsdesk.db.engine import Database

_log = get_logger(__name__)


async def ensure_first_admin(db: Database, settings: Settings) -> str | None:
    """Creates the default workspace and an admin when there are no users; returns a generated password."""
    async with db.session() as session:
        users = await session.scalar(select(func.count()).select_from(User)) or 0
        workspace = await auth.get_or_create_workspace(session, settings.default_workspace)
        if users:
            return None
        generated = settings.admin_password is None
        password = secrets.token_urlsafe(12) if generated else settings.admin_password.get_secret_value()  # type: ignore[union-attr]
        user = await auth.create_user(session, settings.admin_email, password, "Administrator")
        await auth.add_member(session, user, workspace, Role.admin)
    if generated:
        path = settings.data_dir / "admin-password"
        path.parent.mkdir(parents=True, exist_ok=True)  # with an external database nothing else has made it yet
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # never readable by others
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(password + "\n")
        path.chmod(0o600)  # an older file keeps its mode through O_TRUNC
        _log.info("first_admin_created", email=settings.admin_email, password_file=str(path))
        return password
    return None


async def warm_up(ctx: AppContext) -> None:
    """Loads the local models before the first request instead of during it."""
    await ctx.providers.embedder().embed(["warm up"])
    for name in ctx.providers.names:
        inner = getattr(ctx.providers.chat(name), "inner", None)
        warmup = getattr(inner, "warmup", None)
        if warmup is not None:
            await warmup()
            _log.info("model_loaded", provider=name)
