"""What a passage says, in pieces an answer can quote, and whether a written sentence is supported by them.

* `passage_units` turns a chunk into units: a sentence of prose, a whole list item (its conditions stay with it: a
  lead-in ending in ":" keeps its sub-items), or a table row written as a sentence with its header
  ("Order amount (before GST) below SGD 150 — delivery fee: SGD 18 per delivery.", also scored by its value alone);
  a unit that lists cases under a head ("Never returnable: special-order items; opened cartons …; …") is also scored
  by each case under its head.
  Headings and FAQ questions are not units; they are the context each unit is scored under. A list item that
  qualifies the items before it ("these windows …") is found by `refers_back`.
* `sentence_support` says whether one sentence a model wrote is backed by a unit: close in meaning (MiniLM cosine),
  its content words found around the unit, and nothing the passage does not carry — every number, amount, time and
  percentage, a negation exactly when the passage has one, and "unless/except/only" only when the passage says so.
* `plain` strips markup (markdown emphasis, headings, table pipes, bracketed tags and citation marks) from text
  meant for a customer.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

_PARAGRAPH = re.compile(r"\n[ \t]*\n")
_BULLET = re.compile(r"^([ \t]*)(?:[-*+\u2022]|\d{1,2}[.)])[ \t]+(.*)$")
_SENTENCE = re.compile(r"(?<=[.!?])[\"']?\s+(?=[A-Z0-9\"'(\[])")
_EMPHASIS = re.compile(r"\*\*|__|`")
_CODE = re.compile(r"`[^`\n]+`")
_TABLE_RULE = re.compile(r"^[\s|:\-]+$")
_HEADING_CHARS = 80
_MIN_UNIT = 12
_LONG_ITEM = 420  # a list item longer than this is quoted by its sentences (neighbours still travel together)
_MAX_TABLE_ROWS = 8  # a table this small is quoted whole: its rows are each other's conditions (fee tiers)

_WORD = re.compile(r"[a-z]+(?:'[a-z]+)?|\d+(?:[.,:]\d+)*")
_NUMBER = re.compile(r"\d+(?:[.,:]\d+)*")
_NEGATIONS = frozenset({"no", "not", "never", "none", "nothing", "cannot", "without", "nor", "neither"})
_QUALIFIERS = frozenset({"unless", "except", "only"})
# Words a following sentence starts with when it qualifies or continues the one before it.
_CONTINUES = frozenset(
    {
        "if", "unless", "except", "only", "but", "however", "otherwise", "this", "that", "these", "those", "it",
        "its", "they", "their", "such", "so", "then", "also", "until", "without", "smaller", "larger", "later",
        "earlier", "above", "below", "beyond", "after", "once",
    }
)  # fmt: skip
_BACK_REFERENCES = frozenset({"these", "those", "such"})
_REFERENCE_REACH = 6  # words: a back reference this early in an item is about the items before it
FUNCTION_WORDS = frozenset(
    {
        "a", "an", "and", "are", "as", "at", "be", "been", "but", "by", "can", "could", "do", "does", "for", "from",
        "had", "has", "have", "if", "in", "into", "is", "it", "its", "may", "might", "must", "of", "on", "or", "our",
        "so", "than", "that", "the", "their", "them", "then", "there", "these", "they", "this", "to", "was", "we",
        "were", "which", "will", "with", "would", "you", "your", "yes", "i", "me", "my", "us", "also", "any", "all",
        "please", "just", "get", "got", "what", "when", "how", "who", "where", "why",
    }
)  # fmt: skip
_MARKUP = (
    (re.compile(r"\[\d{1,2}(?:\s*[,;]\s*\d{1,2})*\]"), " "),  # citation marks [1], [1, 2]
    (re.compile(r"\[[^\]\n]{0,40}\]"), " "),  # bracketed tags a model invents: [POLICY], [Answer]
    (re.compile(r"<\|?[^>\n]{0,40}\|?>"), " "),  # chat-template and HTML tags
    (re.compile(r"^\s{0,3}#{1,6}\s+", re.MULTILINE), ""),  # markdown headings
    (re.compile(r"^\s*[-*+\u2022]\s+", re.MULTILINE), ""),  # bullets
    (re.compile(r"\s*\|\s*"), " "),  # table pipes
    (re.compile(r"\*\*|__|`|(?<!\w)\*(?!\s)|(?<!\s)\*(?!\w)"), ""),  # emphasis and code marks
    (re.compile(r"[\"\u201c\u201d]"), ""),  # quotation marks around quoted passages
)


@dataclass(frozen=True)
class Unit:
    """One quotable piece of a passage."""

    text: str  # plain prose, no markup
    context: str  # the heading (or FAQ question) it is under
    group: int  # units of one paragraph, list item or table share a group
    kind: str  # sentence | item | row | lead (a table's introducing sentence)
    code: bool = False  # it shows a command or code
    parts: tuple[str, ...] = ()  # its sentences, when it has more than one (each is scored too)
    block: int = 0  # units of one paragraph, list or table share a block (a list's items are groups of it)

    def scored_texts(self) -> list[str]:
        """What is compared with a question: the unit and each of its sentences, under its context."""
        prefix = f"{self.context}: " if self.context else ""
        return [prefix + text for text in (self.text, *self.parts)]


def plain(text: str) -> str:
    """Customer-facing text: no markdown, table pipes, bracketed tags, citation marks or quotation marks."""
    for pattern, replacement in _MARKUP:
        text = pattern.sub(replacement, text)
    text = re.sub(r"\s+([.,;:!?])", r"\1", text)
    return " ".join(text.split())


def is_heading(paragraph: str) -> bool:
    """A one-line paragraph with no sentence ending ("Delivery days and time slots"): a title, not an answer."""
    line = paragraph.strip()
    return "\n" not in line and len(line) <= _HEADING_CHARS and not line.endswith((".", "!", "?", ":", '"', ")"))


def _clean(text: str) -> str:
    return " ".join(_EMPHASIS.sub("", text).split())


def _sentences(text: str) -> list[str]:
    return [part for part in (_clean(piece) for piece in _SENTENCE.split(_EMPHASIS.sub("", text))) if part]


def _cells(line: str) -> list[str]:
    return [cell.strip() for cell in line.strip().strip("|").split("|")]


def _is_table(paragraph: str) -> bool:
    lines = [line for line in paragraph.strip().splitlines() if line.strip()]
    return len(lines) >= 2 and all("|" in line for line in lines) and len({len(_cells(line)) for line in lines}) == 1


def row_sentence(header: Sequence[str], row: Sequence[str]) -> str:
    """A table row as a sentence that names its columns: "Order amount below SGD 150 — delivery fee: SGD 18."."""
    key = f"{header[0]} {row[0]}".strip() if header and header[0] else row[0]
    parts = []
    for name, cell in zip(header[1:], row[1:], strict=False):
        if not cell:
            continue
        named = not name or set(words(name)) <= set(words(cell))
        parts.append(cell if named else f"{name}: {cell}")
    sentence = f"{key} — {'; '.join(parts)}" if parts else key
    sentence = _clean(sentence)
    sentence = sentence[:1].upper() + sentence[1:]
    return sentence if sentence.endswith((".", "!", "?")) else sentence + "."


def row_value(header: Sequence[str], row: Sequence[str]) -> str:
    """What a table row gives, with its columns' names and without its key ("delivery fee: SGD 18 per delivery"):
    a row is also scored by this, since the key's figures and conditions blur its meaning for a sentence model (a
    question about a delivery charge came closer to the minimum order rule than to the fee table's rows)."""
    parts = [f"{name}: {cell}" if name else cell for name, cell in zip(header[1:], row[1:], strict=False) if cell]
    return _clean("; ".join(parts))


