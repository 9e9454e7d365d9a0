"""`opsdesk …`: run the server, chat, manage the database, users, API keys and configuration."""

from __future__ import annotations

import asyncio
import gc
import json
import sys
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from opsdesk.auth.roles import Role
from opsdesk.core.commands import run_command
from opsdesk.core.errors import ConfigurationError, OpsdeskError
from opsdesk.core.settings import Settings, get_settings
from opsdesk.crew.cli import crew_app
from opsdesk.events.cli import events_app
from opsdesk.jobs.cli import jobs_app
from opsdesk.knowledge.cli import ingest as ingest_command
from opsdesk.knowledge.cli import kb_app
from opsdesk.knowledge.query.cli import ask as ask_command
from opsdesk.knowledge.query.cli import mcp as mcp_command
from opsdesk.planner.cli import plan_app
from opsdesk.voice.cli import voice_app

app = typer.Typer(help="opsdesk: a self-hosted AI operations platform.", no_args_is_help=True)
db_app = typer.Typer(help="Database migrations.", no_args_is_help=True)
user_app = typer.Typer(help="Users and their workspace roles.", no_args_is_help=True)
apikey_app = typer.Typer(help="API keys.", no_args_is_help=True)
config_app = typer.Typer(help="Configuration.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(user_app, name="user")
app.add_typer(apikey_app, name="apikey")
app.add_typer(config_app, name="config")
app.add_typer(kb_app, name="kb")
app.add_typer(plan_app, name="plan")
app.add_typer(jobs_app, name="jobs")
app.add_typer(events_app, name="events")
app.add_typer(voice_app, name="voice")
app.add_typer(crew_app, name="crew")
app.command("ingest")(ingest_command)
app.command("ask")(ask_command)
app.command("mcp")(mcp_command)

console = Console()
err_console = Console(stderr=True, soft_wrap=True)  # paths in errors stay whole, to copy
T = TypeVar("T")


async def _with_db(settings: Settings, action: Callable[[Any], Awaitable[T]]) -> T:
    from opsdesk.db.engine import Database

    db = Database(settings)
    await db.connect()
    try:
        return await action(db)
    finally:
        await db.close()


@app.command()
def up(
    host: str = typer.Option(None, help="Bind address (default OPSDESK_HOST)."),
    port: int = typer.Option(None, help="Port (default OPSDESK_PORT)."),
    demo: bool = typer.Option(False, "--demo", help="Load demo data before serving."),
    workers: int = typer.Option(
        None,
        "--workers",
        min=1,
        help="API processes on the port (default OPSDESK_WORKERS). With more than one, the background work runs in "
        "one `opsdesk worker` process beside them.",
    ),
    voice_port: int = typer.Option(
        None, "--voice-port", min=1, max=65535, help="Also answer SIP calls on this port (the voice gateway)."
    ),
) -> None:
    """Start opsdesk: database, migrations, first admin, then the HTTP API."""
    import uvicorn

    from opsdesk.api import create_app
    from opsdesk.app.bootstrap import ensure_first_admin, warm_up
    from opsdesk.app.context import AppContext
    from opsdesk.core.http_server import server_options

    settings = get_settings()
    if (workers or settings.workers) > 1:
        _up_many(settings, host or settings.host, port or settings.port, workers or settings.workers, demo)
        return

    async def serve() -> None:
        from opsdesk.events import worker as event_bus
        from opsdesk.jobs import worker as job_worker
        from opsdesk.orders import tasks as order_tasks

        _load_tasks()

        voice: Any = None
        ctx = await AppContext.open(settings)
        try:
            password = await ensure_first_admin(ctx.db, settings)
            if password:
                where = settings.data_dir / "admin-password"
                console.print(f"First admin: [bold]{settings.admin_email}[/bold] (password in {where})")
            if demo or settings.demo:
                from opsdesk.demo import load_demo

                await load_demo(ctx)
            await warm_up(ctx)
            # Everything loaded so far lives as long as the process: keep it out of the collector's full passes,
            # which otherwise pause every in-flight request for tens of milliseconds.
            gc.collect()
            gc.freeze()
            config = uvicorn.Config(
                create_app(settings, context=ctx),
                host=host or settings.host,
                port=port or settings.port,
                log_config=None,
                access_log=False,
                timeout_graceful_shutdown=10,
                **server_options(),  # a bounded request head (431), whichever HTTP parser runs
            )
            if settings.worker_in_process:  # ingestion, order recovery, invoice retries, SLA checks, retention
                job_worker.start_in_process(ctx)
            event_bus.start_in_process(ctx)  # the outbox relay (and RabbitMQ consumers when configured)
            if voice_port:
                from opsdesk.voice.cli import start_in_process as start_voice

                try:
                    voice = await start_voice(config.host, voice_port, ctx)
                    console.print(f"Voice gateway on sip:{config.host}:{voice.port} (UDP, TCP)")
                except ConfigurationError as exc:  # the port is taken: the rest of opsdesk still serves
                    err_console.print(f"[yellow]warning:[/yellow] no voice gateway: {exc}")
            console.print(f"opsdesk listening on http://{config.host}:{config.port}")
            await uvicorn.Server(config).serve()
        finally:
            try:
                if voice is not None:
                    await voice.stop()  # BYE to every call
                await job_worker.stop_in_process(ctx)
                await order_tasks.close(ctx)
                await ctx.close()
            finally:
                ctx.db.stop_server()

    _exit_cleanly_on_signals()
    run_command(serve, server=True)


# Modules whose tasks (and schedules) the job workers of `opsdesk up` and `opsdesk worker` run.
TASK_MODULES = (
    "opsdesk.jobs.tasks",
    "opsdesk.orders.tasks",
    "opsdesk.conversation.tasks",
    "opsdesk.planner.runs.tasks",
    "opsdesk.events.tasks",
    "opsdesk.crew.runs.tasks",
    "opsdesk.knowledge.ingest.tasks",
    "opsdesk.voice.calls.tasks",
)


def _load_tasks() -> None:
    import importlib

    for module in TASK_MODULES:
        importlib.import_module(module)


@app.command()
def worker(
    stale_after: float = typer.Option(30.0, help="Seconds without a heartbeat before a job is taken over."),
    heartbeat: float = typer.Option(5.0, help="Seconds between heartbeats of a running job."),
    concurrency: int = typer.Option(4, min=1, help="Jobs run at once (ingestion's among them)."),
    until_idle: bool = typer.Option(False, "--until-idle", help="Exit when no job is due or running."),
) -> None:
    """Run the background workers until SIGTERM or Ctrl-C: the job layer's tasks (ingestion's among them) and
    schedules, and the event bus (running jobs go back to the queue)."""
    run_command(lambda: _serve_workers(stale_after, heartbeat, concurrency, until_idle))


async def _serve_workers(stale_after_s: float, heartbeat_s: float, concurrency: int, until_idle: bool) -> None:
    import os
    import signal

    from opsdesk.app.context import AppContext
    from opsdesk.core.logging import configure_logging
    from opsdesk.events.worker import EventBus
    from opsdesk.jobs.worker import JobWorker
    from opsdesk.orders import tasks as order_tasks

    settings = get_settings()
    configure_logging(settings.log_level, settings.log_json)
    if settings.worker_nice > 0:  # ingestion is CPU-bound; a lower priority keeps query latency on shared cores
        os.nice(settings.worker_nice)
    _load_tasks()
    ctx = await AppContext.open(settings)
    jobs = JobWorker(ctx, concurrency=concurrency, stale_after_s=stale_after_s, heartbeat_s=heartbeat_s)
    events = EventBus(ctx)
    loop = asyncio.get_running_loop()

    def stop() -> None:
        jobs.request_stop()
        events.request_stop()

    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop)
    try:
        await asyncio.gather(jobs.run(until_idle=until_idle), events.run(until_idle=until_idle))
    finally:
        await order_tasks.close(ctx)
        await ctx.close()
        ctx.db.stop_server()


