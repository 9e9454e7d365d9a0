"""Order understanding: turn a chat or WhatsApp order message into catalog line items, an outlet and questions."""

from opsdesk.orders.parsing.catalog import (
    DEMO_CATALOG_PATH,
    Catalog,
    CatalogError,
    DerivedItemRule,
    Outlet,
    Product,
    build_catalog,
    catalog_from_dict,
    load_catalog,
)
from opsdesk.orders.parsing.index import CatalogIndex, MatchSettings, MatchStatus, ProductMatch, TextEmbedder
from opsdesk.orders.parsing.parser import OrderParser, ParserConfig, parse_order
from opsdesk.orders.parsing.results import (
    Clarification,
    ClarificationKind,
    DerivedItem,
    LineItem,
    OutletMatch,
    OutletSource,
    ParsedOrder,
)

__all__ = [
    "DEMO_CATALOG_PATH",
    "Catalog",
    "CatalogError",
    "CatalogIndex",
    "Clarification",
    "ClarificationKind",
    "DerivedItem",
    "DerivedItemRule",
    "LineItem",
    "MatchSettings",
    "MatchStatus",
    "OrderParser",
    "Outlet",
    "OutletMatch",
    "OutletSource",
    "ParsedOrder",
    "ParserConfig",
    "Product",
    "ProductMatch",
    "TextEmbedder",
    "build_catalog",
    "catalog_from_dict",
    "load_catalog",
    "parse_order",
]
