"""Liveness, readiness and Prometheus metrics."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from opsdesk import __version__
from opsdesk.app.context import AppContext
from opsdesk.auth.deps import get_ctx

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok", "version": __version__}


@router.get("/readyz")
async def readyz(ctx: AppContext = Depends(get_ctx)) -> JSONResponse:
    """The process can serve: the database answers (probed with a short timeout, at most once a second)."""
    database = await ctx.db.ready()
    body = {"status": "ok" if database else "unavailable", "database": database, "rate_limit": ctx.limiter.backend}
    return JSONResponse(body, status_code=200 if database else 503, headers=None if database else {"Retry-After": "2"})


@router.get("/metrics")
async def metrics() -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
