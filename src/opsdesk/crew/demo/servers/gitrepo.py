"""A bare git repository driven through the ``git`` binary (plumbing only, every call with a timeout).

Commits are built the way GitLab's commits API describes them: a list of file actions (create, update, delete,
move, chmod) applied to the branch's tree in a private index file, then ``commit-tree`` and a compare-and-swap
``update-ref``, so a concurrent commit to the same branch fails instead of being lost.
"""

from __future__ import annotations

import base64
import binascii
import os
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_FIELDS = (
    "id",
    "author_name",
    "author_email",
    "authored_date",
    "committer_name",
    "committer_email",
    "committed_date",
    "parents",
    "message",
)
_FORMAT = "%x1f".join(("%H", "%an", "%ae", "%aI", "%cn", "%ce", "%cI", "%P", "%B")) + "%x1e"
_ZERO = "0" * 40


class GitError(Exception):
    """A git command failed, or a commit action cannot apply; the message says why (GitLab's wording)."""


@dataclass(frozen=True)
class FileAction:
    """One entry of a commit's ``actions``."""

    action: str
    file_path: str
    content: bytes | None = None
    previous_path: str | None = None
    execute_filemode: bool | None = None

    @classmethod
    def from_json(cls, data: Any) -> FileAction:
        """Reads GitLab's JSON shape; content is text unless ``encoding`` is ``base64``."""
        if not isinstance(data, dict):
            raise GitError("each action must be an object")
        action = data.get("action")
        if action not in ("create", "update", "delete", "move", "chmod"):
            raise GitError("actions[action] does not have a valid value")
        path = _checked_path(data.get("file_path"))
        previous = _checked_path(data["previous_path"]) if data.get("previous_path") else None
        raw = data.get("content")
        content: bytes | None = None
        if raw is not None:
            if not isinstance(raw, str):
                raise GitError("actions[content] must be a string")
            try:
                content = base64.b64decode(raw, validate=True) if data.get("encoding") == "base64" else raw.encode()
            except binascii.Error as exc:
                raise GitError("actions[content] is not valid base64") from exc
        mode = data.get("execute_filemode")
        return cls(action, path, content, previous, bool(mode) if mode is not None else None)


