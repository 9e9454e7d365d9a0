"""Files of a git repository (a local work tree, or a shallow clone of an http(s) or file:// URL) for ingestion.

Clones are hardened: only the URL's own protocol is enabled (no submodules, no ``ext::``), redirects are off,
libcurl is pinned to the addresses the SSRF guard approved (``http.curloptResolve``), proxies and user or system
git configuration are ignored, nothing is checked out (files are read from git's objects, so symlinks in the
repository cannot point the reader at the server's files), and the clone is killed when it runs past its time
or grows past its size limit. Local paths and ``file://`` URLs read the server's disk and are refused unless
``allow_local`` is set (the CLI sets it; the HTTP API should not).

A ``branch`` (or tag) is cloned instead of the remote's HEAD; its name is checked by git's own rules for branch names
(``git check-ref-format --branch``) before git sees it, so it can never be read as an option. A ``PathFilter``
narrows the kept files to those matching its patterns (scope.py).
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from urllib.parse import unquote, urlsplit

from opsdesk.core.errors import InvalidInput
from opsdesk.knowledge.extraction.detect import CODE_FILENAMES, CODE_LANGUAGES, file_extension, looks_binary
from opsdesk.knowledge.sources.scope import PathFilter
from opsdesk.knowledge.sources.urls import resolve_host, validate_url

log = logging.getLogger(__name__)

DOC_EXTENSIONS = frozenset({"md", "markdown", "mdx", "rst", "txt"})
KEPT_EXTENSIONS = DOC_EXTENSIONS | frozenset(CODE_LANGUAGES) | {"json"}
_GENERATED = frozenset(
    {"package-lock.json", "yarn.lock", "pnpm-lock.yaml", "poetry.lock", "uv.lock", "cargo.lock", "go.sum",
     "composer.lock", "gemfile.lock"}
)  # fmt: skip
_REGULAR_MODES = frozenset({"100644", "100755"})
_DEFAULT_PORTS = {"http": 80, "https": 443}
_BLOB_BATCH = 64
_EVERY_PATH = PathFilter()
MAX_BRANCH_CHARS = 255
_BAD_BRANCH_CHARS = frozenset(" ~^:?*[\\\x7f") | {chr(code) for code in range(32)}


class GitSourceError(InvalidInput):
    """The repository cannot be read: bad location, refused URL, git failure, timeout or size limit."""

    error_type = "git_source_error"


@dataclass(frozen=True, slots=True)
class GitFile:
    """One file to ingest: its path inside the repository, its bytes and the commit it was read at."""

    path: str
    data: bytes
    commit: str


def branch_problem(name: str) -> str | None:
    """Why ``name`` is not a valid branch name by ``git check-ref-format --branch`` (plus a length cap), or None."""
    if not name:
        return "a branch name cannot be empty"
    if len(name) > MAX_BRANCH_CHARS:
        return f"a branch name is at most {MAX_BRANCH_CHARS} characters"
    if name.startswith("-"):
        return "a branch name cannot start with '-'"
    if name == "HEAD":
        return "'HEAD' is not a branch name; leave the branch out to read the repository's default branch"
    if any(char in _BAD_BRANCH_CHARS for char in name):
        return "a branch name cannot contain spaces, control characters or any of ~ ^ : ? * [ \\"
    if ".." in name or "@{" in name:
        return "a branch name cannot contain '..' or '@{'"
    if name.startswith("/") or name.endswith(("/", ".")) or "//" in name:
        return "a branch name cannot start or end with '/', end with '.', or contain '//'"
    if any(part.startswith(".") or part.endswith(".lock") for part in name.split("/")):
        return "no part of a branch name can start with '.' or end with '.lock'"
    return None


def is_kept_path(path: str) -> bool:
    """True for markdown, text and code files by extension or well-known name; lock files and minified code out."""
    name = PurePosixPath(path).name.lower()
    if name in _GENERATED or name.endswith((".min.js", ".min.css")):
        return False
    return name in CODE_FILENAMES or file_extension(name) in KEPT_EXTENSIONS


def collect_git_files(
    source: str,
    *,
    workdir: Path,
    max_files: int = 2_000,
    max_file_bytes: int = 1_000_000,
    allow_private: bool = False,
    allow_local: bool = False,
    timeout_s: float = 120.0,
    max_repo_bytes: int = 500 * 1024 * 1024,
    branch: str | None = None,
    paths: PathFilter = _EVERY_PATH,
) -> list[GitFile]:
    """Collect markdown, text and code files (docs first, then by path) from a repository path or URL.

    ``branch`` (a branch or tag) is read instead of the default branch (a local work tree's checkout, a remote's
    HEAD); ``paths`` keeps only the files it allows. Blocking (runs git); call it from a worker thread.
    ``workdir`` receives the clone and is left to the caller.
    """
    if shutil.which("git") is None:
        raise GitSourceError("git is not installed on this server.")
    if branch is not None and (problem := branch_problem(branch)) is not None:
        raise GitSourceError(f"'{branch[:80]}' is not a valid branch name: {problem}.")
    limits = _Limits(max_files, max_file_bytes, timeout_s, paths)
    if _looks_remote(source):
        repo = _clone(
            source,
            workdir,
            allow_private=allow_private,
            allow_local=allow_local,
            timeout_s=timeout_s,
            max_repo_bytes=max_repo_bytes,
            branch=branch,
        )
        return _collect_from_objects(repo, "HEAD", limits)
    if not allow_local:
        raise GitSourceError("Reading a repository from the server's disk is not allowed; give an http(s) URL.")
    path = Path(source).expanduser()
    if branch is None:
        return _collect_from_work_tree(path, limits)
    _require_work_tree(path, timeout_s)
    return _collect_from_objects(path, _resolve_local(path, branch, timeout_s), limits)


@dataclass(frozen=True, slots=True)
class _Limits:
    max_files: int
    max_file_bytes: int
    timeout_s: float
    paths: PathFilter

    def keeps(self, path: str) -> bool:
        return is_kept_path(path) and self.paths.allows(path)


def _looks_remote(source: str) -> bool:
    """URLs, git's ``transport::address`` form and scp-like ``host:path`` all count as remote, never as paths."""
    return "://" in source or "::" in source or re.match(r"^[^/\\]+:", source) is not None


