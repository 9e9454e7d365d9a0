"""The demo bank's callers as the dialogue tests need them: full numbers from the demo file, PINs from the demo."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from langgraph.checkpoint.memory import InMemorySaver

from opsdesk.voice.banking.backend import DEMO_BANK_FILE, BankBackend, LocalBank, TimeoutBackend
from opsdesk.voice.banking.demo import DEMO_CALLERS
from opsdesk.voice.banking.dialogue.flow import BankingFlow
from opsdesk.voice.banking.dialogue.intents import IntentReader


@dataclass(frozen=True)
class Customer:
    first_name: str
    account: str
    card: str  # a card of theirs, full number
    pin: str
    record: dict[str, Any]


def customer(first_name: str = "Alice") -> Customer:
    data = json.loads(DEMO_BANK_FILE.read_text(encoding="utf-8"))
    record = next(item for item in data["customers"] if item["first_name"] == first_name)
    pin = next(item.pin for item in DEMO_CALLERS if item.first_name == first_name)
    return Customer(first_name, record["accounts"][0]["number"], record["cards"][0]["number"], pin, record)


def banking_flow(
    backend: BankBackend | None = None, reader: IntentReader | None = None, *, timeout: float = 2.0
) -> BankingFlow:
    return BankingFlow(
        TimeoutBackend(backend or LocalBank.from_file(), timeout), reader or IntentReader(), InMemorySaver()
    )


def spoken(digits: str) -> str:
    names = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
    return " ".join(names[int(char)] for char in digits)
