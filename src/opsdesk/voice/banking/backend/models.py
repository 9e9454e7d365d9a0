"""What a bank's back end answers the voice desk: typed results that never carry a full card or account number."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Literal


class BankError(Exception):
    """Base of what a bank back end raises."""


class UnknownCustomer(BankError):
    """No customer has that account or card number (or the reference is not one of the bank's customers)."""


class UnknownCard(BankError):
    """The card is not one of this customer's cards."""


class UnknownTransaction(BankError):
    """The transaction is not one of this customer's transactions."""


class BackendUnavailable(BankError):
    """The bank's back end did not answer in time or could not be reached: apologise and transfer."""


class DeliveryStatus(StrEnum):
    ORDERED = "ordered"
    DISPATCHED = "dispatched"
    OUT_FOR_DELIVERY = "out_for_delivery"
    DELIVERED = "delivered"
    RETURNED = "returned"


class CardStatus(StrEnum):
    ACTIVE = "active"
    NOT_ACTIVATED = "not_activated"
    BLOCKED = "blocked"


class BlockReason(StrEnum):
    LOST = "lost"
    STOLEN = "stolen"


@dataclass(frozen=True, slots=True)
class CustomerRef:
    """Who the caller says they are, before authentication: an id and the masked number they gave."""

    customer_id: str
    first_name: str
    matched_by: Literal["account", "card"]
    masked_number: str


@dataclass(frozen=True, slots=True)
class Card:
    card_id: str
    last4: str
    masked_number: str
    kind: Literal["debit", "credit"]
    status: CardStatus
    account_id: str


@dataclass(frozen=True, slots=True)
class CardDelivery:
    card_id: str
    last4: str
    courier: str
    status: DeliveryStatus
    ordered_on: date
    dispatched_on: date | None
    expected_on: date | None
    delivered_on: date | None


@dataclass(frozen=True, slots=True)
class Transaction:
    transaction_id: str
    account_id: str
    posted_at: datetime
    merchant: str
    amount: Decimal  # negative when money left the account
    currency: str


@dataclass(frozen=True, slots=True)
class Balance:
    account_id: str
    masked_number: str
    kind: Literal["current", "savings"]
    balance: Decimal
    available: Decimal
    currency: str


@dataclass(frozen=True, slots=True)
class BlockConfirmation:
    card_id: str
    last4: str
    reason: BlockReason
    reference: str
    already_blocked: bool


@dataclass(frozen=True, slots=True)
class DisputeCase:
    transaction_id: str
    reference: str
    already_reported: bool
