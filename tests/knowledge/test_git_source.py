"""Git sources: tracked text and code files from a local work tree or a file:// clone; unsafe sources refused."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from opsdesk.knowledge.extraction import extract
from opsdesk.knowledge.sources.git import GitSourceError, collect_git_files
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
