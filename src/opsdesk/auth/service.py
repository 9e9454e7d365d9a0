"""Users, workspaces, memberships and API keys: the rules, with the session passed in."""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
import uuid
from collections.abc import AsyncIterator, Callable, Coroutine
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from opsdesk.auth.models import ApiKey, Membership, User, Workspace
from opsdesk.auth.roles import Permission, Role, allows
from opsdesk.auth.security import hash_api_key, hash_password, new_api_key, verify_password
from opsdesk.core.errors import Conflict, InvalidInput, NotAuthenticated, NotFound, PermissionDenied
from opsdesk.core.logging import get_logger
from opsdesk.db.engine import Database

_log = get_logger("opsdesk.auth")

_SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
_LAST_USED_EVERY = timedelta(minutes=1)
_LISTENER_KEY = "auth.revocations"
REVOCATION_CHANNEL = "opsdesk_api_key_revoked"


@dataclass(frozen=True)
class Principal:
    """Who is calling: a user (through a JWT) or an API key, always inside one workspace."""

    kind: str  # "user" | "api_key"
    subject_id: uuid.UUID
    workspace_id: uuid.UUID
    workspace_slug: str
    role: Role

    def can(self, permission: Permission) -> bool:
        return allows(self.role, permission)

    def require(self, permission: Permission) -> None:
        if not self.can(permission):
            raise PermissionDenied(f"The role '{self.role.value}' may not {permission.value} here.")

    def require_workspace(self, slug: str) -> None:
        if slug != self.workspace_slug:
            raise PermissionDenied(
                f"These credentials belong to workspace '{self.workspace_slug}', not '{slug}'.",
                code="wrong_workspace",
            )

    @property
    def rate_key(self) -> str:
        return f"{self.kind}:{self.subject_id}"


async def create_workspace(session: AsyncSession, slug: str, name: str | None = None) -> Workspace:
    if not _SLUG.match(slug):
        raise InvalidInput("A workspace slug is 1-63 lowercase letters, digits or dashes, starting alphanumeric.")
    if await session.scalar(select(Workspace).where(Workspace.slug == slug)) is not None:
        raise Conflict(f"Workspace '{slug}' already exists.")
    workspace = Workspace(slug=slug, name=name or slug)
    session.add(workspace)
    await session.flush()
    return workspace


async def get_workspace(session: AsyncSession, slug: str) -> Workspace:
    workspace = await session.scalar(select(Workspace).where(Workspace.slug == slug))
    if workspace is None:
        raise NotFound(f"No workspace '{slug}'.")
    return workspace


async def get_or_create_workspace(session: AsyncSession, slug: str, name: str | None = None) -> Workspace:
    workspace = await session.scalar(select(Workspace).where(Workspace.slug == slug))
    return workspace if workspace is not None else await create_workspace(session, slug, name)


async def create_user(session: AsyncSession, email: str, password: str, display_name: str = "") -> User:
    email = email.strip().lower()
    if len(password) < 8:
        raise InvalidInput("A password has at least 8 characters.")
    if await session.scalar(select(User).where(User.email == email)) is not None:
        raise Conflict(f"A user with email {email} already exists.")
    user = User(email=email, password_hash=hash_password(password), display_name=display_name)
    session.add(user)
    await session.flush()
    return user


async def get_user_by_email(session: AsyncSession, email: str) -> User | None:
    return await session.scalar(select(User).where(User.email == email.strip().lower()))


async def add_member(session: AsyncSession, user: User, workspace: Workspace, role: Role) -> Membership:
    existing = await session.scalar(
        select(Membership).where(Membership.user_id == user.id, Membership.workspace_id == workspace.id)
    )
    if existing is not None:
        existing.role = role.value
        return existing
    membership = Membership(user_id=user.id, workspace_id=workspace.id, role=role.value)
    session.add(membership)
    await session.flush()
    return membership


async def list_members(
    session: AsyncSession, workspace_id: uuid.UUID, limit: int, offset: int
) -> tuple[list[tuple[User, Membership]], int]:
    query = select(User, Membership).join(Membership, Membership.user_id == User.id)
    query = query.where(Membership.workspace_id == workspace_id)
    total = await session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = await session.execute(query.order_by(User.email).limit(limit).offset(offset))
    return [(user, membership) for user, membership in rows], total


