"""Path patterns that narrow a source: what `docs/**`, `*.md`, `docs/` and exclusions keep, and bad patterns."""

from __future__ import annotations

import pytest

from opsdesk.knowledge.sources.scope import PathFilter, pattern_problem


@pytest.mark.parametrize(
    ("pattern", "path", "kept"),
    [
        ("docs/**", "docs/a.md", True),
        ("docs/**", "docs/guides/setup/a.md", True),
        ("docs/**", "src/docs/a.md", False),
        ("docs/**", "docs", True),  # a URL path /docs is the folder's own page
        ("docs/", "docs/guides/a.md", True),
        ("docs/", "docsite/a.md", False),
        ("*.md", "README.md", True),
        ("*.md", "docs/guides/a.md", True),  # no "/": a file name at any depth
        ("*.md", "src/app.py", False),
        ("/docs/*.md", "docs/a.md", True),
        ("/docs/*.md", "docs/guides/a.md", False),  # "*" stays inside one folder
        ("src/**/test_*.py", "src/test_app.py", True),
        ("src/**/test_*.py", "src/a/b/test_app.py", True),
        ("src/**/test_*.py", "src/a/app.py", False),
        ("v?/guide.md", "v2/guide.md", True),
        ("v?/guide.md", "v10/guide.md", False),
        ("[ab]*.txt", "beta.txt", True),
        ("[!ab]*.txt", "beta.txt", False),
        ("[a-c]x", "cx", True),
        ("[unclosed", "[unclosed", True),
        ("blog/*", "blog/", True),
        ("blog/*", "blog/2026/post", False),
    ],
)
def test_a_pattern_matches_whole_paths_from_the_root(pattern: str, path: str, kept: bool) -> None:
    assert PathFilter((pattern,)).allows(path) is kept


def test_exclusions_win_over_inclusions_and_no_patterns_keep_everything() -> None:
    docs_without_drafts = PathFilter(("docs/**",), ("docs/drafts/",))
    assert docs_without_drafts.allows("docs/a.md")
    assert not docs_without_drafts.allows("docs/drafts/b.md")
    assert not docs_without_drafts.allows("src/a.py")
    assert docs_without_drafts.describe() == "paths docs/**; not docs/drafts/"
    everything = PathFilter()
    assert everything.allows("any/path/at/all.md") and not everything.narrows
    assert PathFilter(exclude=("*.py",)).allows("README.md")
    assert not PathFilter(exclude=("*.py",)).allows("src/app.py")


def test_a_leading_slash_in_the_path_is_ignored_as_in_the_pattern() -> None:
    assert PathFilter(("help/**",)).allows("/help/returns")
    assert not PathFilter(("help/**",)).allows("/blog/help/returns")


def test_many_wildcards_against_a_long_path_still_answer() -> None:
    # a backtracking regular expression would try every split of 4,000 characters among 100 stars
    assert not PathFilter(("*a" * 100 + "b",)).allows("a" * 4_000)
    assert not PathFilter(("**/a/" * 20 + "b",)).allows("a/" * 2_000 + "c")


@pytest.mark.parametrize(
    ("pattern", "problem"),
    [("", "must name something"), ("//", "must name something"), ("a\tb", "control"), ("x" * 301, "at most 300")],
)
def test_unusable_patterns_say_why(pattern: str, problem: str) -> None:
    found = pattern_problem(pattern)
    assert found is not None and problem in found
    assert pattern_problem("docs/**") is None
