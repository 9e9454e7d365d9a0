"""The order parser: a message (and the sender's phone) in, a ParsedOrder out. Pure logic, no I/O.

Steps: drop what the chat app adds (chat_text.py) → turn pasted tables into form lines (tables.py) → write other
languages' words of the trade in English (languages.py) → clean the text (emoji, quotes, thousands separators) →
blank sentences that instruct the system → per line, take headings ("Outlet:", "Date:"), section headings ("PIZZA
BOXES") and outlet names out and mark product codes (codes.py) → read item mentions (segments.py) → share context
between them, and apply corrections ("make it 4") → match each against the catalog (index.py), settled by what is
around it (matching.py) → turn its number
into catalog units (quantities.py) or ask (questions.py) → replace corrected lines, drop cancelled ones → settle the
outlet from the text or the sender's phone → add derived items (rules.py).
The parser never reads prices from a message; prices, phone numbers, dates and times are removed before reading.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from opsdesk.orders.parsing import questions
from opsdesk.orders.parsing.catalog import Catalog, Outlet, Product
from opsdesk.orders.parsing.chat_text import quoted_text, strip_chat_artefacts
from opsdesk.orders.parsing.index import (
    CatalogIndex,
    MatchStatus,
    TextEmbedder,
    confidence,
)
from opsdesk.orders.parsing.languages import in_english, kept_names
from opsdesk.orders.parsing.matching import ReadingMatcher
from opsdesk.orders.parsing.normalise import clean_message, join_names, joined_names, strip_bullet, strip_noise
from opsdesk.orders.parsing.outlets import (
    OutletMention,
    looks_like_address,
    named_apart,
    resolve_outlets,
    street_address,
)
from opsdesk.orders.parsing.quantities import Units, count, to_catalog_units
from opsdesk.orders.parsing.results import (
    Clarification,
    ClarificationKind,
    LineItem,
    OutletMatch,
    OutletSource,
    ParsedOrder,
)
from opsdesk.orders.parsing.rules import derive_items
from opsdesk.orders.parsing.segments import Quantity, Reading, TemplateLine, read_line, settle, split_template
from opsdesk.orders.parsing.signals import (
    HeaderKind,
    asks_for_usual_order,
    blank_instructions,
    cancels,
    cancels_order,
    corrects,
    counts_in_pieces,
    header_kind,
    is_prose,
    is_remark,
    is_urgent,
    phones_in,
    says_not_ordered,
)
from opsdesk.orders.parsing.tables import reflow_tables
from opsdesk.orders.parsing.vocabulary import UnitKind

# Headings that can only introduce an outlet: an unknown name after them is asked about, not ignored.
_EXPLICIT_OUTLET_KEYS = frozenset(
    {"outlet", "outlet name", "branch", "branch name", "store", "shop", "shop name", "restaurant", "deliver to",
     "delivery to", "ship to", "send to", "outlet/branch", "location", "site"}
)  # fmt: skip


_SPEAKER = re.compile(r"^\s*([A-Z][a-z]+(?: [A-Z][a-z]+)?)\s+-\s+(?=\S)")  # "Mei - ", "Ah Boy - "
_NEGATED = re.compile(r"\b(?:not|instead\s+of|nt)\s*(?:to\s+|the\s+|at\s+)?$")


@dataclass(frozen=True, slots=True)
class ParserConfig:
    max_chars: int = 4_000  # longer messages are cut (and a note says so); real orders are far shorter
    max_lines: int = 150
    max_line_chars: int = 400
    pack_hint_counts_pieces: bool = True  # see quantities.py
    apply_rules: bool = True


@dataclass(slots=True)
class _Draft:
    items: list[LineItem] = field(default_factory=list)
    questions: list[Clarification] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    mentions: list[tuple[Clarification, ...]] = field(default_factory=list)  # products named without a number
    remark_mentions: list[tuple[Clarification, ...]] = field(default_factory=list)  # the same, in a remark line
    cancelled: list[str] = field(default_factory=list)  # SKUs a line takes out ("cancel the liners")
    correcting: set[int] = field(default_factory=set)  # positions in items of lines that correct an earlier count
    replied_to: frozenset[str] = frozenset()  # SKUs of the order the message answers ("YES but lid make it 6")
    # bare counts of several packs each ("chopsticks 4000"): cartons or pieces, settled for the whole message
    big_counts: list[tuple[Reading, Quantity, Product, float, Units]] = field(default_factory=list)


@dataclass(slots=True)
class _Reading:
    outlets: list[OutletMention] = field(default_factory=list)
    remark_outlets: list[OutletMention] = field(default_factory=list)  # named only in the customer's notes
    unknown_outlets: list[str] = field(default_factory=list)  # names after "Outlet:" that match no outlet
    items: list[Reading] = field(default_factory=list)
    remarks: list[str] = field(default_factory=list)  # the customer's notes, as written


class OrderParser:
    """Reads order messages against one catalog index. Stateless per call; build once, reuse from any thread."""

    def __init__(self, index: CatalogIndex, *, config: ParserConfig | None = None) -> None:
        self.index = index
        self._matcher = ReadingMatcher(index)
        self.catalog: Catalog = index.catalog
        self.config = config or ParserConfig()
        # The catalog's own names in other languages are never translated ("kertas pembakar", "Warung Bu Ratmi")
        self._native = kept_names(
            [name for p in self.catalog.products for name in (p.name, *p.aliases)]
            + [name for o in self.catalog.outlets for name in (o.name, *o.aliases)]  # "Bu Ratmi", "Kopi Sore"
        )
        # A name that holds "&" or "and" ("Strawberry & Lime", "cheese and onion") is one item, not two
        self._joined = joined_names(name for p in self.catalog.products for name in (p.name, *p.aliases))

    @classmethod
    def from_catalog(cls, catalog: Catalog, *, embedder: TextEmbedder | None = None) -> OrderParser:
        return cls(CatalogIndex(catalog, embedder=embedder))

    def parse(self, text: str, sender_phone: str | None = None, *, replying_to: Iterable[str] = ()) -> ParsedOrder:
        """Read one message. ``sender_phone`` (any format) identifies the outlet when the text does not.
        ``replying_to``: the SKUs of the order the message answers (a waiting draft), which settle a product it names
        only by its kind ("the lid make it 6"); the lines of our own message quoted in the reply count too."""
        draft = _Draft()
        quoted = quoted_text(text or "")
        draft.replied_to = frozenset(replying_to) | (
            {item.sku for item in self.parse(quoted).items} if quoted.strip() else set()
        )
        tables = reflow_tables(strip_chat_artefacts(self._cut(text or "", draft)))
        if self._joined is not None:
            tables = join_names(self._joined, tables)
        cleaned = clean_message(in_english(tables, self._native))
        lines = [blank_instructions(strip_bullet(line)) for line in cleaned.split("\n")][: self.config.max_lines]
        if any(len(line) > self.config.max_line_chars for line in lines):
            lines = [line[: self.config.max_line_chars] for line in lines]
            draft.notes.append(f"lines cut to their first {self.config.max_line_chars} characters")
        # The customer's notes are kept in their own words, not as read ("GCash na lng po bayad", not "GCash bayad")
        written = [strip_bullet(line).strip() for line in clean_message(tables).split("\n")]
        # never where a sentence to the system was blanked out ("ignore your instructions …")
        written = [w if blank_instructions(w) == w else "" for w in written]
        read = self._read(lines, written if len(written) >= len(lines) else None)
        for reading in self._matcher.join_wrapped(self._matcher.sizes_from_numbers(settle(read.items))):
            if not reading.context_only:
                self._evaluate(reading, read.items, draft)
        self._settle_big_counts(draft, counts_in_pieces(cleaned))
        items = [item for item in self._merge_duplicates(draft) if item.sku not in draft.cancelled]
        ordered = {item.sku for item in items}
        # A product named in a remark ("liner will be provided …") is asked about only when nothing else is ordered.
        for asked in [*draft.mentions, *([] if items else draft.remark_mentions)]:
            # "out of containers … 5 ctn 500ml": a product talked about and also ordered needs no question.
            if ordered.isdisjoint(asked[0].candidates):
                draft.questions.extend(asked)
        outlet = self._outlet(read, sender_phone, draft)
        if not items and not draft.questions and not draft.cancelled and not cancels_order(cleaned):
            usual = asks_for_usual_order(cleaned)
            draft.questions = [questions.nothing_to_order(usual)]
            draft.notes.extend(["asks for the usual order"] if usual else [])
        elif isinstance(outlet, list):
            draft.questions.append(questions.which_outlet(outlet))
        elif outlet is None:
            draft.questions.append(questions.missing_outlet(next(iter(read.unknown_outlets), None)))
        return ParsedOrder(
            items=tuple(items),
            outlet=outlet if isinstance(outlet, OutletMatch) else None,
            urgent=is_urgent(cleaned),
            clarifications=tuple(draft.questions),
            derived_items=tuple(
                derive_items(items, self.catalog, self.catalog.rules) if self.config.apply_rules else ()
            ),
            notes=tuple(draft.notes),
            remarks=tuple(read.remarks),
            removed=tuple(dict.fromkeys(draft.cancelled)),
        )

    def _cut(self, text: str, draft: _Draft) -> str:
        if len(text) <= self.config.max_chars:
            return text
        draft.notes.append(f"message cut to its first {self.config.max_chars} characters")
        return text[: self.config.max_chars]

    # -------------------------------------------------------------------------------------------- reading

    def _read(self, lines: list[str], written: list[str] | None = None) -> _Reading:
        read = _Reading()

        def note(number: int, line: str) -> str:
            if written is None or not written[number] or line.strip() != lines[number].strip():
                return line.strip()
            return written[number]

        section_sizes: list[str] = []  # the sizes of the section heading above ("8OZ", then "cups: 3 ctn")
        for number, line in enumerate(lines):
            if not line.strip():
                continue
            template = split_template(line)
            kind = header_kind(template.name) if template else None
            capitals = split_template(line, any_case=True) if template is None else None
            if capitals and header_kind(capitals.name) in _CAPITAL_KEYS:  # "PIC: Jason", "HP: 9123 …"
                template, kind = capitals, header_kind(capitals.name)
            if template and kind is not None and self._read_header(template, kind, number, read):
                continue
            if template and kind in (HeaderKind.TEXT, HeaderKind.REMARK):
                line, template = template.value, None
            if template is None and looks_like_address(line) and self._read_address(line, number, read):
                continue
            street = street_address(line) if template is None else ""
            if street and (at := self.index.outlets.by_street(street)):
                read.outlets.extend(_header_mention(outlet, street, number, 1) for outlet in at)
                continue
            read.outlets.extend(self._by_phones(line, number))
            if says_not_ordered(line):  # "got extra 2 ctn of 750ml container, we never order": a note for staff
                read.remarks.append(note(number, line))
                continue
            lower = line.lower()
            line = line if len(lower) == len(line) else lower
            found = _not_negated(self.index.find_outlets(strip_noise(lower), number), lower)
            masked = self.index.mark_codes(self._without_speaker(_mask(line, found)))
            if template and template.unfilled:  # "Pizza boxes:" heading, or a form line left empty
                read.outlets.extend(found)
                read.items.extend(_as_context(self._read_line(masked.split(":")[0].split("=")[0], number)))
                continue
            form_line = template is not None and template.is_quantity and not found
            readings = self._read_line(masked, number, template=form_line)
            if not found and self._is_section_heading(line, readings, lines[number + 1 :]):
                read.items.extend(_as_context(readings))
                section_sizes = [size for reading in readings for size in reading.sizes]
                continue
            # a line with one count corrects it wherever it says so ("napkin 3 ctn la, 2 sure not enough")
            one_count = sum(r.quantity is not None for r in readings) == 1
            for reading in readings:
                reading.section_sizes = section_sizes
                reading.cancels = reading.cancels or cancels(reading.span)
                reading.corrects = reading.corrects or corrects(reading.span) or (one_count and corrects(line))
            counted = any(r.quantity is not None or r.odd_number for r in readings)
            counts = sum(r.quantity is not None for r in readings)
            in_units = any(r.quantity is not None and r.quantity.unit is not None for r in readings)
            prose = not form_line and is_prose(line, counts, in_units)
            # "Pls deliver together with Sengkang": an outlet named in a note is not the one ordering, unless
            # nothing else in the message names one.
            (read.remark_outlets if prose else read.outlets).extend(found)
            if is_remark(line) and (prose or not counted) and (prose or not found):
                read.remarks.append(note(number, line))
            if prose:
                for reading in readings:
                    reading.remark = True
            read.items.extend(readings)
        return read

    def _without_speaker(self, line: str) -> str:
        """ "Mei - 1 comp tray 4 ctn": a person's name before a dash is not part of the item (as "Mei:" is not)."""
        said = _SPEAKER.match(line)
        if said is None or any(self.index.correct(w.lower()) in self.index.vocabulary for w in said.group(1).split()):
            return line
        return " " * said.end() + line[said.end() :]

    def _is_section_heading(self, line: str, readings: list[Reading], below: list[str]) -> bool:
        """A form's section heading ("PIZZA BOXES", "** CUTLERY **", "8OZ"): a short line in capitals or between
        stars, with no count, that names no single product (unless starred), above a line that orders. A heading
        with a size is one only when the line below has none of its own ("8OZ" over "cups: 3 ctn"); "12 INCH BOX"
        over "10 INCH BOX 5 BDL" is a line whose count is missing, and is asked about."""
        text = line.strip().strip("*_ ").strip()
        letters = [c for c in text if c.isalpha()]
        starred = line.strip().endswith("*")  # "** CUTLERY **" (its leading stars went as a bullet)
        if not readings or len(text.split()) > 4 or len(letters) < 2 or not (starred or text.upper() == text):
            return False
        if any(r.quantity is not None or r.odd_number for r in readings):
            return False
        if not starred and any(
            self._matcher.match(r, readings).status is MatchStatus.MATCHED for r in readings if not r.sizes
        ):
            return False  # "PIZZA SAVER" with its count forgotten; "** CUTLERY **" is a heading all the same
        following = next((row for row in below if row.strip()), "")
        if not any(c.isdigit() for c in following):
            return False
        sized = any(r.sizes for r in readings)
        return not sized or not any(r.sizes for r in read_line(following.lower(), 0))

    def _read_line(self, line: str, number: int, *, template: bool = False) -> list[Reading]:
        readings = read_line(line, number, template=template)
        for reading in readings:
            reading.span = self.index.unmark_codes(reading.span)
        return readings

    def _read_header(self, template: TemplateLine, kind: HeaderKind, number: int, read: _Reading) -> bool:
        """Takes a form's header field (outlet, address, contact, date, note); False when the line is read on."""
        value = template.value
        if kind is HeaderKind.OUTLET:
            found = self.index.find_outlets(value.lower(), number, lenient=True)
            found = found or self._address_mentions(value, number)
            read.outlets.extend(found)
            if not found and not template.unfilled and template.name.lower() in _EXPLICIT_OUTLET_KEYS:
                read.unknown_outlets.append(value)
            return True
        if kind in (HeaderKind.ADDRESS, HeaderKind.CONTACT):
            found = self._address_mentions(value, number) if kind is HeaderKind.ADDRESS else []
            found += self._by_phones(value, number) + self.index.find_outlets(strip_noise(value.lower()), number)
            if not found and template.is_quantity:
                return False  # "Add: 2 ctn cups" — a key that looked like a header, before an order line
            read.outlets.extend(found)
            return True
        if kind is HeaderKind.SKIP:
            # "to: 23 Serangoon Ctrl #01-60": an address under a key of an email's header is where to deliver
            read.outlets.extend(self._address_mentions(value, number) if looks_like_address(value) else [])
            return True
        if kind is HeaderKind.PICKUP:
            read.remarks.append(f"{template.name}: {value.strip()}")
            return True
        if kind is HeaderKind.REMARK and not template.unfilled:
            readings = read_line(value.lower(), number)
            if any(r.quantity is not None for r in readings):
                return False  # "Remarks: add 2 ctn cups" orders something
            read.remarks.append(value.strip())
            return True
        return kind is HeaderKind.REMARK

    def _read_address(self, line: str, number: int, read: _Reading) -> bool:
        found = self._address_mentions(line, number)
        read.outlets.extend(found)
        read.outlets.extend(self.index.find_outlets(strip_noise(line.lower()), number))
        return True

    def _address_mentions(self, text: str, number: int) -> list[OutletMention]:
        """Outlets at this address, as mentions of their own (they settle a chain's name: "Slice Republic")."""
        outlets = self.index.outlets.by_address(text)
        return [_header_mention(outlet, text, number, 1) for outlet in outlets]

    def _by_phones(self, text: str, number: int) -> list[OutletMention]:
        """Outlets whose registered phone the text gives ("Contact: Mr Tan 8345 2210")."""
        found = {o.code: o for phone in phones_in(text) if (o := self.index.outlet_by_phone(phone)) is not None}
        return [_header_mention(outlet, text, number, 2) for outlet in found.values()]

    def _evaluate(self, reading: Reading, readings: Sequence[Reading], draft: _Draft) -> None:
        match = self._matcher.match(reading, readings, draft.replied_to)
        quantity, status, best = reading.quantity, match.status, match.best
        if status is MatchStatus.AMBIGUOUS and (reading.corrects or reading.cancels):
            # "1oz sauce cup 2 ctn / sorry sauce cup 1 ctn enough": the one already ordered here is meant
            ordered = {item.sku for item in draft.items} | draft.replied_to
            named = [c for c in match.candidates if c.product.sku in ordered]
            if len(named) == 1:
                status, best = MatchStatus.MATCHED, named[0]
        if reading.cancels:
            if status is MatchStatus.MATCHED and best is not None:
                draft.cancelled.append(best.product.sku)
            return
        products = [c.product for c in match.candidates]
        if reading.odd_number and products:
            draft.questions.append(questions.odd_quantity(reading, products))
            return
        if quantity is None:
            if best is None or best.score < self.index.settings.mention_score:
                return  # chatter that happens to contain a product word
            mentions = draft.remark_mentions if reading.remark else draft.mentions
            if status is MatchStatus.MATCHED:
                mentions.append((questions.missing_quantity(reading, products[:1]),))
            elif status is MatchStatus.AMBIGUOUS:
                asked = (
                    questions.ambiguous_item(reading, products, None),
                    questions.missing_quantity(reading, products),
                )
                mentions.append(asked)
            return
        if quantity.value == 0:
            return
        if status is MatchStatus.MATCHED and best is not None:
            self._add_item(reading, quantity, best.product, confidence(best.score), draft)
        elif status in (MatchStatus.AMBIGUOUS, MatchStatus.WEAK):
            draft.questions.append(questions.ambiguous_item(reading, products, quantity))
        elif status is MatchStatus.INACTIVE:
            draft.questions.append(questions.discontinued_item(reading, products[0], quantity))
        elif reading.remark and not products:
            # "loading bay 2", "this one is for Saturday": a number in a sentence to us, about no product of ours.
            draft.remark_mentions.append((questions.unknown_item(reading, products, quantity),))
        elif reading.content_words or quantity.unit is not None or reading.template:
            draft.questions.append(questions.unknown_item(reading, products, quantity))

    def _add_item(self, reading: Reading, quantity: Quantity, product: Product, score: float, draft: _Draft) -> None:
        units = to_catalog_units(
            quantity, product, reading.pack_hint, hint_counts_pieces=self.config.pack_hint_counts_pieces
        )
        if units.value is None and units.pieces is not None:
            draft.big_counts.append((reading, quantity, product, score, units))
            return
        if units.value is None:
            draft.questions.append(
                questions.ask(ClarificationKind.UNCLEAR_QUANTITY, units.question, reading, [product.sku], quantity)
            )
            return
        converted = quantity.unit is not UnitKind.CASE and units.value != quantity.value
        requested = quantity.written if converted else ""
        if reading.corrects:
            draft.correcting.add(len(draft.items))
        draft.items.append(LineItem(product.sku, units.value, product.unit, reading.span, score, requested))
        draft.notes.extend([units.note] if units.note else [])

    def _settle_big_counts(self, draft: _Draft, stated: bool) -> None:
        """Bare counts of whole packs ("wooden fork 1000", "chopsticks 4000"): pieces when the message says its counts
        are pieces ("(in pcs)"), or when two lines or more all read so (thousands of cartons of each is not an order
        anyone sends); one such line alone is asked, cartons or pieces."""
        pieces = stated or len(draft.big_counts) > 1
        for reading, quantity, product, score, units in draft.big_counts:
            if not pieces or units.pieces is None:
                asked = questions.ask(
                    ClarificationKind.UNCLEAR_QUANTITY, units.question, reading, [product.sku], quantity
                )
                draft.questions.append(asked)
                continue
            if reading.corrects:
                draft.correcting.add(len(draft.items))
            written = f"{quantity.written} pcs"
            draft.items.append(LineItem(product.sku, units.pieces, product.unit, reading.span, score, written))
            draft.notes.append(
                f"{product.name}: {quantity.written} read as pieces = {count(units.pieces, product.unit)}"
            )

    def _merge_duplicates(self, draft: _Draft) -> list[LineItem]:
        """One line per SKU. A product named twice is added up, and the total is confirmed with a question; named
        again on a line that corrects it ("sorry, 1 ctn enough"), the later count replaces the earlier."""
        merged: dict[str, LineItem] = {}
        for position, item in enumerate(draft.items):
            first = merged.get(item.sku)
            if first is None or position in draft.correcting:  # "sorry sauce cup 1 ctn enough" replaces the 2
                merged[item.sku] = item
                continue
            total = first.quantity + item.quantity
            span, score = f"{first.span} | {item.span}", min(first.confidence, item.confidence)
            merged[item.sku] = LineItem(item.sku, total, item.unit, span, score)
            name = self.catalog.product(item.sku).name
            question = f"{name} is listed more than once ({span}). Should we send {count(total, item.unit)} in total?"
            draft.questions.append(
                Clarification(ClarificationKind.UNCLEAR_QUANTITY, question, span, (item.sku,), total)
            )
        return list(merged.values())

    # --------------------------------------------------------------------------------------------- outlet

    def _outlet(self, read: _Reading, phone: str | None, draft: _Draft) -> OutletMatch | list[Outlet] | None:
        """The outlet, or the candidates to ask about, or None. Text beats phone; the phone settles a tie."""
        # An outlet named only in a note counts when nothing else names one.
        mentions = read.outlets if resolve_outlets(read.outlets) else read.remark_outlets
        named = resolve_outlets(mentions)
        by_phone = self.index.outlet_by_phone(phone)
        if len(named) == 1:
            outlet, score = named[0]
            if by_phone and by_phone.code != outlet.code:
                draft.notes.append(f"sender's phone is registered to {by_phone.name}; the message names {outlet.name}")
            return OutletMatch(outlet, OutletSource.TEXT, confidence(score), _span_of(read.outlets, outlet))
        if named:
            outlets = [outlet for outlet, _ in named]
            if by_phone and by_phone.code in {o.code for o in outlets} and not named_apart(mentions, outlets):
                return OutletMatch(by_phone, OutletSource.TEXT_AND_PHONE, 0.9, _span_of(read.outlets, by_phone))
            return outlets
        if by_phone and not read.unknown_outlets:
            return OutletMatch(by_phone, OutletSource.PHONE, 1.0)
        return None


