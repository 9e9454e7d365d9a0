"""The flow's state (checkpointed as data), the gates, and the budget that can stop a run."""

from __future__ import annotations

import operator
from dataclasses import dataclass
from typing import Annotated, Any, Literal, TypedDict

from pydantic import BaseModel, Field, model_validator

from opsdesk.core.errors import OpsdeskError
from opsdesk.crew.agents.schemas import Backlog, Design, DevOpsFiles, Implementation, QAReport

Gate = Literal["approve_stories", "approve_design", "approve_tests", "approve_pipeline", "approve_merge"]
GATES: dict[str, tuple[str, str, type[BaseModel]]] = {
    # gate: (the artefact it shows and an edit replaces, the step a rejection reruns, the artefact's type)
    "approve_stories": ("backlog", "analyse", Backlog),
    "approve_design": ("design", "design", Design),
    # the two parallel branches' gates: a run can wait at both at once
    "approve_tests": ("qa", "qa", QAReport),
    "approve_pipeline": ("devops", "devops", DevOpsFiles),
    "approve_merge": ("implementation", "implement", Implementation),
}
MAX_FIX_ROUNDS = 2


class CrewState(TypedDict, total=False):
    run_id: str
    workspace_id: str
    requirement: str
    model: str  # "local" (offline agents) or a configured provider name, "provider/model"
    backlog: dict[str, Any]
    design: dict[str, Any]
    implementation: dict[str, Any]
    qa: dict[str, Any]
    devops: dict[str, Any]
    docs: dict[str, Any]
    feedback: dict[str, list[str]]  # comments of rejections, by the step they go back to
    fix_round: int
    jira: dict[str, Any]  # artefact key -> issue key
    defects_filed: list[str]
    gitlab: dict[str, Any]
    confluence: dict[str, Any]
    notes: Annotated[list[str], operator.add]
    tokens: Annotated[int, operator.add]
    cost_usd: Annotated[float, operator.add]
    work_s: Annotated[float, operator.add]
    trace: Annotated[list[str], operator.add]


class Answer(BaseModel):
    """A person's answer at a gate."""

    decision: Literal["approve", "edit", "reject"]
    # which gate this answers; needed only while the run waits at two (else the one it waits at, or the first)
    gate: Gate | None = None
    artefact: dict[str, Any] | None = None  # with edit: the whole edited artefact
    comment: str | None = Field(None, max_length=4000)  # with reject: what the step must address

    @model_validator(mode="after")
    def _complete(self) -> Answer:
        if self.decision == "edit" and self.artefact is None:
            raise ValueError("an edit carries the edited artefact")
        if self.decision == "reject" and not (self.comment or "").strip():
            raise ValueError("a rejection carries a comment saying what to change")
        return self


@dataclass(frozen=True)
class Budget:
    """Limits of one run; None = no limit. Work time counts time spent in steps, not time waiting for people."""

    max_tokens: int | None = None
    max_cost_usd: float | None = None
    max_work_s: float | None = None

    def exceeded(self, state: CrewState) -> str | None:
        if self.max_tokens is not None and state.get("tokens", 0) >= self.max_tokens:
            return f"token budget spent: {state.get('tokens', 0)} of {self.max_tokens}"
        if self.max_cost_usd is not None and state.get("cost_usd", 0.0) >= self.max_cost_usd:
            return f"cost budget spent: {state.get('cost_usd', 0.0):.4f} of {self.max_cost_usd} USD"
        if self.max_work_s is not None and state.get("work_s", 0.0) >= self.max_work_s:
            return f"time budget spent: {state.get('work_s', 0.0):.1f} of {self.max_work_s} s"
        return None

    @classmethod
    def of(cls, raw: dict[str, Any] | None) -> Budget:
        raw = raw or {}
        return cls(raw.get("max_tokens"), raw.get("max_cost_usd"), raw.get("max_work_s"))


class BudgetExceeded(OpsdeskError):
    """The run spent its budget: it stops before the next step, with its state kept."""

    status_code = 409
    error_type = "budget_exceeded"
