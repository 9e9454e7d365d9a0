"""The demo bank: 20 customers with accounts, cards (some in the post), 30 transactions each, generated from a seed.

`python -m opsdesk.voice.banking.demo` rewrites `data/demo_bank.json`. The clear PINs and answers below are for the
demo and its tests only (docs/voice.md lists them); the file holds them only as salted scrypt hashes.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from opsdesk.core.masking import luhn_valid
from opsdesk.voice.banking.backend.hashing import hash_secret, normalise_answer, normalise_dob
from opsdesk.voice.banking.backend.local import DEMO_BANK_FILE
from opsdesk.voice.banking.backend.models import DeliveryStatus

AS_OF = date(2026, 11, 30)
SEED = 13


@dataclass(frozen=True, slots=True)
class DemoCaller:
    """A demo customer's credentials in clear, for trying the desk and for tests."""

    first_name: str
    last_name: str
    card_last4: str
    pin: str
    date_of_birth: date
    security_question: str
    security_answer: str
    delivery: DeliveryStatus | None


_PET = "What was the name of your first pet?"
_TOWN = "In which town were you born?"
_SCHOOL = "What was the name of your first school?"

DEMO_CALLERS: tuple[DemoCaller, ...] = (
    DemoCaller("Alice", "Morgan", "4821", "1234", date(1985, 3, 14), _PET, "Fluffy", DeliveryStatus.DISPATCHED),
    DemoCaller("Ben", "Okafor", "3307", "2580", date(1990, 7, 2), _TOWN, "Leeds", DeliveryStatus.OUT_FOR_DELIVERY),
    DemoCaller("Chloe", "Tan", "7719", "9090", date(1978, 11, 23), _SCHOOL, "St Mary's", DeliveryStatus.ORDERED),
    DemoCaller("Daniel", "Novak", "1642", "4455", date(1969, 1, 30), _PET, "Rex", DeliveryStatus.DELIVERED),
    DemoCaller("Emma", "Kowalski", "5098", "7788", date(2001, 5, 9), _TOWN, "Gdansk", DeliveryStatus.RETURNED),
    DemoCaller("Farid", "Haddad", "2236", "3141", date(1995, 9, 17), _SCHOOL, "Hillside", None),
    DemoCaller("Grace", "Lindqvist", "8854", "6020", date(1982, 12, 1), _PET, "Biscuit", DeliveryStatus.DISPATCHED),
    DemoCaller("Hugo", "Ferreira", "6613", "1357", date(1974, 4, 26), _TOWN, "Porto", None),
    DemoCaller("Isla", "Campbell", "9472", "2468", date(1999, 8, 8), _SCHOOL, "Braehead", DeliveryStatus.ORDERED),
    DemoCaller("Jonas", "Weber", "3185", "8642", date(1987, 2, 19), _PET, "Kiki", None),
    DemoCaller("Kavya", "Iyer", "4730", "5151", date(1993, 6, 12), _TOWN, "Pune", DeliveryStatus.OUT_FOR_DELIVERY),
    DemoCaller("Liam", "O'Brien", "0926", "7070", date(1966, 10, 4), _SCHOOL, "St Patrick's", None),
    DemoCaller("Maya", "Cohen", "5561", "1122", date(2003, 1, 21), _PET, "Luna", DeliveryStatus.DELIVERED),
    DemoCaller("Noah", "Adeyemi", "7204", "3344", date(1980, 3, 3), _TOWN, "Ibadan", None),
    DemoCaller("Olivia", "Rossi", "1389", "5566", date(1972, 7, 15), _SCHOOL, "Via Roma", DeliveryStatus.DISPATCHED),
    DemoCaller("Pavel", "Horak", "8017", "7799", date(1991, 11, 11), _PET, "Max", None),
    DemoCaller("Quinn", "Murphy", "2650", "8800", date(1984, 9, 28), _TOWN, "Cork", DeliveryStatus.RETURNED),
    DemoCaller("Rosa", "Martinez", "6948", "6789", date(1997, 12, 24), _SCHOOL, "San Jose", None),
    DemoCaller("Sam", "Nguyen", "4402", "4321", date(1976, 5, 5), _PET, "Pho", DeliveryStatus.ORDERED),
    DemoCaller("Tara", "Singh", "3571", "9876", date(1989, 8, 31), _TOWN, "Amritsar", None),
)

_COURIERS = ("Royal Mail", "DPD", "DHL")
# (merchant, lowest, highest) in pounds; spending is negative, income positive.
_MERCHANTS = (
    ("Tesco", 4, 95),
    ("Sainsbury's", 3, 80),
    ("Pret A Manger", 3, 14),
    ("Transport for London", 2, 40),
    ("Amazon", 6, 180),
    ("Shell", 25, 90),
    ("Netflix", 11, 11),
    ("Spotify", 12, 12),
    ("Boots", 3, 45),
    ("Uber", 7, 35),
    ("Deliveroo", 12, 40),
    ("IKEA", 20, 400),
)


