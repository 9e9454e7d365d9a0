"""The requirement's words, the design's and a reviewer's stay text in the generated markdown (README, API
reference, ADRs, SCAFFOLD.md, as GitLab renders them) and in the Confluence pages made from it: an HTML tag, an image
or a link in a title, a rule or a comment is shown as typed, never rendered as markup."""

from __future__ import annotations

from markdown_it import MarkdownIt

from opsdesk.crew.agents.analyst import analyse
from opsdesk.crew.agents.developer import design, implement
from opsdesk.crew.agents.writer import document, repository_files, storage_xhtml

TITLE = 'Shop <img src="https://tracker.example/p.gif"> [click](javascript:alert(1))'
RULE = "A book on loan <script>alert(1)</script> cannot be lent again: it is refused as a conflict."
COMMENT = "See ![x](https://tracker.example/c.gif) and <a href='https://evil.example'>this</a> | & co"
REQUIREMENT = f"""# {TITLE}

A book has a `title` (text, 1 to 200 characters) and a `year` (an integer between 1450 and 2100).
Books are served at /api/books.

{RULE}
"""
MARKUP = ("<img", "<a ", "<a>", "<script", 'javascript:alert(1)"', 'href="javascript')


def _markdown_files() -> dict[str, str]:
    backlog = analyse(REQUIREMENT)
    plan = design(backlog, feedback=[COMMENT])
    code = implement(backlog, plan, feedback=[COMMENT])
    docs = document(backlog, plan, None, feedback=[COMMENT])
    files = {f.path: f.content for f in [*code.files, *repository_files(docs)] if f.path.endswith(".md")}
    files |= {f"confluence:{page.title}": storage_xhtml(page.body) for page in docs.pages}
    return files


def test_user_text_in_generated_markdown_and_confluence_pages_is_never_markup() -> None:
    files = _markdown_files()
    assert {"README.md", "SCAFFOLD.md", "docs/api.md"} <= set(files)
    render = MarkdownIt("commonmark", {"html": True}).enable("table").render
    for path, content in files.items():
        shown = content if path.startswith("confluence:") else render(content)
        assert not [tag for tag in MARKUP if tag in shown], f"{path} renders markup:\n{shown}"

    readme = render(files["README.md"])
    assert "Shop &lt;img src=&quot;https://tracker.example/p.gif&quot;&gt; [click](javascript:alert(1))" in readme
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in render(files["SCAFFOLD.md"])
    assert "![x](https://tracker.example/c.gif) and &lt;a href='https://evil.example'&gt;" in render(
        files["SCAFFOLD.md"]
    )
    assert "&lt;img src=&quot;https://tracker.example/p.gif&quot;&gt;" in files["confluence:README"]
