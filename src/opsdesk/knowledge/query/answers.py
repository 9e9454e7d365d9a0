"""Grounded answers from retrieved chunks, with numbered citations [1], [2] that map to the hits.

* When the best chunk's similarity to the question is under `settings.answer_min_score`, the answer says it does
  not know, and cites nothing.
* The extractive answer quotes the passage units that best answer the question (`knowledge.query.grounding`: a
  sentence, a whole list item, a table row written as a sentence): MiniLM cosine, plus the share of the question's
  rarer words a unit says and a bound its amount or time falls in (`knowledge.query.matching`). Their conditions
  come along: a neighbouring sentence that qualifies the chosen one ("If …", "Unless …", "Smaller orders …"), a
  later list item that qualifies it ("Reports made later than these windows …") and the other rows of a small
  table (fee tiers); and when the question states an amount or a count that nothing quoted bounds, the close rule
  whose bound it falls in ("$700 of trays" and "more than SGD 500"). Headings and FAQ questions are context, never
  answers; a line that merely quotes the question is not its answer. When no unit comes within
  `settings.answer_min_sentence_score` of the question (or a little under it, with a bound the question's quantity
  falls in) — and none of the question's asks comes within it either ("…, can still change order?") — it says it
  does not know. A named holiday is read with its kind ("good friday, a public holiday"; `calendar_days`).
* A model's draft is served only when each of its sentences is supported by a passage unit (`sentence_support`:
  meaning, content words, every number, negation, "unless/except/only"); otherwise the extractive answer is. The
  citations are the supporting passages, whatever numbers the model wrote.
* Every answer has a cited `text` (for the knowledge API) and a clean `prose` (for customers: no markup, no
  citation marks).
* `OPSDESK_ANSWER_GENERATION` decides whether a model drafts at all: `auto` only with a hosted provider in the
  chain (the local 135M model's drafts were almost never supported: docs/answers.md), `always`, `never`.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from opsdesk.core.logging import get_logger
from opsdesk.knowledge.chunking import SECTION_SEPARATOR
from opsdesk.knowledge.query.calendar_days import with_generic_days
from opsdesk.knowledge.query.grounding import (
    SupportRule,
    Unit,
    continues,
    normalise_question,
    numbers,
    passage_units,
    plain,
    question_asks,
    refers_back,
    restates,
    sentence_support,
)
from opsdesk.knowledge.query.matching import KeywordOverlap, condition_fit
from opsdesk.knowledge.query.retrieval import Hit
from opsdesk.providers.llm.base import ChatMessage, ChatProvider, ChatRequest, EmbeddingProvider

if TYPE_CHECKING:
    from opsdesk.core.settings import Settings
    from opsdesk.providers.factory import ProviderRegistry

_log = get_logger(__name__)
DONT_KNOW = "I don't know: the knowledge base has nothing that answers this confidently."
CONTEXT_HITS = 8  # passages an answer draws on: all the chat's hits (docs/answers.md)
_PASSAGE_CHARS = 900
_UNITS_PER_HIT = 40
_CLOSE_CALL = 0.05  # a second unit is quoted when it scores this close to the best one
_MEETS_CONDITION = 0.06  # the bonus of a unit whose threshold the question's amount falls in
_SHORT_ANSWER = 240  # characters: a second unit is added only to an answer shorter than this
_NEAR_FLOOR = 0.05  # under the sentence floor by at most this, a unit with quantity evidence is still answered
_LATER_ITEMS = 3  # a list item's qualifier is looked for this many items below it
_KEYWORD_WEIGHT = 0.1  # of a unit's share of the question's words, beside its MiniLM cosine
_RANK_STEP = 0.01  # a unit of a lower-ranked passage loses this per rank
_STATED_AMOUNT_REACH = 0.3  # the rule a stated amount or count falls in is quoted when it scores this close to the best
_JUDGED_AMOUNT_REACH = 0.1  # … and this close when what is quoted already states a bound the amount falls outside
_AMOUNTS = frozenset({"money", "count"})  # the kinds of quantity that `_rule_for_stated_amount` brings a rule for
_DRAFT_SENTENCE = re.compile(r"(?<=[.!?])\s+")

SYSTEM_PROMPT = (
    "You answer questions using only the numbered passages given. Answer in one to three short sentences, and "
    "keep the conditions the passage gives (time limits, amounts, exceptions). "
    "After each statement put the number of the passage it comes from in brackets, like [1]. "
    "If the passages do not contain the answer, reply exactly: I don't know."
)


@dataclass
class Answer:
    text: str  # with citation marks, for the knowledge API
    known: bool
    method: str  # generative | extractive | none
    confidence: float
    cited: list[int] = field(default_factory=list)  # 1-based hit numbers
    model: str | None = None
    prose: str = ""  # the same answer as clean text for a customer: no markup, no citation marks

    def __post_init__(self) -> None:
        if not self.prose:
            self.prose = plain(self.text)


def confidence_of(hits: Sequence[Hit]) -> float:
    """The best cosine similarity between the question and a retrieved chunk (0 when none was computed)."""
    values = [hit.similarity for hit in hits if hit.similarity is not None]
    return round(max(values), 4) if values else 0.0


def dont_know(confidence: float) -> Answer:
    return Answer(DONT_KNOW, False, "none", confidence, prose=DONT_KNOW)


def split_sentences(text: str) -> list[str]:
    """The quotable units of a chunk as text: list items whole, headings left out, markup removed."""
    return [unit.text for unit in passage_units(text)]


@dataclass(frozen=True)
class _Candidate:
    number: int  # 1-based hit number
    index: int  # position among the hit's units
    unit: Unit


class _Passages:
    """The units of the context hits, embedded once for both the extractive answer and the support check."""

    def __init__(self, embedder: EmbeddingProvider, hits: Sequence[Hit]) -> None:
        self.embedder = embedder
        self.candidates: list[_Candidate] = []
        for number, hit in enumerate(hits[:CONTEXT_HITS], start=1):
            titles = [hit.document_title, *hit.section_path.split(SECTION_SEPARATOR)] if hit.section_path else []
            units = passage_units(hit.text, titles[-1] if titles else "", titles)
            for index, unit in enumerate(units[:_UNITS_PER_HIT]):
                self.candidates.append(_Candidate(number, index, unit))
        self._vectors: np.ndarray | None = None
        self._owners: np.ndarray | None = None
        self._keywords: KeywordOverlap | None = None

    def keyword_overlap(self, question: str) -> np.ndarray:
        """The share of the question's words each unit (with its heading) says, rarity-weighted."""
        if self._keywords is None:
            self._keywords = KeywordOverlap([f"{c.unit.context} {c.unit.text}" for c in self.candidates])
        return self._keywords(question)

    async def similarity(self, vectors: np.ndarray) -> np.ndarray:
        """Cosine of each given vector (rows) to each unit: the best of the unit and its sentences, under context."""
        if self._vectors is None or self._owners is None:
            texts: list[str] = []
            owners: list[int] = []
            for position, candidate in enumerate(self.candidates):
                scored = candidate.unit.scored_texts()
                texts += scored
                owners += [position] * len(scored)
            self._vectors = np.asarray(await self.embedder.embed(texts), dtype=np.float32)
            self._owners = np.asarray(owners)
        best = np.full((len(self.candidates), vectors.shape[0]), -1.0, dtype=np.float32)
        np.maximum.at(best, self._owners, self._vectors @ vectors.T)
        return best.T  # (given, units)

    def neighbours(self, chosen: _Candidate) -> list[_Candidate]:
        """The chosen unit with the conditions around it: the rest of a small table (and its lead-in sentence), or
        the next sentence that qualifies it, or the sentence it continues; for a list item, a later item of its
        list that qualifies the items before it ("Reports made later than these windows …")."""
        group = [c for c in self.candidates if c.number == chosen.number and c.unit.group == chosen.unit.group]
        if chosen.unit.kind in ("row", "lead"):
            return group
        position = group.index(chosen)
        keep = [chosen]
        if position + 1 < len(group) and continues(group[position + 1].unit.text):
            keep.append(group[position + 1])
        if position > 0 and continues(chosen.unit.text):
            keep.insert(0, group[position - 1])
        if chosen.unit.kind == "item":
            later = [
                c
                for c in self.candidates
                if c.number == chosen.number and c.unit.block == chosen.unit.block and c.index > chosen.index
            ]
            keep += [c for c in later[:_LATER_ITEMS] if c.unit.kind == "item" and refers_back(c.unit.text)][:1]
        return keep

    def around(self, candidate: _Candidate) -> str:
        """What a sentence may draw on when this unit supports it: the unit's group and its context."""
        group = [
            c.unit.text
            for c in self.candidates
            if c.number == candidate.number and c.unit.group == candidate.unit.group
        ]
        return " ".join([candidate.unit.context, *group])


