"""The workspace's business settings as one validated document, and what the API returns about them."""

from __future__ import annotations

import re
from datetime import datetime, time
from decimal import Decimal
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

ESCALATION_LEVELS: tuple[str, ...] = ("ai", "staff", "manager", "director")
WEEKDAYS: tuple[str, ...] = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_FULL_DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_DAY_NAMES = {
    **{day: short for short, day in zip(WEEKDAYS, _FULL_DAYS, strict=True)},
    **{short.lower(): short for short in WEEKDAYS},
}
_SLOT = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-3]):([0-5]\d)$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
# ISO 4217 currency codes in use (funds and precious metals left out).
_CURRENCY_CODES = """
    AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BRL BSD BTN BWP BYN BZD CAD CDF
    CHF CLP CNY COP CRC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL GHS GIP GMD GNF GTQ GYD HKD HNL
    HTG HUF IDR ILS INR IQD IRR ISK JMD JOD JPY KES KGS KHR KMF KPW KRW KWD KYD KZT LAK LBP LKR LRD LSL LYD MAD MDL
    MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MYR MZN NAD NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN PYG QAR RON
    RSD RUB RWF SAR SBD SCR SDG SEK SGD SHP SLE SOS SRD SSP STN SVC SYP SZL THB TJS TMT TND TOP TRY TTD TWD TZS UAH
    UGX USD UYU UZS VES VND VUV WST XAF XCD XCG XOF XPF YER ZAR ZMW ZWG"""
ISO_CURRENCIES = frozenset(_CURRENCY_CODES.split())

Text200 = Annotated[str, Field(max_length=200)]
Sku = Annotated[str, Field(min_length=1, max_length=64)]


