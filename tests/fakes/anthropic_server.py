"""A fake Anthropic Messages API on a real port: /v1/messages as JSON or as the documented SSE event stream.

``with FakeAnthropic(reply="Hi") as server:`` then point the SDK at ``server.root_url``; script failures with
``server.script(["429:1", "529", "ok"])`` (endpoint "messages").
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from tests.fakes.scripted import Behaviour, ScriptedServer, chunks_of, prompt_words, sample_for, words


class FakeAnthropic(ScriptedServer):
    """Speaks the documented Anthropic request and response shapes; endpoint name: "messages"."""

    default_endpoint = "messages"

    def __init__(self, reply: str = "Hello from the fake.", model: str = "claude-fake") -> None:
        super().__init__(reply=reply, model=model)

    def routes(self) -> list[Route]:
        return [Route("/v1/messages", self._messages, methods=["POST"])]

    async def _messages(self, request: Request) -> Response:
        body, behaviour = await self.receive("messages", request)
        if behaviour.status != 200:
            return _error(behaviour)
        model = body.get("model") or self.model
        blocks = self._blocks(body, behaviour)
        stop_reason = "tool_use" if any(block["type"] == "tool_use" for block in blocks) else "end_turn"
        input_tokens = prompt_words(body.get("messages", [])) + words(str(body.get("system") or ""))
        output_tokens = max(1, sum(words(block.get("text", "")) + len(block.get("input", {})) for block in blocks))
        message_id = "msg_" + uuid.uuid4().hex[:20]
        if body.get("stream"):
            events = _events(message_id, model, blocks, stop_reason, input_tokens, output_tokens)
            return StreamingResponse(events, media_type="text/event-stream")
        return JSONResponse(
            {
                "id": message_id,
                "type": "message",
                "role": "assistant",
                "model": model,
                "content": blocks,
                "stop_reason": stop_reason,
                "stop_sequence": None,
                "usage": {"input_tokens": input_tokens, "output_tokens": output_tokens},
            }
        )

    def _blocks(self, body: dict[str, Any], behaviour: Behaviour) -> list[dict[str, Any]]:
        """Content blocks: scripted tool calls, a forced tool (sample input from its schema), or text."""
        if behaviour.tool_calls is not None:
            return [_tool_use(name, arguments) for name, arguments in behaviour.tool_calls]
        tools = {tool["name"]: tool for tool in body.get("tools") or []}
        choice = body.get("tool_choice") or {}
        forced = choice.get("name") if choice.get("type") == "tool" else None
        if forced is None and choice.get("type") == "any" and tools:
            forced = next(iter(tools))
        if forced is not None and forced in tools:
            return [_tool_use(forced, sample_for(tools[forced].get("input_schema") or {}))]
        return [{"type": "text", "text": self.reply if behaviour.text is None else behaviour.text}]


def _tool_use(name: str, arguments: Any) -> dict[str, Any]:
    return {"type": "tool_use", "id": "toolu_" + uuid.uuid4().hex[:20], "name": name, "input": arguments}


def _error(behaviour: Behaviour) -> Response:
    kinds = {400: "invalid_request_error", 429: "rate_limit_error", 529: "overloaded_error"}
    body = {"type": "error", "error": {"type": kinds.get(behaviour.status, "api_error"), "message": "fake error"}}
    headers = {"retry-after": behaviour.retry_after} if behaviour.retry_after else {}
    return JSONResponse(body, status_code=behaviour.status, headers=headers)


async def _events(
    message_id: str, model: str, blocks: list[dict[str, Any]], stop_reason: str, input_tokens: int, output_tokens: int
) -> AsyncIterator[bytes]:
    """message_start, per block start/deltas/stop, message_delta (stop reason, usage), message_stop."""

    def event(name: str, data: dict[str, Any]) -> bytes:
        return f"event: {name}\ndata: {json.dumps(data)}\n\n".encode()

    message: dict[str, Any] = {
        "id": message_id,
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": {"input_tokens": input_tokens, "output_tokens": 1},
    }
    yield event("message_start", {"type": "message_start", "message": message})
    yield event("ping", {"type": "ping"})
    for index, block in enumerate(blocks):
        if block["type"] == "text":
            start: dict[str, Any] = {"type": "text", "text": ""}
            deltas = [{"type": "text_delta", "text": piece} for piece in chunks_of(block["text"])]
        else:
            start = {"type": "tool_use", "id": block["id"], "name": block["name"], "input": {}}
            pieces = chunks_of(json.dumps(block["input"]), 5)
            deltas = [{"type": "input_json_delta", "partial_json": piece} for piece in pieces]
        yield event("content_block_start", {"type": "content_block_start", "index": index, "content_block": start})
        for delta in deltas:
            yield event("content_block_delta", {"type": "content_block_delta", "index": index, "delta": delta})
        yield event("content_block_stop", {"type": "content_block_stop", "index": index})
    yield event(
        "message_delta",
        {
            "type": "message_delta",
            "delta": {"stop_reason": stop_reason, "stop_sequence": None},
            "usage": {"output_tokens": output_tokens},
        },
    )
    yield event("message_stop", {"type": "message_stop"})
