"""Products, outlets and derived-item rules of a workspace: CRUD, the parser's view of them, and a parser cache."""

from __future__ import annotations

import uuid
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from opsdesk.core.errors import Conflict, NotFound
from opsdesk.orders.models import CatalogState, DerivedRule, Outlet, Product
from opsdesk.orders.parsing import Catalog, CatalogIndex, DerivedItemRule, OrderParser
from opsdesk.orders.parsing import Outlet as ParserOutlet
from opsdesk.orders.parsing import Product as ParserProduct
from opsdesk.orders.schemas import OutletIn, OutletUpdate, ProductIn, ProductUpdate

_PARSER_CACHE_SIZE = 64


async def bump_revision(session: AsyncSession, workspace_id: uuid.UUID) -> None:
    """Marks the workspace's catalog as changed (cached parsers rebuild)."""
    statement = insert(CatalogState).values(workspace_id=workspace_id, revision=1)
    await session.execute(
        statement.on_conflict_do_update(index_elements=["workspace_id"], set_={"revision": CatalogState.revision + 1})
    )


async def revision(session: AsyncSession, workspace_id: uuid.UUID) -> int:
    value = await session.scalar(select(CatalogState.revision).where(CatalogState.workspace_id == workspace_id))
    return int(value or 0)


# ---------------------------------------------------------------------------------------------- products


async def list_products(
    session: AsyncSession,
    workspace_id: uuid.UUID,
    *,
    limit: int = 50,
    offset: int = 0,
    q: str | None = None,
    category: str | None = None,
    active: bool | None = None,
) -> tuple[list[Product], int]:
    where: list[Any] = [Product.workspace_id == workspace_id]
    if q:
        pattern = f"%{q.strip()}%"
        where.append(or_(Product.sku.ilike(pattern), Product.name.ilike(pattern)))
    if category:
        where.append(Product.category == category)
    if active is not None:
        where.append(Product.active.is_(active))
    total = await session.scalar(select(func.count()).select_from(Product).where(*where))
    rows = await session.scalars(select(Product).where(*where).order_by(Product.sku).limit(limit).offset(offset))
    return list(rows), int(total or 0)


async def get_product(session: AsyncSession, workspace_id: uuid.UUID, sku: str) -> Product:
    product = await session.scalar(select(Product).where(Product.workspace_id == workspace_id, Product.sku == sku))
    if product is None:
        raise NotFound(f"No product with SKU '{sku}'.", code="product_not_found")
    return product


async def create_product(session: AsyncSession, workspace_id: uuid.UUID, body: ProductIn) -> Product:
    exists = await session.scalar(
        select(Product.id).where(Product.workspace_id == workspace_id, Product.sku == body.sku)
    )
    if exists is not None:
        raise Conflict(f"A product with SKU '{body.sku}' exists already.", code="product_exists")
    product = Product(workspace_id=workspace_id, **body.model_dump())
    session.add(product)
    await bump_revision(session, workspace_id)
    await session.flush()
    return product


async def update_product(session: AsyncSession, workspace_id: uuid.UUID, sku: str, body: ProductUpdate) -> Product:
    product = await get_product(session, workspace_id, sku)
    for name, value in body.model_dump(exclude_unset=True).items():
        if value is not None:
            setattr(product, name, value)
    await bump_revision(session, workspace_id)
    await session.flush()
    return product


async def delete_product(session: AsyncSession, workspace_id: uuid.UUID, sku: str) -> None:
    """Deletes a product no rule depends on (past orders keep their own copy of the line)."""
    product = await get_product(session, workspace_id, sku)
    rules = await session.scalars(
        select(DerivedRule.name).where(
            DerivedRule.workspace_id == workspace_id,
            or_(DerivedRule.derived_sku == sku, DerivedRule.trigger_skus.contains([sku])),
        )
    )
    names = list(rules)
    if names:
        raise Conflict(
            f"Product '{sku}' is used by the rule(s) {', '.join(names)}; deactivate it instead.",
            code="product_in_use",
        )
    await session.delete(product)
    await bump_revision(session, workspace_id)


# ----------------------------------------------------------------------------------------------- outlets


async def list_outlets(
    session: AsyncSession,
    workspace_id: uuid.UUID,
    *,
    limit: int = 50,
    offset: int = 0,
    q: str | None = None,
    active: bool | None = None,
) -> tuple[list[Outlet], int]:
    where: list[Any] = [Outlet.workspace_id == workspace_id]
    if q:
        pattern = f"%{q.strip()}%"
        where.append(or_(Outlet.code.ilike(pattern), Outlet.name.ilike(pattern)))
    if active is not None:
        where.append(Outlet.active.is_(active))
    total = await session.scalar(select(func.count()).select_from(Outlet).where(*where))
    rows = await session.scalars(select(Outlet).where(*where).order_by(Outlet.code).limit(limit).offset(offset))
    return list(rows), int(total or 0)


async def get_outlet(session: AsyncSession, workspace_id: uuid.UUID, code: str) -> Outlet:
    outlet = await session.scalar(select(Outlet).where(Outlet.workspace_id == workspace_id, Outlet.code == code))
    if outlet is None:
        raise NotFound(f"No outlet with code '{code}'.", code="outlet_not_found")
    return outlet