# --- local work trees ----------------------------------------------------------------------------------------


def _require_work_tree(path: Path, timeout_s: float) -> None:
    if not path.is_dir():
        raise GitSourceError(f"'{path}' is not a directory.")
    inside = _git(["rev-parse", "--is-inside-work-tree"], cwd=path, timeout_s=timeout_s, check=False)
    if inside.strip() != b"true":
        raise GitSourceError(f"'{path}' is not inside a git work tree.")


def _resolve_local(path: Path, branch: str, timeout_s: float) -> str:
    """The commit a branch or tag of a local repository points at (its name already checked)."""
    found = _git(
        ["rev-parse", "--verify", "--quiet", f"{branch}^{{commit}}"], cwd=path, timeout_s=timeout_s, check=False
    )
    if not found.strip():
        raise GitSourceError(f"The repository has no branch or tag '{branch}'.")
    return found.decode().strip()


def _collect_from_work_tree(path: Path, limits: _Limits) -> list[GitFile]:
    timeout_s = limits.timeout_s
    _require_work_tree(path, timeout_s)
    commit = _git(["rev-parse", "--verify", "--quiet", "HEAD"], cwd=path, timeout_s=timeout_s, check=False)
    root = path.resolve()
    listing = _git(["ls-files", "-z", "--stage"], cwd=path, timeout_s=timeout_s)
    candidates: list[str] = []
    for entry in listing.split(b"\0"):
        if not entry:
            continue
        meta, _, raw_path = entry.partition(b"\t")
        relative = raw_path.decode("utf-8", errors="surrogateescape")
        if meta.split(b" ")[0].decode() in _REGULAR_MODES and limits.keeps(relative):
            candidates.append(relative)
    files: list[GitFile] = []
    for relative in _ordered(candidates):
        if len(files) >= limits.max_files:
            break
        data = _read_inside(root, relative, limits.max_file_bytes)
        if data is not None and not looks_binary(data):
            files.append(GitFile(relative, data, commit.decode().strip()))
    return files


