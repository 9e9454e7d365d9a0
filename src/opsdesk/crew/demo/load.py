"""The crew's part of `opsdesk up --demo`: the local Jira, Confluence and GitLab in this process on free ports (their
state under the data dir, so a restart keeps what they hold), the workspace connected to them, and — the first
time — a sample requirement started as a run, which the job worker takes to its first approval.

A connection the workspace has to a real vendor is left alone; a demo connection (to 127.0.0.1) follows the
vendors to their new ports on every start. The vendors belong to the process, not to an AppContext: `opsdesk up
--workers N` loads the demo in its supervising parent with a context it then closes, and its API and worker
processes go on calling the vendors there (daemon threads, gone with the process).
"""

from __future__ import annotations

import asyncio
import threading
import urllib.parse
import uuid
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path

from sqlalchemy import select

from opsdesk.app.context import AppContext
from opsdesk.core.logging import get_logger
from opsdesk.crew.connections.models import CrewConnection
from opsdesk.crew.connections.schemas import ConnectionIn, Vendor
from opsdesk.crew.connections.secrets import TokenCipher
from opsdesk.crew.connections.service import put_connection
from opsdesk.crew.demo.servers.run import DEMO_TOKEN, DEMO_USERNAME, DemoVendors
from opsdesk.crew.runs import service as runs
from opsdesk.crew.runs.models import CrewRun
from opsdesk.crew.runs.schemas import RunIn

_log = get_logger(__name__)
_RUNNING: dict[Path, DemoVendors] = {}  # by data dir: this process's local vendors
_STARTING = threading.Lock()
DEMO_CREATOR = "demo"
SAMPLE = "book_library.md"
# vendor: (username, scope) — the project and space the local vendors are made with
_SCOPES: dict[Vendor, tuple[str | None, str]] = {
    "jira": (DEMO_USERNAME, "DEMO"),
    "confluence": (DEMO_USERNAME, "DEMO"),
    "gitlab": (None, "opsdesk/demo"),
}


@dataclass(frozen=True)
class CrewDemo:
    """What the loader did: the vendors' URLs (none when every vendor is a real one) and the sample run."""

    urls: dict[str, str]
    run_id: uuid.UUID | None
    run_started: bool


def demo_vendors(data_dir: Path) -> DemoVendors:
    """The local vendors this process runs for the data dir's demo, started on free ports the first time."""
    with _STARTING:
        if data_dir not in _RUNNING:
            _RUNNING[data_dir] = DemoVendors.start(data_dir / "crew-demo")
        return _RUNNING[data_dir]


def stop_demo_vendors(data_dir: Path) -> None:
    """Stops the data dir's local vendors if this process runs them."""
    with _STARTING:
        vendors = _RUNNING.pop(data_dir, None)
    if vendors is not None:
        vendors.stop()


async def load_crew_demo(ctx: AppContext, workspace_id: uuid.UUID) -> CrewDemo:
    """Starts the local vendors (once per process), connects the workspace to them and starts the sample run."""
    async with ctx.db.session() as session:
        rows = await session.scalars(select(CrewConnection).where(CrewConnection.workspace_id == workspace_id))
        real = {row.vendor for row in rows if not _is_local(row.base_url)}
    wanted = [vendor for vendor in _SCOPES if vendor not in real]
    urls: dict[str, str] = {}
    if wanted:
        vendors = await asyncio.to_thread(demo_vendors, ctx.settings.data_dir)  # free ports: none can be taken
        cipher = TokenCipher(ctx.settings.jwt_secret())
        async with ctx.db.session() as session:
            for vendor in wanted:
                username, scope = _SCOPES[vendor]
                urls[vendor] = vendors.urls()[vendor]
                body = ConnectionIn(base_url=urls[vendor], username=username, token=DEMO_TOKEN, scope=scope)
                await put_connection(session, workspace_id, vendor, body, cipher)
    run_id, started = await _sample_run(ctx, workspace_id)
    _log.info("crew_demo_loaded", vendors=urls, run_id=str(run_id), run_started=started)
    return CrewDemo(urls, run_id, started)


async def _sample_run(ctx: AppContext, workspace_id: uuid.UUID) -> tuple[uuid.UUID, bool]:
    """The demo's run (made the first time; ``crew.advance`` is queued with it)."""
    async with ctx.db.session() as session:
        existing = await session.scalar(
            select(CrewRun.id).where(CrewRun.workspace_id == workspace_id, CrewRun.created_by == DEMO_CREATOR).limit(1)
        )
        if existing is not None:
            return existing, False
        requirement = files("opsdesk.crew").joinpath("samples").joinpath(SAMPLE).read_text(encoding="utf-8")
        run = await runs.create_run(session, workspace_id, RunIn(requirement=requirement), created_by=DEMO_CREATOR)
        return run.id, True


def _is_local(base_url: str) -> bool:
    return urllib.parse.urlsplit(base_url).hostname in ("127.0.0.1", "localhost")
