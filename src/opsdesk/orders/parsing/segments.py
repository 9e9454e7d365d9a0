"""Reading lines into item mentions: where one item ends, which number is its quantity, which words name it.

A line is split at commas, semicolons and conjunctions; a piece that still holds several quantities is cut at
each quantity ("2 ctn lids 3 ctn cups", "lids x 2 cups x 3"). A quantity is a number with a unit word
(``5 ctn``, ``200 pcs``), a marked number (``x 5``, ``5x``, ``qty: 5``, ``- 5``) or a bare number. Sizes, prices,
phone numbers, times, dates and pack hints are taken out first, so they are never quantities.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace

from opsdesk.orders.parsing.normalise import (
    NAMED_CODE,
    ODD_NUMBER,
    extract_pack_hint,
    join_compounds,
    strip_noise,
    tokens,
    weight_token,
    words_to_digits,
)
from opsdesk.orders.parsing.sizes import SIZE_PREFIX, describe_size, extract_sizes
from opsdesk.orders.parsing.vocabulary import (
    CASE_UNITS,
    COUNT_UNIT_PATTERN,
    COUNT_UNITS,
    FILLER_WORDS,
    OF_UNITS,
    PIECE_UNITS,
    UNIT_WORDS,
    VESSEL_UNITS,
    WEIGHT_UNITS,
    UnitKind,
)

# Where one item ends: sentence ends, commas, semicolons, "and" (not in "two hundred and fifty"), &, +, also, n.
_COUNT_WITH_UNIT = r"\d+(?:\.\d+)?\s*" + COUNT_UNIT_PATTERN + r"\b"
_NUMBER_WORDS = "(?:a|an|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|fifteen|twenty)"
_SPLIT = re.compile(
    r"\s*(?:(?<!\bno)[.!?]+(?=\s|$)|[,;]|(?<!hundred)(?<!thousand)\s+and\s+|&"
    # "+" joins two items, but "10 bdl + 200 pcs" is one count in two units
    rf"|\s\+\s(?!{_COUNT_WITH_UNIT})"
    # "also" joins two items, but in "lid also 4" the count after it is the lid's
    rf"|\balso\b(?!\s*(?:\d+(?:\.\d+)?|{_NUMBER_WORDS})\s*(?:{COUNT_UNIT_PATTERN})?\s*$)|\bplus\b|\sn\s|\bthen\b)\s*"
)
_MARKERS = frozenset({"x", "*", ":", "=", "-", "qty", "quantity"})
_UNFILLED = frozenset({"", "-", "--", "0", "nil", "na", "n/a", "none", "nope", "no", "x", "/"})
# "the two ounce one", "the large one": "one" after a size or a kind stands for the item, it is not a count
_PRONOUN_ONE = re.compile(
    r"\b((?:oz|ounces?|ml|inch(?:es)?|small|medium|large|big|regular|premium|kraft|plain|white|brown|clear|round)"
    r"|(?<=\bthe )[a-z]{3,})"  # "the plastic one", "the bigger one"
    r"\s+one\b(?!\s*(?:" + "|".join(sorted(UNIT_WORDS)) + r")\b)"
)
# "yesterday one ok, confirm", "this one separate", "next one for SR JP", "the Fri one": an order, never a count
_ORDER_ONE = re.compile(
    r"\b(?:this|that|next|last|previous|earlier|other|first|second|yesterday'?s?|today'?s?|tomorrow'?s?|tmr|week|month|"
    r"mon|tue|tues|wed|thu|thur|thurs|fri|sat|sun|monday|tuesday|wednesday|thursday|friday|saturday|sunday)"
    r"\s+(one)\b(?!\s*(?:" + "|".join(sorted(UNIT_WORDS)) + r")\b)"
)
# "soup tub, the bigger one - 3 ctn": the comma before "the … one" does not start another item
_QUALIFIER = re.compile(r",(?=\s*the\s+[a-z]{3,}\s+one\b)")
_BRACKETS = re.compile(r"\([^()]*\)")
_NOT_A_COUNT = re.compile(
    r"(?:s?\$|sgd)\s*\d+(?:\.\d+)?\s*(?:worth)|worth\s+(?:of\s+)?(?:s?\$|sgd)\s*\d+(?:\.\d+)?"
    r"|enough\s+for\s+(?:\d+\s*|a\s+|one\s+|two\s+|three\s+|the\s+|this\s+|next\s+)?(?:days?|weeks?|months?|weekend)"
    r"|\b(?:double|triple|twice|half)\s+(?:of\s+)?(?:the\s+|our\s+)?(?:usual|normal|last\s+(?:time|week|order))"
    r"|\bsame\s+(?:qty|quantity|amount)\s+as\b[^,;]*"
    # "still have 2 rolls": what the outlet has, not what it orders
    r"|\bstill\s+(?:have|has|got)\s+\d+(?:\.\d+)?(?:\s*[a-z]+)?"
    # "napkin 3 ctn, 2 sure not enough": why the count changed, not another count
    r"|\b\d+\s+(?:(?:sure|surely|definitely|confirm|also|still|is|are|will|be)\s+)*not\s+enough\b"
)
_ASIDE = re.compile(r"\s*\([^()]*\)\s*$")
# "napkin 2 ctn x 3 weeks": two cartons for each of three weeks
_TIMES_WEEKS = re.compile(
    r"\b(\d{1,3})\s*(" + COUNT_UNIT_PATTERN + r")\s*[x*]\s*(\d{1,2})\s*(?:weeks?|wks?|deliveries)\b"
)
_CHANGE_TO = re.compile(
    r"\b(?:change|switch|swap|replace)\s+(?P<old>(?:the\s+|my\s+|our\s+)?[^,;]+?)\s+(?:to|with|into)\s+(?=\S)"
    # "the 750ml container change to 500ml", "dome lid swap to 12oz sip lid"
    r"|(?P<before>[^,;]+?)\s+(?:change|changed|switch|swap|swapped|replace)\s+(?:it\s+)?(?:to|with|into)\s+(?=\S)"
)
# "cling wrap 1 ctn - price same as last month?": a spaced dash after a count and its unit starts another piece
_DASH_AFTER_COUNT = re.compile(r"(\d\s*" + COUNT_UNIT_PATTERN + r")\s-\s(?!\d)")
_MAKE_IT = re.compile(r"\bmake\s+(?:it|that|them)\b")
_BARE_COUNT = re.compile(r"\(\s*(\d{1,4})\s*\)")
_TEMPLATE = re.compile(r"^(?P<name>[^:=]*[a-z][^:=]*?)\s*[:=]\s*(?P<value>[^:=]*)$")
_TEMPLATE_ANY_CASE = re.compile(r"^(?P<name>[^:=]*[a-zA-Z][^:=]*?)\s*[:=]\s*(?P<value>[^:=]*)$")


@dataclass(frozen=True, slots=True)
class Quantity:
    """A number read as a quantity; ``unit`` is None for a bare number."""

    value: float
    unit: UnitKind | None = None
    written: str = ""
    more: Quantity | None = None  # "10 bdl + 200 pcs": the second part of one count in two units


@dataclass(slots=True)
class Reading:
    """One item mention: the words that name it, its sizes, its quantity (if any), and where it came from."""

    span: str
    line: int
    words: list[str] = field(default_factory=list)
    sizes: list[str] = field(default_factory=list)
    quantity: Quantity | None = None
    each: bool = False
    pack_hint: int | None = None
    template: bool = False
    borrowed: bool = False
    context_only: bool = False  # a group heading such as "Pizza boxes:" — lends its words, orders nothing
    remark: bool = False  # from a line that is the customer's note, not an order line
    odd_number: str = ""  # a count that is not a plain whole number ("-5", "0x10", "1e9"): asked about, never read
    section_sizes: list[str] = field(default_factory=list)  # the sizes of the form's section heading above
    cancels: bool = False  # from a line that takes the item out ("cancel the liners")
    corrects: bool = False  # from a line that corrects a count said before ("scratch that, make it 4")
    same_count: bool = False  # "same" stands for the count ("lids same"; "same" under "medium also")

    @property
    def content_words(self) -> list[str]:
        return [w for w in self.words if w not in FILLER_WORDS and not w.isdigit()]


@dataclass(frozen=True, slots=True)
class TemplateLine:
    """``name: value``. ``is_quantity``: the value is only a quantity (an order-form line); ``unfilled``: empty/nil."""

    name: str
    value: str
    is_quantity: bool
    unfilled: bool


def split_template(line: str, *, any_case: bool = False) -> TemplateLine | None:
    """Split ``10" Regular Box (100/bundle): 600`` into name and value; None when the line has no ``:`` or ``=``, or
    (unless ``any_case``) when the name is all capitals (a form's heading: "PIZZA BOXES:")."""
    match = (_TEMPLATE_ANY_CASE if any_case else _TEMPLATE).match(line.strip())
    if match is None:
        return None
    value = match.group("value").strip()
    unfilled = value.strip(" .!").lower() in _UNFILLED
    return TemplateLine(match.group("name").strip(), value, unfilled or _only_quantity(value), unfilled)


def _only_quantity(value: str) -> bool:
    toks = tokens(extract_sizes(words_to_digits(strip_noise(value.lower()))))
    numbers = [t for t in toks if _is_number(t)]
    rest = [t for t in toks if not _is_number(t)]
    allowed = UNIT_WORDS | FILLER_WORDS | _MARKERS
    return len(numbers) == 1 and all(t in allowed for t in rest)


def read_line(line: str, number: int, *, template: bool = False) -> list[Reading]:
    """Item readings of one line (already free of outlet names). An order-form line is one item, never split."""
    lower = line.lower()
    if len(lower) != len(line):  # a few characters change length in lower case; spans then show lower case
        line = lower
    lower = _TIMES_WEEKS.sub(_multiplied, lower)
    aside = _ASIDE.search(lower)
    if aside and re.search(_COUNT_WITH_UNIT + r"\s*$", lower[: aside.start()]):
        # "750ml round tub 6 ctn (salad base)": brackets after the count say what it is for, not what it is
        lower = lower[: aside.start()] + " " * len(aside.group(0))
    swapped = None if template else _CHANGE_TO.search(lower)
    old = ("old" if swapped.group("old") is not None else "before") if swapped else ""
    named = [tokens(extract_sizes(part)) for part in (swapped.group(old), lower[swapped.end() :])] if swapped else []
    if swapped and all(_has_content([t for t in part if not _is_number(t) and t not in UNIT_WORDS]) for part in named):
        # "change the 12" kraft box to 14" kraft box, same 10 bdl": the one named first goes, the other comes
        gone = read_line(line[swapped.start(old) : swapped.end(old)], number)
        for reading in gone:
            reading.cancels = True
        come = read_line(line[swapped.end() :], number)
        for reading in come:
            reading.corrects = True
        return [*gone, *come]
    vague = _NOT_A_COUNT.search(lower)
    if vague:  # "$200 worth of napkins", "enough for 2 weeks", "double the usual": asked about, never read as a count
        lower = lower[: vague.start()] + " " * len(vague.group(0)) + lower[vague.end() :]
    lower = _ORDER_ONE.sub(lambda m: m.group(0)[: m.start(1) - m.start()] + "   ", lower)
    lower = _BRACKETS.sub(lambda m: m.group(0).replace(",", " "), _without_pronoun_one(lower))  # "(bamboo, wrapped)"
    lower = _DASH_AFTER_COUNT.sub(lambda m: m.group(1) + " ; ", lower)
    unhinted = lower
    lower, hint = extract_pack_hint(lower)
    lower = strip_noise(lower)
    readings = _read_pieces(line, lower, number, hint, template=template)
    if vague:
        for reading in readings:
            if reading.quantity is None and (reading.content_words or reading.sizes):
                reading.odd_number = " ".join(vague.group(0).split())
        return readings
    if hint is not None and _BARE_COUNT.search(unhinted) and all(r.quantity is None for r in readings):
        # "500ml lid (3)": a number in brackets is the count when the line has no other
        opened = _BARE_COUNT.sub(lambda m: m.group(0).replace("(", " ").replace(")", " "), unhinted)  # same length
        readings = _read_pieces(line, strip_noise(opened), number, None, template=template)
    return readings


def _without_pronoun_one(lower: str) -> str:
    """ "the two ounce one, two carton": "one" after a size or a kind stands for the item when the line counts it
    elsewhere; alone ("the 12 inch one", an answer to "which one?") it is still read as one."""
    found = _PRONOUN_ONE.search(lower)
    if found is None:
        return lower
    folded = _QUALIFIER.sub(" ", lower)
    blanked = _PRONOUN_ONE.sub(lambda m: m.group(1) + " " * (len(m.group(0)) - len(m.group(1))), folded)
    return blanked if re.search(_COUNT_WITH_UNIT, words_to_digits(blanked)) else lower


def _read_pieces(line: str, lower: str, number: int, hint: int | None, *, template: bool) -> list[Reading]:
    readings: list[Reading] = []
    if template:
        readings = _read_piece(line, lower, number, hint)
        for reading in readings:
            reading.template = True
        return readings
    start = 0
    for match in [*_SPLIT.finditer(lower), None]:
        end = match.start() if match else len(lower)
        if lower[start:end].strip():
            readings.extend(_read_piece(line[start:end].strip(), lower[start:end], number, hint))
        start = match.end() if match else start
    return readings


def _read_piece(span: str, lower: str, number: int, hint: int | None) -> list[Reading]:
    lower = _MAKE_IT.sub(lambda m: " " * len(m.group(0)), lower)  # "12" box make it 14 bdl" corrects a count
    lower = words_to_digits(lower)  # "three or four bundle" is a range too
    odd = ODD_NUMBER.search(lower)
    if odd:
        # A placeholder count keeps a following unit word ("1e9 bdl") out of the item's name; it is never used.
        lower = lower[: odd.start()] + "0".rjust(len(odd.group(0))) + lower[odd.end() :]
    toks = tokens(extract_sizes(words_to_digits(join_compounds(lower))))
    elements: list[Quantity | str] = []
    index = 0
    while index < len(toks):
        quantity, index = _quantity_at(toks, index)
        if quantity is not None:
            elements.append(quantity)
        else:
            elements.append(toks[index])
            index += 1
    groups = _group(_weights_as_names(elements))
    readings = []
    for group in groups:
        text = span if len(groups) == 1 else _join(group)
        reading = Reading(span=" ".join(text.split()).strip(" :=-,;."), line=number, pack_hint=hint)
        reading.odd_number = " ".join(odd.group(0).split()) if odd else ""
        heading: list[str] = []
        before: list[str] = []
        after: list[str] = []
        for element in group:
            if isinstance(element, Quantity):
                reading.quantity = element
            elif element.startswith(SIZE_PREFIX):
                reading.sizes.append(element)
            elif element == "each":
                reading.each = True
            elif element == ":" and reading.quantity is None:
                heading, before = heading + before, []
            elif (
                (element.isalpha() and len(element) > 1) or NAMED_CODE.fullmatch(element)
            ) and element not in _MARKERS:
                (after if reading.quantity else before).append(element)
        reading.same_count = reading.quantity is None and _says_same(before + after)
        # "pls snd 4 ctn of cups": with words on both sides of the quantity, the item is what follows it.
        content_after = [w for w in after if w not in FILLER_WORDS]
        # … but "8oz cup 1 ctn for the coffee station" says after it what the item is for
        named_after = content_after and _has_content(before) and after[0] != "for"
        reading.words = after if named_after else before + after
        # Before a colon: "Kraft bags: small 5 bdl" names the item, "Order for Bao Bros: chopsticks 2 ctn" does not.
        if not _has_content(reading.words):
            reading.words = heading
        # "a few packs of coke": a unit word before "of" says how it comes, not what it is
        reading.words = [
            w
            for i, w in enumerate(reading.words)
            if not (w in UNIT_WORDS and i + 1 < len(reading.words) and reading.words[i + 1] == "of")
        ]
        _gallons_as_count(reading)
        readings.append(reading)
    return readings


_GALLONS = re.compile(SIZE_PREFIX + r"vol_(\d+)gal")


def _gallons_as_count(reading: Reading) -> None:
    """ "1 galon mantika", "toyo 2 gallon" with no other count: the gallons are the count of a one-gallon product
    ("mantika 1 gal 2" keeps 1 gal as the size and 2 as the count)."""
    if reading.quantity is not None:
        return
    for position, size in enumerate(reading.sizes):
        if found := _GALLONS.fullmatch(size):
            gallons = int(found.group(1))
            reading.quantity = Quantity(float(gallons), UnitKind.VESSEL, f"{gallons} gal")
            reading.sizes[position] = f"{SIZE_PREFIX}vol_1gal"
            return


def _has_content(words: list[str]) -> bool:
    return any(w not in FILLER_WORDS for w in words)


def _quantity_at(toks: list[str], index: int) -> tuple[Quantity | None, int]:
    token = toks[index]
    marked = token in _MARKERS
    if marked and token in ("qty", "quantity") and index + 1 < len(toks) and toks[index + 1] in (":", "="):
        index += 1
    at = index + 1 if marked else index
    if at >= len(toks) or not _is_number(toks[at]):
        return None, index
    value = float(toks[at])
    if at + 2 < len(toks) and toks[at + 1] == "of" and toks[at + 2] in COUNT_UNITS:
        at += 1  # "a couple of cartons" → "2 of cartons"
    after = toks[at + 1] if at + 1 < len(toks) else ""
    following = toks[at + 2] if at + 2 < len(toks) else ""
    kind = UnitKind.CASE if after in OF_UNITS and following == "of" else _unit_kind(after)
    if kind is not None:
        return _and_more(Quantity(value, kind, f"{_number(value)} {after}"), toks, at + 2)
    if after in WEIGHT_UNITS:
        return Quantity(value, UnitKind.WEIGHT, f"{_number(value)} {after}"), at + 2
    if after in OF_UNITS and not following and _names_something(toks[:index]):
        return Quantity(value, UnitKind.CONTAINER, f"{_number(value)} {after}"), at + 2
    if not marked and after in ("x", "*"):
        if following.startswith(_VOLUME) and following.endswith("ml"):  # "24 x 1L": 24 bottles of a litre
            return Quantity(value, UnitKind.VESSEL, f"{_number(value)} x {describe_size(following)}"), at + 2
        return Quantity(value, None, _number(value)), at + 2
    return Quantity(value, None, _number(value)), at + 1


def _and_more(quantity: Quantity, toks: list[str], index: int) -> tuple[Quantity, int]:
    """ "10 bdl + 200 pcs": a second count with its unit after "+" belongs to the same item, unless an item follows
    it ("10" box 3 bdl + 300 pcs 12" box" orders two)."""
    if (
        index + 2 < len(toks)
        and toks[index] == "+"
        and _is_number(toks[index + 1])
        and not _names_something(toks[index + 3 :])
    ):
        unit = toks[index + 2]
        kind = _unit_kind(unit)
        if kind is not None:
            value = float(toks[index + 1])
            more = Quantity(value, kind, f"{_number(value)} {unit}")
            return replace(quantity, more=more, written=f"{quantity.written} + {more.written}"), index + 3
    return quantity, index


_VOLUME = SIZE_PREFIX + "vol_"
_KINDS = ((UnitKind.CASE, CASE_UNITS), (UnitKind.PIECE, PIECE_UNITS), (UnitKind.VESSEL, VESSEL_UNITS))


def _unit_kind(word: str) -> UnitKind | None:
    """What a unit word after a count counts: the catalog unit, pieces or a vessel; None for other words."""
    return next((kind for kind, words in _KINDS if word in words), None)


def _weights_as_names(elements: list[Quantity | str]) -> list[Quantity | str]:
    """ "Rice 25kg = 3 sacks", "gas 12kg 3 tabung", "rice 5kg x 10": a weight before another count is the product's
    size as its name states it, not a second quantity."""
    counted = [i for i, e in enumerate(elements) if isinstance(e, Quantity) and e.unit is not UnitKind.WEIGHT]
    return [
        weight_token(e.value)
        if isinstance(e, Quantity) and e.unit is UnitKind.WEIGHT and any(j > i for j in counted)
        else e
        for i, e in enumerate(elements)
    ]


def _names_something(toks: list[str]) -> bool:
    """Do these tokens (before a count) name an item: a content word or a size?"""
    return any(
        t.startswith(SIZE_PREFIX) or (t.isalpha() and len(t) > 1 and t not in FILLER_WORDS and t not in _MARKERS)
        for t in toks
    )


def _number(value: float) -> str:
    return f"{value:g}"


def _is_number(token: str) -> bool:
    return bool(token) and token[0].isdigit() and len(token.split(".")[0]) <= 6


def _group(elements: list[Quantity | str]) -> list[list[Quantity | str]]:
    """Cut a piece holding several quantities into one group per quantity, in the writer's orientation."""
    positions = [i for i, e in enumerate(elements) if isinstance(e, Quantity)]
    if len(positions) <= 1:
        return [elements]
    meaningful = [e for e in elements if isinstance(e, Quantity) or (e not in FILLER_WORDS and e not in _MARKERS)]
    quantity_first = bool(meaningful) and isinstance(meaningful[0], Quantity)
    cuts = positions[1:] if quantity_first else [p + 1 for p in positions[:-1]]
    groups, start = [], 0
    for cut in cuts:
        groups.append(elements[start:cut])
        start = cut
    groups.append(elements[start:])
    return [g for g in groups if g]


def _join(group: list[Quantity | str]) -> str:
    parts = [e.written if isinstance(e, Quantity) else _display(e) for e in group]
    return " ".join(p for p in parts if p and p not in _MARKERS)


def _display(token: str) -> str:
    return describe_size(token) if token.startswith(SIZE_PREFIX) else token


def settle(readings: list[Reading]) -> list[Reading]:
    """Share context between readings of a message.

    - "12" x 3" after "pizza box 10" x 5" borrows "pizza box" (sizes alone name nothing);
    - "10" and 12" boxes, 5 ctn each" gives 5 to both;
    - "12 inch boxes, 5 ctn" joins the lone quantity to the item before it, and so does "3 ctn" alone on the line
      under "chopstick".
    """
    settled: list[Reading] = []
    context: list[str] = []
    for position, reading in enumerate(readings):
        if reading.content_words:
            # a heading ("Pizza boxes:") or a sized item lends its words to sizes after it; "wooden fork 3 ctn" does
            # not make "16oz 2 ctn" a fork
            context = reading.content_words if reading.sizes or reading.quantity is None else []
        elif reading.sizes:
            source = context or _next_words(readings, position)
            if source:
                reading = replace(reading, words=list(source), borrowed=True)
        settled.append(reading)
    for reading in settled:
        if reading.each and reading.quantity is not None:
            for other in settled:
                if other.line == reading.line and other.quantity is None and (other.content_words or other.sizes):
                    other.quantity = reading.quantity
    result: list[Reading] = []
    for position, reading in enumerate(settled):
        lone = reading.quantity is not None and not reading.content_words and not reading.sizes
        # "the round lids, uh, three carton": a piece that says nothing ("uh") stands between nothing
        previous = next((r for r in reversed(result) if r.content_words or r.sizes or r.quantity), None)
        following = settled[position + 1] if position + 1 < len(settled) else None
        counted = next((r for r in reversed(result) if r.quantity is not None and not r.context_only), None)
        named = previous is not None and bool(previous.content_words or previous.sizes)
        if lone and previous and named and previous.line == reading.line and previous.quantity is None:
            _give_count(previous, reading)  # "chopsticks... two carton enough lah"
            continue
        if lone and reading.corrects and counted is not None:
            _give_count(counted, reading)  # "750ml container 5 ctn / scratch that, make it 4"
            continue
        if lone and previous and _count_under(previous, reading, settled):
            _give_count(previous, reading)  # "chopstick" then "3 ctn" as the next message
            continue
        if lone and following and following.line == reading.line and following.quantity is None:
            _give_count(following, reading)  # "200 pcs. 10 inch boxes"
            continue
        if lone and reading.each:
            continue
        if reading.same_count and counted is not None:
            # "medium same", or "medium also" then "same" on the next line: the count of the item before
            if reading.content_words or reading.sizes:
                reading.quantity = counted.quantity
            elif previous is not None and previous is not counted and previous.line >= reading.line - 1:
                previous.quantity = counted.quantity
                continue
        result.append(reading)
    return result


def _multiplied(match: re.Match[str]) -> str:
    """ "2 ctn x 3 weeks" → "6 ctn", padded to the length it had (spans index the line)."""
    written = f"{int(match.group(1)) * int(match.group(3))} {match.group(2)}"
    return written.ljust(len(match.group(0)))


def _give_count(item: Reading, count: Reading) -> None:
    """The count read on its own belongs to the item; a range or an odd number is still asked about ("containers,
    maybe two or three carton")."""
    item.quantity = count.quantity
    item.odd_number = count.odd_number or item.odd_number


def _says_same(words: list[str]) -> bool:
    """ "same" as the count, after an item or alone: "lids same", "same" (not "same as usual", "same as last week")."""
    said = [w for w in words if w not in ("also", "and", "the", "pls", "please")]
    return bool(said) and said[-1] == "same" and all(w == "same" or w not in FILLER_WORDS for w in said)


def _count_under(item: Reading, count: Reading, readings: list[Reading]) -> bool:
    """A count alone on the line right under a product named without one: "need small kraft bag" / "8 bdl"."""
    return (
        item.line == count.line - 1
        and item.quantity is None
        and bool(item.content_words)
        and (not item.remark or len(item.words) <= 4)  # "and the cling wrap" is short enough to be an item
        and sum(r.line == count.line for r in readings) == 1
        and sum(r.line == item.line for r in readings) == 1
    )


def _next_words(readings: list[Reading], position: int) -> list[str]:
    for later in readings[position + 1 :]:
        if later.line != readings[position].line:
            break
        if later.content_words:
            return later.content_words
    return []