def _read_inside(root: Path, relative: str, max_bytes: int) -> bytes | None:
    """The file's bytes when it is a regular file inside ``root`` and small enough; otherwise None."""
    target = root / relative
    try:
        if target.is_symlink() or not target.resolve().is_relative_to(root):
            return None
        if not target.is_file() or target.stat().st_size > max_bytes:
            return None
        return target.read_bytes()
    except OSError:
        return None


# --- clones ------------------------------------------------------------------------------------------------------


def _clone(
    url: str,
    workdir: Path,
    *,
    allow_private: bool,
    allow_local: bool,
    timeout_s: float,
    max_repo_bytes: int,
    branch: str | None,
) -> Path:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    config = ["-c", "protocol.allow=never", "-c", "core.symlinks=false", "-c", "http.followRedirects=false"]
    config += ["-c", "http.proxy=", "-c", "credential.helper=", "-c", "core.hooksPath=/dev/null"]
    if scheme in _DEFAULT_PORTS:
        url = validate_url(url, allow_private=allow_private)
        pinned = urlsplit(url)
        host, port = pinned.hostname or "", pinned.port or _DEFAULT_PORTS[scheme]
        addresses = resolve_host(host, port, allow_private=allow_private)
        resolve = ",".join(f"[{a}]" if a.version == 6 else str(a) for a in addresses)
        config += ["-c", f"protocol.{scheme}.allow=always", "-c", f"http.curloptResolve={host}:{port}:{resolve}"]
    elif scheme == "file":
        if not allow_local:
            raise GitSourceError("file:// repositories read the server's disk and are not allowed here.")
        if parts.netloc not in ("", "localhost") or not Path(unquote(parts.path)).is_dir():
            raise GitSourceError(f"'{url}' is not a local repository path.")
        config += ["-c", "protocol.file.allow=always"]
    else:
        raise GitSourceError("Only http(s):// repository URLs (and file:// where allowed) are supported.")
    workdir.mkdir(parents=True, exist_ok=True)
    destination = Path(tempfile.mkdtemp(prefix="clone-", dir=workdir))
    clone = ["clone", "--quiet", "--depth", "1", "--single-branch", "--no-tags", "--no-checkout"]
    if branch is not None:
        clone.append(f"--branch={branch}")  # checked by branch_problem: never an option of its own
    args = [*config, *clone, "--", url, str(destination)]
    try:
        _run_watched(args, destination, timeout_s=timeout_s, max_bytes=max_repo_bytes)
    except GitSourceError as exc:
        if branch is not None and "not found in upstream" in exc.message:
            raise GitSourceError(f"The repository has no branch or tag '{branch}'.") from exc
        raise
    return destination


def _collect_from_objects(repo: Path, treeish: str, limits: _Limits) -> list[GitFile]:
    timeout_s, max_file_bytes = limits.timeout_s, limits.max_file_bytes
    commit = _git(["rev-parse", "--verify", f"{treeish}^{{commit}}"], cwd=repo, timeout_s=timeout_s).decode().strip()
    listing = _git(["ls-tree", "-r", "-z", "-l", "--full-tree", commit], cwd=repo, timeout_s=timeout_s)
    blobs: dict[str, str] = {}
    for entry in listing.split(b"\0"):
        if not entry:
            continue
        meta, _, raw_path = entry.partition(b"\t")
        fields = meta.split()
        if len(fields) != 4 or fields[1] != b"blob" or fields[0].decode() not in _REGULAR_MODES:
            continue
        relative = raw_path.decode("utf-8", errors="surrogateescape")
        if not fields[3].isdigit() or int(fields[3]) > max_file_bytes or not limits.keeps(relative):
            continue
        blobs[relative] = fields[2].decode()
    files: list[GitFile] = []
    chosen = _ordered(list(blobs))
    for start in range(0, len(chosen), _BLOB_BATCH):
        batch = chosen[start : start + _BLOB_BATCH]
        for relative, data in zip(batch, _read_blobs(repo, [blobs[path] for path in batch], timeout_s), strict=True):
            if len(files) >= limits.max_files:
                return files
            if not looks_binary(data):
                files.append(GitFile(relative, data, commit))
    return files


