"""Chat over the Anthropic Messages API."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import anthropic
from anthropic import AsyncAnthropic

from opsdesk.core.settings import ProviderSettings
from opsdesk.providers.llm.base import (
    CALLER_ERROR_STATUSES,
    ChatChunk,
    ChatMessage,
    ChatRequest,
    ChatResult,
    InvalidModelRequest,
    ToolCall,
    UpstreamError,
    Usage,
)
from opsdesk.providers.llm.retry_after import retry_after_seconds

DEFAULT_MAX_TOKENS = 1024
# The forced tool that carries a schema-constrained reply; its input is the reply.
_SCHEMA_TOOL = "respond"
_STOP_REASONS = {"end_turn": "stop", "stop_sequence": "stop", "max_tokens": "length", "tool_use": "tool_calls"}


class AnthropicChat:
    """One Anthropic endpoint; no retries here (the resilience layer owns them)."""

    def __init__(self, name: str, cfg: ProviderSettings) -> None:
        self.name = name
        self.model = cfg.model
        api_key = cfg.api_key.get_secret_value() if cfg.api_key is not None else None
        self._client = AsyncAnthropic(api_key=api_key, base_url=cfg.base_url, timeout=cfg.timeout_s, max_retries=0)

    async def complete(self, request: ChatRequest) -> ChatResult:
        """One reply, whole."""
        shape = _Shape(request)
        try:
            message = await self._client.messages.create(**self._params(request, shape))
        except anthropic.AnthropicError as exc:
            raise translate_error(self.name, exc) from exc
        texts: list[str] = []
        calls: list[ToolCall] = []
        for block in message.content:
            if block.type == "text":
                texts.append(block.text)
            elif block.type == "tool_use":
                if shape.schema_wrapped is not None:
                    texts.append(shape.reply_text(block.input))
                else:
                    calls.append(ToolCall(id=block.id, name=block.name, arguments=json.dumps(block.input)))
        return ChatResult(
            content="".join(texts),
            provider=self.name,
            model=message.model or self._model(request),
            finish_reason=shape.finish_reason(message.stop_reason),
            tool_calls=calls,
            usage=Usage(message.usage.input_tokens, message.usage.output_tokens),
        )

    async def stream(self, request: ChatRequest) -> AsyncIterator[ChatChunk]:
        """Text deltas as they arrive; the last chunk carries tool calls, finish reason and usage."""
        shape = _Shape(request)
        model = self._model(request)
        usage = Usage()
        stop_reason: str | None = None
        # A schema reply arrives as JSON fragments of the forced tool's input; those are the text.
        tool_blocks: dict[int, dict[str, str]] = {}
        try:
            events = await self._client.messages.create(**self._params(request, shape), stream=True)
            async with events:
                async for event in events:
                    if event.type == "message_start":
                        model = event.message.model or model
                        usage = Usage(event.message.usage.input_tokens, event.message.usage.output_tokens)
                    elif event.type == "content_block_start" and event.content_block.type == "tool_use":
                        block = event.content_block
                        tool_blocks[event.index] = {"id": block.id, "name": block.name, "json": ""}
                    elif event.type == "content_block_delta":
                        if event.delta.type == "text_delta" and event.delta.text:
                            yield ChatChunk(delta=event.delta.text, provider=self.name, model=model)
                        elif event.delta.type == "input_json_delta" and event.delta.partial_json:
                            if shape.schema_wrapped is False:
                                yield ChatChunk(delta=event.delta.partial_json, provider=self.name, model=model)
                            elif event.index in tool_blocks:
                                tool_blocks[event.index]["json"] += event.delta.partial_json
                    elif event.type == "message_delta":
                        stop_reason = event.delta.stop_reason or stop_reason
                        usage = Usage(usage.tokens_in, event.usage.output_tokens)
        except anthropic.AnthropicError as exc:
            raise translate_error(self.name, exc) from exc
        calls: list[ToolCall] = []
        for _, block in sorted(tool_blocks.items()):
            if shape.schema_wrapped:
                # A wrapped (non-object) schema can only be unwrapped once the whole input is known.
                text = shape.reply_text(json.loads(block["json"] or "{}"))
                yield ChatChunk(delta=text, provider=self.name, model=model)
            elif shape.schema_wrapped is None:
                calls.append(ToolCall(id=block["id"], name=block["name"], arguments=block["json"] or "{}"))
        yield ChatChunk(
            tool_calls=calls,
            finish_reason=shape.finish_reason(stop_reason),
            usage=usage,
            provider=self.name,
            model=model,
        )

    async def aclose(self) -> None:
        """Closes the HTTP connection pool."""
        await self._client.close()

    def _model(self, request: ChatRequest) -> str:
        return request.model or self.model

    def _params(self, request: ChatRequest, shape: _Shape) -> dict[str, Any]:
        system, messages = _messages(request.messages)
        params: dict[str, Any] = {
            "model": self._model(request),
            "messages": messages,
            "max_tokens": request.max_tokens or DEFAULT_MAX_TOKENS,
        }
        if system:
            params["system"] = system
        optional = {"temperature": request.temperature, "top_p": request.top_p, "stop_sequences": request.stop or None}
        params.update({key: value for key, value in optional.items() if value is not None})
        tools, tool_choice = shape.tools()
        if tools:
            params["tools"] = tools
        if tool_choice is not None:
            params["tool_choice"] = tool_choice
        return params


class _Shape:
    """How a request's tools and response schema map onto Anthropic tools."""

    def __init__(self, request: ChatRequest) -> None:
        self.request = request
        schema = request.response_schema
        # None: no schema; False: an object schema used as is; True: a non-object schema wrapped in {"value": ...}
        self.schema_wrapped: bool | None = None if schema is None else schema.get("type") != "object"

    def tools(self) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
        schema = self.request.response_schema
        if schema is not None:
            input_schema = (
                {"type": "object", "properties": {"value": schema}, "required": ["value"]}
                if self.schema_wrapped
                else schema
            )
            tool = {"name": _SCHEMA_TOOL, "description": "Give the reply in this form.", "input_schema": input_schema}
            return [tool], {"type": "tool", "name": _SCHEMA_TOOL}
        tools = [
            {"name": tool.name, "description": tool.description, "input_schema": tool.parameters}
            for tool in self.request.tools
        ]
        if not tools or not self.request.tool_choice:
            return tools, None
        return tools, _tool_choice(self.request.tool_choice)

    def reply_text(self, tool_input: Any) -> str:
        if self.schema_wrapped and isinstance(tool_input, dict):
            tool_input = tool_input.get("value")
        return json.dumps(tool_input, ensure_ascii=False)

    def finish_reason(self, stop_reason: str | None) -> str:
        if self.schema_wrapped is not None:
            return "stop" if stop_reason in (None, "tool_use") else _STOP_REASONS.get(stop_reason, stop_reason)
        return _STOP_REASONS.get(stop_reason or "end_turn", stop_reason or "stop")


