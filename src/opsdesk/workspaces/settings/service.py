"""Reading and changing a workspace's business settings; a short-lived per-process cache for the hot paths.

A workspace stores only what it changed; everything else is the process's defaults (the ``OPSDESK_ORDER_*`` and
``OPSDESK_ESCALATION_*`` environment variables), so a workspace that never changed anything behaves as before.
A change bumps the row's ``version``; a cached copy older than ``CACHE_TTL_S`` is checked against that version
(one primary-key read) before it is used, so other API processes see a change within that time and this process
at once.
"""

from __future__ import annotations

import io
import time
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from PIL import Image
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from opsdesk.app.context import AppContext
from opsdesk.core.errors import ConfigurationError, NotFound, OpsdeskError
from opsdesk.core.settings import Settings
from opsdesk.db.base import utcnow
from opsdesk.db.engine import Database
from opsdesk.knowledge.service import get_kb
from opsdesk.workspaces.settings.models import WorkspaceSettingsRow
from opsdesk.workspaces.settings.schemas import (
    ESCALATION_LEVELS,
    LogoOut,
    WorkspaceSettings,
    WorkspaceSettingsOut,
)

CACHE_TTL_S = 2.0
LOGO_MAX_BYTES = 512 * 1024
LOGO_TYPES = {b"\x89PNG\r\n\x1a\n": "image/png", b"\xff\xd8\xff": "image/jpeg"}
# Settings whose value is replaced whole by a change (the other objects are merged key by key).
_WHOLE_VALUES = frozenset({("anomalies", "item_ceilings")})


class InvalidSettings(OpsdeskError):
    """A change that would leave the settings invalid: 422 naming the setting and why."""

    status_code = 422
    error_type = "invalid_request_error"


def defaults_document(settings: Settings) -> dict[str, Any]:
    """The settings of a workspace that changed nothing, from the environment variables."""
    limits = settings.escalation_money_limits
    minutes = settings.escalation_sla_minutes
    return {
        "seller": {
            "name": settings.order_seller_name,
            "address_lines": list(settings.order_seller_address),
            "registration_number": settings.order_seller_registration,
            "tax_registration": settings.order_seller_tax_registration,
            "email": settings.order_seller_email,
            "phone": settings.order_seller_phone,
            "payment_instructions": settings.order_payment_instructions,
        },
        "currency": settings.order_currency,
        "payment_terms_days": settings.order_payment_terms_days,
        "tax": {"name": settings.order_tax_label, "rate": settings.order_tax_rate},
        "delivery": {
            "time_zone": settings.order_timezone,
            "same_day_cutoff": settings.order_same_day_cutoff,
            "weekdays": list(settings.order_delivery_weekdays),
            "slots": list(settings.order_delivery_slots),
            "lead_days": max(0, settings.order_lead_days),
        },
        "anomalies": {
            "multiplier": settings.order_anomaly_multiplier,
            "min_history": max(1, settings.order_anomaly_min_history),
            "history_orders": max(1, settings.order_anomaly_history_orders),
            "line_ceiling_units": settings.order_anomaly_ceiling_units,
            "item_ceilings": dict(settings.order_anomaly_item_ceilings),
            "order_total_ceiling": settings.order_anomaly_ceiling_total,
        },
        "urgency": {
            "to_inbox": settings.order_urgent_to_inbox,
            "escalation_level": settings.order_urgent_escalation_level,
        },
        "escalation": {
            level: {
                "money_limit": None if level == "director" else limits.get(level),
                "sla_minutes": minutes.get(level, 60),
            }
            for level in ESCALATION_LEVELS
        },
        "knowledge_bases": list(settings.order_knowledge_bases),
    }


def default_settings(settings: Settings) -> WorkspaceSettings:
    """The defaults, validated; a ConfigurationError names the environment variable's setting that is wrong."""
    try:
        return WorkspaceSettings.model_validate(defaults_document(settings))
    except ValidationError as exc:
        message, _ = _explain(exc)
        raise ConfigurationError(f"The OPSDESK_ORDER_*/ESCALATION_* defaults are invalid. {message}") from exc


def merge(base: Mapping[str, Any], change: Mapping[str, Any], path: tuple[str, ...] = ()) -> dict[str, Any]:
    """``change`` applied to ``base`` as a JSON merge patch: objects merge, null removes, anything else replaces."""
    merged = dict(base)
    for key, value in change.items():
        here = (*path, key)
        if value is None:
            merged.pop(key, None)
        elif isinstance(value, Mapping) and here not in _WHOLE_VALUES and isinstance(merged.get(key), Mapping):
            merged[key] = merge(merged[key], value, here)
        elif isinstance(value, Mapping) and here not in _WHOLE_VALUES:
            merged[key] = merge({}, value, here)
        else:
            merged[key] = value
    return merged