def api_app() -> Any:
    """The app factory each API process of `opsdesk up --workers N` runs (settings from the environment)."""
    from opsdesk.api import create_app

    _load_tasks()  # jobs enqueued by the API carry their task's retry policy
    return create_app()


def _up_many(settings: Settings, host: str, port: int, workers: int, demo: bool) -> None:
    """N API processes on one port (uvicorn's supervisor) and one background worker, on one database.

    The parent starts the embedded PostgreSQL (when no URL is configured), migrates and bootstraps once, then hands
    the server's URL to its children through `OPSDESK_DATABASE_URL`; it stops the server after they have ended.
    """
    import os
    import subprocess
    import threading

    import uvicorn

    from opsdesk.app.bootstrap import ensure_first_admin
    from opsdesk.core.http_server import server_options
    from opsdesk.db.engine import Database

    db = Database(settings)

    async def prepare() -> None:
        from opsdesk.app.context import AppContext

        ctx = await AppContext.open(settings)
        db.embedded, ctx.db.embedded = ctx.db.embedded, None  # the parent keeps the server past this context
        db.url = ctx.db.url
        try:
            password = await ensure_first_admin(ctx.db, settings)
            if password:
                where = settings.data_dir / "admin-password"
                console.print(f"First admin: [bold]{settings.admin_email}[/bold] (password in {where})")
            if demo or settings.demo:
                from opsdesk.demo import load_demo

                await load_demo(ctx)
        finally:
            await ctx.close()

    background: list[subprocess.Popen[bytes]] = []
    stopping = threading.Event()

    def start_worker() -> None:
        background[:] = [subprocess.Popen([sys.executable, "-m", "opsdesk.cli", "worker"])]

    def supervise() -> None:
        """uvicorn restarts a dead API process; this restarts a dead worker and the embedded PostgreSQL."""
        while not stopping.wait(0.5):
            if background and background[0].poll() is not None:
                console.print(f"[yellow]The worker exited ({background[0].returncode}); starting it again.[/yellow]")
                start_worker()
            if db.embedded is not None and not db.embedded.is_running():
                console.print("[yellow]The embedded PostgreSQL died; starting it again.[/yellow]")
                try:
                    db.embedded.restart()
                except Exception as exc:  # its children may still hold shared memory: try again shortly
                    console.print(f"[red]Restarting PostgreSQL failed ({type(exc).__name__}); retrying.[/red]")
                    stopping.wait(2)

    supervisor = threading.Thread(target=supervise, name="opsdesk-supervisor", daemon=True)
    try:
        run_command(prepare)
        os.environ["OPSDESK_DATABASE_URL"] = db.url
        os.environ["OPSDESK_WORKERS"] = "1"  # a child is one API process
        start_worker()
        supervisor.start()
        console.print(f"opsdesk listening on http://{host}:{port} ({workers} API processes, 1 worker)")
        uvicorn.run(
            "opsdesk.cli:api_app",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            log_config=None,
            access_log=False,
            timeout_graceful_shutdown=10,
            **server_options(),  # a bounded request head (431), whichever HTTP parser runs
        )
    finally:
        stopping.set()
        if supervisor.is_alive():
            supervisor.join(60)  # it must not restart what is being stopped
        for process in background:
            process.terminate()
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
        db.stop_server()


