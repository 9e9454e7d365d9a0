"""Products, outlets and derived-item rules of a workspace: CRUD, the parser's view of them, and a parser cache."""

from __future__ import annotations

import uuid
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from pydantic import BaseModel
from sqlalchemy import SQLColumnExpression, func, or_, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from opsdesk.core.errors import Conflict, InvalidInput, NotFound
from opsdesk.orders.models import CatalogState, DerivedRule, Outlet, Product
from opsdesk.orders.parsing import Catalog, CatalogIndex, DerivedItemRule, OrderParser
from opsdesk.orders.parsing import Outlet as ParserOutlet
from opsdesk.orders.parsing import Product as ParserProduct

_PARSER_CACHE_SIZE = 64
_RowT = TypeVar("_RowT", Product, Outlet, DerivedRule)
RowCheck = Callable[[AsyncSession, uuid.UUID, dict[str, Any]], Awaitable[None]]


async def bump_revision(session: AsyncSession, workspace_id: uuid.UUID) -> None:
    """Marks the workspace's catalog as changed (cached parsers rebuild)."""
    statement = insert(CatalogState).values(workspace_id=workspace_id, revision=1)
    await session.execute(
        statement.on_conflict_do_update(index_elements=["workspace_id"], set_={"revision": CatalogState.revision + 1})
    )


async def revision(session: AsyncSession, workspace_id: uuid.UUID) -> int:
    value = await session.scalar(select(CatalogState.revision).where(CatalogState.workspace_id == workspace_id))
    return int(value or 0)


# ------------------------------------------------------------------------------------ products and outlets


@dataclass(frozen=True, slots=True)
class CatalogQuery:
    """Which rows a catalog listing wants: a page, and the rows whose key or name contains ``q``, of the given
    ``active`` state, whose columns equal the values in ``equal`` (an empty value keeps every row)."""

    limit: int = 50
    offset: int = 0
    q: str | None = None
    active: bool | None = None
    equal: Mapping[str, str | None] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class CatalogTable(Generic[_RowT]):
    """Create, read, update and delete on one catalog table, whose rows a workspace names by a unique ``key``."""

    model: type[_RowT]
    key: str  # the naming column: a product's "sku", an outlet's "code"
    noun: str  # the error codes' prefix: "<noun>_not_found", "<noun>_exists"
    missing: str  # the NotFound message; "{}" is the key
    taken: str  # the Conflict message; "{}" is the key
    before_delete: Callable[[AsyncSession, uuid.UUID, str], Awaitable[None]] | None = None  # raises to refuse
    check: RowCheck | None = None  # raises to refuse a row, given all its values as they would be written

    @property
    def _key_column(self) -> SQLColumnExpression[str]:
        column: SQLColumnExpression[str] = getattr(self.model, self.key)
        return column

    async def page(
        self, session: AsyncSession, workspace_id: uuid.UUID, query: CatalogQuery
    ) -> tuple[list[_RowT], int]:
        """One page of the rows ``query`` keeps, in key order, and how many it keeps in all."""
        model, key = self.model, self._key_column
        where: list[Any] = [model.workspace_id == workspace_id]
        if query.q:
            pattern = f"%{query.q.strip()}%"
            where.append(or_(key.ilike(pattern), model.name.ilike(pattern)))
        where += [getattr(model, name) == value for name, value in query.equal.items() if value]
        active = getattr(model, "active", None)  # rules have no active flag
        if query.active is not None and active is not None:
            where.append(active.is_(query.active))
        total = await session.scalar(select(func.count()).select_from(model).where(*where))
        rows = await session.scalars(select(model).where(*where).order_by(key).limit(query.limit).offset(query.offset))
        return list(rows), int(total or 0)

    async def get(self, session: AsyncSession, workspace_id: uuid.UUID, key: str) -> _RowT:
        row = await session.scalar(
            select(self.model).where(self.model.workspace_id == workspace_id, self._key_column == key)
        )
        if row is None:
            raise NotFound(self.missing.format(key), code=f"{self.noun}_not_found")
        return row

    async def create(self, session: AsyncSession, workspace_id: uuid.UUID, body: BaseModel) -> _RowT:
        key: str = getattr(body, self.key)
        exists = await session.scalar(
            select(self.model.id).where(self.model.workspace_id == workspace_id, self._key_column == key)
        )
        if exists is not None:
            raise Conflict(self.taken.format(key), code=f"{self.noun}_exists")
        if self.check is not None:
            await self.check(session, workspace_id, body.model_dump())
        row = self.model(workspace_id=workspace_id, **body.model_dump())
        session.add(row)
        await bump_revision(session, workspace_id)
        await session.flush()
        return row

    async def update(self, session: AsyncSession, workspace_id: uuid.UUID, key: str, body: BaseModel) -> _RowT:
        """Sets the fields ``body`` gives (a null leaves a field as it is)."""
        row = await self.get(session, workspace_id, key)
        changes = {name: value for name, value in body.model_dump(exclude_unset=True).items() if value is not None}
        if self.check is not None:
            current = {name: getattr(row, name) for name in type(body).model_fields}
            await self.check(session, workspace_id, {self.key: key, **current, **changes})
        for name, value in changes.items():
            setattr(row, name, value)
        await bump_revision(session, workspace_id)
        await session.flush()
        return row

    async def delete(self, session: AsyncSession, workspace_id: uuid.UUID, key: str) -> None:
        row = await self.get(session, workspace_id, key)
        if self.before_delete is not None:
            await self.before_delete(session, workspace_id, key)
        await session.delete(row)
        await bump_revision(session, workspace_id)


