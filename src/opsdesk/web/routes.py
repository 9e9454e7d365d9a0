"""The console's one router, mounted at `/` by the app factory: every page module's router, and the static files."""

from __future__ import annotations

from fastapi import APIRouter

from opsdesk.web.assets import add_static_route
from opsdesk.web.console import ConsoleRoute
from opsdesk.web.pages import api_keys, home, knowledge, planner, signin

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)
add_static_route(router)
for page in (signin, home, planner, knowledge, api_keys):
    router.include_router(page.router)
