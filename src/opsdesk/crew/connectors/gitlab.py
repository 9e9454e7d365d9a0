"""GitLab through the official ``python-gitlab`` SDK: project lookup, branches, one commit with many file actions,
merge requests with a description and a checklist, pipelines (create or trigger, and status), files and trees.

Idempotency: a branch that exists is reused; a commit carries the trailer ``Opsdesk-Key: opsdesk-<hash>`` and the
branch's recent commits are searched for it first; a merge request is the open one for the same source and target
branches (its description holds the key in an HTML comment); a pipeline is the one already created for the same
ref and commit.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import gitlab
from gitlab.exceptions import GitlabError
from pydantic import SecretStr

from opsdesk.crew.connectors.base import (
    ConnectorPolicy,
    VendorCredentials,
    VendorGuard,
    VendorRejected,
    idempotency_tag,
)

_VENDOR = "gitlab"
_TRAILER = "Opsdesk-Key:"
_RECENT_COMMITS = 50
FINISHED = frozenset({"success", "failed", "canceled", "skipped"})


@dataclass(frozen=True)
class FileChange:
    """One file action of a commit; ``upsert`` becomes create or update depending on the branch's tree."""

    action: Literal["create", "update", "upsert", "delete", "move"]
    path: str
    content: str | None = None
    previous_path: str | None = None


@dataclass(frozen=True)
class GitLabProject:
    id: int
    path: str
    default_branch: str
    web_url: str


@dataclass(frozen=True)
class GitLabCommit:
    sha: str
    title: str
    web_url: str
    created: bool = False


@dataclass(frozen=True)
class GitLabMergeRequest:
    iid: int
    title: str
    state: str
    web_url: str
    created: bool = False


@dataclass(frozen=True)
class GitLabPipeline:
    id: int
    ref: str
    sha: str
    status: str
    web_url: str
    created: bool = False

    @property
    def finished(self) -> bool:
        return self.status in FINISHED


class _Gitlab(gitlab.Gitlab):
    """python-gitlab that never sleeps and retries by itself (429 and 5xx are the guard's to retry)."""

    def http_request(self, *args: Any, **kwargs: Any) -> Any:
        kwargs["obey_rate_limit"] = False
        kwargs["retry_transient_errors"] = False
        kwargs["max_retries"] = 0
        return super().http_request(*args, **kwargs)


def _describe(exc: BaseException) -> tuple[int | None, str]:
    if isinstance(exc, GitlabError):
        message = exc.error_message
        return exc.response_code, message if isinstance(message, str) else str(message)
    return None, str(exc)


