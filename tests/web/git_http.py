"""A bare git repository served over smart HTTP on 127.0.0.1 by `git http-backend` (CGI), for the console's git
sources: the console, like the API, reads only http(s) repositories (shallow clones need the smart protocol)."""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

_GIT_ENV = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t"}


def make_bare_repo(
    root: Path, files: dict[str, str], name: str = "handbook.git", branches: dict[str, dict[str, str]] | None = None
) -> Path:
    """A bare repository under `root` holding `files` (path -> text) in one commit on its default branch, and for
    each of `branches` (name -> files) a branch from it with those files added or changed in a second commit."""
    work, bare = root / "work", root / name
    env = {**_GIT_ENV, "PATH": "/usr/bin:/bin", "HOME": str(root)}

    def git(*args: str) -> None:
        subprocess.run(["git", *args], cwd=work, check=True, env=env, timeout=30)

    def commit(changes: dict[str, str]) -> None:
        for path, text in changes.items():
            target = work / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text)
        git("add", "-A")
        git("commit", "-q", "-m", "commit")

    work.mkdir(parents=True, exist_ok=True)
    git("init", "-q")
    commit(files)
    for branch, changes in (branches or {}).items():
        git("checkout", "-q", "-b", branch)
        commit(changes)
        git("checkout", "-q", "-")
    subprocess.run(["git", "clone", "-q", "--bare", str(work), str(bare)], check=True, env=env, timeout=30)
    return bare


class _Backend(BaseHTTPRequestHandler):
    server: GitHttpServer

    def do_GET(self) -> None:
        self._run()

    def do_POST(self) -> None:
        self._run()

    def log_message(self, format: str, *args: object) -> None:  # quiet
        return

    def _run(self) -> None:
        path, _, query = self.path.partition("?")
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        env = {
            "PATH": "/usr/bin:/bin",
            "GIT_PROJECT_ROOT": str(self.server.root),
            "GIT_HTTP_EXPORT_ALL": "1",
            "REQUEST_METHOD": self.command,
            "PATH_INFO": path,
            "QUERY_STRING": query,
            "CONTENT_TYPE": self.headers.get("Content-Type", ""),
            "CONTENT_LENGTH": str(len(body)),
            "REMOTE_ADDR": self.client_address[0],
            "GIT_CONFIG_NOSYSTEM": "1",
            "HOME": str(self.server.root),
        }
        for header in ("Content-Encoding", "Git-Protocol"):
            if self.headers.get(header):
                env["HTTP_" + header.upper().replace("-", "_")] = self.headers[header]
        result = subprocess.run(
            [self.server.backend], input=body, capture_output=True, env=env, timeout=60, check=False
        )
        head, _, payload = result.stdout.partition(b"\r\n\r\n")
        status, headers = 200, []
        for line in head.decode("latin-1").split("\r\n"):
            name, _, value = line.partition(":")
            if name.lower() == "status":
                status = int(value.strip().split()[0])
            elif name:
                headers.append((name, value.strip()))
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


class GitHttpServer(ThreadingHTTPServer):
    """Serves every bare repository under `root` at http://127.0.0.1:PORT/<name>."""

    def __init__(self, root: Path) -> None:
        super().__init__(("127.0.0.1", 0), _Backend)
        self.root = root
        exec_path = subprocess.run(["git", "--exec-path"], capture_output=True, text=True, check=True, timeout=10)
        self.backend = os.path.join(exec_path.stdout.strip(), "git-http-backend")
        self._thread = threading.Thread(target=self.serve_forever, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def close(self) -> None:
        self.shutdown()
        self.server_close()
        self._thread.join(10)


def git_or_skip() -> None:
    import pytest

    if shutil.which("git") is None:
        pytest.skip("git is not installed")
