"""The console's one router, mounted at `/` by the app factory: every page module's router, and the static files."""

from __future__ import annotations

from fastapi import APIRouter

from opsdesk.web.assets import add_static_route
from opsdesk.web.console import ConsoleRoute
from opsdesk.web.pages import (
    admin,
    api_keys,
    audit,
    calls,
    catalog,
    chat,
    crew,
    home,
    inbox,
    knowledge,
    knowledge_documents,
    knowledge_sources,
    knowledge_tasks,
    orders,
    planner,
    planner_runs,
    signin,
)

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)
add_static_route(router)
PAGES = [
    *(signin, home, planner, planner_runs, knowledge, knowledge_documents, knowledge_tasks, knowledge_sources),
    *(api_keys, audit, chat, admin, orders, catalog, inbox, calls, crew),
]
for page in PAGES:
    router.include_router(page.router)
