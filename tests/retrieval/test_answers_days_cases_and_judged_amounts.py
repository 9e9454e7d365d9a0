"""Four classes of issue 15, item 12 that an answer missed: a named holiday or day that the policy states
generically, one case of a "Head: case; case" list, an amount that the quoted rule judges but another rule bounds,
and a question whose one ask is close to a rule while the whole question is not.

The questions and passages are worded for these tests, not taken from bench/answers.py's sets.
"""

from __future__ import annotations

import pytest

from opsdesk.knowledge.query import answers, grounding
from opsdesk.knowledge.query.answers import Answerer
from opsdesk.knowledge.query.calendar_days import with_generic_days
from opsdesk.knowledge.query.grounding import members, passage_units, question_asks
from opsdesk.providers.embedding.local_minilm import LocalMiniLM
from tests.retrieval.test_answers_and_rerank import _hit

SCHEDULE = (
    "Delivery schedule\n\n"
    "- We deliver Monday to Friday. Each shop has a fixed delivery weekday; an order goes out on that weekday.\n"
    "- Deliveries arrive between 08:00 and 13:00.\n\n"
    "Public holidays\n\n"
    "- A delivery that falls on a public holiday is made on the following working day instead.\n"
    "- Orders placed on a public holiday are processed the next working day."
)
REFUNDS = (
    "Refunds\n\n"
    "- Unused items can be sent back within 30 days for a full refund.\n"
    "- Refunds are paid to the card used for the purchase.\n"
    "- Not refundable: gift vouchers; unsealed printer ink and toner (they dry out once unsealed); items "
    "engraved to order.\n"
    "- Shipping costs are refunded only when the item was faulty."
)
EXPRESS = (
    "Express delivery\n\n"
    "- Express orders placed before 10:00 arrive the same day.\n"
    "- Express surcharge: EUR 20 on top of the delivery charge, except for orders of EUR 900 or more, which pay no "
    "express surcharge."
)
CHARGES = (
    "Charges per order\n\n"
    "| order value | delivery charge |\n"
    "|---|---|\n"
    "| below EUR 100 | EUR 15 |\n"
    "| EUR 100 to EUR 249.99 | EUR 7 |\n"
    "| EUR 250 and above | free |"
)
RETURNS = (
    "Returns\n\n"
    "- Unused items can be sent back within 30 days.\n"
    "- Returns worth more than EUR 600 carry a handling fee of 5%."
)
PURCHASE_ORDERS = "Purchase orders\n\n- Orders above EUR 300 need a signed purchase order from your company."


def test_named_holidays_and_short_days_get_their_generic_terms() -> None:
    assert with_generic_days("delivery on labour day?") == "delivery on labour day — a public holiday?"
    assert with_generic_days("my order falls on Vesak Day so when") == (
        "my order falls on Vesak Day — a public holiday — so when"
    )
    assert with_generic_days("order placed on hari raya haji, when processed") == (
        "order placed on hari raya haji — a public holiday, when processed"
    )
    assert with_generic_days("pickup thurs or fri 9am?") == "pickup Thursday or Friday 9am?"
    assert with_generic_days("can come this sat?") == "can come this Saturday?"
    assert with_generic_days("open on weekends?") == "open on weekends (Saturday and Sunday)?"


def test_the_eve_of_a_holiday_and_words_that_look_like_days_are_left_alone() -> None:
    for question in (
        "christmas eve delivery slots?",
        "deliver on the eve of chinese new year?",
        "the boxes sat in the sun all day, still ok?",
        "deliveries on a public holiday like christmas?",
    ):
        assert with_generic_days(question) == question


async def test_a_named_holiday_is_answered_by_the_public_holiday_rule(
    shared_embedder: LocalMiniLM, monkeypatch: pytest.MonkeyPatch
) -> None:
    question = "our weekly drop is on labour day this year, when does it come?"
    hits = [_hit(SCHEDULE, "Delivery policy", 0.6)]
    answer = await Answerer(shared_embedder, None, min_sentence_score=0.45).answer(question, hits)
    assert "following working day" in answer.prose, answer.prose
    monkeypatch.setattr(answers, "with_generic_days", lambda question: question)
    without = await Answerer(shared_embedder, None, min_sentence_score=0.45).answer(question, hits)
    assert "following working day" not in without.prose, "without the holiday's kind the weekday rule wins"


def test_a_head_with_cases_is_read_case_by_case() -> None:
    listed = "Not refundable: gift vouchers; unsealed printer ink and toner (they dry out; really); engraved items."
    assert members(listed) == [
        "Not refundable: gift vouchers",
        "Not refundable: unsealed printer ink and toner (they dry out; really)",
        "Not refundable: engraved items",
    ]
    assert members("Express surcharge: EUR 20 on top of the delivery charge.") == []
    assert members("Prices change often; we tell you first.") == []
    unit = next(u for u in passage_units(REFUNDS) if u.text.startswith("Not refundable"))
    assert "Not refundable: gift vouchers" in unit.scored_texts()[-3], unit.scored_texts()