def changed_names(document: Mapping[str, Any], path: tuple[str, ...] = ()) -> list[str]:
    """Dotted names of the values a stored document sets."""
    names: list[str] = []
    for key, value in document.items():
        here = (*path, key)
        if isinstance(value, Mapping) and here not in _WHOLE_VALUES:
            names += changed_names(value, here)
        else:
            names.append(".".join(here))
    return names


def _pick(full: Mapping[str, Any], shape: Mapping[str, Any], path: tuple[str, ...] = ()) -> dict[str, Any]:
    """The values of ``full`` (normalised by validation) at the places ``shape`` sets."""
    picked: dict[str, Any] = {}
    for key, value in shape.items():
        here = (*path, key)
        if isinstance(value, Mapping) and here not in _WHOLE_VALUES and isinstance(full.get(key), Mapping):
            picked[key] = _pick(full[key], value, here)
        elif key in full:
            picked[key] = full[key]
    return picked


def _explain(exc: ValidationError) -> tuple[str, list[dict[str, Any]]]:
    details = []
    for error in exc.errors():
        message = str(error.get("msg", "invalid")).removeprefix("Value error, ")
        loc = [str(part) for part in error.get("loc", ())]
        details.append({"loc": loc, "msg": message, "type": error.get("type")})
    messages = [f"'{'.'.join(d['loc']) or 'settings'}': {d['msg']}" for d in details]
    return "Invalid settings: " + "; ".join(messages[:5]) + ("; …" if len(messages) > 5 else "") + ".", details


def _validated(defaults: Mapping[str, Any], stored: Mapping[str, Any]) -> WorkspaceSettings:
    try:
        return WorkspaceSettings.model_validate(merge(defaults, stored))
    except ValidationError as exc:
        message, details = _explain(exc)
        raise InvalidSettings(message, code="invalid_settings", details=details) from exc


@dataclass(frozen=True, slots=True)
class Loaded:
    """The settings in effect for a workspace and the version they are at (0: the defaults)."""

    settings: WorkspaceSettings
    version: int


async def _row(session: AsyncSession, workspace_id: uuid.UUID, *, for_update: bool = False) -> WorkspaceSettingsRow:
    query = select(WorkspaceSettingsRow).where(WorkspaceSettingsRow.workspace_id == workspace_id)
    found = await session.scalar(query.with_for_update() if for_update else query)
    return found if found is not None else WorkspaceSettingsRow(workspace_id=workspace_id, settings={}, version=0)


async def load(session: AsyncSession, settings: Settings, workspace_id: uuid.UUID) -> Loaded:
    """The workspace's settings in effect, read now (no cache)."""
    row = await _row(session, workspace_id)
    if not row.settings:
        return Loaded(default_settings(settings), row.version)
    return Loaded(_validated(defaults_document(settings), row.settings), row.version)


async def read(session: AsyncSession, settings: Settings, workspace_id: uuid.UUID) -> WorkspaceSettingsOut:
    """What GET returns."""
    row = await _row(session, workspace_id)
    return _out(row, _validated(defaults_document(settings), row.settings or {}))


def _out(row: WorkspaceSettingsRow, effective: WorkspaceSettings) -> WorkspaceSettingsOut:
    logo = LogoOut(content_type=row.logo_content_type or "", size=len(row.logo)) if row.logo else None
    return WorkspaceSettingsOut(
        settings=effective,
        changed=changed_names(row.settings or {}),
        version=row.version,
        logo=logo,
        updated_at=row.updated_at if row.version else None,
    )


async def update(
    session: AsyncSession, settings: Settings, workspace_id: uuid.UUID, change: Mapping[str, Any]
) -> WorkspaceSettingsOut:
    """Applies a partial change (JSON merge patch; null returns a setting to its default) after checking it."""
    row = await _row(session, workspace_id, for_update=True)
    defaults = defaults_document(settings)
    stored = merge(row.settings or {}, change)
    effective = _validated(defaults, stored)
    if "knowledge_bases" in change:
        await _check_knowledge_bases(session, workspace_id, effective.knowledge_bases)
    row.settings = _pick(effective.model_dump(mode="json"), stored)
    await _save(session, row)
    return _out(row, effective)


async def _check_knowledge_bases(session: AsyncSession, workspace_id: uuid.UUID, names: Iterable[str]) -> None:
    missing = []
    for name in names:
        try:
            await get_kb(session, workspace_id, name)
        except NotFound:
            missing.append(name)
    if missing:
        quoted = ", ".join(f"'{name}'" for name in missing)
        raise InvalidSettings(
            f"Invalid settings: 'knowledge_bases': no knowledge base {quoted} in this workspace.",
            code="unknown_knowledge_base",
            details=[{"loc": ["knowledge_bases"], "msg": f"unknown: {quoted}", "missing": missing}],
        )


