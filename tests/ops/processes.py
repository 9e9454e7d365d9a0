"""`opsdesk up` as a user runs it: a real process on a free port, its output in a file, stopped with a signal."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.support.live_server import free_port


def opsdesk_env(data_dir: Path, **extra: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("OPSDESK_")}
    env.update(
        {
            "OPSDESK_ENV": "test",
            "OPSDESK_DATA_DIR": str(data_dir),
            "OPSDESK_SECRET_KEY": "ops-test-secret-key-that-is-long-enough-for-hs256",
            "OPSDESK_LOCAL_LLM_ENABLED": "false",
            "OPSDESK_DB_POOL_SIZE": "4",
            "OPSDESK_LOG_LEVEL": "WARNING",
        }
    )
    env.update(extra)
    return env


def run_cli(args: list[str], env: dict[str, str]) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "opsdesk.cli", *args], env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


class OpsdeskUp:
    """One `opsdesk up` process."""

    def __init__(self, env: dict[str, str], log_path: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        self._log = log_path.open("wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "opsdesk.cli", "up", "--host", "127.0.0.1", "--port", str(self.port)],
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    def wait_ready(self, timeout_s: float = 240) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"opsdesk up exited ({self.process.returncode}):\n{self.output()}")
            try:
                if httpx.get(f"{self.url}/readyz", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        raise AssertionError(f"opsdesk up never became ready:\n{self.output()}")

    def terminate(self, timeout_s: float = 60) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout_s)
        finally:
            self._log.close()

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(30)
        self._log.close()

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")[-6000:]


def postmaster_pid(pgdata: Path) -> int | None:
    """The pid in PostgreSQL's lock file, if the file is there."""
    try:
        return int((pgdata / "postmaster.pid").read_text().splitlines()[0])
    except (FileNotFoundError, IndexError, ValueError):
        return None


def alive(pid: int | None) -> bool:
    if pid is None:
        return False
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(") ", 1)[1][0] != "Z"
    except (FileNotFoundError, IndexError):
        return False


def wait_until(condition: object, what: str, timeout_s: float = 60) -> None:
    """Polls `condition` (a callable) until true; the timeout only guards against a hang."""
    deadline = time.monotonic() + timeout_s
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting until {what}")
        time.sleep(0.1)


def open_data_dir() -> Path:
    """A data dir the embedded server's system user can enter (pytest's tmp_path is private to root)."""
    import tempfile

    path = Path(tempfile.mkdtemp(prefix="opsdesk-ops-"))
    os.chmod(path, 0o755)
    return path
