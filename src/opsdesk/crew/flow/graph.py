"""The delivery crew as an explicit LangGraph graph:

    analyse → approve_stories ⟲ → jira_stories → design → approve_design ⟲ → implement
      → (qa → approve_tests ⟲ ∥ devops → approve_pipeline ⟲) → review
      → [file_defects → implement, at most MAX_FIX_ROUNDS times] → docs → approve_merge ⟲ → publish_code
      → publish_docs → finish

The two parallel branches each end at a gate, so a run can wait at both at once; each answer (named by its gate)
resumes its own interrupt, and review joins the branches once both gates let theirs through.

Gates interrupt and wait for a person: approve goes on, edit goes on with the edited artefact, reject goes back to
the step that made the artefact with the comment, which that step answers. Only the effect steps (jira_stories,
file_defects, publish_code, publish_docs, finish) write to Jira, GitLab and Confluence, each write keyed by the run
id and the artefact. Every step but the gates first checks the run's budget (passed in the config, so a person can
raise it and resume).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.graph import END, START, StateGraph
from langgraph.types import Command, interrupt

from opsdesk.crew.agents import analyst, developer, devops, qa, writer
from opsdesk.crew.agents.hosted import HostedModel
from opsdesk.crew.agents.schemas import Backlog, Design, DevOpsFiles, Docs, Implementation, QAReport
from opsdesk.crew.flow import effects
from opsdesk.crew.flow.effects import Vendors
from opsdesk.crew.flow.record import RunRecorder
from opsdesk.crew.flow.state import GATES, MAX_FIX_ROUNDS, Answer, Budget, BudgetExceeded, CrewState
from opsdesk.crew.sandbox import SandboxLimits


@dataclass
class StepResult:
    """What a step did: its change to the run's state, what the run shows (artefacts, links), usage and status."""

    update: dict[str, Any] = field(default_factory=dict)
    artefacts: dict[str, Any] = field(default_factory=dict)
    links: dict[str, Any] = field(default_factory=dict)
    tokens: int = 0
    cost_usd: float = 0.0
    detail: str = ""
    status: str = "completed"  # or "skipped" (no connection for the vendor)


Work = Callable[[CrewState], Awaitable[StepResult]]
_NEXT = {
    "approve_stories": "jira_stories",
    "approve_design": "implement",
    "approve_tests": "tests_approved",
    "approve_pipeline": "pipeline_approved",
    "approve_merge": "publish_code",
}


def _dump(model: Any) -> dict[str, Any]:
    return dict(model.model_dump(mode="json"))


