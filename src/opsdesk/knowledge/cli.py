"""`opsdesk kb list|create|delete` and `opsdesk ingest PATH|URL|GIT --kb NAME` (`opsdesk worker` is in opsdesk.cli).

`ingest` runs the pipeline in this process (it needs no running server): it stages the files, queues the job like
the API does, claims that job itself and shows its progress. Its scope options are the API's: `--branch` for a git
repository, `--path`/`--exclude` patterns for a repository, a directory or a crawl's URL paths, and `--allow-host`
for a crawl.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.console import Console
from rich.table import Table

from opsdesk.core.errors import OpsdeskError
from opsdesk.core.settings import get_settings

if TYPE_CHECKING:
    from opsdesk.app.context import AppContext
    from opsdesk.knowledge.ingest.schemas import CrawlIngest, GitIngest
    from opsdesk.knowledge.ingest.staging import SourceFile
    from opsdesk.knowledge.models import IngestionJob, KnowledgeBase
    from opsdesk.knowledge.sources.scope import PathFilter

kb_app = typer.Typer(help="Knowledge bases.", no_args_is_help=True)
console = Console()
err_console = Console(stderr=True, soft_wrap=True)  # paths in errors stay whole, to copy
_DOC_EXTENSIONS = frozenset(
    {"md", "markdown", "mdx", "txt", "text", "rst", "html", "htm", "xhtml", "pdf", "docx", "xlsx", "csv", "tsv", "json"}
)


async def _workspace_id(ctx: AppContext, workspace: str | None) -> Any:
    from opsdesk.auth import service as auth

    async with ctx.db.session() as session:
        found = await auth.get_or_create_workspace(session, workspace or ctx.settings.default_workspace)
        return found.id


@kb_app.command("list")
def kb_list(workspace: str = typer.Option(None, help="Workspace slug (default OPSDESK_DEFAULT_WORKSPACE).")) -> None:
    """List the workspace's knowledge bases."""
    from opsdesk.app.context import run_in_context
    from opsdesk.knowledge import service

    async def action(ctx: AppContext) -> list[KnowledgeBase]:
        workspace_id = await _workspace_id(ctx, workspace)
        async with ctx.db.session() as session:
            kbs, _ = await service.list_kbs(session, workspace_id, limit=1000, offset=0)
        return kbs

    table = Table("name", "status", "tags", "description", "content version")
    for kb in run_in_context(action):
        table.add_row(kb.name, kb.status, ", ".join(kb.tags), kb.description[:60], str(kb.content_version))
    console.print(table)


@kb_app.command("create")
def kb_create(
    name: str,
    description: str = typer.Option("", help="What the knowledge base holds."),
    tag: list[str] = typer.Option([], "--tag", help="A tag (repeatable)."),
    parent: str = typer.Option(None, help="Name of a parent knowledge base."),
    workspace: str = typer.Option(None, help="Workspace slug (default OPSDESK_DEFAULT_WORKSPACE)."),
) -> None:
    """Create a knowledge base."""
    from opsdesk.app.context import run_in_context
    from opsdesk.knowledge import service
    from opsdesk.knowledge.schemas import KnowledgeBaseIn

    try:
        data = KnowledgeBaseIn(name=name, description=description, tags=tag, parent=parent)
    except ValueError as exc:
        err_console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(1) from exc

    async def action(ctx: AppContext) -> None:
        workspace_id = await _workspace_id(ctx, workspace)
        async with ctx.db.session() as session:
            await service.create_kb(session, workspace_id, data)

    run_in_context(action)
    console.print(f"created knowledge base [bold]{name}[/bold]")


@kb_app.command("delete")
def kb_delete(
    name: str,
    workspace: str = typer.Option(None, help="Workspace slug (default OPSDESK_DEFAULT_WORKSPACE)."),
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation."),
) -> None:
    """Delete a knowledge base with all its documents, chunks, jobs and tasks."""
    from opsdesk.app.context import run_in_context
    from opsdesk.knowledge import service

    if not yes:
        typer.confirm(f"Delete knowledge base '{name}' and everything in it?", abort=True)

    async def action(ctx: AppContext) -> None:
        workspace_id = await _workspace_id(ctx, workspace)
        async with ctx.db.session() as session:
            await service.delete_kb(session, workspace_id, name)

    run_in_context(action)
    console.print(f"deleted knowledge base [bold]{name}[/bold]")