# Header keys read in capitals too; a "NOTE: …" or "ORDER: …" line in capitals is read as the line it is.
_CAPITAL_KEYS = (HeaderKind.OUTLET, HeaderKind.ADDRESS, HeaderKind.CONTACT, HeaderKind.SKIP, HeaderKind.PICKUP)


def parse_order(text: str, index: CatalogIndex, sender_phone: str | None = None) -> ParsedOrder:
    """Parse one message with default settings."""
    return OrderParser(index).parse(text, sender_phone)


def _mask(line: str, mentions: Sequence[OutletMention]) -> str:
    chars = list(line)
    for mention in mentions:
        chars[mention.start : mention.end] = " " * (mention.end - mention.start)
    return "".join(chars)


def _not_negated(mentions: list[OutletMention], line: str) -> list[OutletMention]:
    """ "deliver to Tampines, not Marina Bay": an outlet after "not" or "instead of" is not the one meant."""
    return [m for m in mentions if not _NEGATED.search(line[: m.start])]


def _header_mention(outlet: Outlet, text: str, number: int, field_kind: int) -> OutletMention:
    """A mention by address or phone: a word position of its own, so it is never a mere share of a chain's name."""
    return OutletMention(outlet, 100.0, 0, len(text), frozenset({(number, -field_kind)}), text.strip())


def _as_context(readings: list[Reading]) -> list[Reading]:
    for reading in readings:
        reading.context_only = True
        reading.quantity = None
    return readings


def _span_of(mentions: Sequence[OutletMention], outlet: Outlet) -> str:
    return next((m.text for m in mentions if m.outlet.code == outlet.code), "")