async def _save(session: AsyncSession, row: WorkspaceSettingsRow) -> None:
    row.version = (row.version or 0) + 1
    row.updated_at = utcnow()
    if row not in session:
        session.add(row)
    await session.flush()


def logo_type(data: bytes) -> str | None:
    """The image type by its first bytes (PNG or JPEG), never by the name or header the client sent."""
    return next((kind for magic, kind in LOGO_TYPES.items() if data.startswith(magic)), None)


def _check_image(data: bytes) -> None:
    """The image must decode (not just start like one) and be of a sensible size."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.verify()
            width, height = image.size
    except Exception as exc:  # Pillow raises many kinds for a broken file
        raise InvalidSettings("The logo is not a readable PNG or JPEG image.", code="unreadable_logo") from exc
    if not (1 <= width <= 4000 and 1 <= height <= 4000):
        raise InvalidSettings("The logo must be at most 4000 x 4000 pixels.", code="logo_too_large")


async def set_logo(session: AsyncSession, workspace_id: uuid.UUID, data: bytes) -> WorkspaceSettingsRow:
    """Stores the logo printed on invoices (PNG or JPEG, at most ``LOGO_MAX_BYTES``)."""
    kind = logo_type(data)
    if kind is None:
        raise InvalidSettings("The logo must be a PNG or JPEG image.", code="unsupported_logo_type")
    if len(data) > LOGO_MAX_BYTES:
        raise InvalidSettings(f"The logo is larger than {LOGO_MAX_BYTES:,} bytes.", code="logo_too_large")
    _check_image(data)
    row = await _row(session, workspace_id, for_update=True)
    row.logo, row.logo_content_type = data, kind
    await _save(session, row)
    return row


async def delete_logo(session: AsyncSession, workspace_id: uuid.UUID) -> None:
    row = await _row(session, workspace_id, for_update=True)
    if row.logo is None:
        raise NotFound("This workspace has no logo.", code="no_logo")
    row.logo, row.logo_content_type = None, None
    await _save(session, row)


async def logo_of(session: AsyncSession, workspace_id: uuid.UUID) -> tuple[bytes, str] | None:
    """The logo and its content type, if the workspace has one."""
    found = await session.execute(
        select(WorkspaceSettingsRow.logo, WorkspaceSettingsRow.logo_content_type).where(
            WorkspaceSettingsRow.workspace_id == workspace_id
        )
    )
    row = found.first()
    if row is None or row[0] is None:
        return None
    return bytes(row[0]), str(row[1])


# ------------------------------------------------------------------------------------------------- cache


@dataclass(slots=True)
class _Entry:
    loaded: Loaded
    checked: float


class SettingsCache:
    """Settings in effect per workspace, trusted for ``ttl_s``, then revalidated by version."""

    def __init__(self, ttl_s: float = CACHE_TTL_S) -> None:
        self.ttl_s = ttl_s
        self._entries: dict[uuid.UUID, _Entry] = {}

    async def get(self, db: Database, settings: Settings, workspace_id: uuid.UUID) -> WorkspaceSettings:
        entry = self._entries.get(workspace_id)
        now = time.monotonic()
        if entry is not None and now - entry.checked < self.ttl_s:
            return entry.loaded.settings
        async with db.session() as session:
            if entry is not None:
                version = await session.scalar(
                    select(WorkspaceSettingsRow.version).where(WorkspaceSettingsRow.workspace_id == workspace_id)
                )
                if (version or 0) == entry.loaded.version:
                    entry.checked = now
                    return entry.loaded.settings
            loaded = await load(session, settings, workspace_id)
        self._entries[workspace_id] = _Entry(loaded, now)
        return loaded.settings

    def invalidate(self, workspace_id: uuid.UUID) -> None:
        self._entries.pop(workspace_id, None)


def settings_cache(extras: dict[str, Any]) -> SettingsCache:
    """The process's settings cache, kept in ``AppContext.extras``."""
    cache = extras.get("workspaces.settings")
    if not isinstance(cache, SettingsCache):
        cache = extras["workspaces.settings"] = SettingsCache()
    return cache


async def workspace_settings(ctx: AppContext, workspace_id: uuid.UUID) -> WorkspaceSettings:
    """The workspace's settings in effect (cached; a change in this process applies at once, elsewhere soon)."""
    return await settings_cache(ctx.extras).get(ctx.db, ctx.settings, workspace_id)
