"""The delivery crew on the blind evaluation set (tests/data/crew): each spec's requirement through the whole flow.

For each spec the crew gets `requirement.md` only and runs every step — the flow on embedded PostgreSQL, the local
Jira, Confluence and GitLab, each approval answered "approve" — then this script runs the spec's hidden acceptance
tests against the generated project in the crew's sandbox. Per spec it prints: completed (every artefact present
and valid, every vendor write done), the project's own tests passing, the hidden tests' pass rate, tokens, cost and
wall time, for the offline crew ("local") and for each hosted model named with --model.

Only this script reads tests/data/crew, at run time. Hidden test output is summarised as counts, never printed.

    .venv/bin/python -m bench.crew [--data tests/data/crew] [--model openai/gpt-4o-mini] [--only 01] [--json]

`--json` ends with {MODEL: {"specs", "complete", "own_tests_pass", "hidden_pass_rate"}}.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import SecretStr
from rich.console import Console
from rich.table import Table

from bench._results import RESULTS_DIR
from opsdesk.app.context import AppContext
from opsdesk.auth import service as auth
from opsdesk.core.settings import Settings
from opsdesk.crew.agents.schemas import ProjectFile
from opsdesk.crew.connections.schemas import ConnectionIn
from opsdesk.crew.connections.secrets import TokenCipher
from opsdesk.crew.connections.service import put_connection
from opsdesk.crew.demo.servers.run import DEMO_TOKEN, DemoVendors
from opsdesk.crew.flow.runtime import CrewFlow, new_crew_flow
from opsdesk.crew.flow.state import Answer
from opsdesk.crew.runs import service
from opsdesk.crew.runs.models import CrewRun
from opsdesk.crew.runs.schemas import RunIn
from opsdesk.crew.sandbox import SandboxLimits, run_in_sandbox
from opsdesk.db.embedded import EmbeddedPostgres
from opsdesk.db.engine import to_async_url
from opsdesk.db.migrate import upgrade_to_head

DEFAULT_DATA = Path(__file__).resolve().parents[1] / "tests" / "data" / "crew"
_COUNTS = re.compile(r"(\d+) (passed|failed|error|errors)")
_ARTEFACTS = ("backlog", "design", "implementation", "qa", "devops", "docs")


async def _connect_vendors(ctx: AppContext, workspace_id: uuid.UUID, vendors: DemoVendors) -> None:
    cipher = TokenCipher(ctx.settings.jwt_secret())
    async with ctx.db.session() as session:
        for vendor, url, username, scope in (
            ("jira", vendors.jira.url, "opsdesk", "DEMO"),
            ("confluence", vendors.confluence.url, "opsdesk", "DEMO"),
            ("gitlab", vendors.gitlab.url, None, "opsdesk/demo"),
        ):
            body = ConnectionIn(base_url=url, username=username, token=DEMO_TOKEN, scope=scope)
            await put_connection(session, workspace_id, vendor, body, cipher)  # type: ignore[arg-type]


def _complete(run: CrewRun) -> bool:
    artefacts, links = run.artefacts, run.links
    if run.status != "completed" or any(not artefacts.get(name) for name in _ARTEFACTS):
        return False
    paths = {file["path"] for file in artefacts["implementation"]["files"]}
    return (
        bool(artefacts["backlog"]["stories"])
        and {"app/main.py", "requirements.txt"} <= paths
        and bool(links.get("jira"))
        and bool((links.get("gitlab") or {}).get("merge_request"))
        and bool(links.get("confluence"))
    )


async def _hidden(run: CrewRun, hidden: str) -> tuple[int, int]:
    """(passed, total) of the hidden acceptance tests against the generated project, in the sandbox."""
    files = [ProjectFile(path=f["path"], content=f["content"]) for f in run.artefacts["implementation"]["files"]]
    files.append(ProjectFile(path="hidden_acceptance.py", content=hidden))
    command = ["python", "-m", "pytest", "-q", "-p", "no:cacheprovider", "hidden_acceptance.py"]
    result = await run_in_sandbox(files, command, limits=SandboxLimits(time_s=180))
    summary = next((line for line in reversed(result.output.splitlines()) if _COUNTS.search(line)), "")
    counts = {word: int(number) for number, word in _COUNTS.findall(summary)}
    passed = counts.get("passed", 0)
    total = passed + counts.get("failed", 0) + counts.get("error", 0) + counts.get("errors", 0)
    if total == 0:  # nothing collected or ran: count the file's tests as failed
        total = len(re.findall(r"^def test_", hidden, re.MULTILINE))
    return passed, total


async def _one(ctx: AppContext, flow: CrewFlow, workspace_id: uuid.UUID, spec: Spec, model: str) -> dict[str, Any]:
    started = time.monotonic()
    async with ctx.db.session() as session:
        body = RunIn(requirement=spec.requirement, model=model)
        run = await service.create_run(session, workspace_id, body, created_by="bench", enqueue_start=False)
        session.expunge(run)
    stop = await flow.start(run)
    for _ in range(12):  # three gates; a fix loop never asks twice, but be bounded anyway
        if stop.status != "waiting":
            break
        stop = await flow.answer(run.id, Answer(decision="approve"))
    async with ctx.db.session() as session:
        finished = await session.get(CrewRun, run.id)
        assert finished is not None
        session.expunge(finished)
    wall_s = time.monotonic() - started
    qa = (finished.artefacts.get("qa") or {}).get("run") or {}
    own = qa.get("exit_code") == 0 and not qa.get("timed_out") and not qa.get("failed") and not qa.get("errors")
    passed, total = await _hidden(finished, spec.hidden) if finished.artefacts.get("implementation") else (0, 0)
    return {
        "spec": spec.name,
        "status": finished.status,
        "detail": finished.detail,
        "complete": _complete(finished),
        "own_tests_pass": bool(own),
        "own_tests": f"{qa.get('passed', 0)} passed, {qa.get('failed', 0)} failed, {qa.get('skipped', 0)} skipped",
        "hidden_passed": passed,
        "hidden_total": total,
        "tokens": finished.tokens,
        "cost_usd": round(finished.cost_usd, 6),
        "wall_s": round(wall_s, 2),
    }


@dataclass(frozen=True)
class Spec:
    name: str
    requirement: str  # all the crew sees
    hidden: str  # the acceptance tests it does not see


def load_specs(data: Path, only: str | None) -> list[Spec]:
    folders = sorted(p for p in data.iterdir() if p.is_dir() and (p / "requirement.md").exists())
    return [
        Spec(p.name, (p / "requirement.md").read_text(), (p / "hidden_acceptance.py").read_text())
        for p in folders
        if not only or p.name.startswith(only)
    ]


async def run(specs: list[Spec], models: list[str]) -> dict[str, list[dict[str, Any]]]:
    data_dir = Path(tempfile.mkdtemp(prefix="opsdesk-crew-bench-"))
    os.chmod(data_dir, 0o755)  # the embedded server runs as its own system user
    (data_dir / "db").mkdir()
    server = EmbeddedPostgres(data_dir / "db", cleanup_mode="delete")
    await asyncio.to_thread(server.start)
    vendors = DemoVendors.start(data_dir / "vendors")
    results: dict[str, list[dict[str, Any]]] = {}
    try:
        await asyncio.to_thread(upgrade_to_head, server.url("psycopg"))
        settings = Settings(
            _env_file=None,  # type: ignore[call-arg]
            env="test",
            data_dir=data_dir,
            database_url=SecretStr(to_async_url(server.url("asyncpg"))),
            secret_key=SecretStr("crew-bench-secret-key-long-enough-for-hs256"),
            local_llm_enabled=False,
            log_level="WARNING",
        )
        ctx = await AppContext.open(settings, migrate=False)
        flow = await new_crew_flow(ctx)
        try:
            async with ctx.db.session() as session:
                workspace_id = (await auth.get_or_create_workspace(session, "crew-bench")).id
            await _connect_vendors(ctx, workspace_id, vendors)
            for model in models:
                results[model] = [await _one(ctx, flow, workspace_id, spec, model) for spec in specs]
        finally:
            await flow.aclose()
            await ctx.close()
    finally:
        vendors.stop()
        await asyncio.to_thread(server.stop)
    return results


def summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    passed = sum(row["hidden_passed"] for row in rows)
    total = sum(row["hidden_total"] for row in rows)
    return {
        "specs": len(rows),
        "complete": sum(row["complete"] for row in rows),
        "own_tests_pass": sum(row["own_tests_pass"] for row in rows),
        "hidden_pass_rate": round(passed / total, 3) if total else 0.0,
    }


def show(results: dict[str, list[dict[str, Any]]]) -> None:
    console = Console()
    for model, rows in results.items():
        table = Table(title=f"crew on the blind set — model {model}")
        for column in ("spec", "completed", "own tests", "hidden pass", "tokens", "cost USD", "wall s"):
            table.add_column(column)
        for row in rows:
            table.add_row(
                row["spec"],
                "yes" if row["complete"] else f"no ({row['status']})",
                ("pass " if row["own_tests_pass"] else "FAIL ") + row["own_tests"],
                f"{row['hidden_passed']}/{row['hidden_total']}",
                str(row["tokens"]),
                f"{row['cost_usd']:.4f}",
                f"{row['wall_s']:.1f}",
            )
        total = summary(rows)
        table.caption = (
            f"{total['complete']}/{total['specs']} complete · {total['own_tests_pass']}/{total['specs']} own tests pass"
            f" · hidden pass rate {total['hidden_pass_rate']:.1%}"
        )
        console.print(table)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="The evaluation set (NN-name/ folders).")
    parser.add_argument("--model", action="append", default=[], help='A hosted model: "<provider>[/<model>]".')
    parser.add_argument("--only", help="Run the specs whose folder starts with this (e.g. 03).")
    parser.add_argument("--json", action="store_true", help="End with one JSON line: the summary per model.")
    args = parser.parse_args()
    results = asyncio.run(run(load_specs(args.data, args.only), ["local", *args.model]))
    show(results)
    RESULTS_DIR.mkdir(exist_ok=True)
    (RESULTS_DIR / "crew.json").write_text(json.dumps(results, indent=2))
    if args.json:
        print(json.dumps({model: summary(rows) for model, rows in results.items()}))


if __name__ == "__main__":
    main()