def _items(paragraph: str) -> list[tuple[int, str]] | None:
    """(indent, text) of each list item of a paragraph, or None when it is not a list."""
    items: list[tuple[int, str]] = []
    for line in paragraph.splitlines():
        match = _BULLET.match(line)
        if match:
            items.append((len(match.group(1).expandtabs(4)), match.group(2)))
        elif items and line.strip():
            indent, text = items[-1]
            items[-1] = (indent, f"{text} {line.strip()}")
        elif line.strip():
            return None
    return items or None


def _grouped_items(items: list[tuple[int, str]]) -> list[str]:
    """List items with their sub-items: a lead-in ending in ":" keeps the items below it (deeper, or a run of
    items ending in ";" — a chunk boundary can lose the indentation)."""
    grouped: list[str] = []
    index = 0
    while index < len(items):
        indent, text = items[index]
        index += 1
        if text.rstrip().endswith(":"):
            parts = [text.rstrip()]
            while index < len(items):
                sub_indent, sub = items[index]
                if sub_indent > indent or parts[-1].endswith(";") or len(parts) == 1:
                    parts.append(sub.strip())
                    index += 1
                else:
                    break
            text = " ".join(parts)
        grouped.append(text)
    return grouped


_HEAD = re.compile(r"^(?P<head>[^:.;!?]{3,60}):\s+(?P<rest>.+)$")


def _outside_brackets(text: str, mark: str) -> list[str]:
    """`text` cut at each `mark` that is outside brackets, pieces stripped of punctuation at their ends."""
    pieces, depth, start = [], 0, 0
    for position, char in enumerate(text):
        if char in "([":
            depth += 1
        elif char in ")]":
            depth = max(0, depth - 1)
        elif char == mark and depth == 0:
            pieces.append(text[start:position])
            start = position + 1
    pieces.append(text[start:])
    return [piece.strip(" .;,") for piece in pieces if piece.strip(" .;,")]


