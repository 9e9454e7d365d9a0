"""Order documents: delivery orders (Excel) and invoices (PDF) from plain dataclasses, and their numbers."""

from opsdesk.orders.documents.delivery_order import render_delivery_order
from opsdesk.orders.documents.delivery_template import (
    DeliveryTemplateMapping,
    Placement,
    TemplateColumns,
    append_deliveries,
    fill_delivery_template,
    sheet_name,
)
from opsdesk.orders.documents.invoice_pdf import render_invoice_pdf
from opsdesk.orders.documents.model import (
    DEFAULT_CURRENCY,
    DEFAULT_TAX_RATE,
    PAYMENT_TERMS_DAYS,
    ContactData,
    DeliveryLine,
    DeliveryOrderData,
    InvoiceData,
    InvoiceLine,
    SellerData,
    money,
)
from opsdesk.orders.documents.numbering import (
    DocumentError,
    DocumentKind,
    DocumentNumber,
    DocumentNumberError,
    delivery_order_number,
    format_number,
    invoice_number,
    is_number,
    parse_number,
)

__all__ = [
    "DEFAULT_CURRENCY",
    "DEFAULT_TAX_RATE",
    "PAYMENT_TERMS_DAYS",
    "ContactData",
    "DeliveryLine",
    "DeliveryOrderData",
    "DeliveryTemplateMapping",
    "DocumentError",
    "DocumentKind",
    "DocumentNumber",
    "DocumentNumberError",
    "InvoiceData",
    "InvoiceLine",
    "Placement",
    "SellerData",
    "TemplateColumns",
    "append_deliveries",
    "delivery_order_number",
    "fill_delivery_template",
    "format_number",
    "invoice_number",
    "is_number",
    "money",
    "parse_number",
    "render_delivery_order",
    "render_invoice_pdf",
    "sheet_name",
]