def _cited_text(chosen: Sequence[_Candidate]) -> str:
    return " ".join(f'"{c.unit.text}" [{c.number}]' for c in chosen)


def _scores(passages: _Passages, question: str, similarity: np.ndarray, eligible: list[int]) -> dict[int, float]:
    """Each eligible unit's score as the answer to `question`: its MiniLM cosine, plus the share of the question's
    (rarity-weighted) words it says; earlier (better-ranked) passages win close calls; a unit that shows a command
    or a number is more likely the answer than one that talks about the subject, and a threshold the question's own
    amount falls in (a fee tier, a limit) more likely still."""
    candidates = passages.candidates
    overlap = passages.keyword_overlap(question)
    return {
        i: float(similarity[i])
        + _KEYWORD_WEIGHT * float(overlap[i])
        - _RANK_STEP * (candidates[i].number - 1)
        + (0.02 if candidates[i].unit.code or numbers(candidates[i].unit.text) else 0.0)
        + _MEETS_CONDITION * condition_fit(question, candidates[i].unit.text)
        for i in eligible
    }


def _rule_for_stated_amount(
    passages: _Passages, question: str, ranked: list[int], scores: dict[int, float], chosen: list[_Candidate]
) -> list[_Candidate]:
    """When the question states an amount or a count ("$700 of trays", "250 bundles") that nothing quoted so far
    admits, the best unit whose bound it falls in ("more than SGD 500", "above 200 units"), with its conditions: the
    product a question names can outrank the rule it asks about by more than any bonus closes without sending product
    questions to rules. Within `_STATED_AMOUNT_REACH` of the best score when nothing quoted states a bound of that
    kind; within `_JUDGED_AMOUNT_REACH` when something does but the amount falls outside it ("order only $80, urgent"
    quotes the surcharge waived from SGD 800 and gets the fee tier below SGD 150; "$1,800 credit, ops manager or
    director?" quotes the credit limit and gets the credit approvals) — from further down, such a second rule was as
    often an unrelated one (the delivery-fee table for a $300 return). Times and durations are left out: "it's 3pm
    now" or "30 days credit" say when, not which rule."""
    fits = [condition_fit(question, c.unit.text, _AMOUNTS) for c in chosen]
    if 1.0 in fits:
        return []
    reach = _JUDGED_AMOUNT_REACH if any(fits) else _STATED_AMOUNT_REACH
    candidates = passages.candidates
    for i in ranked:
        if scores[i] < scores[ranked[0]] - reach:
            break
        if condition_fit(question, candidates[i].unit.text, _AMOUNTS) == 1.0:
            return [c for c in passages.neighbours(candidates[i]) if c not in chosen]
    return []


