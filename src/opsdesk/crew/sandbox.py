"""Runs generated code's tests away from the host: a subprocess in its own temporary directory, with a time limit,
memory and CPU limits (``resource.setrlimit``), and no network.

Network: when ``unshare --net --map-root-user`` works on this machine (user namespaces allowed), the process runs in
a network namespace of its own with only a downed loopback, so nothing can connect anywhere. Where it does not, the
process gets an environment without proxy variables and a ``sitecustomize`` that makes every Internet socket
``connect``/``sendto`` and name lookup fail. The guard is installed in both cases; ``SandboxResult.isolation`` says
which applied.
"""

from __future__ import annotations

import asyncio
import os
import re
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from opsdesk.crew.agents.schemas import ProjectFile, TestRun

_GUARD = '''"""opsdesk sandbox: no network from this process (installed as sitecustomize)."""
import socket as _socket

_ALLOWED = {getattr(_socket, "AF_UNIX", -1)}


def _refuse(*args, **kwargs):
    raise OSError(101, "network is disabled in the opsdesk sandbox")


_original_connect = _socket.socket.connect
_original_connect_ex = _socket.socket.connect_ex
_original_sendto = _socket.socket.sendto


def _connect(self, address):
    if self.family in _ALLOWED:
        return _original_connect(self, address)
    _refuse()


def _connect_ex(self, address):
    if self.family in _ALLOWED:
        return _original_connect_ex(self, address)
    _refuse()


def _sendto(self, *args):
    if self.family in _ALLOWED:
        return _original_sendto(self, *args)
    _refuse()


_socket.socket.connect = _connect
_socket.socket.connect_ex = _connect_ex
_socket.socket.sendto = _sendto
_socket.getaddrinfo = _refuse
_socket.create_connection = _refuse
'''
_PROXY_VARIABLES = re.compile(r"(?i)^(https?|ftp|all|no)_proxy$")
_KEEP = ("PATH", "LANG", "LC_ALL", "TZ", "SYSTEMROOT")


@dataclass(frozen=True)
class SandboxLimits:
    time_s: float = 120.0
    memory_bytes: int = 2 * 1024**3
    cpu_s: int = 120
    max_output_bytes: int = 200_000


@dataclass(frozen=True)
class SandboxResult:
    exit_code: int | None
    timed_out: bool
    output: str
    isolation: str  # "network namespace" or "socket guard"


@cache
def network_namespace_available() -> bool:
    """Whether ``unshare --net --map-root-user`` can start a process here (probed once per process)."""
    unshare = shutil.which("unshare")
    if unshare is None:
        return False
    try:
        probe = subprocess.run([unshare, "--net", "--map-root-user", "true"], capture_output=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return probe.returncode == 0


def _limit(limits: SandboxLimits) -> None:  # runs in the child between fork and exec
    resource.setrlimit(resource.RLIMIT_AS, (limits.memory_bytes, limits.memory_bytes))
    resource.setrlimit(resource.RLIMIT_CPU, (limits.cpu_s, limits.cpu_s + 5))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_FSIZE, (64 * 1024**2, 64 * 1024**2))


def _environment(workdir: Path, guard_dir: Path) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key in _KEEP and not _PROXY_VARIABLES.match(key)}
    env.update(
        HOME=str(workdir),
        TMPDIR=str(workdir),
        PYTHONPATH=os.pathsep.join([str(guard_dir), str(workdir)]),
        PYTHONDONTWRITEBYTECODE="1",
        PYTEST_DISABLE_PLUGIN_AUTOLOAD="1",
        NO_PROXY="*",
    )
    return env


async def run_in_sandbox(
    files: Sequence[ProjectFile], command: Sequence[str], *, limits: SandboxLimits | None = None
) -> SandboxResult:
    """Writes the files into a fresh temporary directory and runs ``command`` there (``python`` means this
    interpreter); the directory is removed afterwards."""
    chosen = limits or SandboxLimits()
    with tempfile.TemporaryDirectory(prefix="opsdesk-sandbox-") as temp:
        root = Path(temp)
        workdir, guard_dir = root / "project", root / "guard"
        guard_dir.mkdir()
        (guard_dir / "sitecustomize.py").write_text(_GUARD)
        for file in files:
            target = (workdir / file.path).resolve()
            if not target.is_relative_to(workdir.resolve()):
                raise ValueError(f"a generated file would land outside the sandbox: {file.path}")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(file.content)
        workdir.mkdir(exist_ok=True)
        argv = [sys.executable if part == "python" else part for part in command]
        isolation = "socket guard"
        if network_namespace_available():
            argv = ["unshare", "--net", "--map-root-user", *argv]
            isolation = "network namespace"
        return await asyncio.to_thread(_run, argv, workdir, _environment(workdir, guard_dir), chosen, isolation)


def _run(argv: list[str], workdir: Path, env: dict[str, str], limits: SandboxLimits, isolation: str) -> SandboxResult:
    process = subprocess.Popen(
        argv,
        cwd=workdir,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        preexec_fn=lambda: _limit(limits),  # the limits must be set in the child before exec
    )
    try:
        output, _ = process.communicate(timeout=limits.time_s)
        timed_out = False
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)  # the whole group: pytest may have started children
        output, _ = process.communicate()
        timed_out = True
    text = output[-limits.max_output_bytes :].decode("utf-8", "replace")
    return SandboxResult(None if timed_out else process.returncode, timed_out, text, isolation)


_SUMMARY = re.compile(r"(\d+) (passed|failed|skipped|errors?|xfailed|xpassed)")


async def run_project_tests(files: Sequence[ProjectFile], *, limits: SandboxLimits | None = None) -> TestRun:
    """The project's own pytest run in the sandbox, summarised."""
    result = await run_in_sandbox(
        files, ["python", "-m", "pytest", "-q", "-rfE", "-p", "no:cacheprovider"], limits=limits
    )
    counts = {"passed": 0, "failed": 0, "skipped": 0, "errors": 0}
    summary = next((line for line in reversed(result.output.splitlines()) if _SUMMARY.search(line)), "")
    for number, word in _SUMMARY.findall(summary):
        key = "errors" if word.startswith("error") else word
        if key in counts:
            counts[key] = int(number)
    failures = re.findall(r"^(?:FAILED|ERROR) (\S+)", result.output, re.MULTILINE)
    return TestRun(
        passed=counts["passed"],
        failed=counts["failed"],
        skipped=counts["skipped"],
        errors=counts["errors"],
        exit_code=result.exit_code,
        timed_out=result.timed_out,
        failures=failures[:50],
        output_tail=result.output[-4000:],
        isolation=result.isolation,
    )