async def verify_user(session: AsyncSession, email: str, password: str) -> User:
    """The active user with this email and password, or NotAuthenticated (the same answer for every failure)."""
    user = await get_user_by_email(session, email)
    if user is None or not user.is_active or not verify_password(password, user.password_hash):
        raise NotAuthenticated("Wrong email or password.", code="invalid_credentials")
    return user


async def workspaces_of(session: AsyncSession, user_id: uuid.UUID) -> list[tuple[Workspace, Role]]:
    """The workspaces a user is a member of, with the role in each, by slug."""
    query = select(Workspace, Membership.role).join(Membership, Membership.workspace_id == Workspace.id)
    rows = await session.execute(query.where(Membership.user_id == user_id).order_by(Workspace.slug))
    return [(workspace, Role(role)) for workspace, role in rows]


async def authenticate(
    session: AsyncSession, email: str, password: str, workspace_slug: str | None
) -> tuple[User, Workspace, Role]:
    """Checks a password and picks the workspace (the only one, or the one named)."""
    user = await verify_user(session, email, password)
    query = select(Workspace, Membership).join(Membership, Membership.workspace_id == Workspace.id)
    query = query.where(Membership.user_id == user.id)
    if workspace_slug is not None:
        query = query.where(Workspace.slug == workspace_slug)
    rows = list(await session.execute(query.order_by(Workspace.slug)))
    if not rows:
        raise PermissionDenied("This user is not a member of that workspace.", code="wrong_workspace")
    if workspace_slug is None and len(rows) > 1:
        names = ", ".join(workspace.slug for workspace, _ in rows)
        raise InvalidInput(f"This user belongs to several workspaces ({names}); name one in 'workspace'.")
    workspace, membership = rows[0]
    return user, workspace, Role(membership.role)


async def principal_for_user(session: AsyncSession, user_id: uuid.UUID, workspace_id: uuid.UUID) -> Principal:
    """Re-checks a token's user against the database, so removed users and members lose access at once."""
    row = (
        await session.execute(
            select(User.is_active, Membership.role, Workspace.slug)
            .join(Membership, Membership.user_id == User.id)
            .join(Workspace, Workspace.id == Membership.workspace_id)
            .where(User.id == user_id, Workspace.id == workspace_id)
        )
    ).first()
    if row is None or not row.is_active:
        raise NotAuthenticated("This account no longer has access to the workspace.", code="invalid_token")
    return Principal("user", user_id, workspace_id, row.slug, Role(row.role))


async def create_api_key(
    session: AsyncSession,
    workspace: Workspace,
    name: str,
    role: Role,
    created_by: uuid.UUID | None = None,
    expires_at: datetime | None = None,
) -> tuple[str, ApiKey]:
    key, prefix, key_hash = new_api_key()
    record = ApiKey(
        workspace_id=workspace.id,
        name=name,
        prefix=prefix,
        key_hash=key_hash,
        role=role.value,
        created_by=created_by,
        expires_at=expires_at,
    )
    session.add(record)
    try:
        await session.flush()
    except IntegrityError as exc:  # pragma: no cover - 256-bit collision
        raise Conflict("Key collision; try again.") from exc
    return key, record


async def list_api_keys(
    session: AsyncSession, workspace_id: uuid.UUID, limit: int, offset: int, include_revoked: bool = False
) -> tuple[list[ApiKey], int]:
    query = select(ApiKey).where(ApiKey.workspace_id == workspace_id)
    if not include_revoked:
        query = query.where(ApiKey.revoked_at.is_(None))
    total = await session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = await session.scalars(query.order_by(ApiKey.created_at.desc(), ApiKey.id).limit(limit).offset(offset))
    return list(rows), total


