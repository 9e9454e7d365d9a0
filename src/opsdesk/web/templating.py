"""Jinja templates with autoescape everywhere, and the one `render` every page ends with (HTML, or JSON on ask)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fastapi.encoders import jsonable_encoder
from jinja2 import Environment, PackageLoader, StrictUndefined
from starlette.responses import HTMLResponse, JSONResponse, Response

from opsdesk.web.assets import static_url
from opsdesk.web.nav import NAV

if TYPE_CHECKING:
    from opsdesk.web.console import Console

# autoescape=True for every template, whatever its name: a user string is never markup.
_ENV = Environment(loader=PackageLoader("opsdesk.web", "templates"), autoescape=True, undefined=StrictUndefined)
_ENV.globals["static"] = static_url
_ENV.globals["nav"] = NAV


def wants_json(console: Console) -> bool:
    """Datasette's habit: any page answers with its data as JSON when asked with ?format=json."""
    return console.request.query_params.get("format") == "json"


def render(console: Console, template: str, data: dict[str, Any], *, status: int = 200) -> Response:
    """The page as HTML (or its `data` as JSON with ?format=json); `data` is also what the template sees."""
    if wants_json(console):
        return JSONResponse(jsonable_encoder(data), status_code=status)
    html = _ENV.get_template(template).render(**data, c=console)
    return HTMLResponse(html, status_code=status)


def render_fragment(console: Console, template: str, data: dict[str, Any], *, status: int = 200) -> Response:
    """A piece of a page for htmx to swap in (no layout)."""
    return HTMLResponse(_ENV.get_template(template).render(**data, c=console), status_code=status)
