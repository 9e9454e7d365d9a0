"""A bank in process: customers read from a JSON file at start, blocks and disputes kept in memory and logged.

For the demo and the tests, and as the reference a bank's own adapter is checked against. The file holds what a
bank's core system would (full card and account numbers included); PINs, dates of birth and security answers only
as salted hashes. Dates are stored as of the file's `as_of` day and moved forward to `today`, so cards dispatched
"three days ago" stay three days ago whenever the demo runs.
"""

from __future__ import annotations

import asyncio
import json
import re
import secrets
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal, cast

from opsdesk.core.logging import get_logger
from opsdesk.core.masking import mask_number
from opsdesk.voice.banking.backend.hashing import (
    normalise_answer,
    normalise_dob,
    normalise_pin,
    verify_secret,
)
from opsdesk.voice.banking.backend.models import (
    Balance,
    BlockConfirmation,
    BlockReason,
    Card,
    CardDelivery,
    CardStatus,
    CustomerRef,
    DeliveryStatus,
    DisputeCase,
    Transaction,
    UnknownCard,
    UnknownCustomer,
    UnknownTransaction,
)

_log = get_logger(__name__)

DEMO_BANK_FILE = Path(__file__).resolve().parent.parent / "data" / "demo_bank.json"


@dataclass(slots=True)
class _Customer:
    record: dict[str, Any]
    cards: dict[str, dict[str, Any]]
    transactions: list[Transaction]
    blocks: dict[str, BlockConfirmation] = field(default_factory=dict)
    disputes: dict[str, DisputeCase] = field(default_factory=dict)


