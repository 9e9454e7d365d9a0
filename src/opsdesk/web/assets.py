"""The console's files: its own (CSS, a little JavaScript, vendored htmx) and Plotly from the installed package.

URLs carry a content hash (`/static/console.css?v=…`), so responses can be cached for a year; no CDN is involved.
"""

from __future__ import annotations

import hashlib
import mimetypes
from functools import cache
from importlib.resources import files
from pathlib import Path

from fastapi import APIRouter
from starlette.responses import FileResponse, Response

from opsdesk.core.errors import NotFound

STATIC_DIR = Path(__file__).parent / "static"
PLOTLY = "plotly.min.js"
_CACHE = "public, max-age=31536000, immutable"


@cache
def _files() -> dict[str, Path]:
    """Every servable file by its URL path, fixed at first use: nothing outside this list is ever opened."""
    found = {
        path.relative_to(STATIC_DIR).as_posix(): path
        for path in STATIC_DIR.rglob("*")
        if path.is_file() and path.suffix in (".css", ".js", ".md", ".png", ".svg", ".woff2")
    }
    found[PLOTLY] = Path(str(files("plotly") / "package_data" / PLOTLY))
    return found


@cache
def _version(name: str) -> str:
    return hashlib.sha256(_files()[name].read_bytes()).hexdigest()[:12]


def static_url(name: str) -> str:
    """The cache-busting URL of a static file (a template helper)."""
    return f"/static/{name}?v={_version(name)}"


def serve(path: str) -> Response:
    found = _files().get(path)
    if found is None:
        raise NotFound("No such console file.", code="static_not_found")
    media = mimetypes.guess_type(path)[0] or "application/octet-stream"
    if media.startswith("text/") or media.endswith("javascript"):
        media += "; charset=utf-8"
    return FileResponse(found, media_type=media, headers={"Cache-Control": _CACHE})


def add_static_route(router: APIRouter) -> None:
    @router.get("/static/{path:path}", include_in_schema=False)
    async def static_file(path: str) -> Response:
        """A console asset, cached for a year (its URL changes when it does)."""
        return serve(path)
