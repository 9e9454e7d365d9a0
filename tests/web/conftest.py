"""A real opsdesk server (its own thread and event loop, its own app context) on the test database, seeded with a
demo workspace: an admin who is also in a second workspace, a viewer, the planner's demo with a forecast and a plan.
Browser tests drive Debian's chromium through Playwright; without it they skip, and under CI=true they fail."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import threading
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest
import uvicorn

from opsdesk.api import create_app
from opsdesk.app.context import AppContext
from opsdesk.auth import service as auth
from opsdesk.auth.roles import Role
from opsdesk.core.settings import Settings
from opsdesk.jobs import registry
from opsdesk.jobs.worker import run_pending
from opsdesk.knowledge.ingest import worker as ingest_worker
from opsdesk.planner.demo.load import load_dealership
from opsdesk.planner.runs import forecasts
from opsdesk.planner.runs import tasks as planner_tasks
from tests.conftest import make_settings
from tests.support.database import TestDatabases, each_database
from tests.support.live_server import free_port

T = TypeVar("T")
CHROMIUM = "/usr/bin/chromium"
PASSWORD = "correct horse battery"
SKUS = {"EXP-XLT-RWD", "MAV-XLT-AWD", "MAV-LAR-AWD"}
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


@dataclass
class People:
    admin: str = "admin@acme.example"
    viewer: str = "viewer@acme.example"
    workspace: str = "acme"
    other_workspace: str = "globex"


class ConsoleServer:
    """uvicorn in a thread whose loop also owns the AppContext, so seeding and serving share one loop."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.ctx: AppContext
        self.loop: asyncio.AbstractEventLoop
        self.server: uvicorn.Server

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as exc:  # reported to the test thread
            self._error = exc
            self._ready.set()

    async def _main(self) -> None:
        self.loop = asyncio.get_running_loop()
        self.ctx = await AppContext.open(self.settings, migrate=False)
        await ingest_worker.start_in_process(self.ctx)
        config = uvicorn.Config(
            create_app(self.settings, context=self.ctx),
            host="127.0.0.1",
            port=self.port,
            log_config=None,
            access_log=False,
            lifespan="on",
        )
        self.server = uvicorn.Server(config)
        serving = asyncio.create_task(self.server.serve())
        while not self.server.started and not serving.done():  # noqa: ASYNC110 (uvicorn offers only a flag)
            await asyncio.sleep(0.02)
        self._ready.set()
        try:
            await serving
        finally:
            await ingest_worker.stop_in_process(self.ctx)
            await self.ctx.close()

    def start(self) -> ConsoleServer:
        self._thread.start()
        self._ready.wait(120)
        if self._error is not None:
            raise RuntimeError("the console server did not start") from self._error
        return self

    def call(self, work: Callable[[AppContext], Awaitable[T]], timeout_s: float = 120) -> T:
        """Runs `work(ctx)` on the server's loop (seeding, reading back) and returns its result."""
        future: Future[T] = asyncio.run_coroutine_threadsafe(work(self.ctx), self.loop)  # type: ignore[arg-type]
        return future.result(timeout_s)

    def stop(self) -> None:
        self.server.should_exit = True
        self._thread.join(30)


async def seed(ctx: AppContext, people: People) -> dict[str, Any]:
    async with ctx.db.session() as session:
        workspace = await auth.create_workspace(session, people.workspace, "Acme Motors")
        other = await auth.create_workspace(session, people.other_workspace, "Globex Trading")
        admin = await auth.create_user(session, people.admin, PASSWORD, "Ada Admin")
        viewer = await auth.create_user(session, people.viewer, PASSWORD, "Vic Viewer")
        await auth.add_member(session, admin, workspace, Role.admin)
        await auth.add_member(session, admin, other, Role.operator)
        await auth.add_member(session, viewer, workspace, Role.viewer)
        report = await load_dealership(session, workspace.id, skus=SKUS)
        assert report.applied, report.problems[:5]
        run = await forecasts.start_forecast(session, workspace.id, horizon=8, then_recommend=True)
        workspace_id = workspace.id
    task = registry.find(forecasts.FORECAST_TASK)
    assert task is not None and planner_tasks.forecast is not None
    await run_pending(ctx, tasks={forecasts.FORECAST_TASK: task})
    return {"workspace_id": workspace_id, "forecast_run": run.id}


@pytest.fixture(scope="package")
def console_database(databases: TestDatabases) -> Iterator[str]:
    yield from each_database(databases)


@pytest.fixture(scope="package")
def people() -> People:
    return People()


@pytest.fixture(scope="package")
def console(console_database: str, tmp_path_factory: pytest.TempPathFactory, people: People) -> Iterator[ConsoleServer]:
    settings = make_settings(console_database, tmp_path_factory.mktemp("console"), log_level="WARNING")
    server = ConsoleServer(settings).start()
    try:
        server.call(lambda ctx: seed(ctx, people), timeout_s=240)
        yield server
    finally:
        server.stop()


def chromium_or_skip() -> str:
    """Debian's chromium; missing, the browser tests skip (fail under CI=true: `make test` installs it)."""
    if Path(CHROMIUM).exists() or shutil.which("chromium"):
        return CHROMIUM if Path(CHROMIUM).exists() else str(shutil.which("chromium"))
    reason = "chromium is not installed (apt-get install -y chromium; `make test` does it)"
    if os.environ.get("CI") == "true":
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture(scope="package")
def browser() -> Iterator[Any]:
    executable = chromium_or_skip()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        try:
            yield launched
        finally:
            launched.close()


@contextlib.contextmanager
def new_page(browser: Any, *, width: int = 1280, height: int = 860) -> Iterator[Any]:
    """A page in a fresh browser context (its own cookies), closed with the context."""
    context = browser.new_context(viewport={"width": width, "height": height})
    opened = context.new_page()
    opened.set_default_timeout(20_000)
    try:
        yield opened
    finally:
        context.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    with new_page(browser) as opened:
        yield opened


def photograph(page: Any, name: str) -> None:
    """The page as it is now, whole at desktop width and its first screen at phone width, in docs/screenshots/."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    size = page.viewport_size
    page.screenshot(path=str(SCREENSHOTS / f"{name}-desktop.png"), full_page=True)
    page.set_viewport_size({"width": 390, "height": 844})
    page.screenshot(path=str(SCREENSHOTS / f"{name}-phone.png"))
    page.set_viewport_size(size)


def sign_in(page: Any, console: ConsoleServer, email: str, *, next_path: str = "/") -> None:
    page.goto(f"{console.url}{next_path}")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{console.url}{next_path}")