def _read_blobs(repo: Path, object_ids: list[str], timeout_s: float) -> list[bytes]:
    """Blob contents through one ``git cat-file --batch`` process."""
    if not object_ids:
        return []
    result = subprocess.run(
        ["git", "cat-file", "--batch"],
        cwd=repo,
        input="".join(f"{oid}\n" for oid in object_ids).encode(),
        capture_output=True,
        timeout=timeout_s,
        env=_git_env(),
        check=False,
    )
    if result.returncode != 0:
        raise GitSourceError(f"git could not read the repository's files: {_last_line(result.stderr)}")
    out, position, blobs = result.stdout, 0, []
    for _ in object_ids:
        header_end = out.index(b"\n", position)
        size = int(out[position:header_end].split()[2])
        start = header_end + 1
        blobs.append(out[start : start + size])
        position = start + size + 1
    return blobs


def _ordered(paths: list[str]) -> list[str]:
    """Documentation first (it answers more questions per byte), then everything else, each by path."""
    return sorted(paths, key=lambda path: (file_extension(path) not in DOC_EXTENSIONS, path))


# --- running git -------------------------------------------------------------------------------------------------


def _git_env() -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if "proxy" not in key.lower() and not key.startswith("GIT_")}
    env.update(
        GIT_TERMINAL_PROMPT="0",
        GIT_ASKPASS="/bin/false",
        SSH_ASKPASS="/bin/false",
        GIT_CONFIG_NOSYSTEM="1",
        GIT_CONFIG_GLOBAL=os.devnull,
        GIT_PROTOCOL_FROM_USER="0",
        LC_ALL="C",
    )
    return env


def _git(args: list[str], *, cwd: Path, timeout_s: float, check: bool = True) -> bytes:
    try:
        result = subprocess.run(
            ["git", *args], cwd=cwd, capture_output=True, timeout=timeout_s, env=_git_env(), check=False
        )
    except subprocess.TimeoutExpired as exc:
        raise GitSourceError(f"git {args[0]} timed out after {timeout_s:g}s.") from exc
    if check and result.returncode != 0:
        raise GitSourceError(f"git {args[0]} failed: {_last_line(result.stderr)}")
    return result.stdout if result.returncode == 0 else b""


def _run_watched(args: list[str], watched: Path, *, timeout_s: float, max_bytes: int) -> None:
    """Run git, killing its whole process group on timeout or when ``watched`` grows past ``max_bytes``."""
    with tempfile.TemporaryFile() as stderr:
        process = subprocess.Popen(
            ["git", *args], stdout=subprocess.DEVNULL, stderr=stderr, env=_git_env(), start_new_session=True
        )
        deadline = time.monotonic() + timeout_s
        problem: str | None = None
        ticks = 0
        while process.poll() is None:
            ticks += 1
            if time.monotonic() > deadline:
                problem = f"git clone timed out after {timeout_s:g}s."
            elif ticks % 10 == 0 and _tree_size(watched) > max_bytes:
                problem = f"The repository is larger than the limit of {max_bytes:,} bytes."
            if problem is not None:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
                raise GitSourceError(problem)
            time.sleep(0.1)
        if process.returncode != 0:
            stderr.seek(0)
            raise GitSourceError(f"git clone failed: {_last_line(stderr.read())}")


def _tree_size(path: Path) -> int:
    total = 0
    for folder, _, names in os.walk(path):
        for name in names:
            try:
                total += os.lstat(os.path.join(folder, name)).st_size
            except OSError:
                continue
    return total


def _last_line(stderr: bytes) -> str:
    lines = [line.strip() for line in stderr.decode("utf-8", errors="replace").splitlines() if line.strip()]
    return lines[-1][:300] if lines else "no details"
