"""The order desk's business rules as pure functions: pricing and tax, anomalies, delivery day and slot.

Nothing here reads the database or the clock: callers pass the catalog rows, the outlet's history and "now".
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from opsdesk.core.settings import Settings
from opsdesk.core.text import plural
from opsdesk.orders.documents.model import money
from opsdesk.workspaces.settings.schemas import WorkspaceSettings
from opsdesk.workspaces.settings.service import default_settings

WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_SEARCH_DAYS = 21


def weekday_index(name: str) -> int:
    """0 for "Mon"/"monday"/"MON", … 6 for Sunday; ValueError for anything else."""
    key = name.strip()[:3].title()
    if key not in WEEKDAYS:
        raise ValueError(f"{name!r} is not a weekday")
    return WEEKDAYS.index(key)


def _slot_start(slot: str) -> time:
    start = slot.split("-", 1)[0].strip()
    hours, _, minutes = start.partition(":")
    return time(int(hours), int(minutes or 0))


@dataclass(frozen=True, slots=True)
class OrderPolicy:
    """The settings the rules need, checked once."""

    currency: str = "SGD"
    tax_rate: Decimal = Decimal("0.08")
    tax_label: str = "GST"
    payment_terms_days: int = 30
    timezone: str = "Asia/Singapore"
    same_day_cutoff: time = time(11, 0)
    delivery_slots: tuple[str, ...] = ("09:00-12:00", "14:00-18:00")
    delivery_weekdays: frozenset[int] = frozenset(range(6))
    lead_days: int = 1
    anomaly_multiplier: Decimal = Decimal(3)
    anomaly_min_history: int = 3
    anomaly_history_orders: int = 20
    anomaly_ceiling_units: int = 200
    anomaly_ceiling_total: Decimal = Decimal("20000")

    item_ceilings: Mapping[str, int] = field(default_factory=dict)  # SKU -> max units per line (replaces the above)

    @classmethod
    def from_settings(cls, settings: Settings) -> OrderPolicy:
        """The policy of a workspace that changed nothing (the environment variables' defaults)."""
        return cls.from_workspace(default_settings(settings))

    @classmethod
    def from_workspace(cls, workspace: WorkspaceSettings) -> OrderPolicy:
        """The policy from a workspace's (already validated) business settings."""
        delivery, anomalies = workspace.delivery, workspace.anomalies
        return cls(
            currency=workspace.currency,
            tax_rate=workspace.tax.rate,
            tax_label=workspace.tax.name,
            payment_terms_days=workspace.payment_terms_days,
            timezone=delivery.time_zone,
            same_day_cutoff=delivery.same_day_cutoff,
            delivery_slots=tuple(delivery.slots),
            delivery_weekdays=frozenset(weekday_index(day) for day in delivery.weekdays),
            lead_days=delivery.lead_days,
            anomaly_multiplier=anomalies.multiplier,
            anomaly_min_history=anomalies.min_history,
            anomaly_history_orders=anomalies.history_orders,
            anomaly_ceiling_units=anomalies.line_ceiling_units,
            anomaly_ceiling_total=anomalies.order_total_ceiling,
            item_ceilings=dict(anomalies.item_ceilings),
        )

    def local_now(self, now: datetime | None = None) -> datetime:
        """``now`` (default: the clock) in the business time zone."""
        return (now or datetime.now(ZoneInfo("UTC"))).astimezone(ZoneInfo(self.timezone))


# ------------------------------------------------------------------------------------------------ pricing


@dataclass(frozen=True, slots=True)
class CatalogItem:
    """What pricing needs to know about a product."""

    sku: str
    name: str
    unit: str
    pack_size: int
    unit_price: Decimal


@dataclass(frozen=True, slots=True)
class RequestedLine:
    sku: str
    quantity: int
    derived: bool = False
    charged: bool = True
    note: str = ""


@dataclass(frozen=True, slots=True)
class PricedLine:
    sku: str
    description: str
    quantity: int
    unit: str
    pack_size: int
    unit_price: Decimal
    line_total: Decimal
    derived: bool = False
    charged: bool = True
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "sku": self.sku,
            "description": self.description,
            "quantity": self.quantity,
            "unit": self.unit,
            "pack_size": self.pack_size,
            "unit_price": str(self.unit_price),
            "line_total": str(self.line_total),
            "derived": self.derived,
            "charged": self.charged,
            "note": self.note,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PricedLine:
        return cls(
            sku=str(data["sku"]),
            description=str(data["description"]),
            quantity=int(data["quantity"]),
            unit=str(data["unit"]),
            pack_size=int(data["pack_size"]),
            unit_price=Decimal(str(data["unit_price"])),
            line_total=Decimal(str(data["line_total"])),
            derived=bool(data.get("derived")),
            charged=bool(data.get("charged", True)),
            note=str(data.get("note", "")),
        )


@dataclass(frozen=True, slots=True)
class Totals:
    subtotal: Decimal
    tax: Decimal
    total: Decimal


def price_lines(lines: Iterable[RequestedLine], catalog: Mapping[str, CatalogItem]) -> list[PricedLine]:
    """Catalog prices only (never a price from the message); uncharged derived items cost nothing."""
    priced = []
    for line in lines:
        item = catalog[line.sku]
        unit_price = item.unit_price if line.charged else Decimal("0")
        priced.append(
            PricedLine(
                sku=item.sku,
                description=item.name,
                quantity=line.quantity,
                unit=item.unit,
                pack_size=item.pack_size,
                unit_price=unit_price,
                line_total=money(unit_price * line.quantity),
                derived=line.derived,
                charged=line.charged,
                note=line.note,
            )
        )
    return priced


def totals(lines: Iterable[PricedLine], tax_rate: Decimal) -> Totals:
    """Tax on the rounded subtotal, as the invoice computes it, so the order and its invoice always agree."""
    subtotal = sum((line.line_total for line in lines), Decimal("0.00"))
    tax = money(subtotal * tax_rate)
    return Totals(subtotal, tax, subtotal + tax)


# ---------------------------------------------------------------------------------------------- anomalies


@dataclass(frozen=True, slots=True)
class Anomaly:
    """Why a line or the order needs the customer's explicit confirmation."""

    kind: str  # above_usual | over_item_ceiling | over_line_ceiling | over_total_ceiling
    message: str
    sku: str = ""
    quantity: int = 0
    usual: float | None = None
    limit: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "message": self.message,
            "sku": self.sku,
            "quantity": self.quantity,
            "usual": self.usual,
            "limit": self.limit,
        }


