"""`opsdesk up --workers 2`: two API processes on one port and one background worker, a killed worker restarted, and
every process stopped together. One `up` for all three (each start costs half a minute on a loaded machine)."""

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


def _workers(parent: psutil.Process) -> list[psutil.Process]:
    found = []
    for child in parent.children(recursive=False):
        try:
            if child.status() != psutil.STATUS_ZOMBIE and "opsdesk.cli worker" in _command(child):
                found.append(child)
        except psutil.Error:  # gone, or a zombie not reaped yet
            pass
    return found


def _command(process: psutil.Process) -> str:
    try:
        return " ".join(process.cmdline())
    except psutil.Error:  # the killed worker, not reaped yet
        return ""


async def test_up_with_two_workers_serves_on_one_port_restarts_a_killed_worker_and_stops_every_process(
    database_url: str, tmp_path: Path
) -> None:
    port = free_port()
    env = process_env(database_url, tmp_path, None)
    with (tmp_path / "up.log").open("wb") as log:
        up = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "opsdesk.cli", "up", "--workers", "2", "--port", str(port),
            env=env, stdout=log, stderr=log,
        )  # fmt: skip
    parent = psutil.Process(up.pid)
    try:
        async with httpx.AsyncClient(timeout=2) as http:
            for _ in range(300):
                try:
                    if (await http.get(f"http://127.0.0.1:{port}/readyz")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert up.returncode is None, (tmp_path / "up.log").read_text()
                await asyncio.sleep(0.2)
        commands = [_command(child) for child in parent.children(recursive=True)]
        assert sum("spawn_main" in command for command in commands) == 2, commands
        assert sum("opsdesk.cli worker" in command for command in commands) == 1, commands

        first = _workers(parent)[0]
        first.kill()  # kill -9
        replacement: list[psutil.Process] = []
        for _ in range(100):  # the supervisor looks twice a second
            replacement = [w for w in _workers(parent) if w.pid != first.pid]
            if replacement:
                break
            await asyncio.sleep(0.2)
        assert replacement, (tmp_path / "up.log").read_text()
        ours = [child for child in parent.children(recursive=True) if "resource_tracker" not in _command(child)]
    finally:
        up.send_signal(signal.SIGTERM)
        await asyncio.wait_for(up.wait(), 45)
    _, alive = psutil.wait_procs(ours, timeout=10)
    assert not alive, alive
