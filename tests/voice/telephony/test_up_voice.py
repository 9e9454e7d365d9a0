"""`opsdesk up --voice-port`: the voice gateway inside the main process, answering beside the HTTP API and hanging
up its calls when opsdesk stops."""

from __future__ import annotations

import asyncio
import signal
import sys
from pathlib import Path

import httpx
import pytest

from tests.ops.processes import opsdesk_env
from tests.voice.telephony.peers import SIPP, MediaPeer, free_port, run_sipp

pytestmark = [pytest.mark.slow, pytest.mark.skipif(SIPP is None, reason="sipp (Debian sip-tester) is not installed")]


async def _ready(url: str, server: asyncio.subprocess.Process, timeout: float = 240) -> None:
    async with httpx.AsyncClient() as client:
        for _ in range(int(timeout / 0.25)):
            if server.returncode is not None:
                raise AssertionError(f"opsdesk up exited {server.returncode}")
            try:
                if (await client.get(f"{url}/readyz", timeout=2)).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.25)
    raise AssertionError("opsdesk up never became ready")


async def test_opsdesk_up_answers_calls_and_hangs_them_up_when_it_stops(tmp_path: Path) -> None:
    http, sip = free_port(), free_port()
    log = (tmp_path / "up.log").open("wb")
    server = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "opsdesk.cli", "up", "--host", "127.0.0.1", "--port", str(http), "--voice-port", str(sip),
        env=opsdesk_env(tmp_path / "data"), stdout=log, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    try:
        await _ready(f"http://127.0.0.1:{http}", server)
        options = await run_sipp("options", sip, tmp_path)
        assert options.returncode == 0, options.explain()
        media = await MediaPeer().open()
        call = asyncio.create_task(run_sipp("bye_from_gateway", sip, tmp_path, variables={"mport": str(media.port)}))
        await media.wait_for_media()
        server.send_signal(signal.SIGTERM)
        result = await call
        media.close()
        assert result.returncode == 0, result.explain()
        assert await asyncio.wait_for(server.wait(), 60) in (0, 128 + signal.SIGTERM)  # as `opsdesk up` exits on it
    finally:
        if server.returncode is None:
            server.kill()
            await server.wait()
        log.close()


async def test_opsdesk_up_serves_without_the_voice_gateway_when_its_port_is_taken(tmp_path: Path) -> None:
    import socket

    http = free_port()
    taken = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    taken.bind(("127.0.0.1", 0))
    sip = taken.getsockname()[1]
    log_path = tmp_path / "up.log"
    log = log_path.open("wb")
    server = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "opsdesk.cli", "up", "--host", "127.0.0.1", "--port", str(http), "--voice-port", str(sip),
        env=opsdesk_env(tmp_path / "data"), stdout=log, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    try:
        await _ready(f"http://127.0.0.1:{http}", server)
        assert "no voice gateway" in log_path.read_text(errors="replace")
    finally:
        taken.close()
        if server.returncode is None:
            server.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(server.wait(), 60)
            except TimeoutError:
                server.kill()
                await server.wait()
        log.close()