def _exit_cleanly_on_signals() -> None:
    """uvicorn re-raises the signal that stopped it; turning it into SystemExit lets clean-up (and the embedded
    PostgreSQL's shutdown) run instead of the process dying on the spot."""
    import signal

    def _exit(signum: int, _: object) -> None:
        raise SystemExit(128 + signum if signum != signal.SIGINT else 0)

    signal.signal(signal.SIGTERM, _exit)
    signal.signal(signal.SIGINT, _exit)


@app.command()
def chat(
    model: str = typer.Option("opsdesk", help="A model name from /v1/models."),
    system: str = typer.Option("You are a helpful assistant. Answer briefly.", help="System prompt."),
    message: str = typer.Option(None, "--message", "-m", help="Ask once and exit instead of a conversation."),
    max_tokens: int = typer.Option(256, help="Longest reply in tokens."),
    solution: str = typer.Option(None, help="Talk to a solution ('orders', 'planner') instead of a bare model."),
    sender: str = typer.Option(None, "--as", help="With --solution: the sender's phone number or id."),
    workspace: str = typer.Option(None, help="With --solution: the workspace (default OPSDESK_DEFAULT_WORKSPACE)."),
) -> None:
    """Chat with a model in the terminal; replies stream token by token."""
    if solution is not None:
        _chat_with_solution(solution, sender or "terminal", workspace, message)
        return
    from opsdesk.app.context import AppContext
    from opsdesk.providers.llm.base import ChatMessage, ChatRequest

    settings = get_settings()

    async def session() -> None:
        ctx = await AppContext.open(settings)
        try:
            provider, override = ctx.providers.resolve_model(model)
            history = [ChatMessage(role="system", content=system)]
            interactive = message is None
            if interactive:
                console.print(f"[dim]Chatting with {model}. Empty line or Ctrl-D ends.[/dim]")
            while True:
                if interactive:
                    try:
                        text = console.input("[bold cyan]you>[/bold cyan] ").strip()
                    except (EOFError, KeyboardInterrupt):
                        break
                    if not text:
                        break
                else:
                    text = message
                history.append(ChatMessage(role="user", content=text))
                request = ChatRequest(messages=list(history), model=override, max_tokens=max_tokens)
                reply: list[str] = []
                if interactive:
                    console.print("[bold green]bot>[/bold green] ", end="")
                async for chunk in provider.stream(request):
                    reply.append(chunk.delta)
                    sys.stdout.write(chunk.delta)
                    sys.stdout.flush()
                sys.stdout.write("\n")
                history.append(ChatMessage(role="assistant", content="".join(reply)))
                if not interactive:
                    break
        finally:
            await ctx.close()
            ctx.db.stop_server()

    run_command(session)


