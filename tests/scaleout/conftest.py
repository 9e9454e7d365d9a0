"""Two API processes and one worker as real processes on the test database and the machine's Redis."""

from __future__ import annotations

import asyncio
import signal
import sys
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from opsdesk.app.context import AppContext
from opsdesk.orders.chat.runtime import close_order_flow
from tests.conftest import make_settings, redis_url_or_skip
from tests.support.database import TestDatabases, each_database
from tests.support.live_server import free_port
from tests.support.processes import opsdesk_env

_START_TIMEOUT_S = 60.0


def process_env(database_url: str, data_dir: Path, redis_url: str | None) -> dict[str, str]:
    """The environment of an opsdesk process on the test's database (and Redis)."""
    env = opsdesk_env(database_url, data_dir, log_level="WARNING")
    if redis_url:
        env["OPSDESK_REDIS_URL"] = redis_url
    return env


@dataclass
class Cluster:
    """API processes (their base URLs) and a worker, sharing one PostgreSQL and one Redis."""

    env: dict[str, str]
    urls: list[str] = field(default_factory=list)
    processes: list[asyncio.subprocess.Process] = field(default_factory=list)

    async def start_api(self, logs: Path) -> str:
        port = free_port()
        command = ["-m", "uvicorn", "opsdesk.api:create_app", "--factory", "--host", "127.0.0.1", "--port", str(port)]
        await self._spawn(command, logs / f"api-{port}.log")
        url = f"http://127.0.0.1:{port}"
        await self._wait_ready(url)
        self.urls.append(url)
        return url

    async def start_worker(self, logs: Path) -> None:
        await self._spawn(["-m", "opsdesk.cli", "worker"], logs / "worker.log")

    async def _spawn(self, args: list[str], log: Path) -> None:
        with log.open("wb") as out:
            process = await asyncio.create_subprocess_exec(
                sys.executable, *args, env=self.env, stdout=out, stderr=asyncio.subprocess.STDOUT
            )
        self.processes.append(process)

    async def _wait_ready(self, url: str) -> None:
        deadline = asyncio.get_running_loop().time() + _START_TIMEOUT_S
        async with httpx.AsyncClient(timeout=2) as http:
            while True:
                if any(process.returncode is not None for process in self.processes):
                    raise AssertionError("an opsdesk process ended during start-up (see its log in tmp_path)")
                try:
                    if (await http.get(f"{url}/readyz")).status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                if asyncio.get_running_loop().time() > deadline:
                    raise AssertionError(f"{url} did not become ready")
                await asyncio.sleep(0.2)

    async def stop(self) -> None:
        for process in self.processes:
            if process.returncode is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes:
            try:
                await asyncio.wait_for(process.wait(), 20)
            except TimeoutError:
                process.kill()
                await process.wait()


@pytest.fixture(scope="module")
def cluster_database(databases: TestDatabases) -> Iterator[str]:
    """One database for the module's cluster (starting three processes per test would take most of a minute)."""
    yield from each_database(databases)


@pytest.fixture(scope="module")
async def cluster(
    cluster_database: str, tmp_path_factory: pytest.TempPathFactory, redis_url_once: str
) -> AsyncIterator[Cluster]:
    """Two API processes and one worker on the module's database and the machine's Redis."""
    logs = tmp_path_factory.mktemp("cluster")
    data_dir = logs / "data"
    data_dir.mkdir()
    cluster = Cluster(process_env(cluster_database, data_dir, redis_url_once))
    try:
        await asyncio.gather(cluster.start_api(logs), cluster.start_api(logs))
        await cluster.start_worker(logs)
        yield cluster
    finally:
        await cluster.stop()


@pytest.fixture(scope="module")
def redis_url_once() -> str:
    return redis_url_or_skip()


@pytest.fixture
async def ctx(cluster_database: str, tmp_path: Path) -> AsyncIterator[AppContext]:
    """This test process's own context on the cluster's database (to seed data and read results)."""
    context = await AppContext.open(make_settings(cluster_database, tmp_path), migrate=False)
    try:
        yield context
    finally:
        await close_order_flow(context)
        await context.close()
