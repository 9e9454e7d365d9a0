"""The database going away under a running `opsdesk up`: 503 with Retry-After (never a 500, never a dropped
connection), /readyz says so, the embedded server is restarted by its supervisor, and opsdesk recovers by itself."""

from __future__ import annotations

import fcntl
import os
import shutil
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from opsdesk.db.embedded import EmbeddedPostgres
from tests.ops.processes import OpsdeskUp, alive, open_data_dir, opsdesk_env, postmaster_pid, run_cli, wait_until

pytestmark = pytest.mark.slow


@pytest.fixture
def data_dir() -> Iterator[Path]:
    path = open_data_dir()
    yield path
    shutil.rmtree(path, ignore_errors=True)


def _api_keys(client: httpx.Client, url: str, key: str) -> httpx.Response:
    """A request that reads the database: the workspace's API keys."""
    return client.get(f"{url}/api/v1/workspaces/default/api-keys", headers={"Authorization": f"Bearer {key}"})


def _assert_unavailable(response: httpx.Response) -> None:
    assert response.status_code == 503, response.text
    assert response.headers["retry-after"] == "2"
    assert response.json()["error"]["code"] == "database_unavailable"


@contextmanager
def _restarts_held_back(data_dir: Path) -> Iterator[None]:
    """Holds the embedded server's control lock, so its supervisor cannot restart it until we let go."""
    with (data_dir / "pg.control.lock").open("a+b") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def test_embedded_postgres_killed_under_opsdesk_up_gives_503s_then_recovers_and_stops_with_opsdesk(
    data_dir: Path,
) -> None:
    tmp_path = data_dir
    env = opsdesk_env(tmp_path)
    pgdata = tmp_path / "pg"
    server = OpsdeskUp(env, tmp_path / "up.log")
    try:
        server.wait_ready()
        first_pid = postmaster_pid(pgdata)
        assert alive(first_pid)

        # Another opsdesk process on the same data dir comes and goes: it was not the last, the server stays.
        key = run_cli(["apikey", "create", "--role", "admin", "--quiet"], env).strip().splitlines()[-1]
        assert alive(first_pid)

        with httpx.Client(timeout=30) as client:
            assert _api_keys(client, server.url, key).status_code == 200

            with _restarts_held_back(tmp_path):
                os.kill(first_pid, signal.SIGKILL)  # type: ignore[arg-type]
                wait_until(lambda: not alive(first_pid), "the postmaster is gone")
                for _ in range(20):
                    _assert_unavailable(_api_keys(client, server.url, key))
                wait_until(lambda: client.get(f"{server.url}/readyz").status_code == 503, "/readyz says 503")
                ready = client.get(f"{server.url}/readyz")
                assert ready.json()["database"] is False and ready.headers["retry-after"] == "2"

            # Let go: the supervisor restarts the server and the same opsdesk process serves again.
            wait_until(lambda: _api_keys(client, server.url, key).status_code == 200, "requests succeed again")
            wait_until(lambda: client.get(f"{server.url}/readyz").status_code == 200, "/readyz says 200 again")
        second_pid = postmaster_pid(pgdata)
        assert second_pid != first_pid and alive(second_pid)
        assert server.process.poll() is None

        assert server.terminate() == 0 or server.process.returncode in (0, 128 + signal.SIGTERM)
        wait_until(lambda: not alive(second_pid), "the embedded server stopped with the last opsdesk process", 30)
        assert postmaster_pid(pgdata) is None
    finally:
        server.kill()
        _stop_leftover(pgdata)


def test_an_external_postgres_stopped_and_started_again_gives_503s_then_recovery(data_dir: Path) -> None:
    tmp_path = data_dir
    external = EmbeddedPostgres(tmp_path / "external", cleanup_mode="stop")  # a server opsdesk did not start
    (tmp_path / "external").mkdir()
    external.start()
    (tmp_path / "opsdesk").mkdir()
    env = opsdesk_env(tmp_path / "opsdesk", OPSDESK_DATABASE_URL=external.url("asyncpg"))
    server = OpsdeskUp(env, tmp_path / "up.log")
    try:
        server.wait_ready()
        key = run_cli(["apikey", "create", "--role", "admin", "--quiet"], env).strip().splitlines()[-1]
        with httpx.Client(timeout=30) as client:
            assert _api_keys(client, server.url, key).status_code == 200

            external._stop_server()
            for _ in range(20):
                _assert_unavailable(_api_keys(client, server.url, key))
            wait_until(lambda: client.get(f"{server.url}/readyz").status_code == 503, "/readyz says 503")

            external.restart()
            wait_until(lambda: _api_keys(client, server.url, key).status_code == 200, "requests succeed again")
            # /readyz reuses its probe for 1 s, so it may say 503 a moment longer than requests do.
            wait_until(lambda: client.get(f"{server.url}/readyz").status_code == 200, "/readyz says 200 again")
        assert server.process.poll() is None
    finally:
        server.terminate()
        server.kill()
        external.stop()


def _stop_leftover(pgdata: Path) -> None:
    pid = postmaster_pid(pgdata)
    if alive(pid):
        os.kill(pid, signal.SIGKILL)  # type: ignore[arg-type]