def _units(quantity: int, unit: str) -> str:
    return unit if quantity == 1 else plural(unit)


def find_anomalies(
    lines: Sequence[PricedLine],
    history: Mapping[str, Sequence[int]],
    total: Decimal,
    policy: OrderPolicy,
    others: frozenset[str] = frozenset(),
) -> list[Anomaly]:
    """Lines above ``multiplier`` times the usual median for that SKU (the outlet's own once it has ``min_history``
    orders of it; before that, for SKUs in ``others``, all outlets'), or above the SKU's own ceiling (else the
    per-line one), and a total above the order ceiling: the ceilings apply from an outlet's very first order."""
    found: list[Anomaly] = []
    for line in lines:
        if line.derived:
            continue
        past = history.get(line.sku, ())
        if len(past) >= policy.anomaly_min_history:
            usual = statistics.median(past)
            if line.quantity > Decimal(str(usual)) * policy.anomaly_multiplier:
                whose = f"what outlets usually order ({usual:g})" if line.sku in others else f"your usual {usual:g}"
                message = (
                    f"{line.quantity} {line.unit} of {line.description} is more than "
                    f"{policy.anomaly_multiplier.normalize():f} times {whose}"
                )
                found.append(Anomaly("above_usual", message, line.sku, line.quantity, float(usual)))
                continue
        item_ceiling = policy.item_ceilings.get(line.sku)
        if item_ceiling is not None:
            if line.quantity > item_ceiling:
                message = (
                    f"{line.quantity:,} {_units(line.quantity, line.unit)} of {line.description} is above "
                    f"the usual maximum of {item_ceiling:,}"
                )
                found.append(Anomaly("over_item_ceiling", message, line.sku, line.quantity, limit=str(item_ceiling)))
            continue
        if line.quantity > policy.anomaly_ceiling_units:
            message = f"{line.quantity} {line.unit} of {line.description} is above our {policy.anomaly_ceiling_units}"
            found.append(
                Anomaly(
                    "over_line_ceiling",
                    message + "-unit limit per line",
                    line.sku,
                    line.quantity,
                    limit=str(policy.anomaly_ceiling_units),
                )
            )
    if total > policy.anomaly_ceiling_total:
        limit = f"{policy.currency} {policy.anomaly_ceiling_total:,.2f}"
        message = f"the order total {policy.currency} {total:,.2f} is above {limit}"
        found.append(Anomaly("over_total_ceiling", message, limit=str(policy.anomaly_ceiling_total)))
    return found


# ----------------------------------------------------------------------------------------------- delivery


@dataclass(frozen=True, slots=True)
class DeliveryPlan:
    day: date
    slot: str
    same_day: bool = False
    reasons: tuple[str, ...] = field(default=())


def plan_delivery(now: datetime, usual_days: Iterable[str], urgent: bool, policy: OrderPolicy) -> DeliveryPlan:
    """The delivery day and slot.

    Urgent and before the cutoff: today, in the next slot that has not started. Urgent after the cutoff: the next
    delivery day. Otherwise the first of the outlet's usual days at least ``lead_days`` ahead (any delivery day
    when the outlet has none).
    """
    local = policy.local_now(now)
    today = local.date()
    if urgent:
        if local.time() < policy.same_day_cutoff and today.weekday() in policy.delivery_weekdays:
            later = [slot for slot in policy.delivery_slots if _slot_start(slot) > local.time()]
            if later:
                return DeliveryPlan(today, later[0], same_day=True, reasons=("urgent, before the cutoff",))
        day = _next_day(today + timedelta(days=1), policy.delivery_weekdays, frozenset())
        return DeliveryPlan(day, policy.delivery_slots[0], reasons=("urgent, after the cutoff",))
    usual = frozenset(weekday_index(d) for d in usual_days if d.strip()[:3].title() in WEEKDAYS)
    day = _next_day(today + timedelta(days=policy.lead_days), policy.delivery_weekdays, usual)
    reason = "the outlet's usual delivery day" if usual else "the next delivery day"
    return DeliveryPlan(day, policy.delivery_slots[0], reasons=(reason,))


def _next_day(start: date, allowed: frozenset[int], preferred: frozenset[int]) -> date:
    wanted = (allowed & preferred) or allowed
    for offset in range(_SEARCH_DAYS):
        day = start + timedelta(days=offset)
        if day.weekday() in wanted:
            return day
    return start
