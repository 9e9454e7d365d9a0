"""Translates OpenAI-shaped requests into provider calls and provider results back into OpenAI shapes."""

from __future__ import annotations

import base64
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import numpy as np
import orjson

from opsdesk.core.errors import InvalidInput, OpsdeskError
from opsdesk.gateway.schemas import ChatCompletionRequest, EmbeddingRequest, Message, NamedToolChoice
from opsdesk.providers.factory import ProviderRegistry
from opsdesk.providers.llm.base import ChatChunk, ChatMessage, ChatProvider, ChatRequest, ChatResult, ToolCall, ToolSpec
from opsdesk.providers.llm.schema_check import check_schema


def _message(message: Message) -> ChatMessage:
    role = "system" if message.role == "developer" else message.role
    calls = [ToolCall(id=c.id, name=c.function.name, arguments=c.function.arguments) for c in message.tool_calls or []]
    return ChatMessage(
        role=role, content=message.text(), name=message.name, tool_calls=calls, tool_call_id=message.tool_call_id
    )


def to_chat_request(body: ChatCompletionRequest, workspace_id: uuid.UUID | None, model: str | None) -> ChatRequest:
    tool_choice: str | None
    if isinstance(body.tool_choice, NamedToolChoice):
        tool_choice = body.tool_choice.function.get("name")
        if not tool_choice or not any(t.function.name == tool_choice for t in body.tools or []):
            raise InvalidInput("tool_choice names a function that is not in 'tools'.", code="invalid_tool_choice")
    else:
        tool_choice = body.tool_choice
    schema: dict[str, Any] | None = None
    if body.response_format is not None and body.response_format.type == "json_schema":
        if body.response_format.json_schema is None or not body.response_format.json_schema.schema_:
            raise InvalidInput("response_format json_schema needs a 'json_schema.schema'.", code="invalid_schema")
        schema = body.response_format.json_schema.schema_
        check_schema(schema)  # an unusable schema is the caller's 400, not a provider failure
    elif body.response_format is not None and body.response_format.type == "json_object":
        schema = {"type": "object"}
    for tool in body.tools or []:
        check_schema(tool.function.parameters, f"parameters schema of tool '{tool.function.name}'")
    stop = [body.stop] if isinstance(body.stop, str) else list(body.stop or [])
    return ChatRequest(
        messages=[_message(m) for m in body.messages],
        model=model,
        temperature=body.temperature,
        top_p=body.top_p,
        max_tokens=body.max_completion_tokens or body.max_tokens,
        stop=stop,
        tools=[ToolSpec(t.function.name, t.function.description, t.function.parameters) for t in body.tools or []],
        tool_choice=tool_choice,
        response_schema=schema,
        workspace_id=workspace_id,
    )


def resolve(registry: ProviderRegistry, model: str) -> tuple[ChatProvider, str | None]:
    return registry.resolve_model(model)


def _tool_calls_json(calls: list[ToolCall]) -> list[dict[str, Any]]:
    return [{"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}} for c in calls]


def completion_body(result: ChatResult, public_model: str) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": result.content}
    if result.tool_calls:
        message["tool_calls"] = _tool_calls_json(result.tool_calls)
    return {
        "id": "chatcmpl-" + uuid.uuid4().hex,
        "object": "chat.completion",
        "created": int(time.time()),
        "model": public_model,
        "system_fingerprint": f"opsdesk:{result.provider}:{result.model}",
        "choices": [{"index": 0, "message": message, "finish_reason": result.finish_reason, "logprobs": None}],
        "usage": {
            "prompt_tokens": result.usage.tokens_in,
            "completion_tokens": result.usage.tokens_out,
            "total_tokens": result.usage.tokens_in + result.usage.tokens_out,
        },
    }


async def primed(chunks: AsyncIterator[ChatChunk]) -> AsyncIterator[ChatChunk]:
    """Waits for the first chunk before the response starts, so a failure up front is a plain HTTP error."""
    iterator = aiter(chunks)
    try:
        first = await anext(iterator)
    except StopAsyncIteration:
        return _replay([], iterator)
    return _replay([first], iterator)


async def _replay(head: list[ChatChunk], rest: AsyncIterator[ChatChunk]) -> AsyncIterator[ChatChunk]:
    for chunk in head:
        yield chunk
    if head:
        async for chunk in rest:
            yield chunk


async def sse_stream(chunks: AsyncIterator[ChatChunk], public_model: str, include_usage: bool) -> AsyncIterator[bytes]:
    """OpenAI's chat.completion.chunk events; an upstream failure mid-stream ends with an error event."""
    completion_id = "chatcmpl-" + uuid.uuid4().hex
    created = int(time.time())

    def event(delta: dict[str, Any], finish: str | None, usage: dict[str, int] | None = None) -> bytes:
        choices = [] if usage is not None else [{"index": 0, "delta": delta, "finish_reason": finish}]
        payload: dict[str, Any] = {
            "id": completion_id,
            "object": "chat.completion.chunk",
            "created": created,
            "model": public_model,
            "choices": choices,
        }
        if usage is not None:
            payload["usage"] = usage
        return b"data: " + orjson.dumps(payload) + b"\n\n"

    first = True
    try:
        async for chunk in chunks:
            delta: dict[str, Any] = {}
            if first:
                delta["role"] = "assistant"
                first = False
            if chunk.delta:
                delta["content"] = chunk.delta
            if chunk.tool_calls:
                delta["tool_calls"] = [dict(call, index=i) for i, call in enumerate(_tool_calls_json(chunk.tool_calls))]
            if delta or chunk.finish_reason:
                yield event(delta, chunk.finish_reason)
            if chunk.usage is not None and include_usage:
                tokens_in, tokens_out = chunk.usage.tokens_in, chunk.usage.tokens_out
                usage = {
                    "prompt_tokens": tokens_in,
                    "completion_tokens": tokens_out,
                    "total_tokens": tokens_in + tokens_out,
                }
                yield event({}, None, usage)
    except OpsdeskError as exc:
        yield b"data: " + orjson.dumps({"error": {"message": exc.message, "type": exc.error_type, "code": exc.code}})
        yield b"\n\n"
    except Exception as exc:
        message = f"The model stream failed: {type(exc).__name__}"
        yield b"data: " + orjson.dumps({"error": {"message": message, "type": "provider_error", "code": "stream"}})
        yield b"\n\n"
    yield b"data: [DONE]\n\n"


async def embeddings_body(registry: ProviderRegistry, body: EmbeddingRequest) -> dict[str, Any]:
    embedder = registry.embedder()
    if body.model not in (embedder.model, "default", "opsdesk-embed"):
        raise InvalidInput(f"Unknown embedding model '{body.model}'. Use '{embedder.model}'.", code="model_not_found")
    texts = [body.input] if isinstance(body.input, str) else body.input
    vectors = await embedder.embed(texts)
    tokens = sum(len(text.split()) for text in texts)
    encoded: list[Any] = vectors
    if body.encoding_format == "base64":
        # The openai SDK asks for base64 by default: little-endian float32, as OpenAI sends it.
        encoded = [base64.b64encode(np.asarray(v, dtype="<f4").tobytes()).decode() for v in vectors]
    return {
        "object": "list",
        "data": [{"object": "embedding", "index": i, "embedding": v} for i, v in enumerate(encoded)],
        "model": embedder.model,
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    }
