"""A precomputed index over the catalog: fuzzy product matching with size rules, outlet mentions, phone lookup.

Product matching scores the item words against every product name and alias with rapidfuzz
(0.6 * token_set_ratio + 0.4 * token_sort_ratio, after correcting typos against the catalog's own vocabulary).
Sizes are compared exactly, never fuzzily: a product whose size differs from the one asked for is not a candidate.
Candidates within ``tie_margin`` of the best are a tie, and a tie is a question, never a pick.
An optional embedder only confirms a weak fuzzy match or proposes candidates for a question.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

import numpy as np
from numpy.typing import NDArray
from rapidfuzz import fuzz, process

from opsdesk.core.text import singular
from opsdesk.orders.parsing.catalog import Catalog, Outlet, Product
from opsdesk.orders.parsing.codes import (
    code_key,
    code_pattern,
    code_tails,
    number_names,
    number_pattern,
    numbered_aliases,
    numbered_pattern,
    tail_pattern,
)
from opsdesk.orders.parsing.normalise import expand_abbreviation, item_terms, whole_terms
from opsdesk.orders.parsing.outlets import OutletIndex, OutletMention
from opsdesk.orders.parsing.sizes import describe_size, size_of
from opsdesk.orders.parsing.vocabulary import FILLER_WORDS, UNIT_WORDS

_FILLER_LIST = sorted(w for w in FILLER_WORDS if len(w) >= 3)
Vector = NDArray[np.float64]
# A product code written in a message ("PB-12R 15", a code column) stands in the text as one word of letters, so
# none of its digits is read as a quantity or a size: "skucode" and the product's position with digits as letters.
CODE_WORD = "skucode"
_DIGIT_LETTERS = str.maketrans("0123456789", "abcdefghij")
_LETTER_DIGITS = str.maketrans("abcdefghij", "0123456789")


class TextEmbedder(Protocol):
    """Anything that turns texts into unit vectors (e.g. ``LocalMiniLM``)."""

    def embed_sync(self, texts: list[str]) -> list[list[float]]: ...


@dataclass(frozen=True, slots=True)
class MatchSettings:
    """Thresholds, chosen on ``tests/data/order_messages.jsonl`` (see ``bench/order_parsing.py``)."""

    accept_score: float = 80.0  # a product at or above this is taken when nothing else is close
    mention_score: float = 90.0  # a product named without a quantity must match this well to raise a question
    suggest_score: float = 62.0  # between suggest and accept: ask "did you mean …"
    tie_margin: float = 6.0  # candidates this close to the best are ambiguous
    unknown_word_penalty: float = 22.0  # per content word the catalog has never heard of
    foreign_word_penalty: float = 10.0  # per known word that none of the product's names use
    head_penalty: float = 15.0  # the phrase's head noun is not in the query, or the query's not in the phrase
    missing_size_penalty: float = 8.0  # a size was given but the product has no size of that kind
    max_candidates: int = 6
    outlet_score: float = 86.0  # fuzzy ratio for an outlet name in free text
    header_outlet_score: float = 78.0  # after "Outlet:" we know an outlet is meant
    embed_confirm: float = 0.70  # cosine at which the embedder confirms the fuzzy choice
    embed_margin: float = 0.04


class MatchStatus(StrEnum):
    MATCHED = "matched"
    AMBIGUOUS = "ambiguous"
    WEAK = "weak"
    UNKNOWN = "unknown"
    INACTIVE = "inactive"


@dataclass(frozen=True, slots=True)
class Candidate:
    product: Product
    score: float


@dataclass(frozen=True, slots=True)
class ProductMatch:
    """The outcome of matching one item description. Candidates are best first."""

    status: MatchStatus
    candidates: tuple[Candidate, ...]
    query: str

    @property
    def best(self) -> Candidate | None:
        return self.candidates[0] if self.candidates else None


@dataclass(frozen=True, slots=True)
class _Query:
    text: str  # corrected words
    described: str  # sizes and words, for the embedder
    fits: NDArray[np.bool_]  # active products whose sizes fit


class CatalogIndex:
    """Everything the parser needs from the catalog, computed once."""

    def __init__(
        self, catalog: Catalog, *, settings: MatchSettings | None = None, embedder: TextEmbedder | None = None
    ) -> None:
        self.catalog = catalog
        self.settings = settings or MatchSettings()
        self._products: list[Product] = list(catalog.products)
        self._sizes: list[dict[str, set[str]]] = []
        self._phrases: list[str] = []
        self._exact: dict[tuple[str, frozenset[str]], set[int]] = {}  # a name or alias word for word, with its sizes
        self._natural: list[str] = []
        self._owner: list[int] = []
        own_words = [{w for t in (p.name, *p.aliases) for w in item_terms(t)[0]} for p in self._products]
        for index, product in enumerate(self._products):
            sizes: dict[str, set[str]] = {}
            others = set().union(*(w for i, w in enumerate(own_words) if i != index))
            for text in (product.name, *product.aliases):
                words, size_tokens = item_terms(text)
                for token in size_tokens:
                    dimension, value = size_of(token) or ("", "")
                    sizes.setdefault(dimension, set()).add(value)
                # An alias that loses a part ("c&o crisps", "30/70 gas") and then reads as words of other products
                # ("crisps", "gas") is left out; "c-fold" still reads as its own "fold"
                lost = text is not product.name and not whole_terms(text) and set(words) <= others
                if words and not lost:
                    self._phrases.append(" ".join(words))
                    self._natural.append(text)
                    self._owner.append(index)
                    whole, _ = item_terms(text, keep_filler=True)
                    self._exact.setdefault((" ".join(whole), size_tokens), set()).add(index)
            self._sizes.append(sizes)
        self.vocabulary: frozenset[str] = frozenset(w for phrase in self._phrases for w in phrase.split())
        self._vocab_list = sorted(self.vocabulary)
        self._word_id = {word: number for number, word in enumerate(self._vocab_list)}
        self._owner_array = np.asarray(self._owner, dtype=np.intp)
        split = [phrase.split() for phrase in self._phrases]
        # phrase x word and product x word membership, and each phrase's head noun (its last word).
        self._phrase_has = np.zeros((len(split), len(self._vocab_list)), dtype=bool)
        self._product_has = np.zeros((len(self._products), len(self._vocab_list)), dtype=bool)
        self._product_heads = np.zeros((len(self._products), len(self._vocab_list)), dtype=bool)
        for number, parts in enumerate(split):
            ids = [self._word_id[w] for w in parts]
            self._phrase_has[number, ids] = True
            self._product_has[self._owner[number], ids] = True
            self._product_heads[self._owner[number], ids[-1]] = True
        self._name_words = [item_terms(p.name)[0] for p in self._products]
        self._name_sizes: list[dict[str, set[str]]] = []  # the sizes each product's own name states
        for product in self._products:
            named: dict[str, set[str]] = {}
            for token in item_terms(product.name)[1]:
                dimension, value = size_of(token) or ("", "")
                named.setdefault(dimension, set()).add(value)
            self._name_sizes.append(named)
        self._name_heads = [words[-1] if words else "" for words in self._name_words]
        self._phrase_head = np.asarray([self._word_id[parts[-1]] for parts in split])
        self._heads = frozenset(parts[-1] for parts in split)
        initials: dict[str, dict[int, list[str]]] = {}  # "cw": the products with a two- or three-word name so
        for number, parts in enumerate(split):
            if 2 <= len(parts) <= 3 and all(part.isalpha() for part in parts):
                initials.setdefault("".join(p[0] for p in parts), {}).setdefault(self._owner[number], parts)
        self._initials = {key: next(iter(owners.values())) for key, owners in initials.items() if len(owners) == 1}
        self._active = np.asarray([p.active for p in self._products])
        self._embedder = embedder
        self._phrase_vectors: NDArray[np.float32] | None = None
        if embedder is not None:
            self._phrase_vectors = _unit_rows(embedder.embed_sync(self._natural))
        self.outlets = OutletIndex(
            catalog.outlets, score=self.settings.outlet_score, lenient_score=self.settings.header_outlet_score
        )
        self._codes = code_pattern(self._products, self.vocabulary)
        self._code_index = {code_key(product.sku): index for index, product in enumerate(self._products)}
        self._number_names = number_names(self._products)  # "555" sardines: a brand written as a number
        self._numbers = number_pattern(self._number_names)
        # "kantong plastik 24", "kresek 24": a name that ends in a number; the number is the name's, not a count
        self._numbered = numbered_aliases(self._products)
        self._numbered_pattern = numbered_pattern(self._numbered)
        self._tails = code_tails(self._products)  # "10R" of "PB-10R"
        self._tail_pattern = tail_pattern(self._tails)

    # ----------------------------------------------------------------------------------------- product codes

    def mark_codes(self, text: str) -> str:
        """The text with each product code it names ("PB-12R", "pb12r") as the product's code word, and so a name
        that is a number ("sardinas 555 = 2 case", "1 case 555"; never one with a unit after it, "555 pcs")."""
        if self._numbered_pattern is not None:
            text = self._numbered_pattern.sub(self._numbered_name, text)
        if self._numbers is not None:
            text = self._numbers.sub(lambda m: _code_word(self._number_names[m.group(0)]), text)
        if self._tail_pattern is not None:
            text = self._tail_pattern.sub(lambda m: _code_word(self._tails[m.group(0).lower()]), text)
        if self._codes is None:
            return text
        return self._codes.sub(lambda m: _code_word(self._code_index[code_key(m.group(0))]), text)

    def _numbered_name(self, match: re.Match[str]) -> str:
        """ "kantong plastik 24" → "kantong plastik" and the product's code word (the 24 is never a count)."""
        words = match.group(0).split()
        return " ".join(words[:-1]) + _code_word(self._numbered[" ".join(words).lower()])

    def unmark_codes(self, text: str) -> str:
        """Code words back to the products' codes, for what is shown to the customer."""
        if CODE_WORD not in text:
            return text
        return re.sub(
            CODE_WORD + r"([a-j]+)", lambda m: self._products[int(m.group(1).translate(_LETTER_DIGITS))].sku, text
        )

    def product_for_code(self, words: Iterable[str]) -> Product | None:
        """The product whose code word is among these words (the first one), or None."""
        for word in words:
            if word.startswith(CODE_WORD) and word[len(CODE_WORD) :].isalpha():
                index = int(word[len(CODE_WORD) :].translate(_LETTER_DIGITS))
                if index < len(self._products):
                    return self._products[index]
        return None

    # ----------------------------------------------------------------------------------------------- products

    def correct(self, word: str) -> str:
        """The catalog word a typo most likely means (``linres`` → ``liner``), or the word unchanged."""
        word = expand_abbreviation(word)
        if expand_abbreviation(singular(word)) != singular(word):  # "ctrs"
            word = expand_abbreviation(singular(word))
        one = singular(word)
        if one in self.vocabulary or word in self.vocabulary or not word.isalpha():
            return one if one in self.vocabulary else word
        short = self._vowels_dropped(one)  # "chpstck", "rnd"
        if short:
            return short
        if len(word) < 4:
            return "" if self._is_filler_typo(word) else word
        for swapped in _transpositions(word):  # "cling warp": two letters swapped cost fuzzy ratio two edits
            if swapped in self.vocabulary or singular(swapped) in self.vocabulary:
                return swapped if swapped in self.vocabulary else singular(swapped)
        for first in range(3, len(word) - 2):  # a run-together compound: "pizzabox"
            if word[:first] in self.vocabulary and singular(word[first:]) in self.vocabulary:
                return f"{word[:first]} {singular(word[first:])}"
        cutoff = 80.0 if len(word) == 4 else 75.0
        found = [process.extractOne(w, self._vocab_list, scorer=fuzz.ratio, score_cutoff=cutoff) for w in (word, one)]
        best = max((f for f in found if f), key=lambda f: f[1], default=None)
        if best:
            return str(best[0])
        return "" if self._is_filler_typo(word) else one

    def _vowels_dropped(self, word: str) -> str:
        """The one catalog word this is written without its vowels ("chpstck", "rnd"): same first letter, every
        letter a consonant of it in order, at least half of its consonants (all of them for three letters), and no
        other word fits as well. Unit words ("ctn", "pkt") are not abbreviations of products."""
        if len(word) < 3 or any(c in "aeiou" for c in word[1:]) or word in UNIT_WORDS:
            return ""
        scored = []
        for candidate in self._vocab_list:
            skeleton = candidate[0] + "".join(c for c in candidate[1:] if c not in "aeiou")
            # three letters must be the whole skeleton ("rnd", "spn"), so "snd" and "pls" stay chat
            enough = len(word) == len(skeleton) if len(word) == 3 else len(word) * 2 >= len(skeleton)
            if candidate[0] == word[0] and enough and _subsequence(word, skeleton):
                scored.append((len(word) / len(skeleton), candidate))
        scored.sort(reverse=True)
        if not scored or (len(scored) > 1 and scored[1][0] == scored[0][0]):
            return ""
        return scored[0][1]

    def _is_filler_typo(self, word: str) -> bool:
        """True for misspelt small talk ("snd", "plz", "hav"), which is not an unknown product word."""
        return process.extractOne(word, _FILLER_LIST, scorer=fuzz.ratio, score_cutoff=85.0) is not None

    def match_product(self, words: Sequence[str], sizes: Iterable[str] = ()) -> ProductMatch:
        """Match item words plus size tokens against the catalog."""
        # a unit word left among the item's words ("liner - pkt x10") says nothing about the item
        kept = self._joined([w for w in words if not self._stray_unit(w)])
        corrected = " ".join(self.correct(w) for w in kept if w not in FILLER_WORDS).split()
        query = " ".join(corrected)
        if not corrected or not self._phrases:  # nothing asked, or an empty catalog
            return ProductMatch(MatchStatus.UNKNOWN, (), "")
        settings = self.settings
        known = [self._word_id[w] for w in corrected if w in self._word_id]
        # Only phrases sharing a word can score well; the rest are skipped (typos were corrected above).
        rows = np.flatnonzero(self._phrase_has[:, known].any(axis=1)) if known else np.arange(len(self._phrases))
        if rows.size == 0:
            rows = np.arange(len(self._phrases))
        chosen = [self._phrases[row] for row in rows]
        scores = process.cdist([query], chosen, scorer=fuzz.token_set_ratio, dtype=np.float32)[0] * 0.6
        scores += process.cdist([query], chosen, scorer=fuzz.token_sort_ratio, dtype=np.float32)[0] * 0.4
        # The head noun decides what a thing is: "pizza box" is not a "pizza box liner", a "cup" is not a "cup lid".
        head = self._word_id.get(corrected[-1])
        wrong_head = ~self._phrase_has[rows, head] if head is not None else np.ones(rows.size, dtype=bool)
        if not set(corrected).isdisjoint(self._heads):  # "premium" alone names no thing; "box" does
            wrong_head |= ~np.isin(self._phrase_head[rows], known)
        scores -= wrong_head * settings.head_penalty
        word_scores = np.full(len(self._products), -1.0)
        np.maximum.at(word_scores, self._owner_array[rows], scores)
        unknown = sum(1 for w in corrected if w not in self._word_id and w.isalpha() and len(w) >= 3)
        word_scores -= unknown * settings.unknown_word_penalty
        # A word the catalog knows from other products but not from this one contradicts it ("paper" for a PET cup).
        if known:
            word_scores -= settings.foreign_word_penalty * (~self._product_has[:, known]).sum(axis=1)
        if len(set(corrected)) > 1 and len(known) == len(corrected):
            # Words taken from several of one product's names ("soup takeaway tub": "500ml soup container", "500ml
            # takeaway container", "500ml round tub") name it as well as one name would, head noun included.
            whole = self._product_has[:, known].all(axis=1) & self._product_heads[:, known[-1]]
            floor = min(settings.accept_score, 100.0)  # never above a name written out in full
            word_scores = np.where(whole, np.maximum(word_scores, floor), word_scores)
        sizes = list(sizes)
        scores, fits = self._apply_sizes(word_scores, sizes)
        described = " ".join([*(describe_size(size) for size in sizes), query])
        # The catalog's own word for one product ("flour" is an alias of the all-purpose flour only) names it, even
        # where other products' names contain the word ("bread flour", "cake flour").
        named = {i for i in self._exact.get((query, frozenset(sizes)), set()) if fits[i]}
        if len(named) == 1 and scores[next(iter(named))] >= settings.accept_score:
            only = next(iter(named))
            return ProductMatch(MatchStatus.MATCHED, (self._candidate(only, scores),), query)
        return self._decide(_Query(query, described, fits), scores, word_scores)

    def same_kind(self, product: Product) -> list[Product]:
        """The products whose names end in the same thing as this one's ("Telur Ayam Peti 15kg", "Telur Ayam (tray
        of 30)", "Telur Ayam Curah per kg": all "telur ayam"): its name's first two words, or its head noun."""
        key = self._name_words[self._code_index[code_key(product.sku)]][:2]
        return (
            [p for p, words in zip(self._products, self._name_words, strict=True) if words[:2] == key]
            if key
            else [product]
        )

    def names_word(self, product: Product, word: str) -> bool:
        """True when one of the product's names or aliases uses this word (typos corrected first)."""
        known = self._word_id.get(self.correct(word))
        return known is not None and bool(self._product_has[self._code_index[code_key(product.sku)], known])

    def by_sku(self, sku: str) -> Product | None:
        """The catalog's product with this SKU, or None."""
        index = self._code_index.get(code_key(sku))
        return self._products[index] if index is not None else None

    def spelled_out(self, word: str) -> list[str]:
        """The name whose initials this unknown word is, when one product alone has such a name ("cw": cling wrap);
        else the word itself."""
        if word in self._word_id or word in FILLER_WORDS or word in UNIT_WORDS or not 2 <= len(word) <= 3:
            return [word]
        return list(self._initials.get(word, [word]))

    def ends_a_name(self, word: str) -> bool:
        """True when some product's name or alias ends in this word ("box", "liner"; not "pizza" nor "regular")."""
        return self.correct(word) in self._heads

    def naming(self, word: str) -> int:
        """How many products' names or aliases use this word (typos corrected first): the fewer, the more it says."""
        known = self._word_id.get(self.correct(word))
        return int(self._product_has[:, known].sum()) if known is not None else 0

    def head_of(self, product: Product) -> str:
        """The last word of the product's name: what kind of thing it is ("lid", "container")."""
        return self._name_heads[self._code_index[code_key(product.sku)]]

    def fits(self, product: Product, other: Product) -> bool:
        """True when the product is made for the other: a thing of another kind, named after the other's kind, of a
        measured size the other has ("16oz Dome Lid", also "16oz cup lid", for the "16oz Clear Cold Cup"; "3
        compartment lid" for the "3-Compartment Meal Tray"). Not the cup for its lid, nor one 50 L keg for another."""
        mine_at, theirs_at = (self._code_index[code_key(p.sku)] for p in (product, other))
        kind = self._word_id.get(self._name_heads[theirs_at])
        if kind is None or self._name_heads[mine_at] == self._name_heads[theirs_at]:
            return False
        if not self._product_has[mine_at, kind]:
            return False
        mine, theirs = self._sizes[mine_at], self._sizes[theirs_at]
        measured = (d for d in theirs if d in mine and d not in ("", "letter"))
        return any(mine[dimension] & theirs[dimension] for dimension in measured)

    def by_relative_size(self, candidates: Sequence[Candidate], larger: bool) -> Candidate | None:
        """Of exactly two candidates that differ in one measured size (1oz/2oz, 500/750 ml), the smaller or the
        larger: "the small sauce cup", "soup tub big". None when that does not settle it."""
        if len(candidates) != 2:
            return None
        sizes = [self._sizes[self._code_index[code_key(c.product.sku)]] for c in candidates]
        shared = [d for d in sizes[0] if d in sizes[1] and d not in ("letter", "comp") and d]
        for dimension in shared:
            values = [sizes[k][dimension] for k in (0, 1)]
            if all(len(v) == 1 for v in values):
                measured = [_measure(next(iter(v))) for v in values]
                if None not in measured and measured[0] != measured[1]:
                    pick = max if larger else min
                    return candidates[measured.index(pick(m for m in measured if m is not None))]
        return None

    def _joined(self, words: list[str]) -> list[str]:
        """Two words the catalog writes as one ("take-away", "take away" → "takeaway")."""
        joined: list[str] = []
        for word in words:
            whole = singular(joined[-1] + word) if joined else ""
            if whole in self.vocabulary and word not in self.vocabulary:
                joined[-1] = whole
            elif (
                len(whole) >= 8
                and not {singular(joined[-1]), singular(word)} & self.vocabulary
                and (fuzz.ratio(whole, fixed := self.correct(whole)) >= 85 and fixed in self.vocabulary)
            ):
                joined[-1] = fixed  # "grease proff" → "greaseproof", one letter off once written as one word
            else:
                joined.append(word)
        return joined

    def _stray_unit(self, word: str) -> bool:
        """A unit word no product name uses ("pkt", "ctn"; not "set" of "cutlery set" nor "box")."""
        return word in UNIT_WORDS and word not in self.vocabulary and singular(word) not in self.vocabulary

    def noun_for_sizes(self, sizes: Iterable[str]) -> str | None:
        """The one kind of thing sold in these sizes ('12"' → "box"), or None when several kinds are. A size in a
        product's own name counts first: "the 500ml" is the 500ml Round Container, not the lid whose alias is
        "500ml lid"."""
        wanted = [s for s in (size_of(t) for t in sizes) if s is not None]
        if not wanted:
            return None
        for by in (self._name_sizes, self._sizes):
            heads = {
                self._name_heads[index]
                for index, product_sizes in enumerate(by)
                if self._products[index].active and all(value in product_sizes.get(dim, ()) for dim, value in wanted)
            }
            if heads:
                return heads.pop() if len(heads) == 1 else None
        return None

    def _apply_sizes(self, word_scores: Vector, sizes: Iterable[str]) -> tuple[Vector, NDArray[np.bool_]]:
        """Exclude products of another size. A product without that kind of size is excluded too when products
        that have it fit the words ("16 inch pizza box" is a pizza box, not the liner), else only marked down."""
        scores = word_scores.copy()
        fits = np.ones(len(self._products), dtype=bool)
        for dimension, value in (s for s in (size_of(t) for t in sizes) if s is not None):
            has = np.asarray([dimension in sizes_ for sizes_ in self._sizes])
            family = bool(np.any(word_scores[has] >= self.settings.accept_score))
            for index, product_sizes in enumerate(self._sizes):
                if value not in product_sizes.get(dimension, {value}) or (family and dimension not in product_sizes):
                    fits[index] = False
                elif dimension not in product_sizes:
                    scores[index] -= self.settings.missing_size_penalty
        return np.where(fits, scores, -1.0), fits & self._active

    def _decide(self, query: _Query, scores: Vector, word_scores: Vector) -> ProductMatch:
        settings = self.settings
        active = np.where(self._active, scores, -1.0)
        order = np.argsort(-active, kind="stable")
        best = float(active[order[0]])
        by_words = np.where(self._active, word_scores, -1.0)
        if best < settings.accept_score and float(by_words.max()) >= settings.accept_score:
            best = -1.0  # the words fit, the size does not: offer the sizes we have (below)
        if best >= settings.suggest_score:
            margin = settings.tie_margin if best >= settings.accept_score else settings.tie_margin * 2
            near = [self._candidate(i, scores) for i in order if active[i] >= best - margin]
            near = near[: settings.max_candidates]
            if best < settings.accept_score:
                if self._embedder_confirms(query, near[0].product):
                    return ProductMatch(MatchStatus.MATCHED, (near[0],), query.text)
                return ProductMatch(MatchStatus.WEAK, tuple(near), query.text)
            status = MatchStatus.MATCHED if len(near) == 1 else MatchStatus.AMBIGUOUS
            return ProductMatch(status, tuple(near), query.text)
        inactive = np.where(self._active, -1.0, scores)
        if float(inactive.max()) >= settings.accept_score:
            return ProductMatch(MatchStatus.INACTIVE, (self._candidate(int(inactive.argmax()), scores),), query.text)
        # Nothing fits; offer what fits the words when the size was the problem ("16 inch box").
        top = float(by_words.max())
        alternatives = [
            self._candidate(int(i), word_scores)
            for i in np.argsort(-by_words, kind="stable")
            if top >= settings.accept_score and by_words[i] >= top - settings.tie_margin
        ][: settings.max_candidates]
        if not alternatives:
            alternatives = self._embedder_suggestions(query)
        return ProductMatch(MatchStatus.UNKNOWN, tuple(alternatives), query.text)

    def _candidate(self, index: int, scores: Vector) -> Candidate:
        return Candidate(self._products[int(index)], round(float(scores[int(index)]), 1))

    def _embedder_scores(self, query: _Query) -> Vector | None:
        """Cosine similarity per product (best alias) for products that fit the sizes asked for; -1 elsewhere."""
        if self._embedder is None or self._phrase_vectors is None:
            return None
        vector = _unit_rows(self._embedder.embed_sync([query.described]))[0]
        per_phrase = self._phrase_vectors @ vector
        per_product = np.full(len(self._products), -1.0)
        np.maximum.at(per_product, self._owner_array, per_phrase)
        return np.where(query.fits, per_product, -1.0)

    def _embedder_confirms(self, query: _Query, product: Product) -> bool:
        """True when the embedder clearly prefers the same product as the (weak) fuzzy best."""
        sims = self._embedder_scores(query)
        if sims is None:
            return False
        order = np.argsort(-sims)
        first, second = float(sims[order[0]]), float(sims[order[1]])
        return (
            self._products[int(order[0])].sku == product.sku
            and first >= self.settings.embed_confirm
            and first - second >= self.settings.embed_margin
        )

    def _embedder_suggestions(self, query: _Query) -> list[Candidate]:
        sims = self._embedder_scores(query)
        if sims is None:
            return []
        order = np.argsort(-sims)[:3]
        return [Candidate(self._products[int(i)], round(float(sims[i]) * 100, 1)) for i in order if sims[i] >= 0.5]

    # ------------------------------------------------------------------------------------------------ outlets

    def find_outlets(self, line: str, line_number: int = 0, *, lenient: bool = False) -> list[OutletMention]:
        """Outlets named in one line of lower-case text (see ``OutletIndex.find``)."""
        return self.outlets.find(line, line_number, lenient=lenient)

    def outlet_by_phone(self, phone: str | None) -> Outlet | None:
        """The outlet that registered this phone number, in any common format."""
        return self.outlets.by_phone(phone)


def _code_word(index: int) -> str:
    """The code word standing for the product at this index in the text (digits written as letters)."""
    return f" {CODE_WORD}{str(index).translate(_DIGIT_LETTERS)} "


def _measure(value: str) -> float | None:
    """The number of a size value ("12", "500ml", "1oz")."""
    digits = "".join(c for c in value if c.isdigit() or c == ".")
    try:
        return float(digits) if digits else None
    except ValueError:
        return None


def _subsequence(short: str, long: str) -> bool:
    letters = iter(long)
    return all(c in letters for c in short)


def _transpositions(word: str) -> list[str]:
    """The word with each pair of neighbouring letters swapped."""
    return [word[:i] + word[i + 1] + word[i] + word[i + 2 :] for i in range(len(word) - 1) if word[i] != word[i + 1]]


def _unit_rows(vectors: Sequence[Sequence[float]]) -> NDArray[np.float32]:
    matrix = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    unit: NDArray[np.float32] = matrix / np.maximum(norms, 1e-9)
    return unit


def confidence(score: float) -> float:
    """A 0..1 confidence from a 0..100 match score."""
    return round(min(1.0, max(0.0, score / 100.0)), 3) if math.isfinite(score) else 0.0