def members(sentence: str) -> list[str]:
    """A "Head: case; case; case" sentence as one "Head: case" per case ("Never returnable: opened cartons of cups
    …"), else nothing: a lead-in's cases each read as a rule of their own, which the whole list blurs for a sentence
    model ("already opened 1 carton, can return?" and three kinds of never-returnable goods)."""
    match = _HEAD.match(sentence)
    if match is None:
        return []
    cases = _outside_brackets(match.group("rest"), ";")
    return [f"{match.group('head')}: {case}" for case in cases] if len(cases) >= 2 else []


def _with_members(unit: Unit) -> Unit:
    found = [member for sentence in (unit.parts or (unit.text,)) for member in members(sentence)]
    return replace(unit, parts=(*unit.parts, *found)) if found else unit


def passage_units(text: str, heading: str = "", titles: Sequence[str] = ()) -> list[Unit]:
    """The quotable units of a chunk (see the module docstring); `heading` is the one the chunk starts under, and
    a paragraph that is one of `titles` (the document's and its sections') is a heading whatever its punctuation.
    A "Head: case; case" unit is also scored by each case under its head (`members`)."""
    return [_with_members(unit) for unit in _units(text, heading, titles)]


def _units(text: str, heading: str, titles: Sequence[str]) -> list[Unit]:
    units: list[Unit] = []
    group = 0
    block = 0
    lead: int | None = None  # the index of a one-sentence paragraph, which introduces a table that follows
    for paragraph in _PARAGRAPH.split(text):
        if not paragraph.strip():
            continue
        if is_heading(paragraph) or _clean(paragraph) in titles:
            heading, lead = _clean(paragraph), None
            continue
        group += 1
        block += 1
        if _is_table(paragraph):
            rows = [_cells(line) for line in paragraph.strip().splitlines() if not _TABLE_RULE.match(line)]
            if lead is not None:
                units[lead] = replace(units[lead], group=group, kind="lead", block=block)
            units.extend(
                Unit(row_sentence(rows[0], row), heading, group, "row", parts=(row_value(rows[0], row),), block=block)
                for row in rows[1:]
            )
            lead = None
            continue
        items = _items(paragraph)
        if items is not None:
            for item in _grouped_items(items):
                group += 1
                code = bool(_CODE.search(item))
                sentences = _sentences(item)
                if len(item) <= _LONG_ITEM:
                    parts = tuple(sentences) if len(sentences) > 1 else ()
                    units.append(Unit(_clean(item), heading, group, "item", code, parts, block))
                else:
                    units.extend(
                        Unit(s, heading, group, "sentence", code, block=block) for s in sentences if len(s) >= _MIN_UNIT
                    )
            lead = None
            continue
        context, code, first = heading, bool(_CODE.search(paragraph)), len(units)
        for sentence in _sentences(paragraph):
            if sentence.endswith("?"):  # an FAQ question: the context of its answer, never the answer
                context = f"{heading} — {sentence}" if heading else sentence
            elif len(sentence) >= _MIN_UNIT:
                units.append(Unit(sentence, context, group, "sentence", code, block=block))
        lead = first if len(units) == first + 1 else None
    return units


def continues(sentence: str) -> bool:
    """Does this sentence qualify or continue the one before it ("If …", "Unless …", "Smaller orders …")?"""
    said = words(sentence)
    return bool(said) and said[0] in _CONTINUES


def refers_back(item: str) -> bool:
    """Does this list item qualify the items before it: it continues them ("Unless …"), or names them early on
    ("Reports made later than these windows …", "Such items …")?"""
    return continues(item) or bool(set(words(item)[:_REFERENCE_REACH]) & _BACK_REFERENCES)


# --- the support check --------------------------------------------------------------------------------------------


def words(text: str) -> list[str]:
    """A text's lower-cased words and numbers."""
    return _WORD.findall(text.lower().replace("\u2019", "'"))


def _stem(word: str) -> str:
    """A light stem, enough to match "refunds"/"refund", "delivered"/"deliver", "charges"/"charged"."""
    if word.isdigit() or len(word) <= 4:
        return word
    for suffix in ("ing", "ies", "ed", "es", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)] + ("y" if suffix == "ies" else "")
    return word


def content_words(text: str) -> set[str]:
    """The stems of a text's words that carry content (numbers included)."""
    return {_stem(word) for word in words(text) if word not in FUNCTION_WORDS and "'" not in word}


def numbers(text: str) -> set[str]:
    """Every number of a text (amounts, times, percentages, counts), thousands separators dropped."""
    return {number.replace(",", "").rstrip(".") for number in _NUMBER.findall(text)}


def _negated(text: str) -> bool:
    said = set(words(text))
    return bool(said & _NEGATIONS) or any(word.endswith("n't") for word in said)