async def create_outlet(session: AsyncSession, workspace_id: uuid.UUID, body: OutletIn) -> Outlet:
    exists = await session.scalar(
        select(Outlet.id).where(Outlet.workspace_id == workspace_id, Outlet.code == body.code)
    )
    if exists is not None:
        raise Conflict(f"An outlet with code '{body.code}' exists already.", code="outlet_exists")
    outlet = Outlet(workspace_id=workspace_id, **body.model_dump())
    session.add(outlet)
    await bump_revision(session, workspace_id)
    await session.flush()
    return outlet


async def update_outlet(session: AsyncSession, workspace_id: uuid.UUID, code: str, body: OutletUpdate) -> Outlet:
    outlet = await get_outlet(session, workspace_id, code)
    for name, value in body.model_dump(exclude_unset=True).items():
        if value is not None:
            setattr(outlet, name, value)
    await bump_revision(session, workspace_id)
    await session.flush()
    return outlet


async def delete_outlet(session: AsyncSession, workspace_id: uuid.UUID, code: str) -> None:
    """Deletes an outlet (its past orders keep the outlet's code and name)."""
    await session.delete(await get_outlet(session, workspace_id, code))
    await bump_revision(session, workspace_id)


# ------------------------------------------------------------------------------------------------- rules


async def upsert_rule(session: AsyncSession, workspace_id: uuid.UUID, rule: DerivedItemRule) -> None:
    values = {
        "workspace_id": workspace_id,
        "name": rule.name,
        "derived_sku": rule.derived_sku,
        "trigger_skus": sorted(rule.trigger_skus),
        "trigger_categories": sorted(rule.trigger_categories),
        "per_trigger_piece": rule.per_trigger_piece,
        "skip_if_ordered": rule.skip_if_ordered,
        "charged": rule.charged,
        "note": rule.note,
    }
    statement = insert(DerivedRule).values(id=uuid.uuid4(), **values)
    update = {k: v for k, v in values.items() if k not in ("workspace_id", "name")}
    await session.execute(
        statement.on_conflict_do_update(constraint="uq_order_derived_rules_workspace_name", set_=update)
    )
    await bump_revision(session, workspace_id)


# ------------------------------------------------------------------------------------ the parser's catalog


def parser_product(row: Product) -> ParserProduct:
    return ParserProduct(
        sku=row.sku,
        name=row.name,
        aliases=tuple(row.aliases),
        unit=row.unit,
        pack_size=row.pack_size,
        unit_price=row.unit_price,
        category=row.category,
        stock=row.stock,
        min_order=row.min_order,
        active=row.active,
    )


def parser_outlet(row: Outlet) -> ParserOutlet:
    return ParserOutlet(
        code=row.code,
        name=row.name,
        aliases=tuple(row.aliases),
        address=row.address,
        phones=tuple(row.phones),
        billing_entity=row.billing_entity,
        usual_days=tuple(row.usual_days),
    )


def _parser_rule(row: DerivedRule, known: set[str]) -> DerivedItemRule | None:
    if row.derived_sku not in known or not set(row.trigger_skus) <= known:
        return None  # a rule naming a deleted product is skipped, never fatal for ordering
    return DerivedItemRule(
        name=row.name,
        derived_sku=row.derived_sku,
        trigger_skus=frozenset(row.trigger_skus),
        trigger_categories=frozenset(row.trigger_categories),
        per_trigger_piece=row.per_trigger_piece,
        skip_if_ordered=row.skip_if_ordered,
        charged=row.charged,
        note=row.note,
    )


async def load_catalog(session: AsyncSession, workspace_id: uuid.UUID, currency: str = "SGD") -> Catalog:
    """Every product and active outlet of the workspace, as the parser's Catalog."""
    products = list(await session.scalars(select(Product).where(Product.workspace_id == workspace_id)))
    outlets = list(
        await session.scalars(select(Outlet).where(Outlet.workspace_id == workspace_id, Outlet.active.is_(True)))
    )
    rules: Sequence[DerivedRule] = list(
        await session.scalars(select(DerivedRule).where(DerivedRule.workspace_id == workspace_id))
    )
    known = {p.sku for p in products}
    parsed_rules = [rule for row in rules if (rule := _parser_rule(row, known)) is not None]
    return Catalog(
        products=tuple(parser_product(p) for p in products),
        outlets=tuple(parser_outlet(o) for o in outlets),
        rules=tuple(parsed_rules),
        currency=currency,
    )


class ParserCache:
    """One OrderParser per (workspace, catalog revision) in this process; least recently used ones are dropped."""

    def __init__(self, size: int = _PARSER_CACHE_SIZE) -> None:
        self._size = size
        self._parsers: OrderedDict[uuid.UUID, tuple[int, OrderParser]] = OrderedDict()

    async def parser(self, session: AsyncSession, workspace_id: uuid.UUID) -> OrderParser:
        current = await revision(session, workspace_id)
        cached = self._parsers.get(workspace_id)
        if cached is not None and cached[0] == current:
            self._parsers.move_to_end(workspace_id)
            return cached[1]
        parser = OrderParser(CatalogIndex(await load_catalog(session, workspace_id)))
        self._parsers[workspace_id] = (current, parser)
        while len(self._parsers) > self._size:
            self._parsers.popitem(last=False)
        return parser


def parser_cache(extras: dict[str, Any]) -> ParserCache:
    """The process's parser cache, kept in ``AppContext.extras``."""
    cache = extras.get("orders.parsers")
    if not isinstance(cache, ParserCache):
        cache = extras["orders.parsers"] = ParserCache()
    return cache