async def _refuse_if_a_rule_names(session: AsyncSession, workspace_id: uuid.UUID, sku: str) -> None:
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


# A product no rule depends on can be deleted: past orders keep their own copy of the line.
PRODUCTS = CatalogTable(
    Product,
    "sku",
    "product",
    missing="No product with SKU '{}'.",
    taken="A product with SKU '{}' exists already.",
    before_delete=_refuse_if_a_rule_names,
)
# Past orders keep a deleted outlet's code and name.
OUTLETS = CatalogTable(
    Outlet, "code", "outlet", missing="No outlet with code '{}'.", taken="An outlet with code '{}' exists already."
)


# ------------------------------------------------------------------------------------------------- rules


@dataclass(frozen=True, slots=True)
class RuleProblem:
    field: str
    code: str
    message: str


async def known_skus(session: AsyncSession, workspace_id: uuid.UUID) -> set[str]:
    return set(await session.scalars(select(Product.sku).where(Product.workspace_id == workspace_id)))


def rule_problems(values: Mapping[str, Any], known: set[str]) -> list[RuleProblem]:
    """What makes a derived-item rule unusable: SKUs the catalog lacks, no trigger, or triggering on itself."""
    problems: list[RuleProblem] = []
    derived: str = values.get("derived_sku") or ""
    triggers: list[str] = list(values.get("trigger_skus") or [])
    if derived and derived not in known:
        problems.append(RuleProblem("derived_sku", "unknown_sku", f"unknown SKU '{derived}'"))
    unknown = [sku for sku in triggers if sku not in known]
    if unknown:
        names = ", ".join(f"'{sku}'" for sku in unknown)
        problems.append(RuleProblem("trigger_skus", "unknown_sku", f"unknown SKU{'s' * (len(unknown) > 1)} {names}"))
    if not triggers and not values.get("trigger_categories"):
        problems.append(
            RuleProblem("trigger_skus", "rule_without_trigger", "a rule needs trigger_skus or trigger_categories")
        )
    if derived and derived in triggers:
        problems.append(RuleProblem("trigger_skus", "rule_triggers_itself", f"'{derived}' cannot trigger itself"))
    return problems


async def _check_rule(session: AsyncSession, workspace_id: uuid.UUID, values: dict[str, Any]) -> None:
    problems = rule_problems(values, await known_skus(session, workspace_id))
    if problems:
        message = "; ".join(f"{p.field}: {p.message}" for p in problems)
        raise InvalidInput(f"Rule '{values.get('name', '')}' cannot be used: {message}.", code=problems[0].code)


RULES = CatalogTable(
    DerivedRule,
    "name",
    "rule",
    missing="No derived-item rule named '{}'.",
    taken="A derived-item rule named '{}' exists already.",
    check=_check_rule,
)


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