async def revoke_api_key(session: AsyncSession, workspace_id: uuid.UUID, key_id: uuid.UUID) -> ApiKey:
    record = await session.scalar(select(ApiKey).where(ApiKey.id == key_id, ApiKey.workspace_id == workspace_id))
    if record is None:
        raise NotFound("No such API key in this workspace.")
    if record.revoked_at is None:
        record.revoked_at = datetime.now(UTC)
    api_key_cache.forget(record.key_hash)
    # Delivered at commit to every listening process (API processes, whichever process revoked: API or CLI).
    await session.execute(select(func.pg_notify(REVOCATION_CHANNEL, record.key_hash)))
    return record


async def revoke_api_key_by_prefix(session: AsyncSession, prefix: str) -> ApiKey:
    records = list(await session.scalars(select(ApiKey).where(ApiKey.prefix == prefix)))
    if not records:
        raise NotFound(f"No API key starts with {prefix}.")
    if len(records) > 1:
        raise InvalidInput(f"Several keys start with {prefix}; revoke by id.")
    return await revoke_api_key(session, records[0].workspace_id, records[0].id)


class _ApiKeyCache:
    """Resolved keys for a couple of seconds, so hot paths skip one query; a revocation anywhere clears at once.

    Every process that serves keys listens for revocations on PostgreSQL (`RevocationListener`) and drops the key
    when one arrives. After `ttl_s` an entry is stale: while the listener is connected it is served for another
    `ttl_s` while one background lookup per key refreshes it, so a busy key never makes every in-flight request wait
    on the database at once. While no listener is connected, only fresh entries are served (the short TTL is then
    the only bound on a revocation made elsewhere).
    """

    def __init__(self, ttl_s: float = 2.0) -> None:
        self.ttl_s = ttl_s
        self.listeners = 0  # connected revocation listeners in this process
        self._items: dict[str, tuple[float, Principal, datetime | None]] = {}
        self._refreshing: dict[str, asyncio.Task[None]] = {}

    def get(self, key_hash: str) -> Principal | None:
        """A fresh entry, or None."""
        return self._lookup(key_hash, 0.0)

    def get_stale(self, key_hash: str) -> Principal | None:
        """An entry up to one TTL past its freshness (only while revocations are heard), or None; the caller should
        refresh it."""
        return self._lookup(key_hash, self.ttl_s) if self.listeners > 0 else None

    def put(self, key_hash: str, principal: Principal, expires_at: datetime | None) -> None:
        if len(self._items) > 10_000:
            self._items.clear()
        self._items[key_hash] = (time.monotonic() + self.ttl_s, principal, expires_at)

    def forget(self, key_hash: str) -> None:
        self._items.pop(key_hash, None)

    def clear(self) -> None:
        self._items.clear()

    def refresh_in_background(self, key_hash: str, refresh: Callable[[], Coroutine[Any, Any, None]]) -> None:
        """Starts `refresh` unless one is already running for this key."""
        if key_hash in self._refreshing:
            return
        task = asyncio.create_task(refresh())
        self._refreshing[key_hash] = task
        task.add_done_callback(lambda _: self._refreshing.pop(key_hash, None))

    def _lookup(self, key_hash: str, grace_s: float) -> Principal | None:
        item = self._items.get(key_hash)
        if item is None or item[0] + grace_s < time.monotonic():
            return None
        if item[2] is not None and item[2] <= datetime.now(UTC):
            return None
        return item[1]


api_key_cache = _ApiKeyCache()


