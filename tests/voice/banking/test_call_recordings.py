"""With a database: a call's recording over the API — the records say whether there is one (never where), operators
and admins fetch the WAV (each download in the audit log), viewers and other workspaces are refused, and only files
inside the configured recordings directory are served (a record naming anything else is a 404)."""

from __future__ import annotations

import time
import wave
from pathlib import Path

import httpx
import pytest

from opsdesk.app.context import AppContext
from opsdesk.auth.roles import Role
from opsdesk.voice.calls.recordings import confined_recording
from opsdesk.voice.calls.service import save_call
from opsdesk.voice.gateway import CallRecord
from tests.conftest import Tenant

AUDIO = bytes(range(256)) * 32  # 8,192 bytes of 16-bit mono samples


def _write_wav(path: Path) -> bytes:
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(8000)
        out.writeframes(AUDIO)
    return path.read_bytes()


async def _save(ctx: AppContext, tenant: Tenant, call_id: str, recording: Path | None) -> None:
    now = time.time()
    record = CallRecord(call_id, "+441632960001", now - 20, now, "completed", recording=recording)
    async with ctx.db.session() as session:
        await save_call(session, tenant.workspace_id, record, None)


def _url(tenant: Tenant, call_id: str, suffix: str = "/recording") -> str:
    return f"/api/v1/workspaces/{tenant.slug}/voice/calls/{call_id}{suffix}"


async def _downloads(client: httpx.AsyncClient, tenant: Tenant) -> list[dict[str, object]]:
    url = f"/api/v1/workspaces/{tenant.slug}/audit"
    response = await client.get(url, params={"action": "download_call_recording"}, headers=tenant.headers(Role.admin))
    assert response.status_code == 200, response.text
    items: list[dict[str, object]] = response.json()["items"]
    return items


@pytest.fixture
def recordings_dir(ctx: AppContext, tmp_path: Path) -> Path:
    directory = tmp_path / "recordings"
    directory.mkdir()
    ctx.settings.voice_recordings_dir = directory
    return directory


async def test_an_operator_downloads_a_recorded_call_and_the_download_is_audited(
    ctx: AppContext, tenant: Tenant, client: httpx.AsyncClient, recordings_dir: Path
) -> None:
    stored = recordings_dir / "20261207-041500-call-rec.wav"
    content = _write_wav(stored)
    await _save(ctx, tenant, "call-rec", stored)
    await _save(ctx, tenant, "call-plain", None)
    operator = tenant.headers(Role.operator)

    listed = await client.get(f"/api/v1/workspaces/{tenant.slug}/voice/calls", headers=tenant.headers(Role.viewer))
    assert {item["call_id"]: item["recorded"] for item in listed.json()["items"]} == {
        "call-rec": True,
        "call-plain": False,
    }
    detail = await client.get(_url(tenant, "call-rec", ""), headers=operator)
    assert detail.json()["recorded"] is True
    assert "recording" not in detail.json() and str(recordings_dir) not in detail.text  # never the server's path

    response = await client.get(_url(tenant, "call-rec"), headers=operator)
    assert response.status_code == 200, response.text
    assert response.content == content
    assert response.headers["content-type"] == "audio/wav"
    call_uuid = detail.json()["id"]
    assert response.headers["content-disposition"] == f'attachment; filename="call-{call_uuid}.wav"'
    assert response.headers["cache-control"] == "no-store"
    partial = await client.get(_url(tenant, "call-rec"), headers={**operator, "Range": "bytes=0-3"})
    assert partial.status_code == 206 and partial.content == b"RIFF"  # a player can seek

    admin = await client.get(_url(tenant, "call-rec"), headers=tenant.headers())  # the admin's own token
    assert admin.status_code == 200 and admin.content == content
    downloads = await _downloads(client, tenant)
    assert [(row["actor"], row["target"]) for row in downloads] == [
        (tenant.admin_email, {"call_id": "call-rec"}),
        ("API key operator key", {"call_id": "call-rec"}),
        ("API key operator key", {"call_id": "call-rec"}),
    ]
    assert {row["route"] for row in downloads} == {"GET /api/v1/workspaces/{workspace}/voice/calls/{call_id}/recording"}


