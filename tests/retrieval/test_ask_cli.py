"""`opsdesk ask --kb NAME "question"` in a real subprocess against the test database."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import pytest

from opsdesk.core.settings import Settings
from opsdesk.knowledge.models import KnowledgeBase
from tests.conftest import Tenant


async def _opsdesk(settings: Settings, tmp_path: Path, *args: str) -> tuple[int, str, str]:
    assert settings.database_url is not None and settings.secret_key is not None
    env = {
        **os.environ,
        "OPSDESK_DATABASE_URL": settings.database_url.get_secret_value(),
        "OPSDESK_SECRET_KEY": settings.secret_key.get_secret_value(),
        "OPSDESK_DATA_DIR": str(tmp_path / "cli"),
        "OPSDESK_LOCAL_LLM_ENABLED": "false",
        "OPSDESK_LOG_LEVEL": "WARNING",
        "COLUMNS": "200",
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "opsdesk.cli", *args, env=env, cwd=tmp_path,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(process.communicate(), timeout=120)
    return process.returncode or 0, out.decode(), err.decode()


@pytest.mark.slow
async def test_ask_prints_a_cited_answer_and_its_sources(
    settings: Settings, tenant: Tenant, handbook: KnowledgeBase, tmp_path: Path
) -> None:
    code, out, err = await _opsdesk(
        settings, tmp_path, "ask", "--kb", "handbook", "--workspace", tenant.slug, "How many vacation days do I get?"
    )
    assert code == 0, err
    assert "25 days" in out and "[1]" in out
    assert "Vacation policy" in out and "v1.0.0" in out


@pytest.mark.slow
async def test_ask_names_an_unknown_knowledge_base(settings: Settings, tenant: Tenant, tmp_path: Path) -> None:
    code, _, err = await _opsdesk(settings, tmp_path, "ask", "--kb", "nope", "--workspace", tenant.slug, "anything")
    assert code == 1
    assert "No knowledge base 'nope'" in err