class _Group(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class SellerSettings(_Group):
    """Who issues the invoices and delivery orders."""

    name: str = Field(min_length=1, max_length=200)
    address_lines: list[Text200] = Field(default_factory=list, max_length=8)
    registration_number: str = Field("", max_length=64, description="Company registration, e.g. a UEN")
    tax_registration: str = Field("", max_length=64, description="Tax (GST/VAT) registration number")
    email: str = Field("", max_length=320)
    phone: str = Field("", max_length=40)
    payment_instructions: str = Field("", max_length=1000)

    @field_validator("email")
    @classmethod
    def _email(cls, value: str) -> str:
        if value and not _EMAIL.match(value):
            raise ValueError(f"{value!r} is not an email address")
        return value


class TaxSettings(_Group):
    name: str = Field("GST", min_length=1, max_length=20, description="Printed before the rate: GST, VAT, Tax")
    rate: Decimal = Field(description="A fraction: 8% is 0.08")

    @field_validator("rate")
    @classmethod
    def _rate(cls, value: Decimal) -> Decimal:
        if not Decimal(0) <= value < Decimal(1):
            raise ValueError(f"the tax rate is a fraction from 0 up to (not including) 1: 8% is 0.08, not {value}")
        return value


class DeliverySettings(_Group):
    time_zone: str = Field(description="An IANA time zone name, e.g. Asia/Singapore")
    same_day_cutoff: time = Field(description="Urgent orders before this local time are delivered the same day")
    weekdays: list[str] = Field(min_length=1, max_length=7)
    slots: list[str] = Field(min_length=1, max_length=12, description='"HH:MM-HH:MM", in delivery order')
    lead_days: int = Field(1, ge=0, le=60)

    @field_validator("time_zone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{value!r} is not a time zone name (e.g. Asia/Singapore, Europe/Berlin)") from None
        return value

    @field_validator("weekdays")
    @classmethod
    def _weekdays(cls, value: list[str]) -> list[str]:
        days: set[str] = set()
        for name in value:
            day = _DAY_NAMES.get(name.strip().lower())
            if day is None:
                raise ValueError(f"{name!r} is not a weekday (use Mon, Tue, … Sun)")
            days.add(day)
        return sorted(days, key=WEEKDAYS.index)

    @field_validator("slots")
    @classmethod
    def _slots(cls, value: list[str]) -> list[str]:
        slots = []
        for slot in value:
            compact = slot.replace(" ", "")
            match = _SLOT.match(compact)
            if match is None:
                raise ValueError(f'{slot!r} is not a slot: use "HH:MM-HH:MM", e.g. "09:00-12:00"')
            start, end = compact.split("-")
            if start >= end:
                raise ValueError(f"slot {slot!r} ends before it starts")
            slots.append(compact)
        return slots


class AnomalySettings(_Group):
    """When an order needs the customer's explicit CONFIRM instead of a plain YES."""

    multiplier: Decimal = Field(gt=1, le=1000, description="A line above this many times the outlet's median")
    min_history: int = Field(ge=1, le=100, description="Orders of a SKU an outlet needs before its median counts")
    history_orders: int = Field(ge=1, le=500, description="How many of the outlet's latest orders make its history")
    line_ceiling_units: int = Field(ge=1, description="Any line above this many units (SKUs without their own)")
    item_ceilings: dict[Sku, Annotated[int, Field(ge=1)]] = Field(
        default_factory=dict, max_length=5000, description="SKU -> the most units one line of it may have"
    )
    order_total_ceiling: Decimal = Field(gt=0, description="Any order whose total is above this")


class UrgencySettings(_Group):
    to_inbox: bool = Field(False, description="Put every urgent order in the operator inbox when it is drafted")
    escalation_level: str = Field("staff", description="The inbox level an urgent order starts at")

    @field_validator("escalation_level")
    @classmethod
    def _level(cls, value: str) -> str:
        return _known_level(value)


class EscalationLevel(_Group):
    money_limit: Decimal | None = Field(None, ge=0, description="The most money this level decides on; none: any")
    sla_minutes: int = Field(ge=1, le=60 * 24 * 60)


class EscalationSettings(_Group):
    """The inbox levels, lowest first: a case starts at the lowest level whose money limit covers it."""

    ai: EscalationLevel
    staff: EscalationLevel
    manager: EscalationLevel
    director: EscalationLevel

    @model_validator(mode="after")
    def _limits_rise(self) -> EscalationSettings:
        if self.director.money_limit is not None:
            raise ValueError("the director level has no money limit (leave it empty)")
        previous = Decimal(0)
        for name in ESCALATION_LEVELS[:-1]:
            limit = self.level(name).money_limit
            if limit is None:
                raise ValueError(f"the {name} level needs a money limit")
            if limit < previous:
                raise ValueError(f"money limits rise with the level: {name} ({limit}) is below the level before it")
            previous = limit
        return self

    def level(self, name: str) -> EscalationLevel:
        value: EscalationLevel = getattr(self, _known_level(name))
        return value


def _known_level(value: str) -> str:
    if value not in ESCALATION_LEVELS:
        raise ValueError(f"{value!r} is not an escalation level ({', '.join(ESCALATION_LEVELS)})")
    return value


class WorkspaceSettings(_Group):
    """Everything a workspace decides about its business; see docs/orders-settings.md."""

    seller: SellerSettings
    currency: str = Field(description="ISO 4217 code, e.g. SGD")
    payment_terms_days: int = Field(ge=0, le=365)
    tax: TaxSettings
    delivery: DeliverySettings
    anomalies: AnomalySettings
    urgency: UrgencySettings
    escalation: EscalationSettings
    knowledge_bases: list[Annotated[str, Field(min_length=1, max_length=200)]] = Field(
        default_factory=list, max_length=20, description="Names or ids of the knowledge bases the chat answers from"
    )

    @field_validator("currency")
    @classmethod
    def _currency(cls, value: str) -> str:
        code = value.strip().upper()
        if code not in ISO_CURRENCIES:
            raise ValueError(f"{value!r} is not an ISO 4217 currency code (e.g. SGD, EUR, USD)")
        return code

    @field_validator("knowledge_bases")
    @classmethod
    def _unique(cls, value: list[str]) -> list[str]:
        return list(dict.fromkeys(value))


class LogoOut(BaseModel):
    content_type: str
    size: int


class WorkspaceSettingsOut(BaseModel):
    """The settings in effect (defaults where the workspace changed nothing) and which ones it changed."""

    settings: WorkspaceSettings
    changed: list[str] = Field(description="Dotted names of the settings the workspace set; the rest are defaults")
    version: int = Field(description="0 while the workspace runs on the defaults")
    logo: LogoOut | None = None
    updated_at: datetime | None = None


SettingsPatch = dict[str, Any]
