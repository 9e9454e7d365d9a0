"""A fake Xero on a real port: the Accounting API shapes opsdesk uses, and the OAuth2 token endpoint.

``/api.xro/2.0/Contacts`` (GET with ``where=Name=="…"``, PUT create, POST update-or-create),
``/api.xro/2.0/Invoices`` (GET with ``where=Reference=="…"``, PUT create, POST update-or-create),
``/api.xro/2.0/Invoices/{InvoiceID}`` (GET, POST update), ``/connect/token`` (grant_type=refresh_token).
Every API call needs ``xero-tenant-id`` and a live Bearer token (expired → 401). Script failures per endpoint
("contacts", "invoices", "invoice", "token") with ``server.script(["500", "429:2", "delay:3"], "invoices")``; a
scripted "400" answers with Xero's validation shape and the behaviour's text as the message.
"""

from __future__ import annotations

import base64
import json
import re
import secrets
import time
import uuid
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tests.fakes.scripted import Behaviour, Recorded, ScriptedServer, _sleep_unless_gone

_CLAUSE = re.compile(r'^\s*([A-Za-z]+(?:\.[A-Za-z]+)?)\s*==\s*"((?:[^"\\]|\\.)*)"\s*$')
_MS_DATE = re.compile(r"^/Date\((-?\d+)([+-]\d{4})?\)/$")
_TRANSITIONS = {
    "DRAFT": {"DRAFT", "SUBMITTED", "AUTHORISED", "DELETED"},
    "SUBMITTED": {"SUBMITTED", "DRAFT", "AUTHORISED", "DELETED"},
    "AUTHORISED": {"AUTHORISED", "VOIDED"},
}


