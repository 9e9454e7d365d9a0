"""Answer writing and reranking with a scripted chat provider (no model needed)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from opsdesk.core.errors import ConfigurationError
from opsdesk.core.settings import Settings
from opsdesk.knowledge.query.answers import DONT_KNOW, Answerer, generation_provider, split_sentences
from opsdesk.knowledge.query.grounding import normalise_question, plain
from opsdesk.knowledge.query.rerank import CrossEncoderReranker, LLMReranker, parse_grade, rerank
from opsdesk.knowledge.query.retrieval import Hit
from opsdesk.providers.embedding.local_minilm import LocalMiniLM
from opsdesk.providers.llm.base import ChatChunk, ChatRequest, ChatResult


class ScriptedChat:
    """A chat provider that replies from a function of the request."""

    name = "scripted"
    model = "scripted-1"

    def __init__(self, reply: str | None = None, *, grades: dict[str, int] | None = None) -> None:
        self.reply = reply or ""
        self.grades = grades or {}
        self.requests: list[ChatRequest] = []

    def _text(self, request: ChatRequest) -> str:
        self.requests.append(request)
        prompt = request.messages[-1].content or ""
        for marker, grade in self.grades.items():
            if marker in prompt:
                return f'{{"score": {grade}}}'
        return self.reply

    async def complete(self, request: ChatRequest) -> ChatResult:
        return ChatResult(self._text(request), self.name, self.model)

    async def stream(self, request: ChatRequest) -> AsyncIterator[ChatChunk]:
        for word in self._text(request).split(" "):
            yield ChatChunk(delta=word + " ", model=self.model)
        yield ChatChunk(finish_reason="stop", model=self.model)

    async def aclose(self) -> None:
        return None


def _hit(text: str, title: str = "Doc", similarity: float = 0.6) -> Hit:
    return Hit(
        chunk_id=uuid.uuid4(),
        kb_id=uuid.uuid4(),
        document_id=uuid.uuid4(),
        document_title=title,
        doc_type="md",
        source_key=f"{title.lower()}.md",
        version_id=uuid.uuid4(),
        version="v1.0.0",
        section_path=title,
        page=None,
        ordinal=0,
        text=text,
        score=1.0,
        similarity=similarity,
    )


HITS = [
    _hit("Employees receive 25 days of paid vacation per calendar year. Requests go to the team lead.", "Vacation"),
    _hit("Hotel costs are covered up to 150 euros per night.", "Expenses", 0.2),
]


@pytest.fixture(scope="module")
def embedder() -> LocalMiniLM:
    return LocalMiniLM()


async def test_a_supported_draft_is_served_with_the_passages_that_support_it(embedder: LocalMiniLM) -> None:
    chat = ScriptedChat("Employees receive 25 days of paid vacation per year [2].")  # the model cites the wrong one
    answer = await Answerer(embedder, chat, min_score=0.3).answer("How much vacation?", HITS)
    assert answer.method == "generative" and answer.known
    assert answer.text == "Employees receive 25 days of paid vacation per year. [1]"
    assert answer.prose == "Employees receive 25 days of paid vacation per year."
    assert answer.cited == [1] and answer.model == "scripted-1"
    prompt = chat.requests[0].messages[-1].content or ""
    assert "[1] Vacation: Employees receive 25 days" in prompt and "[2] Expenses" in prompt


@pytest.mark.parametrize(
    "reply",
    [
        "No refunds are permitted after dispatch confirmation [1].",  # a rule the passages do not contain
        "Employees receive 30 days of paid vacation per year [1].",  # a number the passage does not say
        "Employees do not receive paid vacation [1].",  # a negation the passage does not have
        "Employees receive 25 days of paid vacation unless they work part time [1].",  # an invented exception
        "Employees receive 25 days of paid vacation per calendar year [1]. Unused days are paid out in cash [1].",
        "Staff enjoy unlimited sabbaticals on Mars and free spaceships [1].",
        "Employees receive 25 days [7] of sabbatical leave on Mars.",
        "I don't know.",
    ],
)
async def test_a_draft_with_any_unsupported_sentence_is_replaced_by_the_extractive_answer(
    embedder: LocalMiniLM, reply: str
) -> None:
    answer = await Answerer(embedder, ScriptedChat(reply), min_score=0.3).answer("How much vacation?", HITS)
    assert answer.method == "extractive"
    assert answer.text.startswith('"Employees receive 25 days') and answer.text.endswith("[1]")
    assert answer.cited == [1]


async def test_a_draft_with_tags_and_markup_is_served_as_clean_prose(embedder: LocalMiniLM) -> None:
    chat = ScriptedChat('"[POLICY] Employees receive **25 days** of paid vacation per year." [1]')
    answer = await Answerer(embedder, chat, min_score=0.3).answer("How much vacation?", HITS)
    assert answer.method == "generative"
    assert answer.prose == "Employees receive 25 days of paid vacation per year."


async def test_streaming_ends_with_the_authoritative_answer(embedder: LocalMiniLM) -> None:
    chat = ScriptedChat("Twenty five days [1].")  # "twenty", "five" are not in the passage: not supported
    events = [item async for item in Answerer(embedder, chat).stream("How much vacation?", HITS)]
    deltas = "".join(delta for delta, _ in events)
    final = events[-1][1]
    assert deltas.strip() == "Twenty five days [1]."
    assert final is not None and final.method == "extractive"


async def test_low_confidence_answers_dont_know_without_asking_the_model(embedder: LocalMiniLM) -> None:
    chat = ScriptedChat("Something [1].")
    weak = [_hit("Unrelated text about pottery glazes.", similarity=0.1)]
    answer = await Answerer(embedder, chat, min_score=0.3).answer("How much vacation?", weak)
    assert answer.text == DONT_KNOW and not answer.known and answer.cited == []
    assert chat.requests == []


def test_sentence_split_leaves_out_fragments() -> None:
    assert split_sentences("First sentence here. Second one follows! Tiny.") == [
        "First sentence here.",
        "Second one follows!",
    ]


def test_customer_text_has_no_markup() -> None:
    assert plain('"[POLICY] **Net 30** | due in 30 days" [1] [2, 3]') == "Net 30 due in 30 days"
    assert plain("## Fees\n- **Late:** 1.5% per month <|im_end|>") == "Fees Late: 1.5% per month"


POLICY_CHUNK = (
    "Delivery days and time slots\n\n"
    "- We deliver Monday to Saturday. Each outlet has its usual delivery days (for example Mon and Thu); a normal\n"
    "  order goes out on your next usual day.\n"
    "- Delivery slots are **09:00-12:00** and **14:00-18:00**. Normal orders are delivered in the morning slot."
)


def test_list_items_are_quoted_whole_and_headings_left_out() -> None:
    assert split_sentences(POLICY_CHUNK) == [
        "We deliver Monday to Saturday. Each outlet has its usual delivery days (for example Mon and Thu); a normal "
        "order goes out on your next usual day.",
        "Delivery slots are 09:00-12:00 and 14:00-18:00. Normal orders are delivered in the morning slot.",
    ]


def test_a_lead_in_item_keeps_its_sub_items() -> None:
    chunk = (
        "- Returns are collected on your next delivery day.\n"
        "- Never returnable:\n"
        "  - special-order items;\n"
        "  - opened cartons of cups (hygiene rules);\n"
        '  - items sold as "final sale".\n'
        "- Refunds are made by credit note."
    )
    assert split_sentences(chunk)[1] == (
        'Never returnable: special-order items; opened cartons of cups (hygiene rules); items sold as "final sale".'
    )


FEES_CHUNK = (
    "Delivery fees\n\n"
    "All amounts are before GST.\n\n"
    "order amount | delivery fee\n"
    "below SGD 150 | SGD 18 per delivery\n"
    "SGD 150 to SGD 299.99 | SGD 9 per delivery\n"
    "SGD 300 and above | free delivery"
)


async def test_a_fee_table_is_answered_with_all_its_tiers_as_readable_rows(embedder: LocalMiniLM) -> None:
    answer = await Answerer(embedder, None, min_sentence_score=0.3).answer(
        "What is the delivery fee for a small order?", [_hit(FEES_CHUNK, "Fees")]
    )
    assert answer.known and "|" not in answer.prose
    assert "Order amount below SGD 150 — delivery fee: SGD 18 per delivery." in answer.prose
    assert "SGD 300 and above — delivery fee: free delivery." in answer.prose
    assert answer.prose.startswith("All amounts are before GST."), "the sentence that introduces the table"


async def test_an_answer_keeps_the_condition_in_the_next_sentence(embedder: LocalMiniLM) -> None:
    chunk = (
        "Returns\n\nReturns are collected on your next usual delivery day free of charge. If you want a separate "
        "collection, the collection fee is SGD 25 per trip. We refund by credit note."
    )
    answer = await Answerer(embedder, None, min_sentence_score=0.3).answer(
        "Do you charge for collecting returns?", [_hit(chunk, "Returns")]
    )
    assert "free of charge" in answer.prose and "SGD 25 per trip" in answer.prose


async def test_a_line_that_quotes_the_question_is_not_its_answer(embedder: LocalMiniLM) -> None:
    chunk = (
        "First steps\n\n"
        "- Create an API key with `opsdesk apikey create --role admin --quiet`.\n"
        "- Chat in the terminal with `opsdesk chat`.\n"
        '- Ask the knowledge base with `opsdesk ask --kb opsdesk-docs "How do I create an API key?"`.'
    )
    answer = await Answerer(embedder, None, min_sentence_score=0.3).answer(
        "How do I create an API key?", [_hit(chunk, "Getting started")]
    )
    assert "opsdesk apikey create --role admin --quiet" in answer.prose
    assert "opsdesk ask" not in answer.prose and "`" not in answer.prose


async def test_an_extractive_answer_quotes_the_sentence_not_the_heading(embedder: LocalMiniLM) -> None:
    answer = await Answerer(embedder, None, min_sentence_score=0.45).answer(
        "What are your delivery time slots?", [_hit(POLICY_CHUNK, "Ordering and delivery policy")]
    )
    assert answer.method == "extractive" and answer.known
    assert answer.text.startswith('"Delivery slots are 09:00-12:00 and 14:00-18:00.')


async def test_an_extractive_answer_beside_the_point_is_i_dont_know(embedder: LocalMiniLM) -> None:
    question = "What payment methods do you accept?"
    hits = [_hit(POLICY_CHUNK, "Ordering and delivery policy")]
    assert (await Answerer(embedder, None).answer(question, hits)).known, "with no floor it quotes something"
    answer = await Answerer(embedder, None, min_sentence_score=0.45).answer(question, hits)
    assert answer.text == DONT_KNOW and not answer.known and answer.cited == []


class _Registry:
    def resolve_model(self, name: str) -> tuple[ScriptedChat, None]:
        return ScriptedChat(), None


@pytest.mark.parametrize(
    ("generation", "hosted", "drafts"),
    [("auto", False, False), ("auto", True, True), ("always", False, True), ("never", True, False)],
)
def test_which_model_drafts_answers(generation: str, hosted: bool, drafts: bool) -> None:
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        answer_generation=generation,
        openai_api_key="sk-test" if hosted else None,
    )
    provider, _ = generation_provider(settings, _Registry())  # type: ignore[arg-type]
    assert (provider is not None) == drafts


async def test_llm_reranker_reorders_by_the_models_grades() -> None:
    hits = [_hit("Parking is on level minus one.", "Parking"), _hit("Hotels are covered up to 150 euros.", "Hotel")]
    chat = ScriptedChat(grades={"Parking": 0, "Hotel": 3})
    reordered = await rerank(LLMReranker(chat), "hotel costs", hits)
    assert [hit.document_title for hit in reordered] == ["Hotel", "Parking"]
    assert reordered[0].rerank_score is not None and reordered[0].rerank_score > reordered[1].rerank_score  # type: ignore[operator]
    assert chat.requests[0].response_schema is not None


async def test_llm_reranker_keeps_the_first_stage_order_when_the_model_fails() -> None:
    class Failing(ScriptedChat):
        async def complete(self, request: ChatRequest) -> ChatResult:
            raise RuntimeError("model down")

    hits = [_hit("a" * 20, "First"), _hit("b" * 20, "Second")]
    reordered = await rerank(LLMReranker(Failing()), "q", hits)
    assert [hit.document_title for hit in reordered] == ["First", "Second"]


def test_grade_parsing() -> None:
    assert parse_grade('{"score": 2}') == 2.0
    assert parse_grade("3") == 3.0
    assert parse_grade('{"score": 9}') == 3.0
    assert parse_grade("no idea") == 0.0


def test_cross_encoder_without_files_says_what_to_configure(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match=r"model\.onnx"):
        CrossEncoderReranker.from_dir(tmp_path)


def test_chat_shorthand_is_spelled_out_and_other_words_are_left_alone() -> None:
    assert normalise_question("hw much r ur fees 4 a late order pls") == "how much are your fees 4 a late order please"
    assert normalise_question("need it tmrw, cant wait cos shop opens 7am") == (
        "need it tomorrow, can't wait because shop opens 7am"
    )
    assert normalise_question("w/o lids, is the U-bend cup ok?") == "without lids, is the U-bend cup ok?"
    assert normalise_question("Do you refund us for broken items?") == "Do you refund us for broken items?"
