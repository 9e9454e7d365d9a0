"""Running the crew flow in a process: the compiled graph on the PostgreSQL checkpointer (one thread per run),
driving a run to its next stop (a gate, a pause, the end), and the run's row kept in step with where it stopped.

Side-effect steps must not be lost once done, so every invocation uses durability "sync": the checkpoint is
written before the next step starts. A vendor that stays unavailable after the connector's retries pauses the run
("paused", with the vendor's retry-after when known); a spent budget stops it ("stopped"); either way the state is
kept and ``resume`` carries on from the last checkpoint. A new process (or a new CrewFlow on the same database)
continues any run: nothing lives only in memory.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from typing import Any

from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
from langgraph.types import Command
from psycopg_pool import AsyncConnectionPool
from sqlalchemy import select

from opsdesk.app.context import AppContext
from opsdesk.core.logging import get_logger
from opsdesk.crew.agents.hosted import HostedModel
from opsdesk.crew.connections.models import CrewConnection
from opsdesk.crew.connections.secrets import TokenCipher
from opsdesk.crew.connections.service import Connectors
from opsdesk.crew.connectors import (
    ConfluenceConnector,
    ConnectorPolicy,
    GitLabConnector,
    JiraConnector,
    VendorError,
    VendorUnavailable,
)
from opsdesk.crew.flow.effects import Vendors
from opsdesk.crew.flow.graph import CrewGraph
from opsdesk.crew.flow.record import RunRecorder
from opsdesk.crew.flow.state import GATES, Answer, BudgetExceeded, CrewState
from opsdesk.crew.runs.models import CrewRun
from opsdesk.crew.sandbox import SandboxLimits
from opsdesk.db.checkpoints import open_checkpointer
from opsdesk.db.locks import named_locks

log = get_logger(__name__)
_EXTRAS_KEY = "crew.flow"
_RUN_LOCK_WAIT_S = 600.0  # a run's invocation can take minutes (tests in the sandbox, vendor retries)


@dataclass(frozen=True)
class Stop:
    """Where an invocation left the run."""

    status: str  # waiting | paused | stopped | failed | completed
    gate: str | None = None  # the gate it waits at (the first, when it waits at both parallel gates)
    detail: str | None = None
    gates: tuple[str, ...] = ()  # every gate it waits at, in the flow's order


class NotWaitingThere(LookupError):
    """An answer named a gate the run does not wait at."""


def thread_id(run_id: uuid.UUID) -> str:
    return f"crew:{run_id}"


class CrewFlow:
    """The compiled crew graph with its checkpointer, connectors shared by runs, and a lock per run."""

    def __init__(
        self,
        ctx: AppContext,
        pool: AsyncConnectionPool[Any],
        *,
        policy: ConnectorPolicy | None = None,
        limits: SandboxLimits | None = None,
    ) -> None:
        self.ctx = ctx
        self._pool = pool
        self._connectors = Connectors(TokenCipher(ctx.settings.jwt_secret()), policy)
        self.recorder = RunRecorder(ctx.db, ctx.settings)
        builder = CrewGraph(self.recorder, self._vendors, self._model_for, limits or SandboxLimits())
        self._saver = AsyncPostgresSaver(pool)  # type: ignore[arg-type]
        self.graph = builder.build().compile(checkpointer=self._saver)

    async def aclose(self) -> None:
        await self._connectors.aclose()
        await self._pool.close()

    # --------------------------------------------------------------------------------------------- driving

    async def start(self, run: CrewRun) -> Stop:
        """Runs a new run from the start to its first stop."""
        state: CrewState = {
            "run_id": str(run.id),
            "workspace_id": str(run.workspace_id),
            "requirement": run.requirement,
            "model": run.model,
            "feedback": {},
            "fix_round": 0,
            "notes": [],
            "trace": [],
        }
        return await self._drive(run.id, state)

    async def answer(self, run_id: uuid.UUID, answer: Answer) -> Stop:
        """Resumes a gate the run waits at with a person's answer: the gate it names, else the first one waiting.

        Each gate is its own interrupt, so an answer resumes only that one; a run waiting at both parallel gates
        goes on (to the join) once both are answered."""
        pending = await self.waiting_gates(run_id)
        gate: str | None = answer.gate or next(iter(pending), None)
        if gate is None or gate not in pending:
            raise NotWaitingThere(f"run {run_id} does not wait at {gate or 'any gate'} (it waits at {list(pending)})")
        value = answer.model_dump(mode="json") | {"gate": gate}
        return await self._drive(run_id, Command(resume={pending[gate]: value}))

    async def resume(self, run_id: uuid.UUID) -> Stop:
        """Continues a paused, stopped or failed run (or one a crash interrupted) from its last checkpoint."""
        return await self._drive(run_id, None)

    async def waiting_gate(self, run_id: uuid.UUID) -> str | None:
        """The gate the run's checkpoint waits at (the first of two parallel ones), if any."""
        return next(iter(await self.waiting_gates(run_id)), None)

    async def waiting_gates(self, run_id: uuid.UUID) -> dict[str, str]:
        """Every gate the run's checkpoint waits at, in the flow's order, with its interrupt id."""
        snapshot = await self.graph.aget_state({"configurable": {"thread_id": thread_id(run_id)}})
        found = {
            str(pending.value.get("gate")): pending.id
            for task in snapshot.tasks
            for pending in task.interrupts
            if isinstance(pending.value, dict)
        }
        return {gate: found[gate] for gate in sorted(found, key=_gate_order)}

    async def state(self, run_id: uuid.UUID) -> dict[str, Any]:
        """The run's checkpointed state (artefacts, feedback, links)."""
        snapshot = await self.graph.aget_state({"configurable": {"thread_id": thread_id(run_id)}})
        return dict(snapshot.values or {})

    async def forget(self, run_id: uuid.UUID) -> None:
        """Deletes the run's checkpoints (LangGraph's saver keeps them forever); for finished runs only."""
        await self._saver.adelete_thread(thread_id(run_id))

    async def _drive(self, run_id: uuid.UUID, value: Any) -> Stop:
        async with named_locks(self.ctx.extras, self.ctx.db.url).hold(thread_id(run_id), timeout_s=_RUN_LOCK_WAIT_S):
            async with self.ctx.db.session() as session:
                run = await session.get(CrewRun, run_id)
                budget = dict(run.budget) if run is not None else {}
            config: dict[str, Any] = {"configurable": {"thread_id": thread_id(run_id), "budget": budget}}
            stop = await self._invoke(value, config)
        await self.recorder.settled(
            run_id,
            stop.status,
            waiting_for=stop.gate,
            gates=stop.gates,
            detail=stop.detail,
            retry_after_s=getattr(stop, "retry_after_s", None),
        )
        log.info("crew_run_stopped", run_id=str(run_id), status=stop.status, gate=stop.gate)
        return stop

    async def _invoke(self, value: Any, config: dict[str, Any]) -> Stop:
        try:
            result = await self.graph.ainvoke(value, config, durability="sync")  # type: ignore[call-overload]
        except BudgetExceeded as exc:
            return Stop("stopped", detail=exc.message)
        except VendorUnavailable as exc:
            wait = f" (the vendor asks to wait {exc.retry_after_s:g} s)" if exc.retry_after_s else ""
            return _Paused(
                "paused", detail=f"{exc.vendor} is unavailable: {exc.message}{wait}", retry_after_s=exc.retry_after_s
            )
        except VendorError as exc:
            return Stop("failed", detail=f"{exc.vendor} refused: {exc.message}")
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a step's own failure: the run keeps its state and can be resumed after a fix
            log.exception("crew_step_failed")
            return Stop("failed", detail=f"{type(exc).__name__}: {exc}"[:2000])
        gates = sorted(
            {
                str(pending.value.get("gate"))
                for pending in result.get("__interrupt__") or ()
                if isinstance(pending.value, dict)
            },
            key=_gate_order,
        )
        if gates:
            return Stop("waiting", gate=gates[0], gates=tuple(gates))
        return Stop("completed")

    # ------------------------------------------------------------------------------- what nodes reach

    async def _vendors(self, workspace_id: uuid.UUID) -> Vendors:
        async with self.ctx.db.session() as session:
            rows = list(
                await session.scalars(select(CrewConnection).where(CrewConnection.workspace_id == workspace_id))
            )
        found: dict[str, Any] = {}
        for row in rows:
            if not row.scope:
                continue
            connector = await self._connectors.get(row)
            found[row.vendor] = (connector, row.scope)
        jira, confluence, gitlab = found.get("jira"), found.get("confluence"), found.get("gitlab")
        return Vendors(
            jira=jira if jira and isinstance(jira[0], JiraConnector) else None,
            confluence=confluence if confluence and isinstance(confluence[0], ConfluenceConnector) else None,
            gitlab=gitlab if gitlab and isinstance(gitlab[0], GitLabConnector) else None,
        )

    def _model_for(self, name: str) -> HostedModel | None:
        if not name or name == "local":
            return None
        provider_name, _, model = name.partition("/")
        configured = self.ctx.settings.chat_providers().get(provider_name)
        provider = self.ctx.providers.chat(provider_name)
        return HostedModel(
            provider,
            model or None,
            configured.input_cost_per_mtok if configured else 0.0,
            configured.output_cost_per_mtok if configured else 0.0,
        )


