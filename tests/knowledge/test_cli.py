"""`opsdesk kb …` and `opsdesk ingest` against a real database, in process (no server needed)."""

from __future__ import annotations

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
