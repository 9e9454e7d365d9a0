"""The interface a bank plugs its own API into: the voice desk's dialogue calls nothing else."""

from __future__ import annotations

from datetime import date
from typing import Protocol, runtime_checkable

from opsdesk.voice.banking.backend.models import (
    Balance,
    BlockConfirmation,
    BlockReason,
    Card,
    CardDelivery,
    CustomerRef,
    DisputeCase,
    Transaction,
)


@runtime_checkable
class BankBackend(Protocol):
    """A bank's customers, accounts, cards, deliveries and transactions, as the voice desk needs them.

    Every method is async and may raise `BackendUnavailable`; methods taking a `CustomerRef` raise `UnknownCustomer`
    when it is not the bank's. Nothing returned carries a full card or account number, a PIN or a secret answer.
    """

    async def find_customer(self, number: str) -> CustomerRef:
        """The customer whose account or card number this is (digits only count); `UnknownCustomer` otherwise."""
        ...

    async def verify_pin(self, customer: CustomerRef, pin: str) -> bool:
        """Whether the PIN is the customer's telephone banking PIN."""
        ...

    async def security_question(self, customer: CustomerRef) -> str:
        """The question to ask after the date of birth."""
        ...

    async def verify_identity(self, customer: CustomerRef, date_of_birth: date, answer: str) -> bool:
        """Whether both the date of birth and the answer to the security question are right (never which one)."""
        ...

    async def list_cards(self, customer: CustomerRef) -> list[Card]:
        """The customer's cards, masked."""
        ...

    async def card_deliveries(self, customer: CustomerRef) -> list[CardDelivery]:
        """Cards ordered for the customer and where they are, most recently ordered first."""
        ...

    async def last_transactions(self, customer: CustomerRef, limit: int = 5) -> list[Transaction]:
        """The customer's latest transactions over all accounts, newest first."""
        ...

    async def balances(self, customer: CustomerRef) -> list[Balance]:
        """The balance of each of the customer's accounts."""
        ...

    async def block_card(self, customer: CustomerRef, card_id: str, reason: BlockReason) -> BlockConfirmation:
        """Blocks a lost or stolen card; blocking it again returns the same reference."""
        ...

    async def report_dispute(self, customer: CustomerRef, transaction_id: str, reason: str) -> DisputeCase:
        """Opens a dispute on a transaction; reporting it again returns the same case reference."""
        ...
