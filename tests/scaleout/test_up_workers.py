"""`opsdesk up --workers 2`: two API processes on one port and one background worker, stopped together."""

from __future__ import annotations

import asyncio
import signal
import sys
from pathlib import Path

import httpx
import psutil
import pytest

from tests.scaleout.conftest import process_env
from tests.support.live_server import free_port

pytestmark = pytest.mark.slow


async def test_up_with_two_workers_serves_on_one_port_and_stops_every_process(
    database_url: str, tmp_path: Path
) -> None:
    port = free_port()
    env = process_env(database_url, tmp_path, None)
    with (tmp_path / "up.log").open("wb") as log:
        parent = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "opsdesk.cli",
            "up",
            "--workers",
            "2",
            "--port",
            str(port),
            env=env,
            stdout=log,
            stderr=log,
        )
    try:
        async with httpx.AsyncClient(timeout=2) as http:
            for _ in range(300):
                try:
                    if (await http.get(f"http://127.0.0.1:{port}/readyz")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert parent.returncode is None, (tmp_path / "up.log").read_text()
                await asyncio.sleep(0.2)
            children = psutil.Process(parent.pid).children(recursive=True)
            commands = [" ".join(child.cmdline()) for child in children]
            assert sum("spawn_main" in command for command in commands) == 2, commands
            assert sum("opsdesk.cli worker" in command for command in commands) == 1, commands
    finally:
        parent.send_signal(signal.SIGTERM)
        await asyncio.wait_for(parent.wait(), 45)
    ours = [child for child, command in zip(children, commands, strict=True) if "resource_tracker" not in command]
    _, alive = psutil.wait_procs(ours, timeout=10)
    assert not alive, alive


async def test_up_with_workers_restarts_a_killed_worker(database_url: str, tmp_path: Path) -> None:
    port = free_port()
    env = process_env(database_url, tmp_path, None)
    with (tmp_path / "up.log").open("wb") as log:
        parent = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "opsdesk.cli", "up", "--workers", "2", "--port", str(port),
            env=env, stdout=log, stderr=log,
        )  # fmt: skip

    def workers() -> list[psutil.Process]:
        found = []
        for child in psutil.Process(parent.pid).children(recursive=False):
            try:
                if child.status() != psutil.STATUS_ZOMBIE and "opsdesk.cli worker" in " ".join(child.cmdline()):
                    found.append(child)
            except psutil.Error:  # gone, or a zombie not reaped yet
                pass
        return found

    try:
        for _ in range(300):
            if workers():
                break
            assert parent.returncode is None, (tmp_path / "up.log").read_text()
            await asyncio.sleep(0.2)
        first = workers()[0]
        first.kill()  # kill -9
        for _ in range(100):  # the supervisor looks twice a second
            replacement = [w for w in workers() if w.pid != first.pid]
            if replacement:
                break
            await asyncio.sleep(0.2)
        assert replacement, (tmp_path / "up.log").read_text()
    finally:
        parent.send_signal(signal.SIGTERM)
        await asyncio.wait_for(parent.wait(), 45)