class LocalBank:
    """`BankBackend` over a demo data file; `latency` seconds are slept before every answer (a slow bank)."""

    def __init__(self, data: dict[str, Any], *, today: date | None = None, latency: float = 0.0) -> None:
        as_of = date.fromisoformat(data["as_of"])
        self._shift = (today or date.today()) - as_of
        self._latency = latency
        self._customers: dict[str, _Customer] = {}
        self._by_number: dict[str, tuple[str, Literal["account", "card"]]] = {}
        for record in data["customers"]:
            customer_id = record["id"]
            for account in record["accounts"]:
                self._by_number[account["number"]] = (customer_id, "account")
            for card in record["cards"]:
                self._by_number[card["number"]] = (customer_id, "card")
            transactions = [self._transaction(item) for item in record["transactions"]]
            transactions.sort(key=lambda item: item.posted_at, reverse=True)
            self._customers[customer_id] = _Customer(
                record, {card["id"]: card for card in record["cards"]}, transactions
            )

    @classmethod
    def from_file(cls, path: Path = DEMO_BANK_FILE, *, today: date | None = None, latency: float = 0.0) -> LocalBank:
        return cls(json.loads(path.read_text(encoding="utf-8")), today=today, latency=latency)

    async def find_customer(self, number: str) -> CustomerRef:
        await self._wait()
        digits = re.sub(r"\D", "", number)
        found = self._by_number.get(digits)
        if found is None:
            _log.info("bank.lookup", outcome="unknown", number=mask_number(digits))
            raise UnknownCustomer(f"no customer has the number ending {digits[-4:]}")
        customer_id, matched_by = found
        record = self._customers[customer_id].record
        return CustomerRef(customer_id, record["first_name"], matched_by, mask_number(digits))

    async def verify_pin(self, customer: CustomerRef, pin: str) -> bool:
        await self._wait()
        ok = await _verify(normalise_pin(pin), self._customer(customer).record["pin_hash"])
        _log.info("bank.verify_pin", customer_id=customer.customer_id, ok=ok)
        return ok

    async def security_question(self, customer: CustomerRef) -> str:
        await self._wait()
        return str(self._customer(customer).record["security_question"])

    async def verify_identity(self, customer: CustomerRef, date_of_birth: date, answer: str) -> bool:
        await self._wait()
        record = self._customer(customer).record
        # Both hashes are always computed, so the time taken does not tell which one was wrong.
        dob_ok = await _verify(normalise_dob(date_of_birth), record["dob_hash"])
        answer_ok = await _verify(normalise_answer(answer), record["security_answer_hash"])
        ok = dob_ok and answer_ok
        _log.info("bank.verify_identity", customer_id=customer.customer_id, ok=ok)
        return ok

    async def list_cards(self, customer: CustomerRef) -> list[Card]:
        await self._wait()
        state = self._customer(customer)
        return [self._card(state, card) for card in state.cards.values()]

    async def card_deliveries(self, customer: CustomerRef) -> list[CardDelivery]:
        await self._wait()
        deliveries = [
            self._delivery(card) for card in self._customer(customer).cards.values() if card.get("delivery") is not None
        ]
        return sorted(deliveries, key=lambda item: item.ordered_on, reverse=True)

    async def last_transactions(self, customer: CustomerRef, limit: int = 5) -> list[Transaction]:
        await self._wait()
        return self._customer(customer).transactions[: max(limit, 0)]

    async def balances(self, customer: CustomerRef) -> list[Balance]:
        await self._wait()
        return [
            Balance(
                account_id=account["id"],
                masked_number=mask_number(account["number"]),
                kind=account["kind"],
                balance=Decimal(account["balance"]),
                available=Decimal(account["available"]),
                currency=account["currency"],
            )
            for account in self._customer(customer).record["accounts"]
        ]

    async def block_card(self, customer: CustomerRef, card_id: str, reason: BlockReason) -> BlockConfirmation:
        await self._wait()
        state = self._customer(customer)
        card = state.cards.get(card_id)
        if card is None:
            raise UnknownCard(f"card {card_id} is not one of {customer.customer_id}'s cards")
        previous = state.blocks.get(card_id)
        if previous is not None:
            return BlockConfirmation(card_id, previous.last4, previous.reason, previous.reference, already_blocked=True)
        last4 = card["number"][-4:]
        confirmation = BlockConfirmation(card_id, last4, BlockReason(reason), _reference("BLK"), already_blocked=False)
        state.blocks[card_id] = confirmation
        _log.info(
            "bank.card_blocked",
            customer_id=customer.customer_id,
            card=mask_number(last4),
            reason=confirmation.reason.value,
            reference=confirmation.reference,
        )
        return confirmation

    async def report_dispute(self, customer: CustomerRef, transaction_id: str, reason: str) -> DisputeCase:
        await self._wait()
        state = self._customer(customer)
        if not any(item.transaction_id == transaction_id for item in state.transactions):
            raise UnknownTransaction(f"transaction {transaction_id} is not one of {customer.customer_id}'s")
        previous = state.disputes.get(transaction_id)
        if previous is not None:
            return DisputeCase(transaction_id, previous.reference, already_reported=True)
        case = DisputeCase(transaction_id, _reference("DSP"), already_reported=False)
        state.disputes[transaction_id] = case
        _log.info(
            "bank.dispute_reported",
            customer_id=customer.customer_id,
            transaction_id=transaction_id,
            reference=case.reference,
            reason=reason[:200],
        )
        return case

    async def _wait(self) -> None:
        if self._latency > 0:
            await asyncio.sleep(self._latency)

    def _customer(self, customer: CustomerRef) -> _Customer:
        state = self._customers.get(customer.customer_id)
        if state is None:
            raise UnknownCustomer(f"no customer {customer.customer_id}")
        return state

    def _card(self, state: _Customer, card: dict[str, Any]) -> Card:
        status = CardStatus.BLOCKED if card["id"] in state.blocks else CardStatus(card["status"])
        last4 = card["number"][-4:]
        return Card(card["id"], last4, mask_number(last4), card["kind"], status, card["account_id"])

    def _delivery(self, card: dict[str, Any]) -> CardDelivery:
        delivery = card["delivery"]
        return CardDelivery(
            card_id=card["id"],
            last4=card["number"][-4:],
            courier=delivery["courier"],
            status=DeliveryStatus(delivery["status"]),
            ordered_on=cast(date, self._date(delivery["ordered_on"])),
            dispatched_on=self._date(delivery.get("dispatched_on")),
            expected_on=self._date(delivery.get("expected_on")),
            delivered_on=self._date(delivery.get("delivered_on")),
        )

    def _transaction(self, item: dict[str, Any]) -> Transaction:
        return Transaction(
            transaction_id=item["id"],
            account_id=item["account_id"],
            posted_at=datetime.fromisoformat(item["posted_at"]) + self._shift,
            merchant=item["merchant"],
            amount=Decimal(item["amount"]),
            currency=item["currency"],
        )

    def _date(self, value: str | None) -> date | None:
        return None if value is None else date.fromisoformat(value) + self._shift


async def _verify(secret: str, stored: str) -> bool:
    # scrypt takes tens of ms of CPU: off the event loop, which also sends every call's RTP every 20 ms.
    return await asyncio.to_thread(verify_secret, secret, stored)


def _reference(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(4).upper()}"
