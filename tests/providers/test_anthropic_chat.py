"""The Anthropic provider against a fake Messages API speaking the documented JSON and SSE shapes."""

from __future__ import annotations

import json

import pytest

from opsdesk.providers.llm.anthropic_chat import AnthropicChat
from opsdesk.providers.llm.base import ChatMessage, ChatRequest, InvalidModelRequest, ToolCall, ToolSpec, UpstreamError
from tests.fakes.anthropic_server import FakeAnthropic
from tests.fakes.scripted import Behaviour
from tests.providers.support import anthropic_cfg

WEATHER = ToolSpec(
    "get_weather",
    "Current weather for a city",
    {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
)


def conversation(text: str) -> list[ChatMessage]:
    return [ChatMessage(role="system", content="Be brief."), ChatMessage(role="user", content=text)]


async def test_complete_sends_system_apart_and_returns_text_with_usage(anthropic_server: FakeAnthropic) -> None:
    chat = AnthropicChat("anthropic", anthropic_cfg(anthropic_server))
    anthropic_server.script(["text:Paris is the capital."])

    result = await chat.complete(ChatRequest(messages=conversation("Capital of France?"), stop=["END"]))

    assert result.content == "Paris is the capital."
    assert result.finish_reason == "stop"
    assert result.usage.tokens_in == 5 and result.usage.tokens_out == 4
    sent = anthropic_server.last("messages")
    assert sent.body["system"] == "Be brief."
    assert sent.body["messages"] == [{"role": "user", "content": [{"type": "text", "text": "Capital of France?"}]}]
    assert sent.body["max_tokens"] == 1024
    assert sent.body["stop_sequences"] == ["END"]
    assert "sk-ant-test" in (
        sent.headers.get("x-api-key"),
        sent.headers.get("authorization", "").removeprefix("Bearer "),
    )
    await chat.aclose()


async def test_stream_yields_text_deltas_then_stop_reason_and_usage(anthropic_server: FakeAnthropic) -> None:
    chat = AnthropicChat("anthropic", anthropic_cfg(anthropic_server))
    anthropic_server.script(["text:A fairly long streamed answer."])

    chunks = [chunk async for chunk in chat.stream(ChatRequest(messages=conversation("Tell me")))]

    assert "".join(chunk.delta for chunk in chunks) == "A fairly long streamed answer."
    assert len(chunks) > 2
    final = chunks[-1]
    assert final.finish_reason == "stop"
    assert final.usage is not None
    assert (final.usage.tokens_in, final.usage.tokens_out) == (4, 5)
    await chat.aclose()


async def test_tools_and_tool_choice_map_to_anthropic_tools(anthropic_server: FakeAnthropic) -> None:
    chat = AnthropicChat("anthropic", anthropic_cfg(anthropic_server))
    anthropic_server.script([Behaviour(tool_calls=[("get_weather", {"city": "Oslo"})])])

    result = await chat.complete(
        ChatRequest(messages=conversation("Weather in Oslo?"), tools=[WEATHER], tool_choice="required")
    )

    assert result.finish_reason == "tool_calls"
    assert [(call.name, json.loads(call.arguments)) for call in result.tool_calls] == [
        ("get_weather", {"city": "Oslo"})
    ]
    sent = anthropic_server.last("messages").body
    assert sent["tools"] == [
        {"name": "get_weather", "description": WEATHER.description, "input_schema": WEATHER.parameters}
    ]
    assert sent["tool_choice"] == {"type": "any"}
    await chat.aclose()


async def test_streamed_tool_use_is_assembled_from_json_deltas(anthropic_server: FakeAnthropic) -> None:
    chat = AnthropicChat("anthropic", anthropic_cfg(anthropic_server))
    anthropic_server.script([Behaviour(tool_calls=[("get_weather", {"city": "Trondheim"})])])

    request = ChatRequest(messages=conversation("Weather?"), tools=[WEATHER], tool_choice="get_weather")
    chunks = [chunk async for chunk in chat.stream(request)]

    final = chunks[-1]
    assert final.finish_reason == "tool_calls"
    assert [(call.name, json.loads(call.arguments)) for call in final.tool_calls] == [
        ("get_weather", {"city": "Trondheim"})
    ]
    assert anthropic_server.last("messages").body["tool_choice"] == {"type": "tool", "name": "get_weather"}
    await chat.aclose()


async def test_tool_results_become_tool_result_blocks(anthropic_server: FakeAnthropic) -> None:
    chat = AnthropicChat("anthropic", anthropic_cfg(anthropic_server))
    call = ToolCall(id="toolu_1", name="get_weather", arguments='{"city": "Oslo"}')
    messages = [
        *conversation("Weather in Oslo?"),
        ChatMessage(role="assistant", content="Let me check.", tool_calls=[call]),
        ChatMessage(role="tool", content='{"temp": 3}', tool_call_id="toolu_1"),
        ChatMessage(role="user", content="And tomorrow?"),
    ]

    await chat.complete(ChatRequest(messages=messages, tools=[WEATHER]))

    sent = anthropic_server.last("messages").body["messages"]
    assert sent[1] == {
        "role": "assistant",
        "content": [
            {"type": "text", "text": "Let me check."},
            {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Oslo"}},
        ],
    }
    # The tool result and the next user text share one user turn: the API wants turns to alternate.
    assert sent[2] == {
        "role": "user",
        "content": [
            {"type": "tool_result", "tool_use_id": "toolu_1", "content": '{"temp": 3}'},
            {"type": "text", "text": "And tomorrow?"},
        ],
    }
    await chat.aclose()


async def test_response_schema_is_a_forced_tool_whose_input_is_the_reply(anthropic_server: FakeAnthropic) -> None:
    chat = AnthropicChat("anthropic", anthropic_cfg(anthropic_server))
    schema = {"type": "object", "properties": {"answer": {"type": "string"}}, "required": ["answer"]}

    result = await chat.complete(ChatRequest(messages=conversation("JSON please"), response_schema=schema))
    streamed = [
        chunk async for chunk in chat.stream(ChatRequest(messages=conversation("JSON"), response_schema=schema))
    ]

    assert json.loads(result.content) == {"answer": "sample"}
    assert result.finish_reason == "stop" and result.tool_calls == []
    assert json.loads("".join(chunk.delta for chunk in streamed)) == {"answer": "sample"}
    assert streamed[-1].tool_calls == []
    sent = anthropic_server.last("messages").body
    assert sent["tools"][0]["input_schema"] == schema
    assert sent["tool_choice"] == {"type": "tool", "name": sent["tools"][0]["name"]}
    await chat.aclose()


async def test_a_non_object_schema_is_wrapped_and_unwrapped(anthropic_server: FakeAnthropic) -> None:
    chat = AnthropicChat("anthropic", anthropic_cfg(anthropic_server))
    schema = {"type": "array", "items": {"type": "integer"}}

    result = await chat.complete(ChatRequest(messages=conversation("Numbers"), response_schema=schema))

    assert json.loads(result.content) == [1]


@pytest.mark.parametrize(
    ("spec", "status", "retryable", "retry_after"),
    [("429:3", 429, True, 3.0), ("529", 529, True, None), ("500", 500, True, None), ("400", 400, False, None)],
)
async def test_http_errors_become_upstream_errors(
    anthropic_server: FakeAnthropic, spec: str, status: int, retryable: bool, retry_after: float | None
) -> None:
    chat = AnthropicChat("anthropic", anthropic_cfg(anthropic_server))
    anthropic_server.script([spec], endpoint="messages")

    with pytest.raises(UpstreamError) as caught:
        await chat.complete(ChatRequest(messages=conversation("Hi")))

    assert (caught.value.status, caught.value.retryable, caught.value.retry_after_s) == (status, retryable, retry_after)
    assert anthropic_server.count("messages") == 1
    await chat.aclose()


async def test_a_slow_server_is_a_retryable_timeout(anthropic_server: FakeAnthropic) -> None:
    chat = AnthropicChat("anthropic", anthropic_cfg(anthropic_server, timeout_s=0.3))
    anthropic_server.script(["delay:2"], endpoint="messages")

    with pytest.raises(UpstreamError) as caught:
        await chat.complete(ChatRequest(messages=conversation("Hi")))

    assert caught.value.retryable and caught.value.outcome == "timeout"
    await chat.aclose()


@pytest.mark.parametrize("status", [400, 413, 422])
async def test_answers_that_blame_the_request_are_invalid_requests_not_provider_faults(
    anthropic_server: FakeAnthropic, status: int
) -> None:
    chat = AnthropicChat("anthropic", anthropic_cfg(anthropic_server))
    anthropic_server.script([str(status)], endpoint="messages")

    with pytest.raises(InvalidModelRequest) as caught:
        await chat.complete(ChatRequest(messages=conversation("Hi")))

    assert caught.value.status_code == 400 and not caught.value.retryable
    await chat.aclose()