class RevocationListener:
    """LISTENs for revoked keys on its own PostgreSQL connection and drops them from this process's key cache.

    Reconnects with a growing pause when the connection is lost; the cache is emptied on every (re)connect, since a
    revocation may have been missed while no one listened.
    """

    def __init__(self, database_url: str) -> None:
        from opsdesk.db.locks import plain_dsn

        self._dsn = plain_dsn(database_url)
        self._task: asyncio.Task[None] | None = None
        self._conn: Any = None
        self._waiting: dict[str, asyncio.Event] = {}
        self.connected = asyncio.Event()

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="api-key-revocations")

    def _heard(self, _conn: Any, _pid: int, _channel: str, key_hash: str) -> None:
        api_key_cache.forget(key_hash)
        if (event := self._waiting.get(key_hash)) is not None:
            event.set()

    @contextlib.asynccontextmanager
    async def expecting(self, key_hash: str, timeout_s: float) -> AsyncIterator[None]:
        """Around a revoking commit: returns once this process has heard the revocation too (or after timeout_s).

        PostgreSQL signals every listening session at commit, so hearing our own copy means the other processes'
        copies are on their way; answering only then closes most of the moment in which another process could
        still serve the key.
        """
        event = self._waiting.setdefault(key_hash, asyncio.Event())
        try:
            yield
            if self.connected.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(event.wait(), timeout_s)
        finally:
            self._waiting.pop(key_hash, None)

    async def _run(self) -> None:
        import asyncpg

        pause = 0.5
        while True:
            lost = asyncio.Event()
            try:
                self._conn = await asyncpg.connect(self._dsn, timeout=10)
                self._conn.add_termination_listener(lambda _, lost=lost: lost.set())
                await self._conn.add_listener(REVOCATION_CHANNEL, self._heard)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                _log.warning("api_key_revocations_unavailable", error=f"{type(exc).__name__}: {exc}", retry_s=pause)
                await self._close()
                await asyncio.sleep(pause)
                pause = min(pause * 2, 10.0)
                continue
            api_key_cache.clear()
            api_key_cache.listeners += 1
            self.connected.set()
            pause = 0.5
            try:
                await lost.wait()
                _log.warning("api_key_revocations_lost")
            finally:
                api_key_cache.listeners -= 1
                self.connected.clear()
                await self._close()

    async def _close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None and not conn.is_closed():
            try:
                await conn.close(timeout=1)
            except Exception:  # already broken
                conn.terminate()

    async def aclose(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        await self._close()


def listen_for_revocations(extras: dict[str, Any], database_url: str) -> RevocationListener:
    """This process's revocation listener, started on first use and closed with the app context."""
    listener = extras.get(_LISTENER_KEY)
    if not isinstance(listener, RevocationListener):
        listener = extras[_LISTENER_KEY] = RevocationListener(database_url)
        listener.start()
    return listener


async def revoke_and_wait(
    session: AsyncSession, extras: dict[str, Any], database_url: str, workspace_id: uuid.UUID, key_id: uuid.UUID
) -> ApiKey:
    """Revokes a key and commits; returns once this process has heard the revocation (at most 1 s), so the other
    processes' copies are on their way before the caller answers (the API and the console both revoke this way)."""
    listener = listen_for_revocations(extras, database_url)
    record = await revoke_api_key(session, workspace_id, key_id)
    async with listener.expecting(record.key_hash, timeout_s=1.0):
        await session.commit()  # the notification goes out now
    return record


async def principal_for_api_key(session: AsyncSession, key: str) -> Principal:
    key_hash = hash_api_key(key)
    cached = api_key_cache.get(key_hash)
    if cached is not None:
        return cached
    row = (
        await session.execute(
            select(ApiKey, Workspace.slug)
            .join(Workspace, Workspace.id == ApiKey.workspace_id)
            .where(ApiKey.key_hash == key_hash)
        )
    ).first()
    if row is None:
        raise NotAuthenticated("Unknown API key.", code="invalid_api_key")
    record, slug = row.tuple()
    now = datetime.now(UTC)
    if record.revoked_at is not None:
        raise NotAuthenticated("This API key has been revoked.", code="api_key_revoked")
    if record.expires_at is not None and record.expires_at <= now:
        raise NotAuthenticated("This API key has expired.", code="api_key_expired")
    if record.last_used_at is None or now - record.last_used_at > _LAST_USED_EVERY:
        await session.execute(update(ApiKey).where(ApiKey.id == record.id).values(last_used_at=now))
    principal = Principal("api_key", record.id, record.workspace_id, slug, Role(record.role))
    api_key_cache.put(key_hash, principal, record.expires_at)
    return principal


async def refresh_cached_api_key(db: Database, key: str) -> None:
    """Re-reads a stale cached key; a revoked, expired or deleted key leaves the cache."""
    try:
        async with db.session() as session:
            await principal_for_api_key(session, key)
    except NotAuthenticated:
        api_key_cache.forget(hash_api_key(key))
    except Exception as exc:  # the stale entry lapses on its own; the next request then reports the problem
        _log.warning("api_key_refresh_failed", error=f"{type(exc).__name__}: {exc}")