def _register_solution(solution: str) -> None:
    """Registers the one solution the chat talks to (importing the others, e.g. the planner's forecasting stack,
    would add seconds to every start)."""
    if solution == "orders":
        from opsdesk.orders.chat.solution import register_order_desk

        register_order_desk()
    elif solution == "planner":
        from opsdesk.planner.chat import register_planner_chat

        register_planner_chat()
    else:
        err_console.print(f"[red]error:[/red] no solution {solution!r}: choose 'orders' or 'planner'")
        raise typer.Exit(2)


def _chat_with_solution(solution: str, sender: str, workspace: str | None, message: str | None) -> None:
    """A conversation with a solution as a customer would have it (e.g. an outlet ordering by message)."""
    import uuid as _uuid

    from opsdesk.app.context import AppContext
    from opsdesk.auth import service as auth
    from opsdesk.conversation.channels import Inbound
    from opsdesk.conversation.runtime import handle_turn

    settings = get_settings()
    _register_solution(solution)

    async def session() -> None:
        ctx = await AppContext.open(settings)
        try:
            async with ctx.db.session() as db_session:
                ws = await auth.get_or_create_workspace(db_session, workspace or settings.default_workspace)
            phone = sender if sender.lstrip("+").replace(" ", "").isdigit() else None
            session_id: _uuid.UUID | None = None
            interactive = message is None
            if interactive:
                console.print(f"[dim]Talking to '{solution}' as {sender}. Empty line or Ctrl-D ends.[/dim]")
            while True:
                if interactive:
                    try:
                        text = console.input("[bold cyan]you>[/bold cyan] ").strip()
                    except (EOFError, KeyboardInterrupt):
                        break
                    if not text:
                        break
                else:
                    text = message or ""
                inbound = Inbound(
                    channel="chat",
                    sender=sender,
                    text=text,
                    solution=solution,
                    sender_phone=phone,
                    session_id=session_id,
                )
                out = await handle_turn(ctx, ws.id, inbound)
                session_id = out.session_id
                console.print(("[bold green]desk>[/bold green] " if interactive else "") + out.reply)
                if not interactive:
                    break
        finally:
            await ctx.close()
            ctx.db.stop_server()

    run_command(session)


@db_app.command("migrate")
def db_migrate() -> None:
    """Apply pending migrations (the server also does this at start)."""
    run_command(lambda: _with_db(get_settings(), _noop))
    console.print("database is at the latest migration")


async def _noop(_: Any) -> None:
    return None


@db_app.command("status")
def db_status() -> None:
    """Show the current and latest migration."""
    from opsdesk.db.engine import Database, to_sync_url
    from opsdesk.db.migrate import status

    async def read() -> tuple[str | None, str | None]:
        db = Database(get_settings())
        await asyncio.to_thread(db.start_server)
        return await asyncio.to_thread(status, to_sync_url(db.url))

    current, head = run_command(read)
    state = "up to date" if current == head else "migrations pending"
    console.print(f"current: {current}  head: {head}  ({state})")


@user_app.command("add")
def user_add(
    email: str,
    password: str = typer.Option(..., prompt=True, hide_input=True, confirmation_prompt=True),
    workspace: str = typer.Option(None, help="Workspace slug (created if missing; default OPSDESK_DEFAULT_WORKSPACE)."),
    role: Role = typer.Option(Role.viewer, help="admin, operator, viewer or service."),
    name: str = typer.Option("", help="Display name."),
) -> None:
    """Add a user (or give an existing one a role) in a workspace."""
    from opsdesk.auth import service

    settings = get_settings()

    async def action(db: Any) -> None:
        async with db.session() as session:
            ws = await service.get_or_create_workspace(session, workspace or settings.default_workspace)
            user = await service.get_user_by_email(session, email)
            if user is None:
                user = await service.create_user(session, email, password, name)
            await service.add_member(session, user, ws, role)

    run_command(lambda: _with_db(settings, action))
    console.print(f"{email} is {role.value} in {workspace or settings.default_workspace}")