class CrewGraph:
    """Builds the graph; the nodes reach the database, vendors and models through what is given here."""

    def __init__(
        self,
        recorder: RunRecorder,
        vendors: Callable[[uuid.UUID], Awaitable[Vendors]],
        model_for: Callable[[str], HostedModel | None],
        limits: SandboxLimits,
    ) -> None:
        self._recorder = recorder
        self._vendors = vendors
        self._model_for = model_for
        self._limits = limits
        self._usage: dict[str, tuple[int, float]] = {}

    def build(self) -> StateGraph[CrewState]:
        graph = StateGraph(CrewState)
        for name, work in (
            ("analyse", self._analyse),
            ("jira_stories", self._jira_stories),
            ("design", self._design),
            ("implement", self._implement),
            ("qa", self._qa),
            ("devops", self._devops),
            ("file_defects", self._file_defects),
            ("docs", self._docs),
            ("publish_code", self._publish_code),
            ("publish_docs", self._publish_docs),
            ("finish", self._finish),
        ):
            graph.add_node(name, self._step(name, work))  # type: ignore[call-overload, arg-type]
        for gate in GATES:
            graph.add_node(gate, self._gate(gate), destinations=(_NEXT[gate], GATES[gate][1]))  # type: ignore[call-overload, arg-type]
        graph.add_node("tests_approved", _tests_approved)
        graph.add_node("pipeline_approved", _pipeline_approved)
        graph.add_node("review", _review)
        graph.add_edge(START, "analyse")
        graph.add_edge("analyse", "approve_stories")
        graph.add_edge("jira_stories", "design")
        graph.add_edge("design", "approve_design")
        graph.add_edge("implement", "qa")
        graph.add_edge("implement", "devops")
        graph.add_edge("qa", "approve_tests")
        graph.add_edge("devops", "approve_pipeline")
        # a barrier: review runs once both branches' gates let them through (a rejection loops inside its branch)
        graph.add_edge(["tests_approved", "pipeline_approved"], "review")
        graph.add_conditional_edges("review", _after_review, ["file_defects", "docs"])
        graph.add_conditional_edges("file_defects", _after_defects, ["implement", "docs"])
        graph.add_edge("docs", "approve_merge")
        graph.add_edge("publish_code", "publish_docs")
        graph.add_edge("publish_docs", "finish")
        graph.add_edge("finish", END)
        return graph

    # ------------------------------------------------------------------------------------------ wrappers

    def _step(self, name: str, work: Work) -> Callable[[CrewState, RunnableConfig], Awaitable[dict[str, Any]]]:
        async def node(state: CrewState, config: RunnableConfig) -> dict[str, Any]:
            run_id = uuid.UUID(state["run_id"])
            reason = Budget.of(config.get("configurable", {}).get("budget")).exceeded(state)
            if reason is not None:
                raise BudgetExceeded(f"Stopped before {name}: {reason}.")
            await self._recorder.step_started(run_id, name)
            started = time.monotonic()
            try:
                result = await work(state)
            except Exception as exc:
                error = getattr(exc, "message", None) or f"{type(exc).__name__}: {exc}"
                await self._recorder.step_failed(run_id, name, seconds=time.monotonic() - started, error=str(error))
                raise
            seconds = time.monotonic() - started
            await self._recorder.step_finished(
                run_id,
                name,
                seconds=seconds,
                tokens=result.tokens,
                cost_usd=result.cost_usd,
                artefacts=result.artefacts,
                links=result.links,
                detail=result.detail,
                status=result.status,
            )
            usage = {"tokens": result.tokens, "cost_usd": result.cost_usd, "work_s": seconds}
            return {**result.update, **usage, "trace": [name]}

        return node

    def _gate(self, gate: str) -> Callable[[CrewState], Awaitable[Command[str]]]:
        key, producer, kind = GATES[gate]

        async def node(state: CrewState) -> Command[str]:
            answer = Answer.model_validate(interrupt({"kind": "approval", "gate": gate, "artefact": key}))
            run_id = uuid.UUID(state["run_id"])
            if answer.decision == "reject":
                feedback = dict(state.get("feedback") or {})
                feedback[producer] = [*feedback.get(producer, []), str(answer.comment)]
                await self._recorder.gate_answered(run_id, gate, "rejected", comment=answer.comment)
                return Command(goto=producer, update={"feedback": feedback, "trace": [f"{gate}:reject"]})
            update: dict[str, Any] = {"trace": [f"{gate}:{answer.decision}"]}
            edited = None
            if answer.decision == "edit":
                edited = _dump(kind.model_validate(answer.artefact))
                update[key] = edited
            await self._recorder.gate_answered(
                run_id, gate, "edited" if edited else "approved", artefacts={key: edited} if edited else None
            )
            return Command(goto=_NEXT[gate], update=update)

        return node

    async def _improve(self, step: str, state: CrewState, draft: Any) -> tuple[Any, int, float, list[str]]:
        model = self._model_for(state.get("model") or "local")
        if model is None:
            return draft, 0, 0.0, []
        feedback = (state.get("feedback") or {}).get(step, [])
        better, answer = await model.improve(
            step, analyst.clean_requirement(state["requirement"])[0], draft, feedback=feedback
        )
        return better, answer.tokens, answer.cost_usd, [answer.note]

    # --------------------------------------------------------------------------------------------- agents

    async def _analyse(self, state: CrewState) -> StepResult:
        feedback = (state.get("feedback") or {}).get("analyse", [])
        draft = analyst.analyse(state["requirement"], feedback=feedback)
        backlog, tokens, cost, notes = await self._improve("analyse", state, draft)
        dumped = _dump(backlog)
        return StepResult({"backlog": dumped, "notes": notes}, {"backlog": dumped}, tokens=tokens, cost_usd=cost)

    async def _design(self, state: CrewState) -> StepResult:
        backlog = Backlog.model_validate(state["backlog"])
        draft = developer.design(backlog, feedback=(state.get("feedback") or {}).get("design", []))
        plan, tokens, cost, notes = await self._improve("design", state, draft)
        dumped = _dump(plan)
        return StepResult({"design": dumped, "notes": notes}, {"design": dumped}, tokens=tokens, cost_usd=cost)

    async def _implement(self, state: CrewState) -> StepResult:
        backlog = Backlog.model_validate(state["backlog"])
        plan = Design.model_validate(state["design"])
        round_ = state.get("fix_round", 0)
        defects = [d["title"] for d in (state.get("qa") or {}).get("defects", [])] if round_ else []
        draft = developer.implement(
            backlog, plan, feedback=(state.get("feedback") or {}).get("implement", []), defects=defects, round=round_
        )
        code, tokens, cost, notes = await self._improve("implement", state, draft)
        dumped = _dump(code)
        return StepResult(
            {"implementation": dumped, "notes": notes}, {"implementation": dumped}, tokens=tokens, cost_usd=cost
        )

    async def _qa(self, state: CrewState) -> StepResult:
        report = await qa.check(
            Backlog.model_validate(state["backlog"]),
            Implementation.model_validate(state["implementation"]),
            limits=self._limits,
            feedback=(state.get("feedback") or {}).get("qa", []),
        )
        dumped = _dump(report)
        run = report.run
        detail = f"{run.passed} passed, {run.failed} failed, {run.skipped} skipped ({run.isolation})"
        return StepResult({"qa": dumped}, {"qa": dumped}, detail=detail)

    async def _devops(self, state: CrewState) -> StepResult:
        files = devops.pipeline(
            Implementation.model_validate(state["implementation"]),
            feedback=(state.get("feedback") or {}).get("devops", []),
        )
        dumped = _dump(files)
        return StepResult({"devops": dumped}, {"devops": dumped})

    async def _docs(self, state: CrewState) -> StepResult:
        report = QAReport.model_validate(state["qa"]) if state.get("qa") else None
        draft = writer.document(
            Backlog.model_validate(state["backlog"]),
            Design.model_validate(state["design"]),
            report,
            feedback=(state.get("feedback") or {}).get("docs", []),
        )
        docs, tokens, cost, notes = await self._improve("docs", state, draft)
        dumped = _dump(docs)
        return StepResult({"docs": dumped, "notes": notes}, {"docs": dumped}, tokens=tokens, cost_usd=cost)

    # -------------------------------------------------------------------------------------------- effects

    async def _jira_stories(self, state: CrewState) -> StepResult:
        vendors = await self._vendors(uuid.UUID(state["workspace_id"]))
        if vendors.jira is None:
            return StepResult({"jira": {}}, status="skipped", detail="no Jira connection in this workspace")
        jira, project = vendors.jira
        keys = await effects.write_stories(jira, project, state["run_id"], Backlog.model_validate(state["backlog"]))
        return StepResult({"jira": keys}, links={"jira": keys})

    async def _file_defects(self, state: CrewState) -> StepResult:
        vendors = await self._vendors(uuid.UUID(state["workspace_id"]))
        round_ = state.get("fix_round", 0) + 1
        if vendors.jira is None:
            return StepResult({"fix_round": round_}, status="skipped", detail="no Jira connection")
        jira, project = vendors.jira
        report = QAReport.model_validate(state["qa"])
        filed = await effects.file_defects(jira, project, state["run_id"], report, state.get("jira") or {})
        every = sorted({*(state.get("defects_filed") or []), *filed})
        return StepResult({"fix_round": round_, "defects_filed": every}, links={"defects": every})

    async def _publish_code(self, state: CrewState) -> StepResult:
        vendors = await self._vendors(uuid.UUID(state["workspace_id"]))
        if vendors.gitlab is None:
            return StepResult({"gitlab": {}}, status="skipped", detail="no GitLab connection in this workspace")
        gitlab, project = vendors.gitlab
        backlog = Backlog.model_validate(state["backlog"])
        code = Implementation.model_validate(state["implementation"])
        extra = [(f.path, f.content) for f in DevOpsFiles.model_validate(state["devops"]).files]
        extra += [(f.path, f.content) for f in writer.repository_files(Docs.model_validate(state["docs"]))]
        report = QAReport.model_validate(state["qa"]) if state.get("qa") else None
        description, checklist = effects.merge_request_text(backlog, report, state.get("jira") or {}, code.scaffold)
        published = await effects.publish_code(
            gitlab,
            project,
            state["run_id"],
            backlog.requirement.title,
            effects.commit_files(code, extra),
            description,
            checklist,
        )
        return StepResult({"gitlab": published}, links={"gitlab": published})

    async def _publish_docs(self, state: CrewState) -> StepResult:
        vendors = await self._vendors(uuid.UUID(state["workspace_id"]))
        if vendors.confluence is None:
            return StepResult({"confluence": {}}, status="skipped", detail="no Confluence connection")
        confluence, space = vendors.confluence
        title = Backlog.model_validate(state["backlog"]).requirement.title
        pages = await effects.publish_pages(
            confluence, space, state["run_id"], title, Docs.model_validate(state["docs"])
        )
        return StepResult({"confluence": pages}, links={"confluence": pages})

    async def _finish(self, state: CrewState) -> StepResult:
        vendors = await self._vendors(uuid.UUID(state["workspace_id"]))
        merge_request = (state.get("gitlab") or {}).get("merge_request")
        if vendors.jira is not None and merge_request:
            jira, _ = vendors.jira
            backlog = Backlog.model_validate(state["backlog"])
            for epic in backlog.epics:
                issue = (state.get("jira") or {}).get(epic.key)
                if issue:
                    await jira.comment(
                        issue,
                        f"{state['run_id']}/merge-request-comment/{epic.key}",
                        f"Merge request for this epic: {merge_request}",
                    )
        return StepResult()


def _tests_approved(state: CrewState) -> dict[str, Any]:
    """The QA branch got through its gate (one side of the join)."""
    return {"trace": ["tests_approved"]}


def _pipeline_approved(state: CrewState) -> dict[str, Any]:
    """The DevOps branch got through its gate (the other side of the join)."""
    return {"trace": ["pipeline_approved"]}


def _review(state: CrewState) -> dict[str, Any]:
    """Joins QA and DevOps (both branches approved)."""
    return {"trace": ["review"]}


def _after_review(state: CrewState) -> str:
    return "file_defects" if (state.get("qa") or {}).get("defects") else "docs"


def _after_defects(state: CrewState) -> str:
    return "implement" if state.get("fix_round", 0) <= MAX_FIX_ROUNDS else "docs"