def _quantity_evidence(question: str, unit: str) -> bool:
    """Does the unit answer the question's quantity: a bound its amount or time falls in, or the kind of quantity
    it asks for ("how long …" and "within 7 days")? Such a unit is answered a little under the sentence floor."""
    return condition_fit(question, unit) == 1.0


def _answer_to_ask(
    passages: _Passages,
    ask: str,
    similarity: np.ndarray,
    question_similarity: np.ndarray,
    question_scores: dict[int, float],
    chosen: list[_Candidate],
    min_similarity: float,
) -> list[_Candidate]:
    """For one part of a question that asks several things ("who approves n how fast"): the unit that answers it,
    scored half by the part and half by the whole question (the part alone loses its subject: "how many per
    carton?"), with its conditions — unless its mean cosine to the part and the question is under the sentence floor,
    or it is already quoted."""
    scores = _scores(passages, ask, similarity, list(question_scores))
    best = max(question_scores, key=lambda i: scores[i] + question_scores[i])
    unit = passages.candidates[best]
    if (float(similarity[best]) + float(question_similarity[best])) / 2 < min_similarity or unit in chosen:
        return []
    return [c for c in passages.neighbours(unit) if c not in chosen]


async def _extractive(
    passages: _Passages, question: str, confidence: float, *, max_units: int, min_similarity: float
) -> Answer:
    candidates = passages.candidates
    if not candidates:
        return dont_know(confidence)
    asks = question_asks(question)
    vectors = np.asarray(await passages.embedder.embed([question, *asks]), dtype=np.float32)
    similarities = await passages.similarity(vectors)
    similarity = similarities[0]
    eligible = [i for i, c in enumerate(candidates) if not restates(question, c.unit.text)] or list(
        range(len(candidates))
    )
    closest = max(float(similarity[i]) for i in eligible)
    # A question that asks several things is answered when one of its asks is, by `_answer_to_ask`'s floor (the ask's
    # unit quoted alone when the whole question's best unit is under the floor).
    by_ask = max((float(part[i] + similarity[i]) / 2 for part in similarities[1:] for i in eligible), default=0.0)
    if closest < min_similarity - _NEAR_FLOOR and by_ask < min_similarity:
        return dont_know(confidence)
    scores = _scores(passages, question, similarity, eligible)
    ranked = sorted(eligible, key=lambda i: -scores[i])
    whole = closest >= min_similarity or (
        closest >= min_similarity - _NEAR_FLOOR and _quantity_evidence(question, candidates[ranked[0]].unit.text)
    )
    if not whole and by_ask < min_similarity:
        return dont_know(confidence)
    chosen: list[_Candidate] = []
    if whole:
        chosen = passages.neighbours(candidates[ranked[0]])
        for i in ranked[1:max_units]:
            if scores[i] < scores[ranked[0]] - _CLOSE_CALL or sum(len(c.unit.text) for c in chosen) >= _SHORT_ANSWER:
                break
            chosen += [c for c in passages.neighbours(candidates[i]) if c not in chosen]
        chosen += _rule_for_stated_amount(passages, question, ranked, scores, chosen)
    for ask, ask_similarity in zip(asks, similarities[1:], strict=True):
        chosen += _answer_to_ask(passages, ask, ask_similarity, similarity, scores, chosen, min_similarity)
    if not chosen:
        return dont_know(confidence)
    chosen.sort(key=lambda c: (c.number, c.index))
    prose = " ".join(c.unit.text for c in chosen)
    cited = sorted({c.number for c in chosen})
    return Answer(_cited_text(chosen), True, "extractive", confidence, cited, prose=prose)