@user_app.command("list")
def user_list(workspace: str = typer.Option(None, help="Workspace slug.")) -> None:
    """List the members of a workspace."""
    from opsdesk.auth import service

    settings = get_settings()

    async def action(db: Any) -> list[tuple[str, str]]:
        async with db.session() as session:
            ws = await service.get_workspace(session, workspace or settings.default_workspace)
            rows, _ = await service.list_members(session, ws.id, 1000, 0)
            return [(user.email, membership.role) for user, membership in rows]

    table = Table("email", "role")
    for email, role in run_command(lambda: _with_db(settings, action)):
        table.add_row(email, role)
    console.print(table)


@apikey_app.command("create")
def apikey_create(
    name: str = typer.Option("cli", help="What the key is for."),
    role: Role = typer.Option(Role.service, help="admin, operator, viewer or service."),
    workspace: str = typer.Option(None, help="Workspace slug (default OPSDESK_DEFAULT_WORKSPACE)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Print only the key."),
) -> None:
    """Create an API key; it is shown once."""
    from opsdesk.auth import service

    settings = get_settings()

    async def action(db: Any) -> tuple[str, str]:
        async with db.session() as session:
            ws = await service.get_or_create_workspace(session, workspace or settings.default_workspace)
            key, record = await service.create_api_key(session, ws, name, role)
            return key, str(record.id)

    key, key_id = run_command(lambda: _with_db(settings, action))
    if quiet:
        print(key)
    else:
        console.print(
            f"API key [bold]{key}[/bold] (id {key_id}, role {role.value}). Store it now: it is not shown again."
        )


@apikey_app.command("revoke")
def apikey_revoke(
    key: str = typer.Argument(..., help="The key's id, its prefix (odk_…, 12 chars) or the key."),
) -> None:
    """Revoke an API key at once."""
    from sqlalchemy import select

    from opsdesk.auth import service
    from opsdesk.auth.models import ApiKey
    from opsdesk.auth.security import API_KEY_PREFIX, hash_api_key

    async def action(db: Any) -> str:
        async with db.session() as session:
            try:
                key_id = uuid.UUID(key)
            except ValueError:
                if key.startswith(API_KEY_PREFIX) and len(key) > 12:
                    record = await session.scalar(select(ApiKey).where(ApiKey.key_hash == hash_api_key(key)))
                    if record is None:
                        raise OpsdeskError("No such API key.") from None
                    return (await service.revoke_api_key(session, record.workspace_id, record.id)).prefix
                return (await service.revoke_api_key_by_prefix(session, key)).prefix
            record = await session.get(ApiKey, key_id)
            if record is None:
                raise OpsdeskError("No such API key.")
            return (await service.revoke_api_key(session, record.workspace_id, key_id)).prefix

    prefix = run_command(lambda: _with_db(get_settings(), action))
    console.print(f"revoked {prefix}…")


@apikey_app.command("list")
def apikey_list(workspace: str = typer.Option(None, help="Workspace slug.")) -> None:
    """List a workspace's API keys (never the keys themselves)."""
    from opsdesk.auth import service

    settings = get_settings()

    async def action(db: Any) -> list[Any]:
        async with db.session() as session:
            ws = await service.get_workspace(session, workspace or settings.default_workspace)
            records, _ = await service.list_api_keys(session, ws.id, 1000, 0, include_revoked=True)
            return records

    table = Table("id", "prefix", "name", "role", "last used", "revoked")
    for r in run_command(lambda: _with_db(settings, action)):
        table.add_row(str(r.id), r.prefix, r.name, r.role, str(r.last_used_at or "-"), str(r.revoked_at or "-"))
    console.print(table)


@config_app.command("show")
def config_show() -> None:
    """Print the effective configuration with secrets masked."""
    console.print_json(json.dumps(get_settings().masked(), default=str))


def main() -> None:
    app()


if __name__ == "__main__":
    main()
