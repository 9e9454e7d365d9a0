"""The three local vendors run together, in this process or their own, and keep what they were sent across a
restart (state files and bare repositories in the data dir), even after kill -9 between two writes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

from pydantic import SecretStr

from opsdesk.crew.connectors import (
    ConfluenceConnector,
    FileChange,
    GitLabConnector,
    IssueDraft,
    JiraConnector,
    VendorCredentials,
)
from opsdesk.crew.demo.servers import DEMO_TOKEN, DemoVendors
from tests.crew.conftest import POLICY

_STORY = IssueDraft(key="run-9/story-1", issue_type="Story", summary="Survives a restart")
_CODE = [FileChange("create", "app.py", "x = 1\n")]


def _connectors(urls: dict[str, str]) -> tuple[JiraConnector, ConfluenceConnector, GitLabConnector]:
    def creds(vendor: str, username: str | None = "opsdesk") -> VendorCredentials:
        return VendorCredentials(vendor=vendor, base_url=urls[vendor], token=SecretStr(DEMO_TOKEN), username=username)

    return (
        JiraConnector(creds("jira"), POLICY),
        ConfluenceConnector(creds("confluence"), POLICY),
        GitLabConnector(creds("gitlab", None), POLICY),
    )


async def _write_everything(urls: dict[str, str]) -> tuple[bool, bool, bool]:
    jira, confluence, gitlab = _connectors(urls)
    try:
        story = await jira.create_issue("DEMO", _STORY)
        page = await confluence.put_page("DEMO", "Survivor", "<p>kept</p>")
        await gitlab.ensure_branch("opsdesk/demo", "feature/keep", "main")
        commit = await gitlab.commit("opsdesk/demo", "feature/keep", "run-9/code", "Keep me", _CODE)
    finally:
        for connector in (jira, confluence, gitlab):
            await connector.aclose()
    return story.created, page.created, commit.created


async def test_state_survives_a_restart_so_a_resumed_run_writes_nothing_twice(tmp_path: Path) -> None:
    vendors = DemoVendors.start(tmp_path)
    try:
        first = await _write_everything(vendors.urls())
    finally:
        vendors.stop()
    restarted = DemoVendors.start(tmp_path)
    try:
        again = await _write_everything(restarted.urls())
        assert len(restarted.jira.writes(r"/issue/bulk$")) == 1
        assert len(restarted.gitlab.writes(r"/repository/commits$")) == 1
        assert [p["title"] for p in restarted.confluence.contents.values()] == ["Survivor"]
    finally:
        restarted.stop()
    assert first == (True, True, True)
    assert again == (False, False, False)


async def test_in_their_own_process_they_survive_kill_9(tmp_path: Path) -> None:
    command = [sys.executable, "-m", "opsdesk.crew.demo.servers", "--data-dir", str(tmp_path)]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}

    def run() -> tuple[subprocess.Popen[str], dict[str, str]]:
        process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=env)
        assert process.stdout is not None
        return process, json.loads(process.stdout.readline())

    process, urls = run()
    try:
        first = await _write_everything(urls)
    finally:
        process.kill()
        process.wait(timeout=30)
    process, urls = run()
    try:
        again = await _write_everything(urls)
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
    assert first == (True, True, True) and again == (False, False, False)
    saved = json.loads((tmp_path / "jira.json").read_text())
    assert [w["path"] for w in saved["writes"] if w["path"].endswith("/issue/bulk")] == ["/rest/api/2/issue/bulk"]