class BareRepo:
    """One bare repository on disk."""

    def __init__(self, path: Path, *, timeout_s: float = 15.0) -> None:
        self.path = path
        self.timeout_s = timeout_s

    @classmethod
    def create(cls, path: Path, *, default_branch: str = "main", readme: str = "", timeout_s: float = 15.0) -> BareRepo:
        """A new bare repository whose default branch holds one commit with README.md."""
        path.parent.mkdir(parents=True, exist_ok=True)
        repo = cls(path, timeout_s=timeout_s)
        repo._run("init", "--bare", "--quiet", f"--initial-branch={default_branch}", str(path), git_dir=False)
        readme_action = FileAction("create", "README.md", (readme or f"# {path.stem}\n").encode())
        repo.commit(
            default_branch,
            "Initial commit",
            [readme_action],
            author=("opsdesk", "opsdesk@opsdesk.local"),
            create_from=None,
        )
        return repo

    # -- reading ---------------------------------------------------------------------------------------------------

    def resolve(self, ref: str) -> str | None:
        """The commit id ``ref`` names (branch, tag or sha), or None."""
        if not ref or ref.startswith("-"):
            return None
        result = self._run("rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}", check=False)
        return result.strip() or None

    def branches(self) -> dict[str, str]:
        """Branch name -> commit id."""
        out = self._run("for-each-ref", "--format=%(refname:strip=2)%00%(objectname)", "refs/heads")
        return dict(line.split("\0", 1) for line in out.splitlines() if line)  # type: ignore[misc]

    def commit_info(self, sha: str) -> dict[str, Any]:
        """One commit's fields (see ``_FIELDS``)."""
        return self._log(sha, "-1")[0]

    def log(self, ref: str, limit: int = 100) -> list[dict[str, Any]]:
        """The newest ``limit`` commits reachable from ``ref``."""
        return self._log(ref, f"--max-count={limit}")

    def read(self, ref: str, path: str) -> bytes | None:
        """A file's bytes at ``ref``, or None when it does not exist there."""
        sha = self.resolve(ref)
        if sha is None:
            return None
        try:
            kind = self._run("cat-file", "-t", f"{sha}:{path}", check=False).strip()
            if kind != "blob":
                return None
            return self._run_bytes("cat-file", "blob", f"{sha}:{path}")
        except GitError:
            return None

    def blob_id(self, ref: str, path: str) -> str | None:
        """The blob id of a file at ``ref``."""
        sha = self.resolve(ref)
        return (
            None
            if sha is None
            else (self._run("rev-parse", "--verify", "--quiet", f"{sha}:{path}", check=False).strip() or None)
        )

    def tree(self, ref: str, path: str = "", *, recursive: bool = False) -> list[dict[str, str]]:
        """Entries under ``path`` at ``ref``: id, name, type (blob/tree), path, mode."""
        sha = self.resolve(ref)
        if sha is None:
            return []
        args = ["ls-tree", "-z", "--full-tree"]
        if recursive:
            args += ["-r", "-t"]
        target = f"{sha}:{path.strip('/')}" if path.strip("/") else sha
        out = self._run(*args, target, check=False)
        entries = []
        for item in out.split("\0"):
            if not item:
                continue
            meta, name = item.split("\t", 1)
            mode, kind, object_id = meta.split(" ")
            full = f"{path.strip('/')}/{name}" if path.strip("/") else name
            entries.append({"id": object_id, "name": full.rsplit("/", 1)[-1], "type": kind, "path": full, "mode": mode})
        return entries

    # -- writing ---------------------------------------------------------------------------------------------------

    def create_branch(self, name: str, ref: str) -> str:
        """Creates ``name`` at ``ref``; fails when it exists or ``ref`` is unknown."""
        self._check_branch_name(name)
        sha = self.resolve(ref)
        if sha is None:
            raise GitError("Invalid reference name")
        if name in self.branches():
            raise GitError("Branch already exists")
        self._run("update-ref", f"refs/heads/{name}", sha, _ZERO)
        return sha

    def commit(
        self,
        branch: str,
        message: str,
        actions: list[FileAction],
        *,
        author: tuple[str, str],
        create_from: str | None,
    ) -> str:
        """Applies ``actions`` on ``branch`` (created from ``create_from`` when missing) and returns the commit id."""
        self._check_branch_name(branch)
        if not message.strip():
            raise GitError("commit_message is missing")
        if not actions:
            raise GitError("actions is missing")
        parent = self.resolve(f"refs/heads/{branch}") if branch in self.branches() else None
        base = parent
        if parent is None and create_from is not None:
            base = self.resolve(create_from)
            if base is None:
                raise GitError(f"You can only create or edit files when you are on a branch ({create_from} not found)")
        elif parent is None and self.branches():
            raise GitError("You can only create or edit files when you are on a branch")
        name, email = author
        env = {
            "GIT_AUTHOR_NAME": name,
            "GIT_AUTHOR_EMAIL": email,
            "GIT_COMMITTER_NAME": name,
            "GIT_COMMITTER_EMAIL": email,
        }
        with tempfile.TemporaryDirectory(prefix="opsdesk-git-") as scratch:
            env["GIT_INDEX_FILE"] = str(Path(scratch) / "index")
            if base is not None:
                self._run("read-tree", base, env=env)
            files = set(self._run("ls-files", "-z", env=env).split("\0")) - {""}
            for action in actions:
                self._apply(action, files, env)
            tree = self._run("write-tree", env=env).strip()
            parents = ["-p", base] if base is not None else []
            commit = self._run("commit-tree", tree, *parents, input=message.encode(), env=env).strip()
        self._run("update-ref", f"refs/heads/{branch}", commit, parent or _ZERO)
        return commit

    # -- internals -------------------------------------------------------------------------------------------------

    def _apply(self, action: FileAction, files: set[str], env: dict[str, str]) -> None:
        path = action.file_path
        if action.action == "create":
            if path in files:
                raise GitError(f"A file with this name already exists: {path}")
            self._stage(path, action.content or b"", action.execute_filemode, env)
            files.add(path)
        elif action.action == "update":
            if path not in files:
                raise GitError(f"A file with this name doesn't exist: {path}")
            self._stage(path, action.content or b"", action.execute_filemode, env)
        elif action.action == "delete":
            if path not in files:
                raise GitError(f"A file with this name doesn't exist: {path}")
            self._run("update-index", "--force-remove", "--", path, env=env)
            files.discard(path)
        elif action.action == "move":
            previous = action.previous_path
            if previous is None or previous not in files:
                raise GitError(f"A file with this name doesn't exist: {previous}")
            if path in files:
                raise GitError(f"A file with this name already exists: {path}")
            content = action.content if action.content is not None else self._index_blob(previous, env)
            self._run("update-index", "--force-remove", "--", previous, env=env)
            files.discard(previous)
            self._stage(path, content, action.execute_filemode, env)
            files.add(path)
        else:  # chmod
            if path not in files:
                raise GitError(f"A file with this name doesn't exist: {path}")
            self._run("update-index", "--chmod=+x" if action.execute_filemode else "--chmod=-x", "--", path, env=env)

    def _stage(self, path: str, content: bytes, executable: bool | None, env: dict[str, str]) -> None:
        blob = self._run("hash-object", "-w", "--stdin", input=content, env=env).strip()
        mode = "100755" if executable else "100644"
        self._run("update-index", "--add", "--cacheinfo", f"{mode},{blob},{path}", env=env)

    def _index_blob(self, path: str, env: dict[str, str]) -> bytes:
        line = self._run("ls-files", "-s", "-z", "--", path, env=env).split("\0")[0]
        return self._run_bytes("cat-file", "blob", line.split(" ")[1])

    def _check_branch_name(self, name: str) -> None:
        if (
            not name
            or name.startswith("-")
            or self._run("check-ref-format", "--branch", name, check=False, git_dir=False) == ""
        ):
            raise GitError("Branch name is invalid")

    def _log(self, ref: str, *limits: str) -> list[dict[str, Any]]:
        if self.resolve(ref) is None:
            return []
        out = self._run("log", *limits, f"--format={_FORMAT}", ref, "--")
        commits = []
        for record in out.split("\x1e"):
            record = record.strip("\n")
            if not record:
                continue
            values = record.split("\x1f")
            info = dict(zip(_FIELDS, values, strict=True))
            commits.append({**info, "parents": info["parents"].split()})
        return commits

    def _run(self, *args: str, **options: Any) -> str:
        """``_run_bytes`` decoded as text."""
        return self._run_bytes(*args, **options).decode("utf-8", "replace")

    def _run_bytes(
        self,
        *args: str,
        check: bool = True,
        git_dir: bool = True,
        input: bytes | None = None,
        env: dict[str, str] | None = None,
    ) -> bytes:
        command = ["git", *(["--git-dir", str(self.path)] if git_dir else []), *args]
        full_env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_CONFIG_GLOBAL": os.devnull,
            "GIT_TERMINAL_PROMPT": "0",
            "HOME": str(self.path.parent),
            **(env or {}),
        }
        try:
            done = subprocess.run(
                command, input=input, capture_output=True, timeout=self.timeout_s, env=full_env, check=False
            )
        except subprocess.TimeoutExpired as exc:
            raise GitError(f"git {args[0]} timed out after {self.timeout_s:g}s") from exc
        if done.returncode != 0:
            if not check:
                return b""
            raise GitError(done.stderr.decode("utf-8", "replace").strip() or f"git {args[0]} failed")
        return done.stdout


def _checked_path(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise GitError("actions[file_path] is missing")
    parts = value.split("/")
    if (
        value.startswith("/")
        or any(part in ("", ".", "..", ".git") for part in parts)
        or "\0" in value
        or len(value) > 1024
    ):
        raise GitError(f"actions[file_path] is invalid: {value}")
    return value