async def extractive_answer(
    embedder: EmbeddingProvider,
    question: str,
    hits: Sequence[Hit],
    confidence: float,
    *,
    max_sentences: int = 2,
    min_similarity: float = 0.0,
) -> Answer:
    """The passage units closest to the question with their conditions, quoted, each with its citation (or "I don't
    know" when none is within `min_similarity` of the question)."""
    passages = _Passages(embedder, hits)
    return await _extractive(passages, question, confidence, max_units=max_sentences, min_similarity=min_similarity)


def build_prompt(question: str, hits: Sequence[Hit]) -> list[ChatMessage]:
    passages = "\n\n".join(
        f"[{number}] {hit.document_title}: {' '.join(split_sentences(hit.text))[:_PASSAGE_CHARS]}"
        for number, hit in enumerate(hits[:CONTEXT_HITS], start=1)
    )
    return [
        ChatMessage(role="system", content=SYSTEM_PROMPT),
        ChatMessage(role="user", content=f"Passages:\n{passages}\n\nQuestion: {question}\nAnswer:"),
    ]


async def _supported(passages: _Passages, draft: str, confidence: float, rule: SupportRule) -> Answer | None:
    """The draft as an answer when each of its sentences is supported by a passage unit, else None."""
    body = plain(draft)
    if not body or body.lower().startswith("i don't know") or not passages.candidates:
        return None
    sentences = [sentence for sentence in _DRAFT_SENTENCE.split(body) if sentence]
    units = [(c.unit.text, passages.around(c)) for c in passages.candidates]
    similarity = await passages.similarity(np.asarray(await passages.embedder.embed(sentences), dtype=np.float32))
    cited: list[int] = []
    for sentence, row in zip(sentences, similarity, strict=True):
        index = sentence_support(sentence, row, units, rule)
        if index is None:
            _log.info("answer_sentence_unsupported", chars=len(sentence))
            return None
        cited.append(passages.candidates[index].number)
    text = " ".join(f"{sentence} [{number}]" for sentence, number in zip(sentences, cited, strict=True))
    return Answer(text, True, "generative", confidence, sorted(set(cited)), prose=" ".join(sentences))