@dataclass(frozen=True)
class SupportRule:
    """Thresholds of the support check (docs/answers.md says how they were chosen)."""

    min_similarity: float = 0.6  # MiniLM cosine between the sentence and its best passage unit
    min_coverage: float = 0.85  # share of the sentence's content words found around that unit


def sentence_support(
    sentence: str, similarity: np.ndarray, candidates: Sequence[tuple[str, str]], rule: SupportRule
) -> int | None:
    """The index of the candidate (unit, the text around it) that supports `sentence`, or None; `similarity` is
    the sentence's MiniLM cosine to each candidate.

    A candidate supports it when the unit is close in meaning, the text around the unit holds the sentence's
    content words, all its numbers and any "unless/except/only", and sentence and unit agree on negation.
    """
    wanted = content_words(sentence)
    if not wanted:
        return None
    wanted_numbers = numbers(sentence)
    qualifiers = set(words(sentence)) & _QUALIFIERS
    negated = _negated(sentence)
    for index in np.argsort(-similarity).tolist():
        if float(similarity[index]) < rule.min_similarity:
            break
        unit, around = candidates[index]
        if _negated(unit) != negated or not wanted_numbers <= numbers(around):
            continue
        if not qualifiers <= set(words(around)):
            continue
        if len(wanted & content_words(around)) / len(wanted) >= rule.min_coverage:
            return int(index)
    return None


def restates(question: str, sentence: str) -> bool:
    """Does the sentence merely quote the question (a how-to line that mentions it, not its answer)?"""
    asked = words(question)
    if len(asked) < 3:
        return False
    return f" {' '.join(asked)} " in f" {' '.join(words(sentence))} "


# Chat shorthand spelled out before a question is embedded or searched: MiniLM and the keyword index only know the
# long forms ("wat do i do" lands far from "What to do when …"). Only unambiguous, common forms.
_SHORTHAND = {
    "u": "you",
    "ur": "your",
    "r": "are",
    "pls": "please",
    "plz": "please",
    "wat": "what",
    "wht": "what",
    "wats": "what's",
    "whats": "what's",
    "hw": "how",
    "abt": "about",
    "cos": "because",
    "coz": "because",
    "cuz": "because",
    "tmr": "tomorrow",
    "tmrw": "tomorrow",
    "tmw": "tomorrow",
    "b4": "before",
    "nxt": "next",
    "msg": "message",
    "qty": "quantity",
    "amt": "amount",
    "hv": "have",
    "thx": "thanks",
    "dont": "don't",
    "cant": "can't",
    "wont": "won't",
    "didnt": "didn't",
    "doesnt": "doesn't",
    "isnt": "isn't",
    "im": "I'm",
    "ive": "I've",
    "todays": "today's",
    "w/": "with",
    "w/o": "without",
    "asap": "as soon as possible",
    "mins": "minutes",
    "hrs": "hours",
    "pcs": "pieces",
    "ctn": "carton",
    "ctns": "cartons",
}
_SHORTHAND_WORD = re.compile(r"(?<![\w/\-])(w/o|w/|[a-z0-9]+)(?![\w/\-])", re.IGNORECASE)


def normalise_question(question: str) -> str:
    """The question with chat shorthand spelled out ("wat r ur fees" -> "what are your fees"); else unchanged."""

    def spell(match: re.Match[str]) -> str:
        word = match.group(1)
        return _SHORTHAND.get(word.lower(), word)

    return " ".join(_SHORTHAND_WORD.sub(spell, question).split())


# Where a customer's message moves to its next ask: a question mark, a comma or semicolon, or a joining word
# ("who approves n how fast", "lid same as the round one? how many per carton").
_ASK_BREAK = re.compile(r"\?+|[,;]|\s(?:n|and|&|also|but|or|plus)\s", re.IGNORECASE)
_ASKING = frozenset({"who", "what", "when", "where", "which", "why", "how"})


_CLAUSE_WORDS = 3  # a part this long around a single content word states a condition of its own ("we are on sentosa")


def _asks_something(part: str) -> bool:
    found = words(part)
    content = sum(1 for word in found if word not in FUNCTION_WORDS)
    return content >= 2 or (content == 1 and (len(found) >= _CLAUSE_WORDS or any(word in _ASKING for word in found)))


def question_asks(question: str) -> list[str]:
    """The parts of a question that each ask something or state a condition of their own (two content words; or one,
    after "who", "how" … or in a clause of three words or more: "we are on sentosa"), when there are two or more
    ("need a slot for our event, who approves n how fast" -> all three parts); else none."""
    parts = [part.strip() for part in _ASK_BREAK.split(question) if part and part.strip()]
    asks = [part for part in parts if _asks_something(part)]
    return asks if len(asks) >= 2 else []