class FakeXero(ScriptedServer):
    """Holds contacts and invoices in memory; ``invoices`` is the record tests check."""

    default_endpoint = "invoices"

    def __init__(
        self,
        tenant_id: str = "tenant-0001",
        client_id: str = "fake-client-id",
        client_secret: str = "fake-client-secret",
        account_codes: tuple[str, ...] = ("200", "260"),
        tax_rates: dict[str, Decimal] | None = None,
    ) -> None:
        super().__init__()
        self.tenant_id = tenant_id
        self.client_id = client_id
        self.client_secret = client_secret
        self.account_codes = set(account_codes)
        self.tax_rates = tax_rates or {"OUTPUT": Decimal("0.08"), "NONE": Decimal("0")}
        self._clear_state()

    def _clear_state(self) -> None:
        self.contacts: dict[str, dict[str, Any]] = {}
        self.invoices: dict[str, dict[str, Any]] = {}
        self.access_tokens: dict[str, float] = {}  # token → expires at (epoch s)
        self.refresh_tokens: set[str] = set()
        self.issued_tokens: list[dict[str, Any]] = []
        self._replies: dict[str, dict[str, Any]] = {}  # Idempotency-Key → first successful reply

    def reset(self) -> None:
        """Forgets scripts, requests, contacts, invoices and tokens."""
        super().reset()
        with self._lock:
            self._clear_state()

    def routes(self) -> list[Route]:
        return [
            Route("/api.xro/2.0/Contacts", self._contacts, methods=["GET", "PUT", "POST"]),
            Route("/api.xro/2.0/Invoices", self._invoices, methods=["GET", "PUT", "POST"]),
            Route("/api.xro/2.0/Invoices/{invoice_id}", self._invoice, methods=["GET", "POST"]),
            Route("/connect/token", self._token, methods=["POST"]),
        ]

    @property
    def api_url(self) -> str:
        return self.root_url + "/api.xro/2.0"

    @property
    def token_url(self) -> str:
        return self.root_url + "/connect/token"

    # --- helpers for tests ----------------------------------------------------------------------------------

    def issue_token(self, expires_in: int = 1800) -> dict[str, Any]:
        """A fresh token set, as the token endpoint would answer it."""
        access, refresh = "at-" + secrets.token_hex(8), "rt-" + secrets.token_hex(8)
        with self._lock:
            self.access_tokens[access] = time.time() + expires_in
            self.refresh_tokens.add(refresh)
        answer = {
            "id_token": "id-" + secrets.token_hex(4),
            "access_token": access,
            "expires_in": expires_in,
            "token_type": "Bearer",
            "refresh_token": refresh,
            "scope": "openid offline_access accounting.transactions accounting.contacts",
        }
        self.issued_tokens.append(answer)
        return answer

    def expire(self, access_token: str) -> None:
        """From now on the server answers 401 to this token."""
        with self._lock:
            self.access_tokens[access_token] = 0.0

    def add_contact(self, name: str, **fields: Any) -> dict[str, Any]:
        """A contact that exists before the test posts anything."""
        with self._lock:
            contact, problems = self._save_contact({"Name": name, **fields})
        assert not problems, problems
        return contact

    def invoices_with_reference(self, reference: str) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(inv) for inv in self.invoices.values() if inv.get("Reference") == reference]

    def storm(self, spec: str = "500", count: int = 50) -> None:
        """Every API endpoint answers ``spec`` for its next ``count`` requests."""
        for endpoint in ("contacts", "invoices", "invoice"):
            self.script([spec] * count, endpoint)

    def api_requests(self) -> int:
        with self._lock:
            return sum(1 for r in self.requests if r.endpoint != "token")

    # --- plumbing -------------------------------------------------------------------------------------------

    async def receive(self, endpoint: str, request: Request) -> tuple[dict[str, Any], Behaviour]:
        """As ScriptedServer's, but also reads form bodies and keeps JSON numbers as Decimal."""
        raw = await request.body()
        body: dict[str, Any]
        if request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
            body = dict(parse_qsl(raw.decode()))
        else:
            body = json.loads(raw, parse_float=Decimal) if raw else {}
        headers = dict(request.headers)
        headers[":method"], headers[":query"] = request.method, str(request.url.query)
        with self._lock:
            self.requests.append(Recorded(endpoint, headers, body))
            queue = self._scripts[endpoint]
            behaviour = queue.popleft() if queue else Behaviour()
        if behaviour.delay_s:
            await _sleep_unless_gone(request, behaviour.delay_s)
        return body, behaviour

    async def _enter(self, endpoint: str, request: Request) -> tuple[dict[str, Any], Response | None]:
        body, behaviour = await self.receive(endpoint, request)
        if behaviour.status != 200:
            return body, _scripted_error(behaviour)
        auth = request.headers.get("authorization", "")
        token = auth.removeprefix("Bearer ").strip() if auth.startswith("Bearer ") else ""
        expires_at = self.access_tokens.get(token)
        if expires_at is None:
            return body, _problem(401, "Unauthorized", "AuthenticationUnsuccessful")
        if expires_at <= time.time():
            return body, _problem(401, "Unauthorized", f"TokenExpired: token expired at {expires_at:.0f}")
        if request.headers.get("xero-tenant-id") != self.tenant_id:
            return body, _problem(403, "Forbidden", "AuthenticationUnsuccessful")
        return body, None

    # --- endpoints ------------------------------------------------------------------------------------------

    async def _contacts(self, request: Request) -> Response:
        body, refusal = await self._enter("contacts", request)
        if refusal is not None:
            return refusal
        if request.method == "GET":
            found = _where(request.query_params.get("where"), list(self.contacts.values()))
            return found if isinstance(found, Response) else _ok("Contacts", found)
        results, errors = [], []
        with self._lock:
            for item in body.get("Contacts", []):
                contact, problems = self._save_contact(item)
                results.append(contact)
                errors.append(problems)
        if any(errors):
            return _validation(results, errors)
        return _ok("Contacts", results)

    def _save_contact(self, item: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
        existing = self.contacts.get(item.get("ContactID", ""))
        name = str(item.get("Name") or (existing or {}).get("Name") or "").strip()
        if not name:
            return item, ["The contact name must be specified."]
        clash = [c for c in self.contacts.values() if c["Name"].casefold() == name.casefold() and c is not existing]
        if clash:
            message = f"The contact name {name} is already assigned to another contact. The contact name must be unique"
            return item, [message + " across all active contacts."]
        contact = existing or {"ContactID": str(uuid.uuid4()), "ContactStatus": "ACTIVE"}
        contact.update({k: v for k, v in item.items() if k != "ContactID"})
        contact.update({"Name": name, "UpdatedDateUTC": _ms(datetime.now(UTC))})
        self.contacts[contact["ContactID"]] = contact
        return contact, []

    async def _invoices(self, request: Request) -> Response:
        body, refusal = await self._enter("invoices", request)
        if refusal is not None:
            return refusal
        if request.method == "GET":
            found = _where(request.query_params.get("where"), list(self.invoices.values()))
            return found if isinstance(found, Response) else _ok("Invoices", found)
        key = request.headers.get("idempotency-key")
        if key and key in self._replies:
            return _json(200, self._replies[key])
        unitdp = request.query_params.get("unitdp") == "4"
        results, errors = [], []
        with self._lock:
            for item in body.get("Invoices", []):
                if item.get("InvoiceID") and request.method == "POST":
                    invoice, problems = self._update(item["InvoiceID"], item)
                else:
                    invoice, problems = self._create(item, unitdp)
                results.append(invoice)
                errors.append(problems)
        if any(errors):
            return _validation(results, errors)
        reply = _envelope("Invoices", results)
        if key:
            self._replies[key] = reply
        return _json(200, reply)

    async def _invoice(self, request: Request) -> Response:
        body, refusal = await self._enter("invoice", request)
        if refusal is not None:
            return refusal
        invoice_id = request.path_params["invoice_id"]
        if invoice_id not in self.invoices:
            return _problem(404, "NotFound", "The resource you're looking for cannot be found")
        if request.method == "GET":
            return _ok("Invoices", [self.invoices[invoice_id]])
        with self._lock:
            items = body.get("Invoices") or [{}]
            invoice, problems = self._update(invoice_id, items[0])
        return _validation([invoice], [problems]) if problems else _ok("Invoices", [invoice])

    def _create(self, item: dict[str, Any], unitdp: bool) -> tuple[dict[str, Any], list[str]]:
        problems: list[str] = []
        if item.get("Type") not in ("ACCREC", "ACCPAY"):
            problems.append("Invoice Type must be specified.")
        contact_ref = item.get("Contact") or {}
        contact = self.contacts.get(contact_ref.get("ContactID", ""))
        if contact is None and contact_ref.get("Name"):
            contact = next((c for c in self.contacts.values() if c["Name"] == contact_ref["Name"]), None)
        if contact is None:
            problems.append("A Contact must be specified for this type of transaction")
        number = item.get("InvoiceNumber") or f"INV-{len(self.invoices) + 1:04d}"
        if any(i["InvoiceNumber"] == number and i["Status"] != "DELETED" for i in self.invoices.values()):
            problems.append("Invoice # must be unique.")
        lines = [self._line(line, unitdp, problems) for line in item.get("LineItems") or []]
        status = item.get("Status") or "DRAFT"
        if status not in ("DRAFT", "SUBMITTED", "AUTHORISED"):
            problems.append(f"Invoice status {status} is not valid for a new invoice.")
        if problems:
            return item, problems
        assert contact is not None
        subtotal = sum((line["LineAmount"] for line in lines), Decimal("0.00"))
        tax = sum((line["TaxAmount"] for line in lines), Decimal("0.00"))
        invoice = {
            "Type": item["Type"],
            "InvoiceID": str(uuid.uuid4()),
            "InvoiceNumber": number,
            "Reference": item.get("Reference", ""),
            "Contact": {"ContactID": contact["ContactID"], "Name": contact["Name"]},
            "Date": item.get("Date") or _ms(date.today()),
            "DueDate": item.get("DueDate"),
            "Status": "DRAFT",
            "LineAmountTypes": item.get("LineAmountTypes", "Exclusive"),
            "LineItems": lines,
            "SubTotal": subtotal,
            "TotalTax": tax,
            "Total": subtotal + tax,
            "AmountDue": subtotal + tax,
            "AmountPaid": Decimal("0.00"),
            "CurrencyCode": item.get("CurrencyCode", "SGD"),
            "UpdatedDateUTC": _ms(datetime.now(UTC)),
        }
        self.invoices[invoice["InvoiceID"]] = invoice
        if status != "DRAFT":
            return self._update(invoice["InvoiceID"], {"Status": status})
        return invoice, []

    def _line(self, line: dict[str, Any], unitdp: bool, problems: list[str]) -> dict[str, Any]:
        account, tax_type = str(line.get("AccountCode", "")), str(line.get("TaxType", ""))
        if account not in self.account_codes:
            problems.append(f"Account code '{account}' is not a valid code for this document.")
        if tax_type not in self.tax_rates:
            problems.append(
                f"The TaxType code '{tax_type}' does not exist or cannot be used for this type of transaction."
            )
        if not line.get("Description") and not line.get("ItemCode"):
            problems.append("Description is required")
        quantity = Decimal(str(line.get("Quantity", 1)))
        unit = Decimal(str(line.get("UnitAmount", 0))).quantize(Decimal("0.0001") if unitdp else Decimal("0.01"))
        amount = _cents(quantity * unit)
        if "LineAmount" in line and abs(Decimal(str(line["LineAmount"])) - amount) > Decimal("0.01"):
            problems.append("The line total does not equal Quantity x UnitAmount.")
        rate = self.tax_rates.get(tax_type, Decimal(0))
        tax = _cents(Decimal(str(line["TaxAmount"]))) if "TaxAmount" in line else _cents(amount * rate)
        return {
            "LineItemID": str(uuid.uuid4()),
            "Description": line.get("Description", ""),
            "Quantity": quantity,
            "UnitAmount": unit,
            "ItemCode": line.get("ItemCode"),
            "AccountCode": account,
            "TaxType": tax_type,
            "TaxAmount": tax,
            "LineAmount": amount,
        }

    def _update(self, invoice_id: str, item: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
        invoice = self.invoices.get(invoice_id)
        if invoice is None:
            return item, ["Invoice could not be found"]
        wanted = item.get("Status") or invoice["Status"]
        if wanted not in _TRANSITIONS.get(invoice["Status"], {invoice["Status"]}):
            return invoice, [f"Invoice of status {invoice['Status']} cannot be changed to {wanted}."]
        if wanted == "AUTHORISED" and not invoice.get("DueDate"):
            return invoice, ["Due Date is mandatory for an approved invoice."]
        if wanted == "AUTHORISED" and not invoice["LineItems"]:
            return invoice, ["An invoice must have at least one line item to be approved."]
        invoice["Status"] = wanted
        invoice["UpdatedDateUTC"] = _ms(datetime.now(UTC))
        return invoice, []

    async def _token(self, request: Request) -> Response:
        form, behaviour = await self.receive("token", request)
        if behaviour.status != 200:
            return _scripted_error(behaviour)
        client_id, client_secret = form.get("client_id"), form.get("client_secret")
        auth = request.headers.get("authorization", "")
        if auth.startswith("Basic "):
            client_id, _, client_secret = base64.b64decode(auth[6:]).decode().partition(":")
        if (client_id, client_secret) != (self.client_id, self.client_secret):
            return _json(400, {"error": "invalid_client"})
        if form.get("grant_type") != "refresh_token":
            return _json(400, {"error": "unsupported_grant_type"})
        with self._lock:
            if form.get("refresh_token") not in self.refresh_tokens:
                return _json(400, {"error": "invalid_grant"})
            self.refresh_tokens.discard(form["refresh_token"])  # Xero rotates refresh tokens
        return _json(200, self.issue_token())


def _where(clause: str | None, rows: list[dict[str, Any]]) -> list[dict[str, Any]] | Response:
    if not clause:
        return rows
    tests = []
    for part in re.split(r"\s+AND\s+", clause, flags=re.IGNORECASE):
        match = _CLAUSE.match(part)
        if match is None:
            return _problem(400, "ValidationException", f"Invalid where clause: {clause}")
        tests.append((match[1].split("."), re.sub(r"\\(.)", r"\1", match[2])))

    def value(row: dict[str, Any], path: list[str]) -> Any:
        for key in path:
            row = row.get(key) if isinstance(row, dict) else None  # type: ignore[assignment]
        return row

    return [row for row in rows if all(value(row, path) == expected for path, expected in tests)]


def _cents(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def _ms(moment: date | datetime) -> str:
    if not isinstance(moment, datetime):
        moment = datetime(moment.year, moment.month, moment.day, tzinfo=UTC)
    return f"/Date({int(moment.timestamp() * 1000)}+0000)/"


def ms_date(value: str) -> date:
    """Reads Xero's ``/Date(1741000000000+0000)/`` (or ISO) into a date."""
    match = _MS_DATE.match(value)
    if match is None:
        return date.fromisoformat(value[:10])
    return datetime.fromtimestamp(int(match[1]) / 1000, tz=UTC).date()


def _envelope(key: str, items: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "Id": str(uuid.uuid4()),
        "Status": "OK",
        "ProviderName": "opsdesk fake Xero",
        "DateTimeUTC": _ms(datetime.now(UTC)),
        key: items,
    }


def _ok(key: str, items: list[dict[str, Any]]) -> Response:
    return _json(200, _envelope(key, items))


def _json(status: int, body: Any, headers: dict[str, str] | None = None) -> Response:
    text = json.dumps(body, default=lambda value: float(value) if isinstance(value, Decimal) else str(value))
    return Response(text, status_code=status, headers=headers, media_type="application/json")


def _problem(status: int, title: str, detail: str) -> Response:
    return _json(status, {"Type": None, "Title": title, "Status": status, "Detail": detail, "Instance": None})


def _validation(items: list[dict[str, Any]], errors: list[list[str]]) -> Response:
    elements = [
        {**item, "ValidationErrors": [{"Message": m} for m in problems]}
        for item, problems in zip(items, errors, strict=True)
    ]
    body = {
        "ErrorNumber": 10,
        "Type": "ValidationException",
        "Message": "A validation exception occurred",
        "Elements": elements,
    }
    return _json(400, body)


def _scripted_error(behaviour: Behaviour) -> Response:
    if behaviour.status == 400:
        return _validation([{}], [[behaviour.text or "A validation exception occurred"]])
    if behaviour.status == 429:
        headers = {"Retry-After": behaviour.retry_after or "1", "X-Rate-Limit-Problem": "minute"}
        return _json(429, {"Title": "Too Many Requests", "Status": 429, "Detail": "rate limit"}, headers)
    return _problem(behaviour.status, "An error occurred", behaviour.text or f"fake error {behaviour.status}")
