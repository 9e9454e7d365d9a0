"""A question that names a product and states an amount or a count also gets the rule that amount falls in (issue
15, item 12: the class "a product named in the question outranks the rule it asks about").

The questions and passages are worded for these tests, not taken from bench/answers.py's sets.
"""

from __future__ import annotations

import pytest

from opsdesk.knowledge.query import answers
from opsdesk.knowledge.query.answers import Answerer
from opsdesk.knowledge.query.matching import COMPARABLE, condition_fit
from opsdesk.providers.embedding.local_minilm import LocalMiniLM
from tests.retrieval.test_answers_and_rerank import _hit

PRODUCTS = (
    "Product FAQ\n\n"
    "**Which soup bowls do you carry?** 8 oz and 12 oz paper soup bowls with vented lids, cartons of 500.\n\n"
    "**Which napkins do you have?** White two-ply napkins, 2,000 per carton."
)
RETURNS = (
    "Returns\n\n"
    "- Returns are collected on your next usual delivery day free of charge.\n"
    "- Returns worth more than SGD 500 (before GST) carry a restocking fee of 10%.\n"
    "- Orders above 200 units on one line need you to reply CONFIRM."
)
RESTOCKING = "Returns worth more than SGD 500 (before GST) carry a restocking fee of 10%."


@pytest.fixture(scope="module")
def embedder() -> LocalMiniLM:
    return LocalMiniLM()


def test_an_amount_or_count_is_fitted_by_kind_when_kinds_are_given() -> None:
    question = "returning $900 of soup bowls at 3pm"
    assert condition_fit(question, RESTOCKING, frozenset({"money", "count"})) == 1.0
    assert condition_fit(question, "Self-collect from 08:30 to 17:00.", frozenset({"money", "count"})) == 0.0
    assert condition_fit(question, "Self-collect from 08:30 to 17:00.") == 1.0, "without kinds, times count too"
    assert condition_fit("returning $300 of bowls", RESTOCKING, frozenset({"money"})) == COMPARABLE


async def test_a_stated_amount_brings_the_rule_it_falls_in_beside_the_product(
    embedder: LocalMiniLM, monkeypatch: pytest.MonkeyPatch
) -> None:
    question = "returning about $900 of soup bowls, any charge?"
    hits = [_hit(PRODUCTS, "Product FAQ", 0.6), _hit(RETURNS, "Returns, fees and credit terms", 0.5)]
    answer = await Answerer(embedder, None, min_sentence_score=0.45).answer(question, hits)
    assert answer.known
    assert "restocking fee of 10%" in answer.prose, answer.prose
    monkeypatch.setattr(answers, "_STATED_AMOUNT_REACH", 0.0)
    without = await Answerer(embedder, None, min_sentence_score=0.45).answer(question, hits)
    assert "restocking fee" not in without.prose, "the product outranks the rule: only the stated amount brings it"


async def test_a_stated_count_brings_the_rule_it_falls_in(embedder: LocalMiniLM) -> None:
    answer = await Answerer(embedder, None, min_sentence_score=0.45).answer(
        "ordering 350 cartons of napkins on one line, anything special?",
        [_hit(PRODUCTS, "Product FAQ", 0.6), _hit(RETURNS, "Returns and orders", 0.5)],
    )
    assert "above 200 units on one line need you to reply CONFIRM" in answer.prose, answer.prose


async def test_a_time_of_day_brings_no_rule(embedder: LocalMiniLM, monkeypatch: pytest.MonkeyPatch) -> None:
    """ "At 3pm today" says when the customer writes, not which rule applies: only amounts and counts bring one."""
    hours = "Opening hours\n\n- You can self-collect from our warehouse Monday to Friday, 08:30 to 17:00."
    question, hits = (
        "at 3pm today, what soup bowls do you have at the warehouse?",
        [_hit(PRODUCTS, "FAQ", 0.6), _hit(hours, "Hours", 0.5)],
    )
    answer = await Answerer(embedder, None, min_sentence_score=0.45).answer(question, hits)
    assert "soup bowls" in answer.prose
    assert "self-collect" not in answer.prose, answer.prose
    monkeypatch.setattr(answers, "_AMOUNTS", frozenset({"money", "count", "clock"}))
    with_times = await Answerer(embedder, None, min_sentence_score=0.45).answer(question, hits)
    assert "self-collect" in with_times.prose, "the opening hours would come along if times of day counted"