async def test_one_case_of_a_list_answers_a_question_about_it(
    shared_embedder: LocalMiniLM, monkeypatch: pytest.MonkeyPatch
) -> None:
    question = "we opened the toner cartridge but it's the wrong model, can we send it back?"
    hits = [_hit(REFUNDS, "Refund policy", 0.6)]
    answer = await Answerer(shared_embedder, None, min_sentence_score=0.45).answer(question, hits)
    assert "Not refundable" in answer.prose, answer.prose
    monkeypatch.setattr(grounding, "members", lambda sentence: [])
    without = await Answerer(shared_embedder, None, min_sentence_score=0.45).answer(question, hits)
    assert not without.known, "the whole list is too far from the question; its toner case is not"


async def test_an_amount_the_quoted_rule_judges_also_gets_the_close_rule_it_falls_in(
    shared_embedder: LocalMiniLM, monkeypatch: pytest.MonkeyPatch
) -> None:
    question = "what is the express surcharge on an order of just EUR 80?"
    hits = [_hit(EXPRESS, "Express", 0.6), _hit(CHARGES, "Charges", 0.5)]
    answer = await Answerer(shared_embedder, None, min_sentence_score=0.45).answer(question, hits)
    assert "Express surcharge" in answer.prose and "below EUR 100" in answer.prose, answer.prose
    monkeypatch.setattr(answers, "_JUDGED_AMOUNT_REACH", 0.0)
    without = await Answerer(shared_embedder, None, min_sentence_score=0.45).answer(question, hits)
    assert "below EUR 100" not in without.prose, "the surcharge judges EUR 80 (not EUR 900 or more): the reach adds"


async def test_a_distant_rule_an_amount_falls_in_is_not_added_to_the_rule_that_judges_it(
    shared_embedder: LocalMiniLM, monkeypatch: pytest.MonkeyPatch
) -> None:
    question = "returning about EUR 400 of office chairs, how much handling fee?"
    hits = [_hit(RETURNS, "Returns", 0.6), _hit(PURCHASE_ORDERS, "Ordering", 0.5)]
    answer = await Answerer(shared_embedder, None, min_sentence_score=0.45).answer(question, hits)
    assert "handling fee of 5%" in answer.prose, answer.prose
    assert "purchase order" not in answer.prose, "EUR 400 falls in the purchase-order rule, which is not about returns"
    monkeypatch.setattr(answers, "_JUDGED_AMOUNT_REACH", answers._STATED_AMOUNT_REACH)
    wider = await Answerer(shared_embedder, None, min_sentence_score=0.45).answer(question, hits)
    assert "purchase order" in wider.prose, "with the wider reach the unrelated rule would come along"


async def test_a_question_is_answered_when_one_of_its_asks_clears_the_floor(
    shared_embedder: LocalMiniLM, monkeypatch: pytest.MonkeyPatch
) -> None:
    changes = (
        "Changes to an order\n\n"
        "- You can change an order until the van leaves the depot. After that we cannot change it; call us to book "
        "an extra delivery.\n"
        "- Prices are fixed when you confirm the order."
    )
    hours = "Opening hours\n\n- The showroom is open Monday to Friday, 09:00 to 18:00.\n- Parking is free."
    question = "the fridge broke, the lights are flickering, the boss is shouting, can still change order?"
    hits = [_hit(changes, "Orders", 0.6), _hit(hours, "Hours", 0.5)]
    answer = await Answerer(shared_embedder, None, min_sentence_score=0.45).answer(question, hits)
    assert "until the van leaves the depot" in answer.prose, answer.prose
    assert "showroom" not in answer.prose
    monkeypatch.setattr(answers, "question_asks", lambda question: [])
    whole = await Answerer(shared_embedder, None, min_sentence_score=0.45).answer(question, hits)
    assert not whole.known, "the whole question is under the floor; its last ask is not"


def test_a_short_clause_around_one_word_states_a_condition_of_its_own() -> None:
    assert question_asks("we are in vlieland, order is EUR 300 so free shipping right?") == [
        "we are in vlieland",
        "order is EUR 300 so free shipping right",
    ]
    assert question_asks("any charges, order is EUR 300") == [], "'any charges' alone asks nothing of its own"


async def test_a_stated_condition_gets_its_rule_beside_the_answer_to_the_question(
    shared_embedder: LocalMiniLM, monkeypatch: pytest.MonkeyPatch
) -> None:
    fees = (
        "Shipping charges\n\n"
        "| order value | shipping |\n"
        "|---|---|\n"
        "| below EUR 100 | EUR 15 |\n"
        "| EUR 100 to EUR 249.99 | EUR 7 |\n"
        "| EUR 250 and above | free shipping |\n\n"
        "- Island zones: deliveries to Texel and Vlieland carry a ferry surcharge of EUR 30, also on orders that "
        "otherwise ship free.\n"
        "- Express surcharge: EUR 20 on top of the shipping charge."
    )
    question = "we are in vlieland, order is EUR 300 so free shipping right?"
    hits = [_hit(fees, "Fees", 0.6), _hit(RETURNS, "Returns", 0.5)]
    answer = await Answerer(shared_embedder, None, min_sentence_score=0.45).answer(question, hits)
    assert "free shipping" in answer.prose and "ferry surcharge of EUR 30" in answer.prose, answer.prose
    monkeypatch.setattr(grounding, "_CLAUSE_WORDS", 99)
    without = await Answerer(shared_embedder, None, min_sentence_score=0.45).answer(question, hits)
    assert "ferry surcharge" not in without.prose, "the fee tier alone answers the amount, not the island"
