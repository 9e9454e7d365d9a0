"""Every list the API answers pages the same way: a GET that answers a collection answers the one envelope
(`Page`: items, total, limit, offset) through the shared paging dependency (`auth.deps.paging` or `paging_up_to`).
A new route that answers a bare JSON array, or a list inside its own envelope, fails here unless it is allowlisted
below with the reason it is not a collection."""

from __future__ import annotations

import types
import typing
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from pydantic import BaseModel

from opsdesk.api import create_app
from opsdesk.auth.schemas import Page
from tests.conftest import make_settings

# "METHOD path": why it answers a list that is not paged.
NOT_COLLECTIONS = {
    "GET /v1/models": "OpenAI's model list ({object: list, data}) that OpenAI clients read whole: the configured "
    "providers' model names, a handful set by the installation's configuration, not rows",
}
# Envelope fields that hold a collection; a response model with one of them that is not a Page is a list too.
_LIST_FIELDS = ("items", "data")


def _app(tmp_path: Path) -> FastAPI:
    # Without a context the app opens nothing until it starts, so its routes can be read without a database.
    return create_app(make_settings("postgresql://unused@127.0.0.1:1/unused", tmp_path))


@dataclass(frozen=True)
class _Get:
    response_model: Any
    dependant: Dependant


def _get_routes(app: FastAPI) -> Iterator[tuple[str, _Get]]:
    """Each GET route as mounted (an included router's routes are reached through its effective contexts)."""
    for candidate in app.routes:
        if isinstance(candidate, APIRoute):
            found = [(candidate.path, candidate.response_model, candidate)]
        else:
            contexts = getattr(candidate, "effective_route_contexts", lambda: [])()
            found = [(c.path, c.response_model, c.original_route) for c in contexts]
        for path, model, route in found:
            if isinstance(route, APIRoute) and "GET" in route.methods:
                yield f"GET {path}", _Get(model, route.dependant)


def _is_list(annotation: Any) -> bool:
    origin = typing.get_origin(annotation) or annotation
    if origin in (typing.Union, types.UnionType):
        return any(_is_list(arg) for arg in typing.get_args(annotation) if arg is not type(None))
    return isinstance(origin, type) and issubclass(origin, list | tuple | set | frozenset)


def _is_page(model: Any) -> bool:
    return isinstance(model, type) and issubclass(model, Page)


def _answers_a_list(route: _Get) -> bool:
    model = route.response_model
    if _is_list(model):
        return True
    if isinstance(model, type) and issubclass(model, BaseModel) and not _is_page(model):
        fields = model.model_fields
        return any(name in fields and _is_list(fields[name].annotation) for name in _LIST_FIELDS)
    return False


def _uses_paging(dependant: Dependant) -> bool:
    """The route (or one of its dependencies) asks `auth.deps.paging_up_to`'s dependency for its limit and offset."""
    call = dependant.call
    if call is not None and getattr(call, "__qualname__", "").startswith("paging_up_to.<locals>."):
        return True
    return any(_uses_paging(sub) for sub in dependant.dependencies)


def test_no_get_route_answers_a_list_without_paging(tmp_path: Path) -> None:
    unpaged = [
        name for name, route in _get_routes(_app(tmp_path)) if _answers_a_list(route) and name not in NOT_COLLECTIONS
    ]

    assert unpaged == [], f"page these with auth.deps.paging and answer Page[...], or allowlist them: {unpaged}"


def test_every_page_is_asked_for_through_the_paging_dependency(tmp_path: Path) -> None:
    routes = dict(_get_routes(_app(tmp_path)))
    pages = {name: route for name, route in routes.items() if _is_page(route.response_model)}

    without = [name for name, route in pages.items() if not _uses_paging(route.dependant)]

    assert len(pages) >= 20  # the check reads the real routes (a broken walk would find none and pass)
    assert without == [], f"these answer a Page but read limit/offset some other way: {without}"


def test_the_allowlist_names_only_routes_that_exist_and_answer_lists(tmp_path: Path) -> None:
    routes = dict(_get_routes(_app(tmp_path)))

    stale = [name for name in NOT_COLLECTIONS if name not in routes or not _answers_a_list(routes[name])]

    assert stale == [], f"allowlisted but gone or no longer a list: {stale}"


class _Row(BaseModel):
    id: int


class _Listing(BaseModel):
    total: int
    items: list[_Row]


def test_the_check_sees_a_bare_list_and_a_list_in_its_own_envelope() -> None:
    app = FastAPI()

    @app.get("/bare", response_model=list[_Row])
    async def bare() -> list[_Row]:
        return []

    @app.get("/wrapped")
    async def wrapped() -> _Listing:
        return _Listing(total=0, items=[])

    @app.get("/optional")
    async def optional() -> list[_Row] | None:
        return None

    @app.get("/one")
    async def one() -> _Row:
        return _Row(id=1)

    found = {name: _answers_a_list(route) for name, route in _get_routes(app)}

    assert found == {"GET /bare": True, "GET /wrapped": True, "GET /optional": True, "GET /one": False}