def _card_number(rng: random.Random, last4: str) -> str:
    """A Luhn-valid 16-digit number on the 4000 test range ending in `last4` (middle digits drawn until valid)."""
    while True:
        number = "4000" + "".join(rng.choice("0123456789") for _ in range(8)) + last4
        if luhn_valid(number):
            return number


def _delivery(rng: random.Random, status: DeliveryStatus) -> dict[str, Any]:
    ordered = AS_OF - timedelta(days=rng.randint(3, 6) if status is DeliveryStatus.ORDERED else rng.randint(6, 14))
    dispatched = None if status is DeliveryStatus.ORDERED else ordered + timedelta(days=2)
    expected = (dispatched or ordered + timedelta(days=2)) + timedelta(days=3)
    if status in (DeliveryStatus.DISPATCHED, DeliveryStatus.ORDERED):
        expected = max(expected, AS_OF + timedelta(days=rng.randint(1, 4)))
    if status is DeliveryStatus.OUT_FOR_DELIVERY:
        expected = AS_OF
    delivered = expected if status is DeliveryStatus.DELIVERED else None
    return {
        "courier": rng.choice(_COURIERS),
        "status": status.value,
        "ordered_on": ordered.isoformat(),
        "dispatched_on": dispatched.isoformat() if dispatched else None,
        "expected_on": None if status is DeliveryStatus.RETURNED else expected.isoformat(),
        "delivered_on": delivered.isoformat() if delivered else None,
    }


def _transactions(rng: random.Random, prefix: str, account_id: str, count: int) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    for index in range(count):
        day = AS_OF - timedelta(days=rng.randint(0, 60))
        posted = datetime.combine(day, time(rng.randint(7, 22), rng.randint(0, 59)))
        if index % 15 == 0:
            merchant, amount, currency = "Salary", Decimal(rng.randint(1800, 3600)), "GBP"
        else:
            merchant, low, high = rng.choice(_MERCHANTS)
            amount = -Decimal(rng.randint(low * 100, high * 100)) / 100
            currency = "EUR" if rng.random() < 0.07 else "GBP"
        items.append(
            {
                "id": f"{prefix}-T{index + 1:03d}",
                "account_id": account_id,
                "posted_at": posted.isoformat(),
                "merchant": merchant,
                "amount": f"{amount:.2f}",
                "currency": currency,
            }
        )
    return items


def build_demo_bank(transactions_per_customer: int = 30) -> dict[str, Any]:
    """The demo bank's data, the same on every run (salts come from the seed too)."""
    rng = random.Random(SEED)
    customers = []
    for number, caller in enumerate(DEMO_CALLERS, start=1):
        prefix = f"C{number:03d}"
        current = {
            "id": f"{prefix}-A1",
            "number": f"{rng.randint(10_000_000, 99_999_999)}",
            "kind": "current",
            "currency": "GBP",
        }
        savings = {
            "id": f"{prefix}-A2",
            "number": f"{rng.randint(10_000_000, 99_999_999)}",
            "kind": "savings",
            "currency": "GBP",
        }
        transactions = _transactions(rng, prefix, current["id"], transactions_per_customer)
        spent = sum(Decimal(item["amount"]) for item in transactions)
        opening = Decimal(rng.randint(200, 4000))
        current["balance"] = f"{opening + spent:.2f}"
        current["available"] = f"{opening + spent + 500:.2f}"  # a £500 arranged overdraft
        savings["balance"] = savings["available"] = f"{Decimal(rng.randint(0, 2_000_000)) / 100:.2f}"
        cards: list[dict[str, Any]] = [
            {
                "id": f"{prefix}-K1",
                "number": _card_number(rng, caller.card_last4),
                "account_id": current["id"],
                "kind": "debit",
                "status": "active",
                "delivery": None,
            }
        ]
        if caller.delivery is not None:
            cards.append(
                {
                    "id": f"{prefix}-K2",
                    "number": _card_number(rng, f"{rng.randint(0, 9999):04d}"),
                    "account_id": current["id"],
                    "kind": "credit" if number % 2 else "debit",
                    "status": "active" if caller.delivery is DeliveryStatus.DELIVERED else "not_activated",
                    "delivery": _delivery(rng, caller.delivery),
                }
            )
        customers.append(
            {
                "id": prefix,
                "first_name": caller.first_name,
                "last_name": caller.last_name,
                "pin_hash": hash_secret(caller.pin, rng.randbytes(16)),
                "dob_hash": hash_secret(normalise_dob(caller.date_of_birth), rng.randbytes(16)),
                "security_question": caller.security_question,
                "security_answer_hash": hash_secret(normalise_answer(caller.security_answer), rng.randbytes(16)),
                "accounts": [current, savings],
                "cards": cards,
                "transactions": transactions,
            }
        )
    return {"as_of": AS_OF.isoformat(), "customers": customers}


def write_demo_bank(path: Path = DEMO_BANK_FILE) -> Path:
    path.write_text(json.dumps(build_demo_bank(), indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


if __name__ == "__main__":
    print(write_demo_bank())
