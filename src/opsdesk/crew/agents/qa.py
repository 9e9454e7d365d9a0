"""QA: a test plan from the acceptance criteria, the project's own tests run in the sandbox, defects for failures."""

from __future__ import annotations

from opsdesk.crew.agents.scaffold_tests import test_files
from opsdesk.crew.agents.schemas import Backlog, Defect, Implementation, QAReport, TestCase
from opsdesk.crew.sandbox import SandboxLimits, run_project_tests


def test_plan(backlog: Backlog) -> list[TestCase]:
    """Every criterion with the generated test that checks it ("" when a person has to check it)."""
    _, covers = test_files(backlog)
    return [
        TestCase(story=story.key, criterion=criterion.text(), test=covers.get(criterion.text(), ""))
        for story in backlog.stories
        for criterion in story.criteria
    ]


async def check(
    backlog: Backlog,
    implementation: Implementation,
    *,
    limits: SandboxLimits | None = None,
    feedback: list[str] | None = None,
) -> QAReport:
    """Runs the implementation's tests in the sandbox and files a defect per failing test (or one for the run);
    a reviewer's comments on an earlier report are answered in the notes (the run is done again for them)."""
    run = await run_project_tests(implementation.files, limits=limits)
    round_ = implementation.round
    defects = [
        Defect(key=f"D{round_}-{n}", title=f"Test fails: {node}", description=_excerpt(run.output_tail, node))
        for n, node in enumerate(run.failures, start=1)
    ]
    if not run.green and not defects:
        why = "timed out" if run.timed_out else f"ended with exit code {run.exit_code}"
        defects.append(Defect(key=f"D{round_}-1", title=f"The test run {why}", description=run.output_tail[-2000:]))
    notes = [
        f"Review comment: {comment} — the tests were run again for it: {run.passed} passed, {run.failed} failed."
        for comment in feedback or []
    ]
    return QAReport(plan=test_plan(backlog), run=run, defects=defects, notes=notes)


def _excerpt(output: str, node: str) -> str:
    name = node.split("::")[-1]
    at = output.find(name)
    return output[max(0, at - 200) : at + 1500] if at >= 0 else output[-1500:]