def _kind(target: str) -> str:
    lowered = target.lower()
    if lowered.startswith(("http://", "https://")):
        return "git" if lowered.rstrip("/").endswith(".git") else "crawl"
    if lowered.startswith(("git@", "ssh://", "git://", "file://")):
        return "git"
    path = Path(target).expanduser()
    if path.is_dir():
        return "git" if (path / ".git").exists() else "dir"
    if path.is_file():
        return "file"
    err_console.print(f"[red]error:[/red] '{target}' is not a file, a directory or an http(s) URL")
    raise typer.Exit(1)


def collect_files(
    root: Path, max_bytes: int, tags: list[str], version: str | None, scope: PathFilter | None = None
) -> tuple[list[SourceFile], int]:
    """The documents and source files under `root` (hidden ones left out, and those `scope` does not allow); also
    how many were too large."""
    from opsdesk.knowledge.extraction.detect import code_language, file_extension
    from opsdesk.knowledge.ingest.staging import SourceFile

    files: list[SourceFile] = []
    too_large = 0
    paths = [root] if root.is_file() else sorted(root.rglob("*"))
    for path in paths:
        relative = path.name if path == root else path.relative_to(root).as_posix()
        if not path.is_file() or any(part.startswith(".") for part in Path(relative).parts):
            continue
        if scope is not None and path != root and not scope.allows(relative):
            continue
        if file_extension(path.name) not in _DOC_EXTENSIONS and code_language(path.name) is None:
            continue
        if path.stat().st_size > max_bytes:
            too_large += 1
            continue
        files.append(SourceFile(relative, path.read_bytes(), relative, None, tags, {"filename": relative}, version))
    return files, too_large


def _request(kind: str, source: str, opts: dict[str, Any]) -> CrawlIngest | GitIngest | None:
    """The crawl or git request the API would get (its checks included); None for files. Exits on a bad option."""
    from pydantic import ValidationError

    from opsdesk.knowledge.ingest.schemas import CrawlIngest, GitIngest

    misplaced = [
        option
        for option, value, kinds in (
            ("--branch", opts["branch"], ("git",)),
            ("--allow-host", opts["hosts"], ("crawl",)),
        )
        if value and kind not in kinds
    ]
    if misplaced:
        err_console.print(f"[red]error:[/red] {misplaced[0]} does not apply to '{source}' (a {_KIND_NAMES[kind]})")
        raise typer.Exit(1)
    common = {"paths": opts["paths"], "exclude": opts["exclude"], "tags": opts["tags"]}
    try:
        if kind == "crawl":
            return CrawlIngest(
                kind="crawl",
                url=source,
                max_depth=opts["max_depth"],
                max_pages=opts["max_pages"],
                allowed_hosts=opts["hosts"],
                **common,
            )
        if kind == "git":
            return GitIngest(kind="git", source=source, branch=opts["branch"], **common)
    except ValidationError as exc:
        error = exc.errors()[0]
        field = ".".join(str(part) for part in error["loc"])
        err_console.print(f"[red]error:[/red] {field}: {error['msg']}")
        raise typer.Exit(1) from None
    return None


_KIND_NAMES = {"crawl": "web crawl", "git": "git repository", "dir": "directory", "file": "file"}


async def _queue(
    ctx: AppContext,
    files: list[SourceFile],
    request: CrawlIngest | GitIngest | None,
    kb: str,
    opts: dict[str, Any],
) -> Any:
    from opsdesk.knowledge import service
    from opsdesk.knowledge.ingest import service as ingest_service
    from opsdesk.knowledge.ingest.schemas import CrawlIngest
    from opsdesk.knowledge.schemas import KnowledgeBaseIn

    workspace_id = await _workspace_id(ctx, opts["workspace"])
    async with ctx.db.session() as session:
        try:
            base = await service.get_kb(session, workspace_id, kb)
        except OpsdeskError:
            base = await service.create_kb(session, workspace_id, KnowledgeBaseIn(name=kb))
            console.print(f"created knowledge base [bold]{kb}[/bold]")
        job: IngestionJob
        if request is None:
            job = await ingest_service.queue_files(session, base, files)
        elif isinstance(request, CrawlIngest):
            job = await ingest_service.queue_crawl(session, ctx.settings, base, request)
        else:
            job = await ingest_service.queue_git(session, ctx.settings, base, request, allow_local=True)
        return job.id


