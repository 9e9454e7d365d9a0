"""`opsdesk kb …` and `opsdesk ingest` against a real database, in process (no server needed)."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from opsdesk.cli import app
from opsdesk.core.settings import get_settings

runner = CliRunner()


@pytest.fixture
def cli_env(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Settings for the CLI: the test database, a data dir, no local chat model."""
    monkeypatch.chdir(tmp_path)
    for name, value in {
        "OPSDESK_DATABASE_URL": database_url,
        "OPSDESK_DATA_DIR": str(tmp_path / "var"),
        "OPSDESK_ENV": "test",
        "OPSDESK_LOCAL_LLM_ENABLED": "false",
        "OPSDESK_LOG_LEVEL": "WARNING",
    }.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    yield tmp_path
    get_settings.cache_clear()


def _invoke(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.output


def test_kb_create_list_and_delete(cli_env: Path) -> None:
    assert _invoke("kb", "create", "runbooks", "--description", "How we operate", "--tag", "ops")[0] == 0
    code, output = _invoke("kb", "list")
    assert code == 0 and "runbooks" in output and "How we operate" in output
    code, output = _invoke("kb", "create", "runbooks")
    assert code == 1 and "already exists" in output
    assert _invoke("kb", "delete", "runbooks", "--yes")[0] == 0
    assert "runbooks" not in _invoke("kb", "list")[1]
    code, output = _invoke("kb", "delete", "runbooks", "--yes")
    assert code == 1 and "No knowledge base 'runbooks'" in output


def test_ingest_a_directory_then_again_unchanged(cli_env: Path) -> None:
    docs = cli_env / "docs"
    (docs / "guides").mkdir(parents=True)
    (docs / ".private").mkdir()
    (docs / "index.md").write_text("# Index\n\nStart here.\n")
    (docs / "guides" / "deploy.txt").write_text("Deploy with make deploy.\n")
    (docs / ".private" / "secret.md").write_text("# Hidden\n")
    (docs / "logo.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    (docs / "broken.pdf").write_bytes(b"%PDF-1.4\n%%EOF")

    code, output = _invoke("ingest", str(docs), "--kb", "handbook")
    assert code == 0, output
    assert "created knowledge base handbook" in output
    assert "2 ingested" in output and "1 failed" in output
    assert "broken.pdf" in output

    code, output = _invoke("ingest", str(docs), "--kb", "handbook")
    assert code == 0, output
    assert "0 ingested, 2 unchanged or skipped, 1 failed" in output


def test_ingest_refuses_what_it_cannot_read(cli_env: Path) -> None:
    code, output = _invoke("ingest", str(cli_env / "missing"), "--kb", "handbook")
    assert code == 1 and "is not a file, a directory or an http(s) URL" in output
    code, output = _invoke("ingest", "http://169.254.169.254/latest/", "--kb", "handbook")
    assert code == 1 and "169.254.169.254" in output
    (cli_env / "only.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    code, output = _invoke("ingest", str(cli_env / "only.png"), "--kb", "handbook")
    assert code == 1 and "no document or source file" in output


def _git(repo: Path, *args: str) -> None:
    env = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t"}
    subprocess.run(
        ["git", "-c", "init.defaultBranch=main", *args], cwd=repo, check=True, env={**env, "PATH": "/usr/bin:/bin"}
    )


def test_ingest_a_branch_and_paths_of_a_git_work_tree(cli_env: Path) -> None:
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    repo = cli_env / "repo"
    (repo / "docs").mkdir(parents=True)
    (repo / "README.md").write_text("# Repo\n")
    (repo / "docs" / "a.md").write_text("# A\n\nFirst.\n")
    _git(repo, "init", "-q")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "-m", "one")
    _git(repo, "checkout", "-q", "-b", "next")
    (repo / "docs" / "b.md").write_text("# B\n\nSecond.\n")
    (repo / "src").mkdir()
    (repo / "src" / "b.py").write_text("B = 2\n")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "-m", "two")
    _git(repo, "checkout", "-q", "main")  # the work tree shows main; the branch is read from its commits

    code, output = _invoke("ingest", str(repo), "--kb", "code", "--branch", "next", "--path", "docs/**")
    assert code == 0, output
    assert "2 ingested, 0 unchanged or skipped, 0 failed" in output
    code, output = _invoke("ingest", str(repo), "--kb", "code", "--branch", "gone")
    assert code == 1 and "The repository has no branch or tag 'gone'." in output


def test_ingest_scope_options_are_checked_before_anything_runs(cli_env: Path) -> None:
    docs = cli_env / "docs"
    (docs / "drafts").mkdir(parents=True)
    (docs / "index.md").write_text("# Index\n")
    (docs / "drafts" / "next.md").write_text("# Next\n")
    code, output = _invoke("ingest", str(docs), "--kb", "handbook", "--branch", "main")
    assert code == 1 and "--branch does not apply" in output and "a directory" in output
    code, output = _invoke("ingest", "https://93.184.216.34/", "--kb", "handbook", "--allow-host", "https://x.example/")
    assert code == 1 and "is not a host name" in output
    code, output = _invoke("ingest", "https://93.184.216.34/r.git", "--kb", "handbook", "--branch=-x")
    assert code == 1 and "cannot start with '-'" in output
    code, output = _invoke("ingest", str(docs), "--kb", "handbook", "--path", "manual/**")
    assert code == 1 and "no document or source file matching paths manual/**" in output
    assert "handbook" not in _invoke("kb", "list")[1]  # refused before a knowledge base or job was made

    code, output = _invoke("ingest", str(docs), "--kb", "handbook", "--exclude", "drafts/")
    assert code == 0, output
    assert "1 ingested, 0 unchanged or skipped, 0 failed" in output  # drafts/next.md left out
