"""Timeouts, retries, the circuit breaker and call accounting around a real SDK talking to a fake server."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import pytest
from prometheus_client import REGISTRY

from opsdesk.providers.accounting import CallRecorder
from opsdesk.providers.llm.base import ChatMessage, ChatRequest, InvalidModelRequest, UpstreamError
from opsdesk.providers.llm.openai_compat import OpenAIChat
from opsdesk.providers.resilience import CircuitOpenError, ResilientChat
from tests.fakes.openai_server import FakeOpenAI
from tests.providers.support import FAST, openai_cfg, track


def ask(text: str = "Hi") -> ChatRequest:
    return ChatRequest(messages=[ChatMessage(role="user", content=text)])


def resilient(server: FakeOpenAI, *, fail_max: int = 5, reset_timeout_s: float = 30.0, **cfg: Any) -> ResilientChat:
    """A provider with a unique name, so its metrics start at zero."""
    name = "p" + uuid.uuid4().hex[:8]
    settings = openai_cfg(server, **cfg)
    chat = ResilientChat(
        OpenAIChat(name, settings),
        settings,
        CallRecorder(None),
        fail_max=fail_max,
        reset_timeout_s=reset_timeout_s,
        timing=FAST,
    )
    return track(chat)


def calls(chat: ResilientChat, outcome: str) -> float:
    labels = {"provider": chat.name, "model": chat.model, "operation": "chat", "outcome": outcome}
    return REGISTRY.get_sample_value("opsdesk_provider_calls_total", labels) or 0.0


async def test_rate_limit_is_retried_after_the_servers_retry_after(openai_server: FakeOpenAI) -> None:
    chat = resilient(openai_server)
    openai_server.script(["429:1", "ok"])

    started = time.monotonic()
    result = await chat.complete(ask())

    assert result.content == openai_server.reply
    assert time.monotonic() - started >= 1.0
    assert openai_server.count() == 2
    assert calls(chat, "rate_limited") == 1 and calls(chat, "ok") == 1
    await chat.aclose()


async def test_server_errors_are_retried_until_attempts_run_out(openai_server: FakeOpenAI) -> None:
    chat = resilient(openai_server, max_retries=2)
    openai_server.script(["500"] * 5)

    with pytest.raises(UpstreamError) as caught:
        await chat.complete(ask())

    assert caught.value.status == 500
    assert openai_server.count() == 3
    assert calls(chat, "error") == 3
    await chat.aclose()


async def test_client_errors_are_not_retried_and_do_not_trip_the_breaker(openai_server: FakeOpenAI) -> None:
    chat = resilient(openai_server, fail_max=2, max_retries=3)
    openai_server.script(["400"] * 3)

    for _ in range(3):
        with pytest.raises(UpstreamError):
            await chat.complete(ask())

    assert openai_server.count() == 3
    assert chat.breaker_state == "closed"
    await chat.aclose()


async def test_twenty_requests_the_upstream_calls_invalid_never_open_the_breaker(openai_server: FakeOpenAI) -> None:
    chat = resilient(openai_server, fail_max=5, max_retries=3)
    openai_server.script(["400"] * 20)

    for _ in range(20):
        with pytest.raises(InvalidModelRequest) as caught:
            await chat.complete(ask())
        assert caught.value.status_code == 400 and caught.value.outcome == "invalid_request"

    assert openai_server.count() == 20  # not retried
    assert chat.breaker_state == "closed"
    assert calls(chat, "invalid_request") == 20
    assert (await chat.complete(ask())).content == openai_server.reply
    await chat.aclose()


async def test_breaker_opens_after_consecutive_failures_and_then_fails_fast(openai_server: FakeOpenAI) -> None:
    chat = resilient(openai_server, fail_max=3, max_retries=5)
    openai_server.script(["500"] * 10)

    with pytest.raises(CircuitOpenError):
        await chat.complete(ask())  # three attempts reach the server, the fourth meets the open breaker
    assert openai_server.count() == 3
    assert chat.breaker_state == "open"

    started = time.monotonic()
    with pytest.raises(CircuitOpenError) as caught:
        await chat.complete(ask())

    assert time.monotonic() - started < 0.1
    assert caught.value.outcome == "breaker_open" and not caught.value.retryable
    assert openai_server.count() == 3
    assert calls(chat, "breaker_open") == 2
    await chat.aclose()


async def test_breaker_half_opens_after_the_reset_timeout_and_closes_on_success(openai_server: FakeOpenAI) -> None:
    chat = resilient(openai_server, fail_max=2, max_retries=0, reset_timeout_s=0.3)
    openai_server.script(["500", "500"])
    for _ in range(2):
        with pytest.raises(UpstreamError):
            await chat.complete(ask())
    assert chat.breaker_state == "open"

    await asyncio.sleep(0.35)
    result = await chat.complete(ask())

    assert result.content == openai_server.reply
    assert openai_server.count() == 3
    assert chat.breaker_state == "closed"
    await chat.aclose()


async def test_a_failed_trial_call_opens_the_breaker_again(openai_server: FakeOpenAI) -> None:
    chat = resilient(openai_server, fail_max=2, max_retries=0, reset_timeout_s=0.3)
    openai_server.script(["500", "500", "500"])
    for _ in range(2):
        with pytest.raises(UpstreamError):
            await chat.complete(ask())

    await asyncio.sleep(0.35)
    with pytest.raises(UpstreamError) as trial:
        await chat.complete(ask())
    with pytest.raises(CircuitOpenError):
        await chat.complete(ask())

    assert trial.value.status == 500
    assert openai_server.count() == 3
    assert chat.breaker_state == "open"
    await chat.aclose()


async def test_a_slow_upstream_times_out_and_is_retried(openai_server: FakeOpenAI) -> None:
    chat = resilient(openai_server, timeout_s=0.3, max_retries=1)
    openai_server.script(["delay:2", "ok"])

    result = await chat.complete(ask())

    assert result.content == openai_server.reply
    assert openai_server.count() == 2
    assert calls(chat, "timeout") == 1
    await chat.aclose()


async def test_stream_is_retried_until_the_first_chunk(openai_server: FakeOpenAI) -> None:
    chat = resilient(openai_server)
    openai_server.script(["503", "text:streamed after a retry"])

    chunks = [chunk async for chunk in chat.stream(ask())]

    assert "".join(chunk.delta for chunk in chunks) == "streamed after a retry"
    assert openai_server.count() == 2
    assert calls(chat, "error") == 1 and calls(chat, "ok") == 1
    await chat.aclose()


async def test_stream_meets_an_open_breaker_before_any_chunk(openai_server: FakeOpenAI) -> None:
    chat = resilient(openai_server, fail_max=1, max_retries=0)
    openai_server.script(["500"])
    with pytest.raises(UpstreamError):
        await chat.complete(ask())

    with pytest.raises(CircuitOpenError):
        [chunk async for chunk in chat.stream(ask())]

    assert openai_server.count() == 1
    await chat.aclose()


async def test_a_stream_cut_midway_raises_an_upstream_error_and_is_not_retried(openai_server: FakeOpenAI) -> None:
    chat = resilient(openai_server)
    openai_server.script(["cut"])
    received: list[str] = []

    with pytest.raises(UpstreamError):
        async for chunk in chat.stream(ask()):
            received.append(chunk.delta)

    assert received and openai_server.count() == 1
    assert calls(chat, "error") == 1
    await chat.aclose()


async def test_each_attempt_is_accounted_with_tokens_and_cost(openai_server: FakeOpenAI) -> None:
    chat = resilient(openai_server, input_cost_per_mtok=2_000_000, output_cost_per_mtok=4_000_000)
    openai_server.script(["500", "text:four words of reply"])

    await chat.complete(ChatRequest(messages=[ChatMessage(role="user", content="two words")]))

    tokens = {
        direction: REGISTRY.get_sample_value(
            "opsdesk_provider_tokens_total", {"provider": chat.name, "model": chat.model, "direction": direction}
        )
        for direction in ("in", "out")
    }
    cost = REGISTRY.get_sample_value("opsdesk_provider_cost_usd_total", {"provider": chat.name, "model": chat.model})
    latency = REGISTRY.get_sample_value(
        "opsdesk_provider_latency_seconds_count", {"provider": chat.name, "model": chat.model, "operation": "chat"}
    )
    assert calls(chat, "error") == 1 and calls(chat, "ok") == 1
    assert tokens == {"in": 2, "out": 4}
    assert cost == pytest.approx(2 * 2 + 4 * 4)
    assert latency == 2
    await chat.aclose()
