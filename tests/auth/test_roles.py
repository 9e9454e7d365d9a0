"""The role table: every route is in it, and each role gets exactly what the table says, over HTTP."""

from __future__ import annotations

import inspect
import uuid
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from opsdesk.api import create_app
from opsdesk.app.context import AppContext
from opsdesk.auth.roles import ROUTE_ACCESS, Access, Permission, Role, allows
from tests.conftest import Tenant

# Non-GET routes that change nothing: asking questions and computing answers. Everything else that is not a GET
# changes state, so a viewer must get 403 there.
_READ_ONLY_POSTS = {
    "POST /api/v1/workspaces/{workspace}/knowledge-bases/{kb}/query",
    "POST /v1/chat/completions",
    "POST /v1/embeddings",
    "POST /api/v1/invitations/{invitation_id}/accept",  # the caller's own account, not the workspace's data
}


def _operations(app: FastAPI) -> list[str]:
    return [f"{method.upper()} {path}" for path, ops in app.openapi()["paths"].items() for method in ops]


def _app(ctx: AppContext) -> FastAPI:
    app: FastAPI = create_app(ctx.settings, context=ctx)
    return app


def _needs(operation: str) -> Permission | Access:
    return ROUTE_ACCESS[operation]


def _request(operation: str, tenant: Tenant) -> tuple[str, str, dict[str, Any]]:
    method, template = operation.split(" ", 1)
    params = {"workspace": tenant.slug, "workspace_ref": tenant.slug}
    path = template
    for name in [part[1:-1] for part in template.split("/") if part.startswith("{")]:
        path = path.replace(f"{{{name}}}", params.get(name, str(uuid.uuid4())))
    return method, path, ({"json": {}} if method in ("POST", "PUT", "PATCH") else {})


async def test_every_route_in_the_openapi_is_in_the_role_table(ctx: AppContext) -> None:
    operations = _operations(_app(ctx))
    missing = [operation for operation in operations if operation not in ROUTE_ACCESS]
    stale = [entry for entry in ROUTE_ACCESS if entry not in operations and not entry.startswith("ANY ")]
    assert not missing, f"add these to opsdesk.auth.roles.ROUTE_ACCESS: {missing}"
    assert not stale, f"these are in the role table but not in the app: {stale}"


async def test_no_route_asks_for_less_than_the_table_says(ctx: AppContext) -> None:
    """A route's own `require(...)` dependency, where it has one, names the permission the table names."""
    app = _app(ctx)
    seen = 0
    for candidate in app.routes:
        for context in getattr(candidate, "effective_route_contexts", lambda: [])():
            route = context.original_route
            stack = list(route.dependant.dependencies)
            while stack:
                dependency = stack.pop()
                stack.extend(dependency.dependencies)
                if dependency.call is None or not inspect.isfunction(dependency.call):
                    continue
                declared = inspect.getclosurevars(dependency.call).nonlocals.get("permission")
                if isinstance(declared, Permission):
                    seen += 1
                    for method in route.methods:
                        assert _needs(f"{method} {route.path}") == declared, (method, route.path)
    assert seen > 50


def test_placing_an_order_needs_write_and_a_viewer_only_reads() -> None:
    for operation in (
        "POST /api/v1/workspaces/{workspace}/orders/messages",
        "POST /api/v1/workspaces/{workspace}/conversations/messages",
        "POST /api/v1/workspaces/{workspace}/orders/{order}/confirm",
    ):
        assert _needs(operation) is Permission.write
    assert not allows(Role.viewer, Permission.write) and allows(Role.operator, Permission.write)
    assert allows(Role.service, Permission.write)


@pytest.mark.parametrize("role", [Role.viewer, Role.operator, Role.service])
async def test_each_role_is_refused_exactly_where_the_table_says(ctx: AppContext, tenant: Tenant, role: Role) -> None:
    app = _app(ctx)
    refused_wrongly: list[str] = []
    admitted_wrongly: list[str] = []
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t", timeout=60) as http:
        for operation in _operations(app):
            needs = _needs(operation)
            if needs is Access.public:
                continue
            method, path, body = _request(operation, tenant)
            changes_state = method != "GET" and operation not in _READ_ONLY_POSTS
            if role is Role.viewer and changes_state:
                assert needs in (Permission.write, Permission.manage), f"{operation} changes state: write or manage"
            response = await http.request(method, path, headers=tenant.headers(role), **body)
            # Refused for its role (other 403s, e.g. an API key asking for a user's invitations, are not the table's)
            refused = response.status_code == 403 and response.json()["error"]["code"] == "permission_error"
            if allows(role, needs) and refused:  # type: ignore[arg-type]
                refused_wrongly.append(f"{operation}: {response.text[:200]}")
            if not allows(role, needs) and not refused:  # type: ignore[arg-type]
                admitted_wrongly.append(f"{operation} -> {response.status_code}")
    assert not admitted_wrongly, f"{role.value} was not refused: {admitted_wrongly}"
    assert not refused_wrongly, f"{role.value} was refused: {refused_wrongly}"


async def test_every_route_but_the_public_ones_needs_credentials(ctx: AppContext, tenant: Tenant) -> None:
    app = _app(ctx)
    open_routes: list[str] = []
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t", timeout=60) as http:
        for operation in _operations(app):
            if _needs(operation) is Access.public:
                continue
            method, path, body = _request(operation, tenant)
            response = await http.request(method, path, **body)
            if response.status_code != 401:
                open_routes.append(f"{operation} -> {response.status_code}")
    assert not open_routes
