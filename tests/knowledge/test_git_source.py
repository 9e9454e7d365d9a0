"""Git sources: tracked text and code files from a local work tree or a file:// clone; unsafe sources refused."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from opsdesk.knowledge.extraction import extract
from opsdesk.knowledge.sources.git import GitSourceError, branch_problem, collect_git_files
from opsdesk.knowledge.sources.scope import PathFilter
from opsdesk.knowledge.sources.urls import BlockedAddress, InvalidUrl

KEPT = ["README.md", "docs/guide.rst", "config.yaml", "src/app.py", "src/util.ts"]


def git(repo: Path, *args: str) -> str:
    result = subprocess.run(
        ["git", "-c", "user.name=Test", "-c", "user.email=test@example.com", "-c", "init.defaultBranch=main", *args],
        cwd=repo,
        capture_output=True,
        check=True,
        text=True,
    )
    return result.stdout.strip()


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    (root / "docs").mkdir(parents=True)
    (root / "src").mkdir()
    files = {
        "README.md": "# Demo\n\nA demo repository.\n",
        "docs/guide.rst": "Guide\n=====\n\nRead me.\n",
        "config.yaml": "name: demo\n",
        "src/app.py": "def main():\n    return 42\n",
        "src/util.ts": "export const answer = 42;\n",
        "package-lock.json": '{"lockfileVersion": 3}\n',
        "notes.unknownext": "not collected\n",
        "big.md": "x" * 5_000,
    }
    for path, text in files.items():
        (root / path).write_text(text)
    (root / "data.txt").write_bytes(b"binary\x00\x01\x02 pretending to be text")
    (root / "logo.png").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00")
    os.symlink("/etc/hostname", root / "link.md")
    git(root, "init", "-q")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "initial")
    (root / "untracked.md").write_text("# Not tracked\n")
    return root


def test_collects_tracked_text_and_code_files_from_a_local_work_tree(repo: Path, tmp_path: Path) -> None:
    files = collect_git_files(str(repo), workdir=tmp_path / "work", max_file_bytes=1_000, allow_local=True)
    assert [file.path for file in files] == KEPT
    head = git(repo, "rev-parse", "HEAD")
    assert {file.commit for file in files} == {head}
    assert files[0].data == b"# Demo\n\nA demo repository.\n"


def test_collects_the_same_files_from_a_file_url_clone(repo: Path, tmp_path: Path) -> None:
    files = collect_git_files(repo.as_uri(), workdir=tmp_path / "work", max_file_bytes=1_000, allow_local=True)
    assert [file.path for file in files] == KEPT
    assert {file.commit for file in files} == {git(repo, "rev-parse", "HEAD")}
    assert next(file for file in files if file.path == "src/app.py").data == b"def main():\n    return 42\n"


def test_file_and_size_limits_apply(repo: Path, tmp_path: Path) -> None:
    few = collect_git_files(str(repo), workdir=tmp_path, max_files=2, max_file_bytes=1_000, allow_local=True)
    assert [file.path for file in few] == ["README.md", "docs/guide.rst"]  # documentation first
    roomy = collect_git_files(repo.as_uri(), workdir=tmp_path, max_file_bytes=10_000, allow_local=True)
    assert "big.md" in [file.path for file in roomy]


def test_code_files_extract_as_code_documents(repo: Path, tmp_path: Path) -> None:
    files = {file.path: file for file in collect_git_files(str(repo), workdir=tmp_path, allow_local=True)}
    doc = extract(files["src/app.py"].data, "src/app.py", None)
    assert doc.doc_type == "code"
    assert doc.metadata["language"] == "python"
    assert [block.kind for block in doc.blocks] == ["code"]
    assert extract(files["README.md"].data, "README.md", None).title == "Demo"


def test_local_sources_need_explicit_permission(repo: Path, tmp_path: Path) -> None:
    with pytest.raises(GitSourceError, match="server's disk"):
        collect_git_files(str(repo), workdir=tmp_path)
    with pytest.raises(GitSourceError, match="file://"):
        collect_git_files(repo.as_uri(), workdir=tmp_path)


def test_a_directory_that_is_not_a_repository_is_refused(tmp_path: Path) -> None:
    (tmp_path / "plain").mkdir()
    with pytest.raises(GitSourceError, match="not inside a git work tree"):
        collect_git_files(str(tmp_path / "plain"), workdir=tmp_path, allow_local=True)
    with pytest.raises(GitSourceError, match="not a directory"):
        collect_git_files(str(tmp_path / "missing"), workdir=tmp_path, allow_local=True)


def test_remote_urls_go_through_the_url_guard(tmp_path: Path) -> None:
    with pytest.raises(BlockedAddress):
        collect_git_files("http://127.0.0.1:9/repo.git", workdir=tmp_path)
    with pytest.raises(BlockedAddress):
        collect_git_files("https://169.254.169.254/repo.git", workdir=tmp_path)
    with pytest.raises(InvalidUrl, match="credentials"):
        collect_git_files("https://user:token@93.184.216.34/repo.git", workdir=tmp_path)
    for url in ("ssh://git@example.com/repo.git", "git@example.com:team/repo.git", "ext::sh -c touch% /tmp/x"):
        with pytest.raises(GitSourceError, match="Only http"):
            collect_git_files(url, workdir=tmp_path)


def test_a_clone_that_runs_too_long_is_stopped(repo: Path, tmp_path: Path) -> None:
    with pytest.raises(GitSourceError, match="timed out"):
        collect_git_files(repo.as_uri(), workdir=tmp_path, allow_local=True, timeout_s=0)


# --- branches and paths ------------------------------------------------------------------------------------------


@pytest.fixture
def two_branches(repo: Path) -> Path:
    """The repository with a second branch `release/2` that changes the guide and adds docs and code."""
    git(repo, "checkout", "-q", "-b", "release/2")
    (repo / "docs" / "guide.rst").write_text("Guide\n=====\n\nRelease 2.\n")
    (repo / "docs" / "upgrade.md").write_text("# Upgrade\n\nRun migrate.\n")
    (repo / "src" / "migrate.py").write_text("def migrate():\n    return 2\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "release 2")
    git(repo, "checkout", "-q", "main")
    return repo


def test_a_branch_and_path_patterns_narrow_a_clone_to_those_files(two_branches: Path, tmp_path: Path) -> None:
    files = collect_git_files(
        two_branches.as_uri(),
        workdir=tmp_path / "work",
        max_file_bytes=1_000,
        allow_local=True,
        branch="release/2",
        paths=PathFilter(("docs/**",)),
    )
    assert [file.path for file in files] == ["docs/guide.rst", "docs/upgrade.md"]
    assert files[0].data == b"Guide\n=====\n\nRelease 2.\n"
    assert {file.commit for file in files} == {git(two_branches, "rev-parse", "release/2")}

    default = collect_git_files(
        two_branches.as_uri(), workdir=tmp_path / "work", max_file_bytes=1_000, allow_local=True
    )
    assert [file.path for file in default] == KEPT  # without a branch: the default branch, every kept file


def test_exclusions_and_file_name_patterns_apply_to_clones(two_branches: Path, tmp_path: Path) -> None:
    only_python = PathFilter(("*.py",))
    files = collect_git_files(two_branches.as_uri(), workdir=tmp_path, allow_local=True, paths=only_python)
    assert [file.path for file in files] == ["src/app.py"]
    not_src = PathFilter(exclude=("src/",))
    files = collect_git_files(
        two_branches.as_uri(), workdir=tmp_path, max_file_bytes=1_000, allow_local=True, paths=not_src
    )
    assert [file.path for file in files] == ["README.md", "docs/guide.rst", "config.yaml"]
    unsupported = PathFilter(("*.png",))  # patterns narrow what is kept; they never add binary files
    assert collect_git_files(two_branches.as_uri(), workdir=tmp_path, allow_local=True, paths=unsupported) == []


def test_a_branch_of_a_local_work_tree_is_read_from_its_commits(two_branches: Path, tmp_path: Path) -> None:
    files = collect_git_files(
        str(two_branches), workdir=tmp_path, allow_local=True, branch="release/2", paths=PathFilter(("src/**",))
    )
    assert [file.path for file in files] == ["src/app.py", "src/migrate.py", "src/util.ts"]
    assert {file.commit for file in files} == {git(two_branches, "rev-parse", "release/2")}
    with pytest.raises(GitSourceError, match="no branch or tag 'release/3'"):
        collect_git_files(str(two_branches), workdir=tmp_path, allow_local=True, branch="release/3")


def test_a_missing_branch_of_a_remote_says_so(two_branches: Path, tmp_path: Path) -> None:
    with pytest.raises(GitSourceError, match=r"The repository has no branch or tag 'release/3'\."):
        collect_git_files(two_branches.as_uri(), workdir=tmp_path, allow_local=True, branch="release/3")


def test_a_branch_that_looks_like_an_option_never_reaches_git(two_branches: Path, tmp_path: Path) -> None:
    planted = tmp_path / "planted"
    for branch in (f"--upload-pack=touch {planted}", "-b", "main..x", "HEAD"):
        with pytest.raises(GitSourceError, match="not a valid branch name"):
            collect_git_files(two_branches.as_uri(), workdir=tmp_path, allow_local=True, branch=branch)
    assert not planted.exists()
    assert not list(tmp_path.glob("clone-*"))  # refused before any clone started


BRANCH_NAMES = [
    "main", "release/2", "v1.2", "a-", "a/-b", "x.locks", "@", "a@b", "ü", "{a}",
    "-x", "HEAD", "a..b", "a b", "a~1", "a^b", "a:b", "a?", "a*", "a[", "a\\b", "a\tb", "a\x7fb", "x.lock",
    "a.lock/b", ".hidden", "a/.b", "a/", "/a", "a//b", "a.", "a@{1}", "@{-1}", "--upload-pack=x",
]  # fmt: skip


@pytest.mark.parametrize("name", BRANCH_NAMES)
def test_branch_names_are_checked_by_gits_own_rules(name: str, tmp_path: Path) -> None:
    # outside any repository, so git judges the name alone ("@{-1}" would otherwise be the previous branch)
    by_git = subprocess.run(
        ["git", "check-ref-format", "--branch", name], cwd=tmp_path, capture_output=True, check=False
    )
    assert (branch_problem(name) is None) is (by_git.returncode == 0)
