"""Chat playground: any model or the `opsdesk` chain streamed token by token (through the gateway's own code), a
knowledge base's cited answer whose citations open the passage, and a solution (orders, planner) spoken to as a
customer would, through the conversation runtime."""

from __future__ import annotations

import uuid
from typing import Any, Literal

from fastapi import Query
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sse_starlette import EventSourceResponse
from starlette.responses import Response, StreamingResponse

from opsdesk.conversation.channels import from_chat
from opsdesk.conversation.handlers import solution_config
from opsdesk.conversation.runtime import stream_turn
from opsdesk.conversation.schemas import ChatMessageIn
from opsdesk.core.errors import InvalidInput
from opsdesk.gateway import service as gateway
from opsdesk.gateway.schemas import ChatCompletionRequest, Message
from opsdesk.knowledge import service as knowledge
from opsdesk.knowledge.query.schemas import QueryIn
from opsdesk.knowledge.query.service import prepare_query
from opsdesk.web.console import Console, PageConsole, page_router
from opsdesk.web.templating import render

router = page_router()
SOLUTIONS = ("orders", "planner")
_SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
_PASSAGE_CHUNKS = 500


class ChatTurn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: Literal["user", "assistant"]
    content: str = Field(max_length=20_000)


class ModelChatIn(BaseModel):
    """What the playground sends for a model: the whole conversation so far (the page keeps it, not the server)."""

    model_config = ConfigDict(extra="forbid")

    model: str = Field(min_length=1, max_length=200)
    system: str = Field(default="", max_length=8_000)
    messages: list[ChatTurn] = Field(min_length=1, max_length=100)
    max_tokens: int = Field(default=256, ge=1, le=4_096)


class AskIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kb: str = Field(min_length=1, max_length=100)
    question: str = Field(min_length=1, max_length=2_000)


class SolutionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    solution: str = Field(min_length=1, max_length=50)
    text: str = Field(min_length=1, max_length=20_000)
    sender: str = Field(default="", max_length=128)
    session_id: uuid.UUID | None = None


def registered_solutions() -> list[str]:
    """The solutions the runtime knows in this process (the playground offers only those)."""
    found = []
    for name in SOLUTIONS:
        try:
            solution_config(name)
        except InvalidInput:
            continue
        found.append(name)
    return found


def completion_request(body: ModelChatIn) -> ChatCompletionRequest:
    """The playground's conversation as the OpenAI-shaped request `/v1/chat/completions` takes."""
    system = [Message(role="system", content=body.system)] if body.system.strip() else []
    turns = [Message(role=turn.role, content=turn.content) for turn in body.messages]
    return ChatCompletionRequest(
        model=body.model,
        messages=system + turns,
        stream=True,
        stream_options={"include_usage": True},  # type: ignore[arg-type]
        max_tokens=body.max_tokens,
    )


@router.get("/chat")
async def chat_page(kb: str = Query("", max_length=100), c: Console = PageConsole) -> Response:
    """The playground: the models `/v1/models` lists, the workspace's knowledge bases and the solutions; `kb` opens
    it on asking that knowledge base (a knowledge base's page links here)."""
    principal = c.signed_in_principal
    async with c.ctx.db.session() as db:
        bases, _ = await knowledge.list_kbs(db, principal.workspace_id, limit=100, offset=0)
    data = {
        "models": c.ctx.providers.model_names(),
        "bases": [base.name for base in bases],
        "ask_kb": kb if any(base.name == kb for base in bases) else "",
        "solutions": registered_solutions() if c.can("write") else [],
        "sender": f"console:{c.email}",
    }
    return render(c, "chat.html", data)


@router.post("/chat/stream")
async def chat_stream(body: ModelChatIn, c: Console = PageConsole) -> Response:
    """The model's reply as the same SSE chunks `/v1/chat/completions` streams (with usage at the end)."""
    principal = c.signed_in_principal
    request = completion_request(body)
    provider, override = gateway.resolve(c.ctx.providers, request.model)
    chat_request = gateway.to_chat_request(request, principal.workspace_id, override)
    chunks = await gateway.primed(provider.stream(chat_request))
    stream = gateway.sse_stream(chunks, request.model, include_usage=True)
    return StreamingResponse(stream, media_type="text/event-stream", headers=_SSE_HEADERS)


@router.post("/chat/ask")
async def chat_ask(body: AskIn, c: Console = PageConsole) -> Response:
    """A knowledge base's cited answer as the query API streams it: `hits`, `delta`…, `answer`, `done`."""
    principal = c.signed_in_principal
    query = QueryIn(query=body.question, answer=True, stream=True)
    prepared = await prepare_query(c.ctx, principal.workspace_id, body.kb, query)
    return EventSourceResponse(prepared.events(), ping=15, headers=_SSE_HEADERS)


@router.post("/chat/solution")
async def chat_solution(body: SolutionIn, c: Console = PageConsole) -> Response:
    """One customer message to a solution, as `POST …/conversations/messages` with `stream` takes it."""
    principal = c.signed_in_principal
    if body.solution not in SOLUTIONS:
        raise InvalidInput(f"Pick one of: {', '.join(SOLUTIONS)}.", code="unknown_solution")
    try:
        message = ChatMessageIn(
            text=body.text,
            session_id=body.session_id,
            sender=body.sender.strip() or f"console:{c.email}",
            solution=body.solution,
            stream=True,
        )
    except ValidationError as exc:
        raise InvalidInput(f"That message cannot be sent: {exc.errors()[0]['msg']}", code="invalid_message") from None
    settings = c.ctx.settings
    inbound = from_chat(
        message,
        solution=settings.conversation_default_solution,
        max_chars=settings.conversation_max_message_chars,
        idempotency_key=None,
    )
    return EventSourceResponse(stream_turn(c.ctx, principal.workspace_id, inbound), ping=15, headers=_SSE_HEADERS)


def _passage(chunk: Any, cited: uuid.UUID | None) -> dict[str, Any]:
    return {
        "id": chunk.id,
        "ordinal": chunk.ordinal,
        "text": chunk.text,
        "section": chunk.section_path,
        "page": chunk.page,
        "cited": chunk.id == cited,
    }


@router.get("/chat/passages/{document_id}/{version_id}")
async def passage_page(
    document_id: uuid.UUID, version_id: uuid.UUID, chunk: uuid.UUID | None = None, c: Console = PageConsole
) -> Response:
    """A cited document version, passage by passage, with the cited one marked and scrolled to."""
    principal = c.signed_in_principal
    async with c.ctx.db.session() as db:
        document = await knowledge.get_document(db, principal.workspace_id, document_id)
        version = await knowledge.get_version(db, document, str(version_id))
        chunks, total = await knowledge.list_chunks(db, version, limit=_PASSAGE_CHUNKS, offset=0)
        kb = await knowledge.get_kb(db, principal.workspace_id, document.kb_id)
    data = {
        "kb": kb.name,
        "document": {"id": document.id, "title": document.title, "key": document.source_key},
        "version": version.version,
        "passages": [_passage(found, chunk) for found in chunks],
        "total": total,
        "cited": chunk,
    }
    return render(c, "chat_passage.html", data)
