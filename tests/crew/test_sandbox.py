"""The sandbox that runs generated code: its own directory, no network, a time limit and a memory limit."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest

from opsdesk.crew.agents.schemas import ProjectFile
from opsdesk.crew.sandbox import SandboxLimits, run_in_sandbox, run_project_tests


@pytest.fixture
def listening_port() -> Iterator[int]:
    """A TCP server on 127.0.0.1 that this process can reach."""
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]
    accepting = threading.Thread(target=lambda: _accept(server), daemon=True)
    accepting.start()
    yield port
    server.close()


def _accept(server: socket.socket) -> None:
    try:
        while True:
            connection, _ = server.accept()
            connection.close()
    except OSError:
        return


def _project(test_body: str) -> list[ProjectFile]:
    return [ProjectFile(path="tests/test_it.py", content=test_body)]


async def test_generated_code_cannot_reach_the_network(listening_port: int) -> None:
    socket.create_connection(("127.0.0.1", listening_port), timeout=2).close()  # reachable from here
    body = (
        "import socket\n\n"
        "def test_connects():\n"
        f"    socket.create_connection(('127.0.0.1', {listening_port}), timeout=2).close()\n\n"
        "def test_resolves():\n"
        "    socket.getaddrinfo('example.com', 443)\n"
    )
    run = await run_project_tests(_project(body), limits=SandboxLimits(time_s=60))
    assert run.failed == 2 and run.passed == 0
    assert run.isolation in ("network namespace", "socket guard")


async def test_a_test_that_runs_too_long_is_killed() -> None:
    body = "import time\n\ndef test_sleeps():\n    time.sleep(60)\n"
    run = await run_project_tests(_project(body), limits=SandboxLimits(time_s=3))
    assert run.timed_out and not run.green


async def test_memory_beyond_the_limit_is_refused() -> None:
    body = "def test_allocates():\n    block = bytearray(1500 * 1024 * 1024)\n    assert block\n"
    run = await run_project_tests(_project(body), limits=SandboxLimits(time_s=60, memory_bytes=1024**3))
    assert run.failed == 1 and "MemoryError" in run.output_tail


async def test_files_stay_in_the_sandbox_directory_and_the_environment_holds_no_secrets(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with pytest.raises(ValueError, match="outside the sandbox"):
        # the schema refuses such a path already; the sandbox checks again for whatever is built without it
        await run_in_sandbox([ProjectFile.model_construct(path="../escape.py", content="")], ["python", "-c", "pass"])
    monkeypatch.setenv("OPSDESK_SECRET_KEY", "sandbox-must-not-see-this")
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.invalid:3128")
    script = "import os, pathlib; print(sorted(os.environ)); print(pathlib.Path.cwd().name)"
    result = await run_in_sandbox([], ["python", "-c", script], limits=SandboxLimits(time_s=30))
    assert result.exit_code == 0, result.output
    assert "OPSDESK_SECRET_KEY" not in result.output and "HTTPS_PROXY" not in result.output
    assert "sandbox-must-not-see-this" not in result.output
    assert result.output.strip().endswith("project")
