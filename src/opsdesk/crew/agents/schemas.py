"""The agents' typed outputs: what each hands to the next step, to an approver, and to Jira, GitLab, Confluence."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, field_validator

from opsdesk.crew.agents.requirement import RequirementSpec

CheckKind = Literal[
    "create",
    "get",
    "list",
    "update",
    "delete",
    "missing_required",
    "invalid_value",
    "not_found",
    "unknown_reference",
    "filter",
    "rule",
    "unique",
]


class Check(BaseModel):
    """What a criterion's test exercises (the developer turns it into a test)."""

    kind: CheckKind
    entity: str
    field: str | None = None


class Criterion(BaseModel):
    """One acceptance criterion in Given/When/Then."""

    given: str
    when: str
    then: str
    check: Check | None = None

    def text(self) -> str:
        return f"Given {self.given}, when {self.when}, then {self.then}."


class Story(BaseModel):
    key: str  # S1, S2 … (stable within a run: the idempotency key of its Jira issue)
    epic: str  # the epic's key
    title: str
    narrative: str  # As a … I want … so that …
    criteria: list[Criterion] = Field(default_factory=list)
    estimate: int = Field(2, ge=1, le=13)  # story points
    depends_on: list[str] = Field(default_factory=list)
    source: str = ""  # the requirement sentence it comes from


class Epic(BaseModel):
    key: str  # E1 …
    title: str
    description: str


class Backlog(BaseModel):
    """The business analyst's output: epics, stories with criteria, and what was read from the requirement."""

    requirement: RequirementSpec
    epics: list[Epic]
    stories: list[Story]
    notes: list[str] = Field(default_factory=list)  # answers to reviewers' comments, open questions


class Module(BaseModel):
    path: str
    purpose: str


class Endpoint(BaseModel):
    method: str
    path: str
    answers: str  # status codes and what they mean


class Decision(BaseModel):
    """One design decision: an ADR."""

    title: str
    context: str
    decision: str
    consequences: str


class Design(BaseModel):
    """The developer's design: modules, data model, API and the decisions behind them."""

    summary: str
    modules: list[Module]
    data_model: list[str]  # one line per entity: its fields and types
    api: list[Endpoint]
    decisions: list[Decision]
    notes: list[str] = Field(default_factory=list)


class ProjectFile(BaseModel):
    """One file of the project, at a path relative to its root (what the sandbox, GitLab and an editor's edit share)."""

    path: str = Field(min_length=1, max_length=255)
    content: str

    @field_validator("path")
    @classmethod
    def _inside_the_project(cls, path: str) -> str:
        """A relative path of plain segments: an edit naming `../x`, `/etc/x`, `.git/hooks/x` or a control character
        is refused when it is given (422), not when the sandbox or GitLab later refuses to write it."""
        segments = path.split("/")
        if any(ord(char) < 32 or ord(char) == 127 or char == "\\" for char in path) or any(
            segment in ("", ".", "..") or segment.lower() == ".git" for segment in segments
        ):
            raise ValueError(f"{path!r} is not a relative path inside the project (no '..', '.git', leading '/')")
        return path


class Implementation(BaseModel):
    """The developer's code: a set of files (the whole project), and whether it is a scaffold."""

    files: list[ProjectFile]
    scaffold: bool = True
    notes: list[str] = Field(default_factory=list)
    round: int = 0  # fix rounds so far


class TestCase(BaseModel):
    story: str
    criterion: str
    test: str  # the generated test's name, or "" when a person must check it


class TestRun(BaseModel):
    passed: int = 0
    failed: int = 0
    skipped: int = 0
    errors: int = 0
    exit_code: int | None = None
    timed_out: bool = False
    failures: list[str] = Field(default_factory=list)  # node ids of failed tests
    output_tail: str = ""
    isolation: str = ""  # how the sandbox kept the network away

    @property
    def green(self) -> bool:
        return self.exit_code == 0 and not self.timed_out and self.failed == 0 and self.errors == 0


class Defect(BaseModel):
    key: str  # D<round>-<n>
    title: str
    description: str


class QAReport(BaseModel):
    plan: list[TestCase]
    run: TestRun
    defects: list[Defect] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)  # review comments this report answers


class DevOpsFiles(BaseModel):
    files: list[ProjectFile]
    notes: list[str] = Field(default_factory=list)  # review comments these files answer


class DocPage(BaseModel):
    title: str
    body: str  # markdown (the repository) or storage XHTML (Confluence) is made from it


class Docs(BaseModel):
    """The writer's output: README, API reference and one ADR per design decision."""

    pages: list[DocPage]
    notes: list[str] = Field(default_factory=list)
