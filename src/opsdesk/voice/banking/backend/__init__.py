"""The bank behind the voice desk: the interface a bank plugs its API into, a local bank, and a time limit."""

from opsdesk.voice.banking.backend.local import DEMO_BANK_FILE, LocalBank
from opsdesk.voice.banking.backend.models import (
    BackendUnavailable,
    Balance,
    BankError,
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
from opsdesk.voice.banking.backend.protocol import BankBackend
from opsdesk.voice.banking.backend.timeout import TimeoutBackend

__all__ = [
    "DEMO_BANK_FILE",
    "BackendUnavailable",
    "Balance",
    "BankBackend",
    "BankError",
    "BlockConfirmation",
    "BlockReason",
    "Card",
    "CardDelivery",
    "CardStatus",
    "CustomerRef",
    "DeliveryStatus",
    "DisputeCase",
    "LocalBank",
    "TimeoutBackend",
    "Transaction",
    "UnknownCard",
    "UnknownCustomer",
    "UnknownTransaction",
]