class GitLabConnector:
    """One workspace's GitLab; async methods, SDK calls in a worker thread behind the guard."""

    def __init__(self, credentials: VendorCredentials, policy: ConnectorPolicy | None = None) -> None:
        self._credentials = credentials
        self.guard = VendorGuard(_VENDOR, policy or ConnectorPolicy(), _describe)
        self._client: gitlab.Gitlab | None = None

    async def project(self, path: str) -> GitLabProject:
        """The project by ``group/name`` path or numeric id."""

        def work() -> GitLabProject:
            project = self._api().projects.get(path)
            return GitLabProject(
                int(project.id), str(project.path_with_namespace), str(project.default_branch), str(project.web_url)
            )

        return await self.guard.call("project", work)

    async def ensure_branch(self, project: str, branch: str, ref: str) -> tuple[str, bool]:
        """The branch's head commit, creating the branch from ``ref`` when missing; and whether it was created."""

        def work() -> tuple[str, bool]:
            remote = self._api().projects.get(project, lazy=True)
            try:
                return str(remote.branches.get(branch).commit["id"]), False
            except GitlabError as exc:
                if exc.response_code != 404:
                    raise
            return str(remote.branches.create({"branch": branch, "ref": ref}).commit["id"]), True

        return await self.guard.call("ensure_branch", work)

    async def commit(
        self,
        project: str,
        branch: str,
        key: str,
        message: str,
        changes: Sequence[FileChange],
        *,
        start_branch: str | None = None,
    ) -> GitLabCommit:
        """One commit with every change, once per ``key`` (a retry finds the first one by its trailer)."""
        if not changes:
            raise VendorRejected(_VENDOR, "a commit needs at least one file change")
        trailer = f"{_TRAILER} {idempotency_tag(key)}"

        def work() -> GitLabCommit:
            remote = self._api().projects.get(project, lazy=True)
            existing = self._commit_with(remote, branch, trailer)
            if existing is not None:
                return existing
            actions = self._actions(remote, branch if start_branch is None else start_branch, changes)
            data: dict[str, Any] = {
                "branch": branch,
                "commit_message": f"{message.rstrip()}\n\n{trailer}\n",
                "actions": actions,
            }
            if start_branch is not None:
                data["start_branch"] = start_branch
            commit = remote.commits.create(data)
            return GitLabCommit(str(commit.id), str(commit.title), str(commit.web_url), created=True)

        return await self.guard.call("commit", work)

    async def merge_request(
        self,
        project: str,
        key: str,
        *,
        source: str,
        target: str,
        title: str,
        description: str,
        checklist: Sequence[str] = (),
        labels: Sequence[str] = (),
    ) -> GitLabMergeRequest:
        """Opens a merge request (description, then a checklist), or returns the open one for these branches."""
        body = description.rstrip()
        if checklist:
            body += "\n\n## Checklist\n" + "\n".join(f"- [ ] {item}" for item in checklist)
        body += f"\n\n<!-- {idempotency_tag(key)} -->\n"

        def work() -> GitLabMergeRequest:
            remote = self._api().projects.get(project, lazy=True)
            for mr in remote.mergerequests.list(
                source_branch=source, target_branch=target, state="opened", get_all=True
            ):
                return GitLabMergeRequest(int(mr.iid), str(mr.title), str(mr.state), str(mr.web_url))
            data = {
                "source_branch": source,
                "target_branch": target,
                "title": title,
                "description": body,
                "labels": list(labels),
            }
            mr = remote.mergerequests.create(data)
            return GitLabMergeRequest(int(mr.iid), str(mr.title), str(mr.state), str(mr.web_url), created=True)

        return await self.guard.call("merge_request", work)

    async def start_pipeline(
        self, project: str, ref: str, variables: dict[str, str] | None = None, *, trigger_token: SecretStr | None = None
    ) -> GitLabPipeline:
        """Runs CI on ``ref``'s head, unless a pipeline for that commit was already started; with ``trigger_token``
        through the pipeline trigger API (for tokens that may not create pipelines themselves)."""

        def work() -> GitLabPipeline:
            remote = self._api().projects.get(project, lazy=True)
            sha = str(remote.branches.get(ref).commit["id"])
            for pipeline in remote.pipelines.list(ref=ref, sha=sha, get_all=True):
                return _pipeline(pipeline, created=False)
            if trigger_token is not None:
                triggered = remote.trigger_pipeline(ref, trigger_token.get_secret_value(), variables=variables or {})
                return _pipeline(triggered, created=True)
            data: dict[str, Any] = {"ref": ref}
            if variables:
                data["variables"] = [{"key": name, "value": value} for name, value in variables.items()]
            return _pipeline(remote.pipelines.create(data), created=True)

        return await self.guard.call("start_pipeline", work)

    async def pipeline(self, project: str, pipeline_id: int) -> GitLabPipeline:
        """A pipeline's current status."""
        return await self.guard.call(
            "pipeline",
            lambda: _pipeline(self._api().projects.get(project, lazy=True).pipelines.get(pipeline_id), created=False),
        )

    async def read_file(self, project: str, path: str, ref: str) -> bytes | None:
        """A file's bytes at ``ref``, or None when it is not there."""

        def work() -> bytes | None:
            try:
                return bytes(self._api().projects.get(project, lazy=True).files.get(file_path=path, ref=ref).decode())
            except GitlabError as exc:
                if exc.response_code == 404:
                    return None
                raise

        return await self.guard.call("read_file", work)

    async def tree(self, project: str, ref: str) -> list[str]:
        """Every file path at ``ref``."""

        def work() -> list[str]:
            remote = self._api().projects.get(project, lazy=True)
            return [
                str(item["path"])
                for item in remote.repository_tree(ref=ref, recursive=True, get_all=True)
                if item["type"] == "blob"
            ]

        return await self.guard.call("tree", work)

    async def aclose(self) -> None:
        """Closes the SDK's HTTP session and the worker threads; the connector is not used after."""
        self.guard.close()
        if self._client is not None:
            self._client.session.close()
            self._client = None

    # -- in the worker thread --------------------------------------------------------------------------------------

    def _api(self) -> gitlab.Gitlab:
        if self._client is None:
            token = self._credentials.token.get_secret_value()
            client = _Gitlab(self._credentials.base_url, private_token=token, timeout=self.guard.policy.timeout_s)
            self.guard.watch.install(client.session)
            self._client = client
        return self._client

    def _commit_with(self, remote: Any, branch: str, trailer: str) -> GitLabCommit | None:
        try:
            recent = remote.commits.list(ref_name=branch, per_page=_RECENT_COMMITS, get_all=False)
        except GitlabError as exc:
            if exc.response_code == 404:
                return None
            raise
        for commit in recent:
            if trailer in str(commit.message).splitlines():
                return GitLabCommit(str(commit.id), str(commit.title), str(commit.web_url))
        return None

    def _actions(self, remote: Any, ref: str, changes: Sequence[FileChange]) -> list[dict[str, Any]]:
        present: set[str] | None = None
        actions = []
        for change in changes:
            action: str = change.action
            if action == "upsert":
                if present is None:
                    items = remote.repository_tree(ref=ref, recursive=True, get_all=True)
                    present = {str(item["path"]) for item in items if item["type"] == "blob"}
                action = "update" if change.path in present else "create"
            entry: dict[str, Any] = {"action": action, "file_path": change.path}
            if change.content is not None:
                entry["content"] = change.content
            if change.previous_path is not None:
                entry["previous_path"] = change.previous_path
            actions.append(entry)
        return actions


def _pipeline(raw: Any, *, created: bool) -> GitLabPipeline:
    return GitLabPipeline(int(raw.id), str(raw.ref), str(raw.sha), str(raw.status), str(raw.web_url), created=created)