async def _follow(ctx: AppContext, job_id: Any) -> Any:
    """Runs the job here through the job layer (or, if a worker took it first, watches it) with a progress bar;
    returns the final job."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from opsdesk.knowledge.ingest import jobs
    from opsdesk.knowledge.ingest.worker import run_here
    from opsdesk.knowledge.models import IngestionJob

    with Progress(
        TextColumn("[bold]ingesting[/bold]"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        TextColumn("{task.fields[last]}"), console=console,
    ) as bar:  # fmt: skip
        task = bar.add_task("ingest", total=None, last="")
        running = asyncio.create_task(run_here(ctx, job_id))
        try:
            while True:
                async with ctx.db.session() as session:
                    job = await session.get(IngestionJob, job_id)
                if job is None:
                    raise OpsdeskError("The job disappeared (was its knowledge base deleted?).")
                out = jobs.job_out(job)
                finished = out.done_items + out.failed_items + out.skipped_items
                last = out.report[-1].key[-60:] if out.report else ""
                bar.update(task, total=out.total_items, completed=finished, last=last)
                if out.status in ("done", "failed") and running.done():
                    return out
                await asyncio.sleep(0.5)
        finally:
            if not running.done():
                running.cancel()
            await asyncio.gather(running, return_exceptions=True)


def ingest(
    target: str = typer.Argument(..., help="A file, a directory, an http(s) URL to crawl, or a git URL or work tree."),
    kb: str = typer.Option(..., "--kb", help="Knowledge base name (created if missing)."),
    workspace: str = typer.Option(None, help="Workspace slug (default OPSDESK_DEFAULT_WORKSPACE)."),
    tag: list[str] = typer.Option([], "--tag", help="A tag for every document (repeatable)."),
    version: str = typer.Option(None, help="v1.2.3 for the files (default: the next patch version)."),
    max_depth: int = typer.Option(None, help="Crawl: link depth (default OPSDESK_CRAWL_MAX_DEPTH)."),
    max_pages: int = typer.Option(None, help="Crawl: page limit (default OPSDESK_CRAWL_MAX_PAGES)."),
    branch: str = typer.Option(None, help="Git: the branch or tag to read (default: the default branch)."),
    path: list[str] = typer.Option(
        [], "--path", help="Only paths matching this glob (repeatable): docs/**, *.md; a crawl's URL paths."
    ),
    exclude: list[str] = typer.Option([], "--exclude", help="Leave out paths matching this glob (repeatable)."),
    allow_host: list[str] = typer.Option(
        [], "--allow-host", help="Crawl: another host it may follow links to (repeatable)."
    ),
) -> None:
    """Ingest files, a website or a git repository into a knowledge base, in this process, with a progress bar."""
    from opsdesk.app.context import run_in_context
    from opsdesk.knowledge.sources.scope import PathFilter, pattern_problem

    opts = {"tags": tag, "max_depth": max_depth, "max_pages": max_pages, "workspace": workspace, "branch": branch}
    opts.update(paths=path, exclude=exclude, hosts=allow_host)
    kind, source = _kind(target), target
    if kind == "git" and "://" not in target and not target.startswith("git@"):
        source = str(Path(target).expanduser().resolve())
    request = _request(kind, source, opts)
    files: list[SourceFile] = []
    if kind in ("dir", "file"):
        problem = next(filter(None, map(pattern_problem, [*path, *exclude])), None)
        if problem is not None:
            err_console.print(f"[red]error:[/red] {problem}")
            raise typer.Exit(1)
        limit = get_settings().max_upload_bytes
        scope = PathFilter(tuple(path), tuple(exclude))
        files, too_large = collect_files(Path(target).expanduser(), limit, tag, version, scope)
        if too_large:
            console.print(f"[yellow]{too_large} file(s) larger than {limit:,} bytes left out[/yellow]")
        if not files:
            matching = f" matching {scope.describe()}" if scope.narrows else ""
            err_console.print(f"[red]error:[/red] no document or source file{matching} to ingest under '{target}'")
            raise typer.Exit(1)

    async def action(ctx: AppContext) -> Any:
        return await _follow(ctx, await _queue(ctx, files, request, kb, opts))

    out = run_in_context(action)
    counts = f"{out.done_items} ingested, {out.skipped_items} unchanged or skipped, {out.failed_items} failed"
    for item in out.report:
        if item.outcome == "failed":
            err_console.print(f"[red]failed[/red] {item.key}: {item.reason}")
    if out.status == "failed":
        err_console.print(f"[red]error:[/red] {out.error} ({counts})")
        raise typer.Exit(1)
    console.print(f"done: {counts} (job {out.id})")