def generation_provider(settings: Settings, providers: ProviderRegistry) -> tuple[ChatProvider | None, str | None]:
    """Which model drafts answers under `settings.answer_generation` (None: answers are extractive at once)."""
    chain = settings.fallback_chain()
    if settings.answer_generation == "never" or not chain:
        return None, None
    if settings.answer_generation == "auto" and all(name == "local" for name in chain):
        return None, None
    return providers.resolve_model("opsdesk")


class Answerer:
    """Writes answers for one request: drafted by a chat provider when one is given and every sentence of the draft
    is supported, extractive otherwise."""

    def __init__(
        self,
        embedder: EmbeddingProvider,
        provider: ChatProvider | None,
        *,
        model: str | None = None,
        min_score: float = 0.3,
        min_sentence_score: float = 0.0,
        max_tokens: int = 160,
        support: SupportRule | None = None,
    ) -> None:
        self.embedder = embedder
        self.provider = provider
        self.model = model
        self.min_score = min_score
        self.min_sentence_score = min_sentence_score
        self.max_tokens = max_tokens
        self.support = support or SupportRule()

    def _request(self, question: str, hits: Sequence[Hit]) -> ChatRequest:
        return ChatRequest(
            messages=build_prompt(question, hits), model=self.model, temperature=0.1, max_tokens=self.max_tokens
        )

    async def answer(self, question: str, hits: Sequence[Hit]) -> Answer:
        """The whole answer at once."""
        final: Answer | None = None
        async for _, done in self.stream(question, hits):
            final = done if done is not None else final
        assert final is not None
        return final

    async def stream(self, question: str, hits: Sequence[Hit]) -> AsyncIterator[tuple[str, Answer | None]]:
        """(text delta, None) while the answer is written, then ("", the final answer).

        The final answer is authoritative: when a draft fails the support check, it replaces what was streamed with
        the extractive answer. Callers that must not show an unchecked draft (a customer chat) use the final one.
        """
        question = with_generic_days(normalise_question(question))
        confidence = confidence_of(hits)
        if not hits or confidence < self.min_score:
            answer = dont_know(confidence)
            yield answer.text, None
            yield "", answer
            return
        passages = _Passages(self.embedder, hits)
        if self.provider is not None:
            parts: list[str] = []
            model: str | None = None
            try:
                async for chunk in self.provider.stream(self._request(question, hits)):
                    model = chunk.model or model
                    if chunk.delta:
                        parts.append(chunk.delta)
                        yield chunk.delta, None
            except Exception as exc:  # the answer degrades to extractive; retrieval results stand
                _log.warning("answer_generation_failed", error=f"{type(exc).__name__}: {exc}")
            draft = "".join(parts).strip()
            supported = await _supported(passages, draft, confidence, self.support)
            if supported is not None:
                supported.model = model or self.model
                yield "", supported
                return
            if draft:
                _log.info("answer_not_grounded", chars=len(draft))
        answer = await _extractive(passages, question, confidence, max_units=2, min_similarity=self.min_sentence_score)
        if self.provider is None:
            yield answer.text, None
        yield "", answer
