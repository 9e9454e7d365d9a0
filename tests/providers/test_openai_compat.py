"""The OpenAI-compatible provider against a fake OpenAI server speaking the documented shapes."""

from __future__ import annotations

import json

import pytest

from opsdesk.core.settings import ProviderSettings
from opsdesk.providers.llm.base import ChatMessage, ChatRequest, InvalidModelRequest, ToolCall, ToolSpec, UpstreamError
from opsdesk.providers.llm.openai_compat import OpenAIChat
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.scripted import Behaviour
from tests.providers.support import openai_cfg

WEATHER = ToolSpec(
    "get_weather",
    "Current weather for a city",
    {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
)


def ask(text: str, **fields: object) -> ChatRequest:
    return ChatRequest(messages=[ChatMessage(role="user", content=text)], **fields)  # type: ignore[arg-type]


async def test_complete_returns_the_reply_with_usage(openai_server: FakeOpenAI) -> None:
    chat = OpenAIChat("openai", openai_cfg(openai_server))
    openai_server.script(["text:Paris is the capital."])

    result = await chat.complete(ask("Capital of France?", temperature=0.1, max_tokens=20, stop=["END"]))

    assert result.content == "Paris is the capital."
    assert result.provider == "openai"
    assert result.finish_reason == "stop"
    assert result.usage.tokens_in == 3 and result.usage.tokens_out == 4
    sent = openai_server.last().body
    assert sent["model"] == "gpt-fake"
    assert sent["temperature"] == 0.1 and sent["max_tokens"] == 20 and sent["stop"] == ["END"]
    assert openai_server.last().headers["authorization"] == "Bearer sk-test"
    await chat.aclose()


async def test_request_model_overrides_the_configured_one(openai_server: FakeOpenAI) -> None:
    chat = OpenAIChat("openai", openai_cfg(openai_server))

    result = await chat.complete(ask("Hi", model="gpt-other"))

    assert openai_server.last().body["model"] == "gpt-other"
    assert result.model == "gpt-other"
    await chat.aclose()


async def test_stream_yields_deltas_then_a_final_chunk_with_usage(openai_server: FakeOpenAI) -> None:
    chat = OpenAIChat("openai", openai_cfg(openai_server))
    openai_server.script(["text:A fairly long streamed answer."])

    chunks = [chunk async for chunk in chat.stream(ask("Tell me"))]

    assert "".join(chunk.delta for chunk in chunks) == "A fairly long streamed answer."
    assert len(chunks) > 2
    final = chunks[-1]
    assert final.finish_reason == "stop"
    assert final.usage is not None and final.usage.tokens_out == 5
    assert openai_server.last().body["stream_options"] == {"include_usage": True}
    await chat.aclose()


async def test_tool_calls_are_sent_and_parsed(openai_server: FakeOpenAI) -> None:
    chat = OpenAIChat("openai", openai_cfg(openai_server))
    openai_server.script([Behaviour(tool_calls=[("get_weather", {"city": "Oslo"})])])

    result = await chat.complete(ask("Weather in Oslo?", tools=[WEATHER], tool_choice="get_weather"))

    assert result.finish_reason == "tool_calls"
    assert [(call.name, json.loads(call.arguments)) for call in result.tool_calls] == [
        ("get_weather", {"city": "Oslo"})
    ]
    sent = openai_server.last().body
    assert sent["tools"][0] == {
        "type": "function",
        "function": {"name": "get_weather", "description": WEATHER.description, "parameters": WEATHER.parameters},
    }
    assert sent["tool_choice"] == {"type": "function", "function": {"name": "get_weather"}}
    await chat.aclose()


async def test_streamed_tool_call_fragments_are_assembled(openai_server: FakeOpenAI) -> None:
    chat = OpenAIChat("openai", openai_cfg(openai_server))
    openai_server.script([Behaviour(tool_calls=[("get_weather", {"city": "Trondheim"})])])

    chunks = [chunk async for chunk in chat.stream(ask("Weather?", tools=[WEATHER], tool_choice="required"))]

    final = chunks[-1]
    assert final.finish_reason == "tool_calls"
    assert len(final.tool_calls) == 1
    assert final.tool_calls[0].name == "get_weather"
    assert json.loads(final.tool_calls[0].arguments) == {"city": "Trondheim"}
    assert final.tool_calls[0].id.startswith("call_")
    await chat.aclose()


async def test_tool_history_is_sent_in_openai_shape(openai_server: FakeOpenAI) -> None:
    chat = OpenAIChat("openai", openai_cfg(openai_server))
    call = ToolCall(id="call_1", name="get_weather", arguments='{"city": "Oslo"}')
    request = ChatRequest(
        messages=[
            ChatMessage(role="system", content="Be brief."),
            ChatMessage(role="user", content="Weather in Oslo?"),
            ChatMessage(role="assistant", tool_calls=[call]),
            ChatMessage(role="tool", content='{"temp": 3}', tool_call_id="call_1"),
        ],
        tools=[WEATHER],
    )

    await chat.complete(request)

    messages = openai_server.last().body["messages"]
    assert messages[2]["tool_calls"] == [
        {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Oslo"}'}}
    ]
    assert messages[3] == {"role": "tool", "content": '{"temp": 3}', "tool_call_id": "call_1"}
    await chat.aclose()


async def test_response_schema_is_sent_as_json_schema(openai_server: FakeOpenAI) -> None:
    chat = OpenAIChat("openai", openai_cfg(openai_server))
    schema = {"type": "object", "properties": {"answer": {"type": "string"}}, "required": ["answer"]}

    result = await chat.complete(ask("Answer in JSON", response_schema=schema))

    assert json.loads(result.content) == {"answer": "sample"}
    response_format = openai_server.last().body["response_format"]
    assert response_format["type"] == "json_schema"
    assert response_format["json_schema"]["schema"] == schema


@pytest.mark.parametrize(
    ("spec", "status", "retryable", "retry_after"),
    [("429:7", 429, True, 7.0), ("500", 500, True, None), ("503", 503, True, None), ("400", 400, False, None)],
)
async def test_http_errors_become_upstream_errors(
    openai_server: FakeOpenAI, spec: str, status: int, retryable: bool, retry_after: float | None
) -> None:
    chat = OpenAIChat("openai", openai_cfg(openai_server))
    openai_server.script([spec])

    with pytest.raises(UpstreamError) as caught:
        await chat.complete(ask("Hi"))

    assert caught.value.status == status
    assert caught.value.retryable is retryable
    assert caught.value.retry_after_s == retry_after
    assert openai_server.count() == 1  # the SDK's own retries are off
    await chat.aclose()


async def test_a_slow_server_is_a_retryable_timeout(openai_server: FakeOpenAI) -> None:
    chat = OpenAIChat("openai", openai_cfg(openai_server, timeout_s=0.3))
    openai_server.script(["delay:2"])

    with pytest.raises(UpstreamError) as caught:
        await chat.complete(ask("Hi"))

    assert caught.value.retryable
    assert caught.value.outcome == "timeout"
    await chat.aclose()


async def test_an_unreachable_server_is_a_retryable_connection_error() -> None:
    cfg = ProviderSettings(kind="openai", model="gpt-fake", base_url="http://127.0.0.1:9/v1", timeout_s=2)
    chat = OpenAIChat("openai", cfg)

    with pytest.raises(UpstreamError) as caught:
        await chat.complete(ask("Hi"))

    assert caught.value.retryable
    assert caught.value.outcome == "error"
    await chat.aclose()


@pytest.mark.parametrize("status", [400, 413, 422])
async def test_answers_that_blame_the_request_are_invalid_requests_not_provider_faults(
    openai_server: FakeOpenAI, status: int
) -> None:
    chat = OpenAIChat("openai", openai_cfg(openai_server))
    openai_server.script([str(status)])

    with pytest.raises(InvalidModelRequest) as caught:
        await chat.complete(ask("Hi"))

    assert caught.value.status_code == 400 and not caught.value.retryable
    assert f"HTTP {status}" in caught.value.message
    await chat.aclose()