async def test_viewers_other_workspaces_and_strangers_may_not_listen(
    ctx: AppContext, tenant: Tenant, other_tenant: Tenant, client: httpx.AsyncClient, recordings_dir: Path
) -> None:
    stored = recordings_dir / "20261207-041500-call-rec.wav"
    _write_wav(stored)
    await _save(ctx, tenant, "call-rec", stored)

    viewer = await client.get(_url(tenant, "call-rec"), headers=tenant.headers(Role.viewer))
    assert viewer.status_code == 403 and b"RIFF" not in viewer.content
    assert (await client.get(_url(tenant, "call-rec"), headers=tenant.headers(Role.viewer))).status_code == 403
    other = await client.get(_url(tenant, "call-rec"), headers=other_tenant.headers(Role.admin))
    assert other.status_code == 403
    assert (await client.get(_url(tenant, "call-rec"))).status_code == 401
    assert await _downloads(client, tenant) == []


async def test_a_call_without_a_servable_recording_is_a_404(
    ctx: AppContext, tenant: Tenant, client: httpx.AsyncClient, recordings_dir: Path
) -> None:
    gone = recordings_dir / "20261207-041500-call-gone.wav"
    kept = recordings_dir / "20261207-041500-call-kept.wav"
    _write_wav(kept)
    await _save(ctx, tenant, "call-plain", None)
    await _save(ctx, tenant, "call-gone", gone)  # named, but deleted by hand since
    await _save(ctx, tenant, "call-kept", kept)
    operator = tenant.headers(Role.operator)

    for call_id in ("call-plain", "call-gone", "no-such-call"):
        response = await client.get(_url(tenant, call_id), headers=operator)
        assert response.status_code == 404, call_id
    assert (await client.get(_url(tenant, "call-plain"), headers=operator)).json()["error"]["code"] == (
        "voice_recording_not_found"
    )
    ctx.settings.voice_recordings_dir = None  # recordings turned off: nothing is served, whatever a record names
    assert (await client.get(_url(tenant, "call-kept"), headers=operator)).status_code == 404
    assert await _downloads(client, tenant) == []


async def test_only_files_inside_the_recordings_directory_are_served(
    ctx: AppContext, tenant: Tenant, client: httpx.AsyncClient, recordings_dir: Path, tmp_path: Path
) -> None:
    outside = tmp_path / "elsewhere" / "20261207-041500-secret.wav"
    _write_wav(outside)
    inside = recordings_dir / "20261207-041500-inside.wav"
    _write_wav(inside)
    (recordings_dir / "20261207-041500-link-out.wav").symlink_to(outside)
    (recordings_dir / "20261207-041500-link-in.wav").symlink_to(inside)
    (recordings_dir / "nested").symlink_to(outside.parent, target_is_directory=True)
    planted = {
        "call-absolute": outside,
        "call-dotdot": recordings_dir / ".." / "elsewhere" / outside.name,
        "call-symlink": recordings_dir / "20261207-041500-link-out.wav",
        "call-symlinked-dir": recordings_dir / "nested" / outside.name,
        "call-the-directory": recordings_dir,
        "call-relative": Path("elsewhere") / outside.name,
    }
    for call_id, recording in planted.items():
        await _save(ctx, tenant, call_id, recording)
    await _save(ctx, tenant, "call-link-in", recordings_dir / "20261207-041500-link-in.wav")
    operator = tenant.headers(Role.operator)

    for call_id in planted:
        response = await client.get(_url(tenant, call_id), headers=operator)
        assert response.status_code == 404, call_id
        assert b"RIFF" not in response.content
    within = await client.get(_url(tenant, "call-link-in"), headers=operator)  # a link that stays inside is fine
    assert within.status_code == 200 and within.content == inside.read_bytes()
    assert [row["target"] for row in await _downloads(client, tenant)] == [{"call_id": "call-link-in"}]


def test_a_symlink_loop_or_a_missing_directory_serves_nothing(tmp_path: Path) -> None:
    directory = tmp_path / "recordings"
    directory.mkdir()
    loop = directory / "20261207-041500-loop.wav"
    loop.symlink_to(loop)
    assert confined_recording(str(loop), directory) is None
    real = directory / "20261207-041500-real.wav"
    _write_wav(real)
    assert confined_recording(str(real), directory) == real.resolve()
    assert confined_recording(str(real), tmp_path / "no-such-dir") is None