def translate_error(provider: str, exc: anthropic.AnthropicError) -> UpstreamError:
    """Maps an SDK exception to UpstreamError: 429, 5xx (and 529 overloaded), timeouts, connection errors retry."""
    if isinstance(exc, anthropic.APITimeoutError):
        return UpstreamError(f"{provider} request timed out", retryable=True)
    if isinstance(exc, anthropic.APIConnectionError):
        return UpstreamError(f"{provider} connection failed: {exc}", retryable=True)
    if isinstance(exc, anthropic.APIStatusError):
        status = exc.status_code
        if status in CALLER_ERROR_STATUSES:
            return InvalidModelRequest(
                f"{provider} refused the request as invalid (HTTP {status}): {exc.message[:500]}",
                code="request_too_large" if status == 413 else "invalid_request",
            )
        retry_after = retry_after_seconds(exc.response.headers) if status == 429 else None
        return UpstreamError(
            f"{provider} returned HTTP {status}: {exc.message}",
            retryable=status == 429 or status >= 500,
            status=status,
            retry_after_s=retry_after,
        )
    # An error event inside a stream (e.g. overloaded_error) may pass on a retry.
    return UpstreamError(f"{provider} failed: {exc}", retryable=isinstance(exc, anthropic.APIError))


def _tool_choice(choice: str) -> dict[str, Any]:
    if choice == "auto":
        return {"type": "auto"}
    if choice == "none":
        return {"type": "none"}
    if choice == "required":
        return {"type": "any"}
    return {"type": "tool", "name": choice}


def _messages(messages: list[ChatMessage]) -> tuple[str, list[dict[str, Any]]]:
    """System text apart; the rest as content blocks, consecutive same-role turns merged (the API alternates)."""
    system = "\n\n".join(message.content for message in messages if message.role == "system" and message.content)
    turns: list[dict[str, Any]] = []
    for message in messages:
        if message.role == "system":
            continue
        role = "assistant" if message.role == "assistant" else "user"
        blocks = _blocks(message)
        if not blocks:
            continue
        if turns and turns[-1]["role"] == role:
            turns[-1]["content"].extend(blocks)
        else:
            turns.append({"role": role, "content": blocks})
    return system, turns


def _blocks(message: ChatMessage) -> list[dict[str, Any]]:
    if message.role == "tool":
        return [{"type": "tool_result", "tool_use_id": message.tool_call_id or "", "content": message.content or ""}]
    blocks: list[dict[str, Any]] = []
    if message.content:
        blocks.append({"type": "text", "text": message.content})
    for call in message.tool_calls:
        try:
            arguments = json.loads(call.arguments or "{}")
        except json.JSONDecodeError:
            arguments = {}
        blocks.append({"type": "tool_use", "id": call.id, "name": call.name, "input": arguments})
    return blocks
