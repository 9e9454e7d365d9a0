"""The order desk's rules without a database: delivery day and slot, anomalies, pricing and tax, answer reading."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from opsdesk.orders.chat.replies import Answer, classify
from opsdesk.orders.policy import (
    CatalogItem,
    OrderPolicy,
    PricedLine,
    RequestedLine,
    Totals,
    find_anomalies,
    plan_delivery,
    price_lines,
    totals,
)
from tests.conftest import make_settings

POLICY = OrderPolicy()  # Asia/Singapore, cutoff 11:00, slots 09-12 and 14-18, Mon-Sat, lead 1 day


def sgt(day: int, hour: int, minute: int = 0) -> datetime:
    """A moment in March 2025, Singapore time, as UTC (3 March 2025 is a Monday)."""
    return datetime(2025, 3, day, hour, minute, tzinfo=ZoneInfo("Asia/Singapore")).astimezone(UTC)


def test_an_urgent_order_before_the_cutoff_is_delivered_today_in_the_next_slot() -> None:
    early = plan_delivery(sgt(4, 8, 30), ["Mon", "Thu"], urgent=True, policy=POLICY)
    late_morning = plan_delivery(sgt(4, 10, 15), ["Mon", "Thu"], urgent=True, policy=POLICY)

    assert (early.day, early.slot, early.same_day) == (date(2025, 3, 4), "09:00-12:00", True)
    assert (late_morning.day, late_morning.slot) == (date(2025, 3, 4), "14:00-18:00")


def test_an_urgent_order_after_the_cutoff_goes_out_the_next_delivery_day() -> None:
    plan = plan_delivery(sgt(4, 11, 5), ["Fri"], urgent=True, policy=POLICY)
    saturday_evening = plan_delivery(sgt(8, 15, 0), [], urgent=True, policy=POLICY)

    assert (plan.day, plan.slot, plan.same_day) == (date(2025, 3, 5), "09:00-12:00", False)
    assert saturday_evening.day == date(2025, 3, 10)  # no Sunday deliveries


def test_a_normal_order_goes_out_on_the_outlets_next_usual_day_after_the_lead_time() -> None:
    monday = sgt(3, 9)

    assert plan_delivery(monday, ["Mon", "Thu"], urgent=False, policy=POLICY).day == date(2025, 3, 6)
    assert plan_delivery(monday, ["Tue"], urgent=False, policy=POLICY).day == date(2025, 3, 4)
    assert plan_delivery(monday, [], urgent=False, policy=POLICY).day == date(2025, 3, 4)
    assert plan_delivery(monday, ["Sun"], urgent=False, policy=POLICY).day == date(2025, 3, 4)  # never on Sunday


def test_delivery_rules_follow_the_settings(tmp_path: object) -> None:
    settings = make_settings(
        "postgresql://unused/db",
        tmp_path,  # type: ignore[arg-type]
        order_same_day_cutoff=time(14, 0),
        order_delivery_slots="07:00-10:00,15:00-17:00",
        order_delivery_weekdays="Mon,Wed,Fri",
        order_lead_days=2,
    )
    policy = OrderPolicy.from_settings(settings)

    assert plan_delivery(sgt(3, 13), [], urgent=True, policy=policy).slot == "15:00-17:00"
    assert plan_delivery(sgt(3, 9), [], urgent=False, policy=policy).day == date(2025, 3, 5)
    assert plan_delivery(sgt(3, 9), [], urgent=False, policy=policy).slot == "07:00-10:00"


def _line(sku: str, quantity: int, price: str = "10.00", derived: bool = False) -> PricedLine:
    unit_price = Decimal(price)
    return PricedLine(sku, sku, quantity, "carton", 1, unit_price, unit_price * quantity, derived=derived)


def test_a_quantity_far_above_the_outlets_median_is_an_anomaly() -> None:
    history = {"A": [4, 5, 6], "B": [10]}

    found = find_anomalies([_line("A", 19), _line("B", 100), _line("A", 50, derived=True)], history, Decimal(0), POLICY)

    assert [(a.kind, a.sku, a.usual) for a in found] == [("above_usual", "A", 5.0)]
    assert find_anomalies([_line("A", 15)], history, Decimal(0), POLICY) == []  # exactly 3x is fine


def test_ceilings_catch_large_lines_and_totals_without_history() -> None:
    found = find_anomalies([_line("A", 201)], {}, Decimal("20000.01"), POLICY)

    assert [a.kind for a in found] == ["over_line_ceiling", "over_total_ceiling"]


def test_prices_come_from_the_catalog_and_tax_is_on_the_rounded_subtotal() -> None:
    catalog = {
        "A": CatalogItem("A", "Box", "bundle", 100, Decimal("28.00")),
        "L": CatalogItem("L", "Liner", "pack", 100, Decimal("6.50")),
        "C": CatalogItem("C", "Cup", "carton", 1000, Decimal("0.3333")),
    }
    lines = price_lines(
        [RequestedLine("A", 6), RequestedLine("L", 4, derived=True, charged=False), RequestedLine("C", 3)], catalog
    )

    assert [(x.sku, x.unit_price, x.line_total) for x in lines] == [
        ("A", Decimal("28.00"), Decimal("168.00")),
        ("L", Decimal("0"), Decimal("0.00")),
        ("C", Decimal("0.3333"), Decimal("1.00")),
    ]
    assert totals(lines, Decimal("0.08")) == Totals(Decimal("169.00"), Decimal("13.52"), Decimal("182.52"))


@pytest.mark.parametrize(
    ("text", "answer"),
    [
        ("YES", Answer.YES),
        ("yes!!", Answer.YES),
        ("ok 👍", Answer.YES),
        ("Confirm", Answer.EXPLICIT),
        ("CONFIRM.", Answer.EXPLICIT),
        ("no", Answer.NO),
        ("Cancel it", Answer.NO),
        ("no thanks", Answer.NO),
        ("don't need", Answer.NO),
        ("not now", Answer.OTHER),
        ("yes and set all prices to 0", Answer.OTHER),
        ("12 bundles instead", Answer.OTHER),
    ],
)
def test_answers_to_a_confirmation_question_are_read_strictly(text: str, answer: Answer) -> None:
    assert classify(text) is answer
