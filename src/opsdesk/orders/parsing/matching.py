"""Which product a reading names: the catalog's match of its words, settled by what is around it — a name wrapped
over two lines, what the thing is for ("cups for iced latte"), a relative size ("the bigger one"), the form's section
size, a neighbour's size ("12oz cups and lids"), the item a lid is for, or the unit it is sold by."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from opsdesk.orders.parsing.catalog import Product
from opsdesk.orders.parsing.index import Candidate, CatalogIndex, MatchStatus, ProductMatch
from opsdesk.orders.parsing.quantities import names_unit
from opsdesk.orders.parsing.segments import Reading
from opsdesk.orders.parsing.sizes import SIZE_PREFIX
from opsdesk.orders.parsing.vocabulary import FILLER_WORDS

_NEAREST = 8  # counted readings before a lid that it may be for
_RELATIVE_SIZES = {f"{SIZE_PREFIX}letter_s": False, f"{SIZE_PREFIX}letter_l": True}  # small / large, big


class ReadingMatcher:
    """Matches readings of one message against the catalog."""

    def __init__(self, index: CatalogIndex) -> None:
        self.index = index

    def sizes_from_numbers(self, readings: list[Reading]) -> list[Reading]:
        """ "12 kraft box x10bdl": a bare number right before a name, with the line's count in units after it, is
        the size when the name comes in that size (12") and names one product with it."""
        kept: list[Reading] = []
        for reading in readings:
            sized = kept[-1] if kept else None
            number = sized.quantity if sized is not None else None
            if (
                sized is not None
                and number is not None
                and number.unit is None
                and number.value == int(number.value)
                and not sized.sizes
                and sized.content_words
                and sized.line == reading.line
                and reading.quantity is not None
                and reading.quantity.unit is not None
                and not reading.content_words
                and not reading.sizes
            ):
                value = int(number.value)
                for size in (f"{SIZE_PREFIX}in_{value}", f"{SIZE_PREFIX}vol_{value}oz", f"{SIZE_PREFIX}vol_{value}ml"):
                    if self.index.match_product(sized.words, [size]).status is MatchStatus.MATCHED:
                        sized.sizes, sized.quantity = [size], reading.quantity
                        sized.span = f"{sized.span} {reading.span}"
                        break
                else:
                    kept.append(reading)
                continue
            kept.append(reading)
        return kept

    def join_wrapped(self, readings: list[Reading]) -> list[Reading]:
        """A name the form's column (or a photograph) wrapped over two lines: '10" Regular Pizza' / 'Box — 12 bdl'.
        The first line ends in no word a product's name ends in, and together they name one product."""
        joined: list[Reading] = []
        for reading in readings:
            cut = joined[-1] if joined else None
            if (
                cut is not None
                and cut.line == reading.line - 1
                and cut.quantity is None
                and cut.content_words
                and not cut.context_only
                and reading.quantity is not None
                and reading.content_words
                and not self.index.ends_a_name(cut.content_words[-1])
                and sum(r.line == cut.line for r in readings) == 1
            ):
                whole = self.index.match_product([*cut.words, *reading.words], [*cut.sizes, *reading.sizes])
                if whole.status is MatchStatus.MATCHED:
                    reading.words, reading.sizes = [*cut.words, *reading.words], [*cut.sizes, *reading.sizes]
                    reading.span = f"{cut.span} {reading.span}"
                    joined[-1] = reading
                    continue
            joined.append(reading)
        return joined

    def match(self, reading: Reading, readings: Sequence[Reading], replied_to: Iterable[str] = ()) -> ProductMatch:
        match = self._by_itself(reading, readings)
        if match.status is not MatchStatus.AMBIGUOUS or reading.sizes or self._says_what_for(reading):
            return match  # "lid for the dip cup": said what it is for, so not the lid of the line before
        # "750ml container 4 ctn / lid also 4", "3 compartment box 5 ctn / the cover also 5 ctn": the one that
        # fits an item ordered before it, when only one does ("8oz cup / 12oz cup / lid" leaves two lids)
        before = [*self._items_before(reading, readings), *filter(None, map(self.index.by_sku, replied_to))]
        fitting = [c for c in match.candidates if any(self.index.fits(c.product, other) for other in before)]
        return ProductMatch(MatchStatus.MATCHED, (fitting[0],), match.query) if len(fitting) == 1 else match

    def _says_what_for(self, reading: Reading) -> bool:
        """ "lid for the dip cup": the words after "for" name something of the catalog's."""
        words = reading.words
        if "for" not in words[1:]:
            return False
        use = words[words.index("for", 1) + 1 :]
        return any(self.index.correct(w) in self.index.vocabulary for w in use if w not in FILLER_WORDS)

    def _by_itself(self, reading: Reading, readings: Sequence[Reading]) -> ProductMatch:
        """The match from the reading's own words and sizes, its form's section and its line."""
        coded = self.index.product_for_code(reading.words)
        if coded is not None:  # a product code names one product exactly, whatever words come with it
            status = MatchStatus.MATCHED if coded.active else MatchStatus.INACTIVE
            return ProductMatch(status, (Candidate(coded, 100.0),), coded.sku)
        words, thing = reading.words, list[str]()
        if "for" in words[1:]:  # "lid for the 1000ml container" is a container lid: the thing comes first
            cut = words.index("for", 1)
            thing, words = words[:cut], [*words[cut + 1 :], *words[:cut]]
        unnamed = reading.sizes and not [w for w in thing or words if w not in FILLER_WORDS and not w.isdigit()]
        # '12" x 4 bdl' with nothing around it, "the 500ml for the soup": a size names a thing when only one kind of
        # thing has it
        if unnamed and (noun := self.index.noun_for_sizes(reading.sizes)):
            words = [*words[: len(words) - len(thing)], noun] if thing else [noun]
            thing = [noun] if thing else thing
        match = self.index.match_product(words, reading.sizes)
        if match.status is not MatchStatus.MATCHED and reading.sizes:
            # "cw 30cm": a name's initials, taken only when the size written with them fits the product too
            spelled = [part for word in words for part in self.index.spelled_out(word)]
            retry = self.index.match_product(spelled, reading.sizes) if spelled != words else match
            match = retry if retry.status is MatchStatus.MATCHED else match
        if match.status in (MatchStatus.MATCHED, MatchStatus.AMBIGUOUS) and match.best is not None:
            match = self._not_its_accessory(match, match.best.product, words)
        if thing and match.status is not MatchStatus.MATCHED:
            # the sizes and neighbours below settle the thing, not what it is for
            match, words = self._by_use(thing, words[: len(words) - len(thing)], reading.sizes, match), thing
        if (sold := self._sold_by(reading, match)) is not None:
            return sold
        relative = [s for s in reading.sizes if s in _RELATIVE_SIZES]
        if relative and len(relative) == len(reading.sizes) and match.status is not MatchStatus.MATCHED:
            # "the small sauce cup": of two sizes of one thing, the smaller ("big" the larger)
            plain = self.index.match_product(words, [])
            picked = self.index.by_relative_size(plain.candidates, _RELATIVE_SIZES[relative[0]])
            if plain.status is MatchStatus.AMBIGUOUS and picked is not None:
                return ProductMatch(MatchStatus.MATCHED, (picked,), plain.query)
        if match.status is MatchStatus.AMBIGUOUS and not reading.sizes and reading.section_sizes:
            # "cups: 3 ctn" under "8OZ": the section's size settles it
            retry = self.index.match_product(words, reading.section_sizes)
            if retry.status is MatchStatus.MATCHED:
                return retry
        if match.status is not MatchStatus.AMBIGUOUS or reading.sizes:
            return match
        # "12oz cups and lids": the lids take the size of their neighbour when that settles it.
        for other in readings:
            if other is not reading and other.line == reading.line and other.sizes:
                retry = self.index.match_product(words, other.sizes)
                if retry.status is MatchStatus.MATCHED:
                    return retry
        return match

    def _not_its_accessory(self, match: ProductMatch, product: Product, words: list[str]) -> ProductMatch:
        """ "1000ml rect 2 ctn" names the container, not its lid ("rectangular lid" is only the shorter alias): a
        product made for another one is meant only when its own kind is said; else the one it is made for, when the
        words name exactly one such."""
        said = [self.index.correct(w) for w in words if w not in FILLER_WORDS]
        if match.status is MatchStatus.AMBIGUOUS:  # "500ml round": the container and its lid; the container
            kept = [
                c
                for c in match.candidates
                if self.index.head_of(c.product) in said
                or not any(self.index.fits(c.product, other.product) for other in match.candidates)
            ]
            return ProductMatch(MatchStatus.MATCHED, (kept[0],), match.query) if len(kept) == 1 else match
        if self.index.head_of(product) in said or not said:
            return match
        bases = [
            other
            for other in self.index.catalog.products
            if other.active
            and self.index.fits(product, other)
            and all(self.index.names_word(other, w) for w in said if w in self.index.vocabulary)
        ]
        return (
            ProductMatch(MatchStatus.MATCHED, (Candidate(bases[0], 90.0),), match.query) if len(bases) == 1 else match
        )

    def _items_before(self, reading: Reading, readings: Sequence[Reading]) -> list[Product]:
        """The products that the nearest counted readings before this one name (a lid refers to what was just
        ordered; at most _NEAREST of them are matched again, so a long message costs no more per line)."""
        position = next((i for i, other in enumerate(readings) if other is reading), 0)
        counted = [
            other
            for other in readings[:position]
            if not other.context_only and other.content_words and other.quantity is not None
        ]
        named = (self._by_itself(other, readings) for other in counted[-_NEAREST:])
        return [match.best.product for match in named if match.status is MatchStatus.MATCHED and match.best]

    def _by_use(self, thing: list[str], use: list[str], sizes: list[str], match: ProductMatch) -> ProductMatch:
        """What a thing is for did not name a product together with it ("cups for iced latte", "cutlery set for the
        biryani"): the thing alone does, or the use settles which of those things is meant, by a word of its name
        ("iced": the cold cup) or by what it fits ("lids for the iced latte cups": the 16oz cup's lid). A use the
        catalog knows nothing of ("box for the burgers") leaves the thing asked about as not ours."""
        alone = self.index.match_product(thing, sizes)
        if alone.status is not MatchStatus.AMBIGUOUS:
            return alone if alone.status is MatchStatus.MATCHED else match
        use = [w for w in use if w not in FILLER_WORDS]
        picked = self._named_by(alone, use)
        if picked is None and (served := self._product_named(use)) is not None:
            fitting = [c for c in alone.candidates if self.index.fits(c.product, served)]
            picked = fitting[0] if len(fitting) == 1 else None
        if picked is not None:
            return ProductMatch(MatchStatus.MATCHED, (picked,), alone.query)
        return alone if any(self.index.correct(w) in self.index.vocabulary for w in use) else match

    def _named_by(self, match: ProductMatch, words: list[str]) -> Candidate | None:
        """Of several candidates, the only one whose names use the most telling of these words that any of them uses
        (the one fewest products use: "iced coffee" names the cold cup by "iced", not the hot cups by "coffee")."""
        for word in sorted((w for w in words if self.index.naming(w)), key=self.index.naming):
            named = [c for c in match.candidates if self.index.names_word(c.product, word)]
            if named:
                return named[0] if len(named) == 1 else None
        return None

    def _product_named(self, words: list[str]) -> Product | None:
        """The one product these words name, or their head noun with another of the words ("iced latte cups")."""
        if not words:
            return None
        match = self.index.match_product(words)
        if match.status is MatchStatus.MATCHED and match.best is not None:
            return match.best.product
        head = self.index.match_product(words[-1:])
        one = self._named_by(head, words[:-1]) if head.status is MatchStatus.AMBIGUOUS else None
        return one.product if one is not None else None

    def _sold_by(self, reading: Reading, match: ProductMatch) -> ProductMatch | None:
        """ "telur 2 peti" where eggs come by the tray, the kg and the crate (peti): the one product of the matched
        kind whose own unit the count names. None when the match already is it, or when it does not settle it."""
        quantity = reading.quantity
        if quantity is None or quantity.unit is None or not match.candidates:
            return None
        word = quantity.written.split()[-1].lower()
        if any(names_unit(word, c.product.unit) for c in match.candidates[:1]):
            return None
        kind = self.index.same_kind(match.candidates[0].product)
        sold = [p for p in kind if p.active and names_unit(word, p.unit)]
        return ProductMatch(MatchStatus.MATCHED, (Candidate(sold[0], 90.0),), match.query) if len(sold) == 1 else None
