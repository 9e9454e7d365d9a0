"""The technical writer: README, API reference and one ADR per design decision (for the repository and Confluence)."""

from __future__ import annotations

import re

from opsdesk.crew.agents.schemas import Backlog, Design, DocPage, Docs, ProjectFile, QAReport

# What markdown (CommonMark/GFM, as GitLab renders it) or HTML inside it would read as markup: links and images
# ([ ] !), tags and autolinks (< >), entities (&), code spans (`), emphasis (* _), table cells (|), escapes (\).
_MARKUP = re.compile(r"([\\`*_\[\]<>&|!])")
_ESCAPED = re.compile(r"\\([\\`*_\[\]<>&|!])")


def markdown_text(text: str) -> str:
    """Requirement, design or reviewer text as it may stand in a generated markdown file: shown as typed, never a
    link, image, HTML tag, entity or table break (each character markdown would read is backslash-escaped)."""
    return _MARKUP.sub(r"\\\1", text)


def _code(text: str) -> str:
    """Text inside a code span (literal there, whatever it holds) without a backtick that would end the span."""
    return text.replace("`", "'")


def document(backlog: Backlog, plan: Design, report: QAReport | None, *, feedback: list[str] | None = None) -> Docs:
    """The pages, in order: README, API reference, then the ADRs."""
    spec = backlog.requirement
    readme = [
        f"# {markdown_text(spec.title)}",
        "",
        "> Scaffold generated offline by the opsdesk delivery crew: see SCAFFOLD.md for what is not done yet.",
        "",
        markdown_text(spec.summary),
        "",
        "## Run",
        "",
        "```bash",
        "pip install -r requirements.txt",
        "uvicorn app.main:app --reload",
        "python -m pytest -q",
        "```",
        "",
        "## Resources",
        "",
        *[f"- `{_code(entity.path)}` — {markdown_text(entity.title)}" for entity in spec.entities],
        "",
        "## Stories",
        "",
        *[f"- {markdown_text(story.key)} {markdown_text(story.title)}" for story in backlog.stories],
    ]
    if report is not None:
        run = report.run
        readme += ["", "## Tests", "", f"{run.passed} passed, {run.failed} failed, {run.skipped} skipped."]
    api = ["# API reference", "", markdown_text(plan.summary), "", "| method | path | answers |", "|---|---|---|"]
    api += [f"| {markdown_text(e.method)} | `{_code(e.path)}` | {markdown_text(e.answers)} |" for e in plan.api]
    api += ["", "## Data model", "", *[f"- {markdown_text(line)}" for line in plan.data_model]]
    pages = [
        DocPage(title="README", body="\n".join(readme) + "\n"),
        DocPage(title="API reference", body="\n".join(api) + "\n"),
    ]
    for number, decision in enumerate(plan.decisions, start=1):
        body = "\n".join(
            [
                f"# ADR {number:04d}: {markdown_text(decision.title)}",
                "",
                "Status: proposed",
                "",
                "## Context",
                "",
                markdown_text(decision.context),
                "",
                "## Decision",
                "",
                markdown_text(decision.decision),
                "",
                "## Consequences",
                "",
                markdown_text(decision.consequences),
            ]
        )
        pages.append(DocPage(title=f"ADR {number:04d} {decision.title}", body=body + "\n"))
    notes = [f"Reviewer's comment addressed in the docs: “{comment}”" for comment in feedback or []]
    return Docs(pages=pages, notes=notes)


def repository_files(docs: Docs) -> list[ProjectFile]:
    """README.md, docs/api.md and docs/adr/NNNN-title.md."""
    files = []
    for page in docs.pages:
        if page.title == "README":
            files.append(ProjectFile(path="README.md", content=page.body))
        elif page.title == "API reference":
            files.append(ProjectFile(path="docs/api.md", content=page.body))
        else:
            slug = re.sub(r"[^a-z0-9]+", "-", page.title.lower()).strip("-")
            files.append(
                ProjectFile(path=f"docs/adr/{slug[4:] if slug.startswith('adr-') else slug}.md", content=page.body)
            )
    return files


def storage_xhtml(markdown: str) -> str:
    """Confluence storage format from the page's markdown: headings, lists, code and paragraphs, text escaped."""
    out: list[str] = []
    in_list = in_code = False
    for line in markdown.splitlines():
        if line.startswith("```"):
            out.append("</pre>" if in_code else "<pre>")
            in_code = not in_code
            continue
        if in_code:
            out.append(_escape(line))  # our own code blocks: no escapes in them
            continue
        line = _ESCAPED.sub(r"\1", line)  # markdown_text's escapes: the character itself, escaped as XHTML below
        if in_list and not line.startswith("- "):
            out.append("</ul>")
            in_list = False
        if line.startswith("#"):
            level = min(len(line) - len(line.lstrip("#")), 6)
            out.append(f"<h{level}>{_escape(line.lstrip('#').strip())}</h{level}>")
        elif line.startswith("- "):
            if not in_list:
                out.append("<ul>")
                in_list = True
            out.append(f"<li>{_escape(line[2:])}</li>")
        elif line.strip():
            out.append(f"<p>{_escape(line)}</p>")
    if in_list:
        out.append("</ul>")
    if in_code:
        out.append("</pre>")
    return "\n".join(out)


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
