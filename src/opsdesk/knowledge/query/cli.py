"""`opsdesk ask --kb NAME "question"` and `opsdesk mcp` (the MCP server over stdio)."""

from __future__ import annotations

import asyncio
import sys
from typing import TYPE_CHECKING

import typer
from rich.console import Console
from rich.markup import escape

from opsdesk.core.errors import OpsdeskError
from opsdesk.core.settings import get_settings

if TYPE_CHECKING:
    from opsdesk.knowledge.query.schemas import QueryOut

console = Console()
err_console = Console(stderr=True, soft_wrap=True)  # paths in errors stay whole, to copy


def ask(
    question: str = typer.Argument(..., help="The question."),
    kb: str = typer.Option(..., "--kb", help="Knowledge base name or id."),
    workspace: str = typer.Option(None, help="Workspace slug (default OPSDESK_DEFAULT_WORKSPACE)."),
    top_k: int = typer.Option(5, help="Passages to retrieve."),
    mode: str = typer.Option("hybrid", help="hybrid, semantic or keyword."),
    rerank: bool = typer.Option(False, "--rerank", help="Rerank with the configured reranker."),
    show_passages: bool = typer.Option(True, "--passages/--no-passages", help="List the cited passages."),
) -> None:
    """Ask a knowledge base a question; prints a cited answer and its sources."""
    from opsdesk.app.context import AppContext, run_in_context
    from opsdesk.auth.service import get_workspace
    from opsdesk.knowledge.query.schemas import QueryIn
    from opsdesk.knowledge.query.service import run_query

    async def action(ctx: AppContext) -> QueryOut:
        async with ctx.db.session() as session:
            found = await get_workspace(session, workspace or ctx.settings.default_workspace)
        request = QueryIn(query=question, top_k=top_k, mode=mode, rerank=rerank, answer=True)  # type: ignore[arg-type]
        return await run_query(ctx, found.id, kb, request)

    try:
        result = run_in_context(action)
    except ValueError as exc:  # a bad option value (pydantic)
        err_console.print(f"[red]error:[/red] {escape(str(exc))}")
        raise typer.Exit(2) from exc
    _print_result(result, show_passages)


def _print_result(result: QueryOut, show_passages: bool) -> None:
    answer = result.answer
    if answer is None:
        return
    style = "bold" if answer.known else "yellow"
    console.print(f"[{style}]{escape(answer.text)}[/{style}]")
    if not show_passages or not answer.citations:
        return
    console.print()
    for citation in answer.citations:
        where = " · ".join(
            part
            for part in (
                citation.version,
                citation.section or None,
                f"page {citation.page}" if citation.page else None,
            )
            if part
        )
        console.print(
            f"[cyan][{citation.number}][/cyan] {escape(citation.document_title)} [dim]({escape(where)})[/dim]"
        )
        console.print(f"    [dim]{citation.document_id}  {escape(citation.source_key)}[/dim]")


def mcp(
    api_key: str = typer.Option(None, envvar="OPSDESK_API_KEY", help="API key; the server sees its workspace only."),
    workspace: str = typer.Option(None, help="Workspace slug, instead of an API key (local use by the data's owner)."),
) -> None:
    """Serve the knowledge tools (search, ask, get_document) over MCP on stdin/stdout."""
    from opsdesk.app.context import AppContext
    from opsdesk.core.logging import configure_logging
    from opsdesk.knowledge.query.mcp_server import serve_stdio, stdio_scope

    settings = get_settings()
    if not api_key and not workspace:
        err_console.print("[red]error:[/red] give an API key (--api-key or OPSDESK_API_KEY) or --workspace.")
        raise typer.Exit(2)

    async def main() -> None:
        configure_logging(settings.log_level, settings.log_json)  # to stderr: stdout carries the protocol
        ctx = await AppContext.open(settings)
        try:
            scope = await stdio_scope(ctx, api_key=api_key, workspace=workspace)
            await serve_stdio(ctx, scope)
        finally:
            await ctx.close()
            ctx.db.stop_server()

    try:
        asyncio.run(main())
    except OpsdeskError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        raise typer.Exit(1) from exc
    except KeyboardInterrupt:
        pass
