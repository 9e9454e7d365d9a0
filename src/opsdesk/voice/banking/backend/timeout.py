"""A bank back end that must answer within a time limit, or be reported unavailable (the caller is transferred)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from datetime import date
from typing import TypeVar

from opsdesk.core.logging import get_logger
from opsdesk.voice.banking.backend.models import (
    BackendUnavailable,
    Balance,
    BlockConfirmation,
    BlockReason,
    Card,
    CardDelivery,
    CustomerRef,
    DisputeCase,
    Transaction,
)
from opsdesk.voice.banking.backend.protocol import BankBackend

_log = get_logger(__name__)

_T = TypeVar("_T")


class TimeoutBackend:
    """Any `BankBackend` with `timeout` seconds per call; a timeout or a network error is `BackendUnavailable`."""

    def __init__(self, inner: BankBackend, timeout: float = 2.0) -> None:
        self._inner = inner
        self._timeout = timeout

    async def _call(self, operation: str, call: Awaitable[_T]) -> _T:
        try:
            return await asyncio.wait_for(call, self._timeout)
        except TimeoutError as exc:
            _log.warning("bank.timeout", operation=operation, timeout_s=self._timeout)
            raise BackendUnavailable(f"the bank did not answer {operation} within {self._timeout:g} s") from exc
        except OSError as exc:
            _log.warning("bank.unreachable", operation=operation, error=type(exc).__name__)
            raise BackendUnavailable(f"the bank could not be reached for {operation}: {type(exc).__name__}") from exc

    async def find_customer(self, number: str) -> CustomerRef:
        return await self._call("find_customer", self._inner.find_customer(number))

    async def verify_pin(self, customer: CustomerRef, pin: str) -> bool:
        return await self._call("verify_pin", self._inner.verify_pin(customer, pin))

    async def security_question(self, customer: CustomerRef) -> str:
        return await self._call("security_question", self._inner.security_question(customer))

    async def verify_identity(self, customer: CustomerRef, date_of_birth: date, answer: str) -> bool:
        return await self._call("verify_identity", self._inner.verify_identity(customer, date_of_birth, answer))

    async def list_cards(self, customer: CustomerRef) -> list[Card]:
        return await self._call("list_cards", self._inner.list_cards(customer))

    async def card_deliveries(self, customer: CustomerRef) -> list[CardDelivery]:
        return await self._call("card_deliveries", self._inner.card_deliveries(customer))

    async def last_transactions(self, customer: CustomerRef, limit: int = 5) -> list[Transaction]:
        return await self._call("last_transactions", self._inner.last_transactions(customer, limit))

    async def balances(self, customer: CustomerRef) -> list[Balance]:
        return await self._call("balances", self._inner.balances(customer))

    async def block_card(self, customer: CustomerRef, card_id: str, reason: BlockReason) -> BlockConfirmation:
        return await self._call("block_card", self._inner.block_card(customer, card_id, reason))

    async def report_dispute(self, customer: CustomerRef, transaction_id: str, reason: str) -> DisputeCase:
        return await self._call("report_dispute", self._inner.report_dispute(customer, transaction_id, reason))
