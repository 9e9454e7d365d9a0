"""A local GitLab that speaks the REST API v4 that ``python-gitlab`` uses, each project a real bare git repository.

Served under ``/api/v4``: ``user``, ``projects/{id or url-encoded path}``, ``…/repository/branches`` (list, get,
create), ``…/repository/commits`` (list, get, create with many file actions), ``…/repository/files/{path}`` (get),
``…/repository/tree``, ``…/merge_requests`` (list with state/source_branch/target_branch, create, get by iid),
``…/pipeline`` (create; needs a ``.gitlab-ci.yml`` at the ref), ``…/trigger/pipeline`` (with a trigger token) and
``…/pipelines`` (list, get). A pipeline moves
created → pending → running → ``pipeline_outcome`` (success unless set) one step each time it is read.
Paths are routed on the raw request path, so ``group%2Fname`` and ``src%2Fapp.py`` stay one segment, as in GitLab.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from opsdesk.crew.demo.servers.base import ASGIApp, VendorServer
from opsdesk.crew.demo.servers.gitrepo import BareRepo, FileAction, GitError

PREFIX = "/api/v4/"
_PIPELINE_STEPS = ("created", "pending", "running")
Reply = tuple[int, Any]


class _Call:
    """One request as the handlers see it: decoded path segments, query and JSON body."""

    def __init__(self, base: str, segments: list[str], query: dict[str, str], body: Any) -> None:
        self.base = base
        self.segments = segments
        self.query = query
        self.body = body if isinstance(body, dict) else {}


class GitLabServer(VendorServer):
    """Projects backed by bare repositories under ``data_dir``; merge requests and pipelines in memory."""

    name = "gitlab"

    def __init__(
        self,
        data_dir: Path,
        *,
        username: str = "opsdesk",
        token: str = "local-token",
        projects: tuple[str, ...] = ("opsdesk/demo",),
        git_timeout_s: float = 15.0,
        state_file: Path | None = None,
    ) -> None:
        super().__init__(username=username, token=token, state_file=state_file)
        self.data_dir = data_dir
        self.git_timeout_s = git_timeout_s
        self.pipeline_outcome = "success"
        self.trigger_tokens = {"local-trigger-token"}  # pipeline trigger tokens (Settings → CI/CD → Pipeline triggers)
        self.projects: dict[int, dict[str, Any]] = {}
        self.repos: dict[int, BareRepo] = {}
        self.merge_requests: dict[int, list[dict[str, Any]]] = {}
        self.pipelines: dict[int, list[dict[str, Any]]] = {}
        for number, path in enumerate(projects, start=1):
            self.add_project(path, project_id=number)
        self._routes: list[tuple[str, tuple[str, ...], Callable[[int, _Call], Reply]]] = [
            ("GET", ("branches",), self._branches),
            ("GET", ("branches", "*"), self._branch),
            ("POST", ("branches",), self._create_branch),
            ("GET", ("commits",), self._commits),
            ("GET", ("commits", "*"), self._commit),
            ("POST", ("commits",), self._create_commit),
            ("GET", ("files", "*"), self._file),
            ("GET", ("tree",), self._tree),
        ]

    def add_project(self, path_with_namespace: str, *, project_id: int | None = None) -> int:
        """Creates a project (and its bare repository with a README on ``main``); returns its id."""
        project_id = project_id or max(self.projects, default=0) + 1
        namespace, _, name = path_with_namespace.rpartition("/")
        self.repos[project_id] = self._repo(path_with_namespace, self.git_timeout_s)
        self.projects[project_id] = {
            "id": project_id,
            "name": name,
            "path": name,
            "path_with_namespace": path_with_namespace,
            "namespace": {
                "id": project_id,
                "name": namespace or name,
                "path": namespace or name,
                "kind": "group",
                "full_path": namespace or name,
            },
            "default_branch": "main",
            "visibility": "private",
            "created_at": _now(),
        }
        self.merge_requests[project_id] = []
        self.pipelines[project_id] = []
        return project_id

    def state(self) -> dict[str, Any]:
        return {
            "projects": self.projects,
            "merge_requests": self.merge_requests,
            "pipelines": self.pipelines,
            "pipeline_outcome": self.pipeline_outcome,
        }

    def restore(self, state: dict[str, Any]) -> None:
        self.projects = {int(key): value for key, value in state["projects"].items()}
        self.merge_requests = {int(key): value for key, value in state["merge_requests"].items()}
        self.pipelines = {int(key): value for key, value in state["pipelines"].items()}
        self.pipeline_outcome = state["pipeline_outcome"]
        self.repos = {pid: self._repo(p["path_with_namespace"], self.git_timeout_s) for pid, p in self.projects.items()}

    def _repo(self, path_with_namespace: str, timeout_s: float) -> BareRepo:
        """The project's repository: the one on disk (a restart), else a new one with a README on ``main``."""
        path = self.data_dir / f"{path_with_namespace}.git"
        if (path / "HEAD").exists():
            return BareRepo(path, timeout_s=timeout_s)
        name = path_with_namespace.rpartition("/")[2]
        return BareRepo.create(path, readme=f"# {name}\n", timeout_s=timeout_s)

    def repo_path(self, path_with_namespace: str) -> Path:
        """The bare repository of a project (for ``git --git-dir … log``)."""
        project_id = next(pid for pid, p in self.projects.items() if p["path_with_namespace"] == path_with_namespace)
        return self.repos[project_id].path

    def extra_token(self, headers: dict[str, str]) -> str | None:
        return headers.get("private-token")

    def app(self) -> ASGIApp:
        methods = ["GET", "POST", "PUT", "DELETE"]
        return Starlette(routes=[Route(PREFIX + "{rest:path}", self._dispatch, methods=methods)])

    async def _dispatch(self, request: Request) -> Response:
        raw_path = request.scope.get("raw_path") or request.url.path.encode()
        raw = raw_path.decode("latin-1").split("?", 1)[0]
        segments = [unquote(part) for part in raw.removeprefix(PREFIX).split("/") if part]
        raw_body = await request.body()
        try:
            body = json.loads(raw_body) if raw_body else {}
        except ValueError:
            return _reply(400, {"message": "The request body is not valid JSON."})
        call = _Call(str(request.base_url).rstrip("/"), segments, dict(request.query_params), body)
        status, payload = await run_in_threadpool(self._handle, request.method, call)
        return _reply(status, payload)

    def _handle(self, method: str, call: _Call) -> Reply:
        parts = call.segments
        if parts == ["user"] and method == "GET":
            return 200, {"id": 1, "username": self.username, "name": self.username.title(), "state": "active"}
        if len(parts) < 2 or parts[0] != "projects":
            return 404, {"error": "404 Not Found"}
        project_id = self._project_id(parts[1])
        if project_id is None:
            return 404, {"message": "404 Project Not Found"}
        rest = parts[2:]
        with self.lock:
            try:
                return self._route(method, project_id, rest, call)
            except GitError as exc:
                return 400, {"message": str(exc)}

    def _route(self, method: str, project_id: int, rest: list[str], call: _Call) -> Reply:
        if not rest:
            return (
                (200, self._project_json(project_id, call))
                if method == "GET"
                else (405, {"message": "405 Method Not Allowed"})
            )
        if rest[0] == "repository" and len(rest) >= 2:
            tail = tuple(rest[1:])
            for verb, shape, handler in self._routes:
                if (
                    verb == method
                    and len(shape) == len(tail)
                    and all(s in ("*", t) for s, t in zip(shape, tail, strict=True))
                ):
                    call.segments = list(tail)
                    return handler(project_id, call)
        if rest[0] == "merge_requests":
            return self._merge_requests(method, project_id, rest[1:], call)
        if rest == ["pipeline"] and method == "POST":
            return self._create_pipeline(project_id, call, source="api")
        if rest == ["trigger", "pipeline"] and method == "POST":
            if _text(call, "token") not in self.trigger_tokens:
                return 404, {"message": "404 Not Found"}
            return self._create_pipeline(project_id, call, source="trigger")
        if rest[0] == "pipelines" and method == "GET":
            return self._pipelines(project_id, rest[1:], call)
        return 404, {"error": "404 Not Found"}

    # -- repository ------------------------------------------------------------------------------------------------

    def _branches(self, project_id: int, call: _Call) -> Reply:
        repo = self.repos[project_id]
        return 200, [self._branch_json(project_id, name, sha, call) for name, sha in sorted(repo.branches().items())]

    def _branch(self, project_id: int, call: _Call) -> Reply:
        name = call.segments[1]
        sha = self.repos[project_id].branches().get(name)
        if sha is None:
            return 404, {"message": "404 Branch Not Found"}
        return 200, self._branch_json(project_id, name, sha, call)

    def _create_branch(self, project_id: int, call: _Call) -> Reply:
        name, ref = _text(call, "branch"), _text(call, "ref")
        if not name or not ref:
            return 400, {"error": "branch is missing" if not name else "ref is missing"}
        sha = self.repos[project_id].create_branch(name, ref)
        return 201, self._branch_json(project_id, name, sha, call)

    def _commits(self, project_id: int, call: _Call) -> Reply:
        repo = self.repos[project_id]
        ref = call.query.get("ref_name") or self.projects[project_id]["default_branch"]
        limit = min(int(call.query.get("per_page") or 20), 100)
        return 200, [self._commit_json(project_id, info, call) for info in repo.log(ref, limit)]

    def _commit(self, project_id: int, call: _Call) -> Reply:
        repo = self.repos[project_id]
        sha = repo.resolve(call.segments[1])
        if sha is None:
            return 404, {"message": "404 Commit Not Found"}
        return 200, self._commit_json(project_id, repo.commit_info(sha), call)

    def _create_commit(self, project_id: int, call: _Call) -> Reply:
        branch, message = _text(call, "branch"), _text(call, "commit_message")
        actions = call.body.get("actions")
        if not branch:
            return 400, {"error": "branch is missing"}
        if not isinstance(actions, list) or not actions:
            return 400, {"error": "actions is missing"}
        parsed = [FileAction.from_json(item) for item in actions]
        repo = self.repos[project_id]
        author = (
            _text(call, "author_name") or self.username.title(),
            _text(call, "author_email") or f"{self.username}@opsdesk.local",
        )
        start = _text(call, "start_branch") or _text(call, "start_sha") or None
        sha = repo.commit(branch, message, parsed, author=author, create_from=start)
        return 201, self._commit_json(project_id, repo.commit_info(sha), call)

    def _file(self, project_id: int, call: _Call) -> Reply:
        repo = self.repos[project_id]
        path, ref = call.segments[1], call.query.get("ref", "")
        data = repo.read(ref, path) if ref else None
        if data is None:
            return 404, {"message": "404 File Not Found"}
        commit = repo.resolve(ref) or ""
        return 200, {
            "file_name": path.rsplit("/", 1)[-1],
            "file_path": path,
            "size": len(data),
            "encoding": "base64",
            "content": base64.b64encode(data).decode(),
            "content_sha256": hashlib.sha256(data).hexdigest(),
            "ref": ref,
            "blob_id": repo.blob_id(ref, path),
            "commit_id": commit,
            "last_commit_id": commit,
        }

    def _tree(self, project_id: int, call: _Call) -> Reply:
        ref = call.query.get("ref") or self.projects[project_id]["default_branch"]
        recursive = call.query.get("recursive", "").lower() == "true"
        return 200, self.repos[project_id].tree(ref, call.query.get("path", ""), recursive=recursive)

    # -- merge requests --------------------------------------------------------------------------------------------

    def _merge_requests(self, method: str, project_id: int, rest: list[str], call: _Call) -> Reply:
        requests = self.merge_requests[project_id]
        if method == "GET" and not rest:
            wanted = {
                key: call.query[key]
                for key in ("state", "source_branch", "target_branch")
                if call.query.get(key) and call.query[key] != "all"
            }
            found = [mr for mr in requests if all(mr[key] == value for key, value in wanted.items())]
            return 200, [self._mr_json(project_id, mr, call) for mr in reversed(found)]
        if method == "GET" and len(rest) == 1:
            mr = next((m for m in requests if str(m["iid"]) == rest[0]), None)
            return (404, {"message": "404 Not found"}) if mr is None else (200, self._mr_json(project_id, mr, call))
        if method != "POST" or rest:
            return 404, {"error": "404 Not Found"}
        source, target, title = _text(call, "source_branch"), _text(call, "target_branch"), _text(call, "title")
        if not source or not target or not title:
            return 400, {"error": "source_branch, target_branch and title are required"}
        branches = self.repos[project_id].branches()
        if source not in branches or target not in branches:
            return 400, {
                "message": [
                    "Source branch does not exist" if source not in branches else "Target branch does not exist"
                ]
            }
        if source == target:
            return 400, {"message": ["You can't use same project/branch for source and target"]}
        clash = next(
            (
                m
                for m in requests
                if m["state"] == "opened" and m["source_branch"] == source and m["target_branch"] == target
            ),
            None,
        )
        if clash is not None:
            return 409, {
                "message": [f"Another open merge request already exists for this source branch: !{clash['iid']}"]
            }
        labels = call.body.get("labels") or []
        if isinstance(labels, str):
            labels = [label.strip() for label in labels.split(",") if label.strip()]
        mr = {
            "id": self.next_number("id", 1),
            "iid": len(requests) + 1,
            "title": title,
            "description": str(call.body.get("description") or ""),
            "state": "opened",
            "source_branch": source,
            "target_branch": target,
            "labels": [str(label) for label in labels],
            "created_at": _now(),
        }
        requests.append(mr)
        return 201, self._mr_json(project_id, mr, call)

    # -- pipelines -------------------------------------------------------------------------------------------------

    def _create_pipeline(self, project_id: int, call: _Call, *, source: str) -> Reply:
        ref = _text(call, "ref")
        repo = self.repos[project_id]
        sha = repo.resolve(ref) if ref else None
        if sha is None:
            return 400, {"message": {"base": ["Reference not found"]}}
        if repo.read(sha, ".gitlab-ci.yml") is None:
            return 400, {"message": {"base": ["Missing CI config file"]}}
        pipelines = self.pipelines[project_id]
        variables = call.body.get("variables") or []
        if isinstance(variables, dict):  # the trigger API takes a mapping; the pipeline API a list of key/value
            variables = [{"key": key, "value": value} for key, value in variables.items()]
        pipeline = {
            "id": self.next_number("id", 1),
            "iid": len(pipelines) + 1,
            "ref": ref,
            "sha": sha,
            "step": 0,
            "source": source,
            "variables": [
                {"key": str(v.get("key")), "value": str(v.get("value"))} for v in variables if isinstance(v, dict)
            ],
            "created_at": _now(),
        }
        pipelines.append(pipeline)
        return 201, self._pipeline_json(project_id, pipeline, call)

    def _pipelines(self, project_id: int, rest: list[str], call: _Call) -> Reply:
        pipelines = self.pipelines[project_id]
        if not rest:
            wanted = {key: call.query[key] for key in ("ref", "sha") if call.query.get(key)}
            found = [p for p in pipelines if all(p[key] == value for key, value in wanted.items())]
            return 200, [self._pipeline_json(project_id, p, call) for p in reversed(found)]
        pipeline = next((p for p in pipelines if str(p["id"]) == rest[0]), None) if len(rest) == 1 else None
        if pipeline is None:
            return 404, {"message": "404 Not found"}
        pipeline["step"] = min(pipeline["step"] + 1, len(_PIPELINE_STEPS))
        return 200, self._pipeline_json(project_id, pipeline, call)

    # -- JSON ------------------------------------------------------------------------------------------------------

    def _project_id(self, reference: str) -> int | None:
        if reference.isdigit() and int(reference) in self.projects:
            return int(reference)
        return next((pid for pid, p in self.projects.items() if p["path_with_namespace"] == reference), None)

    def _web(self, project_id: int, call: _Call) -> str:
        return f"{call.base}/{self.projects[project_id]['path_with_namespace']}"

    def _project_json(self, project_id: int, call: _Call) -> dict[str, Any]:
        project = self.projects[project_id]
        web = self._web(project_id, call)
        return {
            **project,
            "name_with_namespace": project["path_with_namespace"].replace("/", " / "),
            "path_with_namespace": project["path_with_namespace"],
            "web_url": web,
            "http_url_to_repo": f"{web}.git",
            "_links": {"self": f"{call.base}/api/v4/projects/{project_id}"},
        }

    def _branch_json(self, project_id: int, name: str, sha: str, call: _Call) -> dict[str, Any]:
        default = name == self.projects[project_id]["default_branch"]
        return {
            "name": name,
            "merged": False,
            "protected": default,
            "default": default,
            "developers_can_push": not default,
            "developers_can_merge": True,
            "can_push": True,
            "web_url": f"{self._web(project_id, call)}/-/tree/{name}",
            "commit": self._commit_json(project_id, self.repos[project_id].commit_info(sha), call),
        }

    def _commit_json(self, project_id: int, info: dict[str, Any], call: _Call) -> dict[str, Any]:
        message = info["message"].rstrip("\n") + "\n"
        return {
            "id": info["id"],
            "short_id": info["id"][:8],
            "created_at": info["committed_date"],
            "parent_ids": info["parents"],
            "title": message.split("\n", 1)[0],
            "message": message,
            "author_name": info["author_name"],
            "author_email": info["author_email"],
            "authored_date": info["authored_date"],
            "committer_name": info["committer_name"],
            "committer_email": info["committer_email"],
            "committed_date": info["committed_date"],
            "web_url": f"{self._web(project_id, call)}/-/commit/{info['id']}",
        }

    def _mr_json(self, project_id: int, mr: dict[str, Any], call: _Call) -> dict[str, Any]:
        return {
            **mr,
            "project_id": project_id,
            "source_project_id": project_id,
            "target_project_id": project_id,
            "updated_at": mr["created_at"],
            "draft": False,
            "work_in_progress": False,
            "merge_status": "can_be_merged",
            "detailed_merge_status": "mergeable",
            "sha": self.repos[project_id].branches().get(mr["source_branch"]),
            "author": {"id": 1, "username": self.username, "name": self.username.title()},
            "references": {
                "short": f"!{mr['iid']}",
                "full": f"{self.projects[project_id]['path_with_namespace']}!{mr['iid']}",
            },
            "web_url": f"{self._web(project_id, call)}/-/merge_requests/{mr['iid']}",
        }

    def _pipeline_json(self, project_id: int, pipeline: dict[str, Any], call: _Call) -> dict[str, Any]:
        step = pipeline["step"]
        status = _PIPELINE_STEPS[step] if step < len(_PIPELINE_STEPS) else self.pipeline_outcome
        return {
            "id": pipeline["id"],
            "iid": pipeline["iid"],
            "project_id": project_id,
            "sha": pipeline["sha"],
            "ref": pipeline["ref"],
            "status": status,
            "source": pipeline["source"],
            "created_at": pipeline["created_at"],
            "updated_at": _now(),
            "web_url": f"{self._web(project_id, call)}/-/pipelines/{pipeline['id']}",
        }


def _text(call: _Call, name: str) -> str:
    value = call.body.get(name, call.query.get(name))
    return value.strip() if isinstance(value, str) else ""


def _reply(status: int, payload: Any) -> Response:
    return JSONResponse(payload, status_code=status)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
