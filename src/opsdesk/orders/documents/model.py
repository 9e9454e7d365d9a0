"""What delivery orders, invoices and accounting share: plain dataclasses with Decimal money rounded half-up."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_FLOOR, ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from opsdesk.orders.documents.numbering import DocumentError, DocumentKind, parse_number

CENT = Decimal("0.01")
DEFAULT_TAX_RATE = Decimal("0.08")
DEFAULT_TAX_LABEL = "GST"
DEFAULT_CURRENCY = "SGD"
PAYMENT_TERMS_DAYS = 30


def to_decimal(value: Decimal | int | str) -> Decimal:
    """An exact Decimal from an int, a string or a Decimal (floats are refused: they are not exact)."""
    if isinstance(value, float):
        raise DocumentError(f"use a string or Decimal for money, not the float {value!r}")
    try:
        result = value if isinstance(value, Decimal) else Decimal(value)
    except InvalidOperation as exc:
        raise DocumentError(f"{value!r} is not a number") from exc
    if not result.is_finite():
        raise DocumentError(f"{value!r} is not a finite number")
    return result


def money(value: Decimal | int | str) -> Decimal:
    """Rounds to cents, half up (0.005 → 0.01), as invoices and tax authorities expect."""
    return to_decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)


@dataclass(frozen=True, slots=True)
class ContactData:
    """The party an invoice is billed to, as accounting needs it (the billing entity, not the outlet)."""

    name: str
    address_lines: tuple[str, ...] = ()
    email: str = ""
    phone: str = ""
    tax_number: str = ""
    account_number: str = ""  # our customer code, e.g. the outlet code

    def __post_init__(self) -> None:
        if not self.name.strip():
            raise DocumentError("a contact needs a name")


@dataclass(frozen=True, slots=True)
class SellerData:
    """Who issues the documents (the distributor); printed on the invoice header."""

    name: str
    address_lines: tuple[str, ...] = ()
    registration_number: str = ""  # company registration, e.g. a UEN
    tax_registration: str = ""  # GST registration number
    email: str = ""
    phone: str = ""
    payment_instructions: str = ""
    logo: bytes | None = None  # a PNG or JPEG, printed at the top of the invoice


@dataclass(frozen=True, slots=True)
class DeliveryLine:
    """One product on a delivery order: ``quantity`` in the catalog ``unit``, packed into ``cartons``."""

    sku: str
    description: str
    quantity: int
    unit: str
    cartons: int

    def __post_init__(self) -> None:
        if self.quantity <= 0:
            raise DocumentError(f"{self.sku}: quantity must be positive")
        if self.cartons < 0:
            raise DocumentError(f"{self.sku}: cartons cannot be negative")


@dataclass(frozen=True, slots=True)
class DeliveryOrderData:
    """A delivery order (number ``DO-YYYYMMDD-NNNNN``) for one outlet and one delivery date."""

    number: str
    delivery_date: date
    outlet_name: str
    billing_entity: str
    delivery_address: str
    lines: tuple[DeliveryLine, ...]
    slot: str = ""  # e.g. "09:00-12:00"
    remark: str = ""
    urgent: bool = False
    order_reference: str = ""

    def __post_init__(self) -> None:
        parse_number(self.number, DocumentKind.DELIVERY_ORDER)
        if not self.lines:
            raise DocumentError(f"{self.number}: a delivery order needs at least one line")

    @property
    def total_cartons(self) -> int:
        return sum(line.cartons for line in self.lines)

    @property
    def company(self) -> str:
        """The billing entity, or the outlet's own name when it has none."""
        return self.billing_entity or self.outlet_name

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready view."""
        return {
            "number": self.number,
            "delivery_date": self.delivery_date.isoformat(),
            "slot": self.slot,
            "outlet_name": self.outlet_name,
            "billing_entity": self.billing_entity,
            "delivery_address": self.delivery_address,
            "lines": [
                {
                    "sku": x.sku,
                    "description": x.description,
                    "quantity": x.quantity,
                    "unit": x.unit,
                    "cartons": x.cartons,
                }
                for x in self.lines
            ],
            "remark": self.remark,
            "urgent": self.urgent,
            "order_reference": self.order_reference,
            "total_cartons": self.total_cartons,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DeliveryOrderData:
        """The inverse of ``to_dict`` (derived fields are ignored)."""
        return cls(
            number=data["number"],
            delivery_date=date.fromisoformat(data["delivery_date"]),
            outlet_name=data["outlet_name"],
            billing_entity=data.get("billing_entity", ""),
            delivery_address=data.get("delivery_address", ""),
            lines=tuple(DeliveryLine(**line) for line in data["lines"]),
            slot=data.get("slot", ""),
            remark=data.get("remark", ""),
            urgent=bool(data.get("urgent", False)),
            order_reference=data.get("order_reference", ""),
        )


@dataclass(frozen=True, slots=True)
class InvoiceLine:
    """One charged product; ``line_total`` is quantity times unit price rounded to cents."""

    sku: str
    description: str
    quantity: Decimal
    unit_price: Decimal
    unit: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "quantity", to_decimal(self.quantity))
        object.__setattr__(self, "unit_price", to_decimal(self.unit_price))
        if self.quantity <= 0:
            raise DocumentError(f"{self.sku}: quantity must be positive")
        if self.unit_price < 0:
            raise DocumentError(f"{self.sku}: unit price cannot be negative")

    @property
    def line_total(self) -> Decimal:
        return money(self.quantity * self.unit_price)


@dataclass(frozen=True, slots=True)
class InvoiceData:
    """An invoice (number ``INV-YYYYMMDD-NNNNN``), tax exclusive: tax is charged on the rounded subtotal.

    ``due_date`` defaults to the issue date plus the payment terms (Net 30). ``reference`` is what accounting
    systems use to recognise the invoice again (idempotency); it defaults to the invoice number.
    """

    number: str
    issue_date: date
    bill_to: ContactData
    lines: tuple[InvoiceLine, ...]
    due_date: date = field(default=date.min)
    terms_days: int = PAYMENT_TERMS_DAYS
    tax_rate: Decimal = DEFAULT_TAX_RATE
    tax_label: str = DEFAULT_TAX_LABEL
    currency: str = DEFAULT_CURRENCY
    reference: str = ""
    delivery_order_number: str = ""

    def __post_init__(self) -> None:
        parse_number(self.number, DocumentKind.INVOICE)
        if not self.lines:
            raise DocumentError(f"{self.number}: an invoice needs at least one line")
        if self.terms_days < 0:
            raise DocumentError("payment terms cannot be negative")
        rate = to_decimal(self.tax_rate)
        if not Decimal(0) <= rate < Decimal(1):
            raise DocumentError(f"tax rate {rate} must be a fraction between 0 and 1 (8% is 0.08)")
        if len(self.currency) != 3 or not self.currency.isalpha():
            raise DocumentError(f"{self.currency!r} is not an ISO 4217 currency code")
        object.__setattr__(self, "tax_rate", rate)
        object.__setattr__(self, "currency", self.currency.upper())
        if self.due_date == date.min:
            object.__setattr__(self, "due_date", self.issue_date + timedelta(days=self.terms_days))
        if self.due_date < self.issue_date:
            raise DocumentError("the due date is before the issue date")
        if not self.reference:
            object.__setattr__(self, "reference", self.number)

    @property
    def terms(self) -> str:
        return "Due on receipt" if self.terms_days == 0 else f"Net {self.terms_days}"

    @property
    def subtotal(self) -> Decimal:
        return sum((line.line_total for line in self.lines), Decimal("0.00"))

    @property
    def tax(self) -> Decimal:
        return money(self.subtotal * self.tax_rate)

    @property
    def total(self) -> Decimal:
        return self.subtotal + self.tax

    @property
    def tax_percent(self) -> str:
        """The rate for people: ``8%``, ``8.5%``."""
        return f"{(self.tax_rate * 100).normalize():f}%"

    def line_taxes(self) -> tuple[Decimal, ...]:
        """The invoice tax split over the lines (largest remainder), so per-line tax adds up to ``tax`` exactly."""
        raw = [line.line_total * self.tax_rate * 100 for line in self.lines]
        cents = [int(value.to_integral_value(rounding=ROUND_FLOOR)) for value in raw]
        short = int(self.tax * 100) - sum(cents)
        by_remainder = sorted(range(len(raw)), key=lambda i: (-(raw[i] - cents[i]), i))
        for index in by_remainder[:short]:
            cents[index] += 1
        return tuple(Decimal(c).scaleb(-2) for c in cents)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready view with money as strings."""
        return {
            "number": self.number,
            "issue_date": self.issue_date.isoformat(),
            "due_date": self.due_date.isoformat(),
            "terms": self.terms,
            "terms_days": self.terms_days,
            "bill_to": {
                "name": self.bill_to.name,
                "address_lines": list(self.bill_to.address_lines),
                "email": self.bill_to.email,
                "phone": self.bill_to.phone,
                "tax_number": self.bill_to.tax_number,
                "account_number": self.bill_to.account_number,
            },
            "lines": [
                {
                    "sku": x.sku,
                    "description": x.description,
                    "quantity": str(x.quantity),
                    "unit": x.unit,
                    "unit_price": str(x.unit_price),
                    "line_total": str(x.line_total),
                }
                for x in self.lines
            ],
            "tax_rate": str(self.tax_rate),
            "tax_label": self.tax_label,
            "currency": self.currency,
            "reference": self.reference,
            "delivery_order_number": self.delivery_order_number,
            "subtotal": str(self.subtotal),
            "tax": str(self.tax),
            "total": str(self.total),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> InvoiceData:
        """The inverse of ``to_dict`` (derived fields are ignored)."""
        bill_to = data["bill_to"]
        return cls(
            number=data["number"],
            issue_date=date.fromisoformat(data["issue_date"]),
            due_date=date.fromisoformat(data["due_date"]),
            terms_days=int(data.get("terms_days", PAYMENT_TERMS_DAYS)),
            bill_to=ContactData(
                name=bill_to["name"],
                address_lines=tuple(bill_to.get("address_lines", ())),
                email=bill_to.get("email", ""),
                phone=bill_to.get("phone", ""),
                tax_number=bill_to.get("tax_number", ""),
                account_number=bill_to.get("account_number", ""),
            ),
            lines=tuple(
                InvoiceLine(
                    sku=x["sku"],
                    description=x["description"],
                    quantity=Decimal(x["quantity"]),
                    unit_price=Decimal(x["unit_price"]),
                    unit=x.get("unit", ""),
                )
                for x in data["lines"]
            ),
            tax_rate=Decimal(data.get("tax_rate", DEFAULT_TAX_RATE)),
            tax_label=data.get("tax_label", DEFAULT_TAX_LABEL),
            currency=data.get("currency", DEFAULT_CURRENCY),
            reference=data.get("reference", ""),
            delivery_order_number=data.get("delivery_order_number", ""),
        )
