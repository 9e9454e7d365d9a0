"""The official `openai` client works against opsdesk's own /v1 endpoints with an opsdesk API key."""

from __future__ import annotations

import time

import openai
import pytest

from opsdesk.auth.roles import Role
from tests.fakes.openai_server import FakeOpenAI
from tests.gateway.conftest import LiveOpsdesk


def _client(live: LiveOpsdesk, role: Role = Role.service) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(api_key=live.tenant.keys[role], base_url=live.url + "/v1", max_retries=0, timeout=30)


async def test_openai_client_gets_a_completion(live: LiveOpsdesk, upstream: FakeOpenAI) -> None:
    async with _client(live) as client:
        reply = await client.chat.completions.create(
            model="opsdesk", messages=[{"role": "user", "content": "What is the capital of France?"}]
        )
    assert reply.choices[0].message.content == "Paris is the capital of France."
    assert reply.usage is not None and reply.usage.completion_tokens > 0
    assert upstream.requests[-1].headers["authorization"] == "Bearer sk-upstream-test"


async def test_openai_client_streams_a_completion(live: LiveOpsdesk) -> None:
    async with _client(live) as client:
        stream = await client.chat.completions.create(
            model="openai",
            messages=[{"role": "user", "content": "Capital of France?"}],
            stream=True,
            stream_options={"include_usage": True},
        )
        pieces: list[str] = []
        usage_seen = False
        async for chunk in stream:
            if chunk.choices and chunk.choices[0].delta.content:
                pieces.append(chunk.choices[0].delta.content)
            usage_seen = usage_seen or chunk.usage is not None
    assert len(pieces) > 1, "the reply should arrive in several chunks"
    assert "".join(pieces) == "Paris is the capital of France."
    assert usage_seen


async def test_openai_client_lists_models_and_embeds(live: LiveOpsdesk) -> None:
    async with _client(live) as client:
        models = [model.id async for model in client.models.list()]
        assert "opsdesk" in models and "openai" in models
        embedding = await client.embeddings.create(model="default", input=["hello world", "goodbye"])
    assert len(embedding.data) == 2 and len(embedding.data[0].embedding) == 384


async def test_revoked_key_is_refused_with_authentication_error(live: LiveOpsdesk) -> None:
    async with openai.AsyncOpenAI(api_key="odk_not-a-real-key", base_url=live.url + "/v1", max_retries=0) as client:
        with pytest.raises(openai.AuthenticationError):
            await client.chat.completions.create(model="opsdesk", messages=[{"role": "user", "content": "hi"}])


async def test_unknown_model_is_not_found_error(live: LiveOpsdesk) -> None:
    async with _client(live) as client:
        with pytest.raises(openai.NotFoundError) as error:
            await client.chat.completions.create(model="no-such-model", messages=[{"role": "user", "content": "hi"}])
    assert "opsdesk" in str(error.value)


async def test_upstream_outage_is_a_clear_503(live: LiveOpsdesk, upstream: FakeOpenAI) -> None:
    upstream.script(["500"] * 10)
    async with _client(live) as client:
        with pytest.raises(openai.APIStatusError) as error:
            await client.chat.completions.create(model="openai", messages=[{"role": "user", "content": "hi"}])
    assert error.value.status_code in (502, 503)


async def test_a_model_call_reports_what_opsdesk_added(live: LiveOpsdesk, upstream: FakeOpenAI) -> None:
    """x-opsdesk-overhead-ms = request time minus upstream time: below the whole request's time, upstream excluded."""
    upstream.script(["delay:0.3"])
    async with _client(live) as client:
        started = time.perf_counter()
        raw = await client.chat.completions.with_raw_response.create(
            model="opsdesk", messages=[{"role": "user", "content": "Hi"}]
        )
        whole_ms = (time.perf_counter() - started) * 1000
    overhead_ms = float(raw.headers["x-opsdesk-overhead-ms"])
    # However slow the machine, the upstream's 300 ms are taken out: the overhead is what is left of the whole call.
    assert 0 <= overhead_ms <= whole_ms - 300, "the 300 ms the upstream took must not count as overhead"
    assert raw.parse().choices[0].message.content == "Paris is the capital of France."

    async with _client(live) as client:
        models = await client.models.with_raw_response.list()
    assert "x-opsdesk-overhead-ms" not in models.headers, "no model call, nothing to report"