def _gate_order(gate: str) -> int:
    return list(GATES).index(gate) if gate in GATES else len(GATES)


@dataclass(frozen=True)
class _Paused(Stop):
    retry_after_s: float | None = None


async def open_crew_flow(
    ctx: AppContext, *, policy: ConnectorPolicy | None = None, limits: SandboxLimits | None = None
) -> CrewFlow:
    """The process's crew flow (made once; ``policy`` and ``limits`` apply to the first call only)."""
    existing = ctx.extras.get(_EXTRAS_KEY)
    if isinstance(existing, CrewFlow):
        return existing
    lock = ctx.extras.setdefault(_EXTRAS_KEY + ".lock", asyncio.Lock())
    async with lock:
        existing = ctx.extras.get(_EXTRAS_KEY)
        if isinstance(existing, CrewFlow):
            return existing
        flow = await new_crew_flow(ctx, policy=policy, limits=limits)
        ctx.extras[_EXTRAS_KEY] = flow
        return flow


async def new_crew_flow(
    ctx: AppContext, *, policy: ConnectorPolicy | None = None, limits: SandboxLimits | None = None
) -> CrewFlow:
    """A crew flow of its own (a pool, a graph) on the app's database; close it with ``aclose``."""
    pool, _ = await open_checkpointer(ctx.db.url, max_size=max(2, ctx.settings.db_pool_size), name="crew flow")
    return CrewFlow(ctx, pool, policy=policy, limits=limits)


async def close_crew_flow(ctx: AppContext) -> None:
    flow = ctx.extras.pop(_EXTRAS_KEY, None)
    if isinstance(flow, CrewFlow):
        await flow.aclose()
