"""Finding outlets: names and aliases in the text (exact, or fuzzy for typos), and registered phone numbers."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from rapidfuzz import fuzz, process

from opsdesk.orders.parsing.catalog import Outlet
from opsdesk.orders.parsing.normalise import normalise_phone
from opsdesk.orders.parsing.vocabulary import FILLER_WORDS

_TOKEN = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")
_OUTLET_NOUNS = frozenset({"outlet", "outlets", "branch", "shop", "store", "stall"})


@dataclass(frozen=True, slots=True)
class OutletMention:
    """An outlet named in a line: which outlet, how well, and where (character span, word positions)."""

    outlet: Outlet
    score: float
    start: int
    end: int
    words: frozenset[tuple[int, int]]
    text: str


_ADDRESS_WORDS: dict[str, str] = {
    "ave": "avenue", "av": "avenue", "rd": "road", "st": "street", "str": "street", "dr": "drive", "ctrl": "central",
    "ctr": "central", "cent": "central", "nth": "north", "sth": "south", "blvd": "boulevard", "bvd": "boulevard",
    "lor": "lorong", "cres": "crescent", "pl": "place", "pk": "park", "ind": "industrial", "jln": "jalan",
    "jl": "jalan",
    "upp": "upper", "up": "upper", "bt": "bukit", "tg": "tanjong", "cl": "close", "hts": "heights", "ter": "terrace",
    "sq": "square", "e": "east", "w": "west", "n": "north", "s": "south", "quay": "quay", "ln": "lane",
}  # fmt: skip
_UNIT = re.compile(r"#\s*([a-z]?\d{1,3})\s*-\s*(\d{1,5}[a-z]?)")
_POSTAL = re.compile(r"(?<![\d#-])(?:s\s*\(?|singapore\s*)?(\d{6})\)?(?!\d)")
_ADDRESS_NOISE = frozenset({"blk", "block", "singapore", "sg", "s", "level", "lvl", "unit", "the", "at", "no"})
# Words many streets share: an address must also share a word of its own (a name) to match.
_STREET_WORDS = frozenset(set(_ADDRESS_WORDS.values()) | {"way", "walk", "link", "rise", "hill", "view", "centre"})


@dataclass(frozen=True, slots=True)
class _Address:
    postal: str
    unit: str
    words: frozenset[str]  # street words and numbers, abbreviations written out


def parse_address(text: str) -> _Address:
    """The comparable parts of an address as customers write it ("Blk 216 Bedok Nth St 1 #01-44", "S648886")."""
    lower = text.lower()
    unit = _UNIT.search(lower)
    postal = _POSTAL.search(_UNIT.sub(" ", lower))
    rest = _POSTAL.sub(" ", _UNIT.sub(" ", lower))
    words = {_ADDRESS_WORDS.get(w, w) for w in re.findall(r"[a-z]+|\d+[a-z]?", rest)} - _ADDRESS_NOISE
    return _Address(
        postal.group(1) if postal else "",
        f"{unit.group(1).lstrip('0')}-{unit.group(2).lstrip('0')}" if unit else "",
        frozenset(words),
    )


def looks_like_address(line: str) -> bool:
    """A line that is an address even without an "Address:" label: a unit number (#01-05) or a postal code."""
    lower = line.lower()
    return bool(_UNIT.search(lower)) or bool(re.search(r"(?<![\d#-])(?:s\s*\(?|singapore\s*)\d{6}\)?|\b\d{6}\b", lower))


_STREET_NUMBER = re.compile(
    r"\b\d{1,5}[a-z]?,?\s+(?:jalan|jln|lorong|lor|lrg|persiaran|lebuh|road|rd|street|st|avenue|ave|marg|nagar)\b"
    r"|\b(?:jl|jln|jalan)\.?\s+[a-z][a-z .]*?\s+no\.?\s*\d+"  # Indonesian: "Jl. Bendungan Hilir Raya No. 61"
)


def street_address(line: str) -> str:
    """From a house number before a street word to the end ("Order for 88 Jalan Midah 1" → "88 Jalan Midah 1"), or
    "": maybe an address, read as one only when it matches an outlet's."""
    found = _STREET_NUMBER.search(line.lower())
    return line[found.start() :] if found else ""


def _shortened(outlet: Outlet) -> list[str]:
    """ "Slice Republic Jurong Point" → "sr jp", "sr jurong point", "sr jurong", "sr juro": a chain of two words or
    more before its place, written with the chain's initials. A name of two words takes its places from the aliases
    that start with its first word: "Nonna's Kitchen" / "Nonnas Holland Village" → "nk hv", "Makan Corner" / "Makan
    Corner AMK" → "mc amk"."""
    words = _name_words(outlet.name)
    if len(words) < 2:
        return []
    chain = "".join(w[0] for w in words[:2])
    places = [words[2:]] if len(words) > 2 else []
    for alias in outlet.aliases if len(words) == 2 else ():  # a name without its place
        said = _name_words(alias)
        if len(said) > 1 and said[0].startswith(words[0]):  # "nonnas" for "Nonna's"
            places.append(said[2:] if said[1] == words[1] else said[1:])
    shortened: list[str] = []
    for place in (p for p in places if p):
        shortened += [
            f"{chain} {''.join(w[0] for w in place)}" if len(place) > 1 else "",
            f"{chain} {' '.join(place)}",
            f"{chain} {place[0]}",
            f"{chain} {place[0][:4]}" if len(place[0]) > 5 else "",
        ]
    return shortened


def _name_words(name: str) -> list[str]:
    return [w for w in re.findall(r"[a-z]+", name.lower().replace("'s", "")) if w not in ("the", "and", "pte", "ltd")]


class OutletIndex:
    """Outlet names, aliases and phones, prepared once."""

    def __init__(self, outlets: Sequence[Outlet], *, score: float = 86.0, lenient_score: float = 78.0) -> None:
        self._outlets = list(outlets)
        self._score = score
        self._lenient_score = lenient_score
        self._owners: dict[str, list[int]] = {}
        for index, outlet in enumerate(self._outlets):
            for text in (outlet.name, *outlet.aliases):
                self._own(text, index)
        # A word of one outlet's names only ("Bugis" of "Fat Cat Bugis"): "our Bugis outlet" names that outlet.
        owners_of_word: dict[str, set[int]] = {}
        for phrase, owners in self._owners.items():
            for word in phrase.split():
                owners_of_word.setdefault(word, set()).update(owners)
        self._own_words = {
            word: next(iter(owners))
            for word, owners in owners_of_word.items()
            if len(owners) == 1 and len(word) >= 4 and word.isalpha() and word not in FILLER_WORDS
        }
        # A chain's initials and its place, as outlets shorten them ("SR JP", "SR Jurong", "SR Tamp" of "Slice
        # Republic Jurong Point", "Slice Republic Tampines"): only where one outlet has them.
        shortened: dict[str, set[int]] = {}
        for index, outlet in enumerate(self._outlets):
            for text in _shortened(outlet):
                shortened.setdefault(text, set()).add(index)
        for text, holders in shortened.items():
            if text and len(holders) == 1 and _phrase(text) not in self._owners:
                self._own(text, next(iter(holders)))
        # The company billed ("Pronto Foods Pte Ltd", or without its suffix) names its outlets too; a company with
        # several outlets names all of them (a question, unless the sender's phone settles it).
        for index, outlet in enumerate(self._outlets):
            for text in _company_names(outlet.billing_entity):
                self._own(text, index)
        # Names shorter than five letters ("MBFC", "SR JP") are only matched exactly.
        self._fuzzy_pool: dict[int, list[str]] = {}
        for phrase in self._owners:
            if len(phrase) >= 5:
                self._fuzzy_pool.setdefault(len(phrase.split()), []).append(phrase)
        self._max_words = max((len(p.split()) for p in self._owners), default=1)
        self._words = sorted({word for phrase in self._owners for word in phrase.split()})
        self._word_set = frozenset(self._words)
        self._addresses = [(outlet, parse_address(outlet.address)) for outlet in self._outlets if outlet.address]
        self._by_phone: dict[str, Outlet] = {}
        for outlet in self._outlets:
            for phone in outlet.phones:
                key = normalise_phone(phone)
                if key:
                    self._by_phone[key] = outlet

    def _own(self, text: str, index: int) -> None:
        owners = self._owners.setdefault(_phrase(text), [])
        if index not in owners:
            owners.append(index)

    def find(self, line: str, line_number: int = 0, *, lenient: bool = False) -> list[OutletMention]:
        """Outlets named in one line of lower-case text. ``lenient`` after an "Outlet:" heading."""
        found = [(m.start(), m.end(), m.group(0).replace("'", "")) for m in _TOKEN.finditer(line)]
        cutoff = self._lenient_score if lenient else self._score
        # Fuzzy matching only looks at windows made of words close to some outlet word ("tampiness").
        near = [self._near(word) for _, _, word in found]
        mentions: list[OutletMention] = []
        for size in range(1, self._max_words + 1):
            for first in range(len(found) - size + 1):
                window = found[first : first + size]
                text = " ".join(w[2] for w in window)
                matches = [(text, 100.0)] if text in self._owners else []
                fuzzy_ok = all(near[first : first + size]) and not {window[0][2], window[-1][2]} & FILLER_WORDS
                if not matches and fuzzy_ok and len(text) >= 5:
                    pool = self._fuzzy_pool.get(size, [])
                    hits = process.extract(text, pool, scorer=fuzz.ratio, score_cutoff=cutoff, limit=3)
                    matches = [(str(hit[0]), float(hit[1])) for hit in hits]
                positions = frozenset((line_number, first + k) for k in range(size))
                for phrase, score in matches:
                    for owner in self._owners[phrase]:
                        start, end = window[0][0], window[-1][1]
                        mention = OutletMention(self._outlets[owner], score, start, end, positions, line[start:end])
                        mentions.append(mention)
        return mentions or self._by_own_word(found, line, line_number)

    def _by_own_word(self, found: list[tuple[int, int, str]], line: str, number: int) -> list[OutletMention]:
        """ "Need for Bugis outlet", "our Yishun branch", "the Yishun one", "branch Tebet": a word only one outlet's
        names have, before "outlet", "branch", "shop", "store" or "stall" (or "one" after "the" or "our"), or after
        "branch" or "outlet"."""
        mentions = []
        for position, (start, end, word) in enumerate(found):
            owner = self._own_words.get(word)
            after = found[position + 1][2] if position + 1 < len(found) else ""
            before = found[position - 1][2] if position else ""
            # "branch Tebet" too: the noun before the word
            pointed = after in _OUTLET_NOUNS or (after == "one" and before in ("the", "our"))
            if owner is not None and (pointed or before in ("branch", "outlet")):
                outlet = self._outlets[owner]
                mentions.append(
                    OutletMention(outlet, 90.0, start, end, frozenset({(number, position)}), line[start:end])
                )
        return mentions

    def _near(self, word: str) -> bool:
        if word in self._word_set:
            return True
        if len(word) < 4 or word.isdigit():
            return False
        return process.extractOne(word, self._words, scorer=fuzz.ratio, score_cutoff=75.0) is not None

    def by_address(self, text: str) -> list[Outlet]:
        """Outlets whose address this is: the postal code, else the unit number with a street word, else most words.

        Customers abbreviate ("Tampines Ctrl 5", "Bedok Nth St 1"), drop "Singapore" and the postal code, or give
        only the postal code; several outlets may share a building (then the unit number tells them apart).
        """
        wanted = parse_address(text)
        if not (wanted.postal or wanted.unit or wanted.words):
            return []
        if wanted.unit and not wanted.postal and not wanted.words:
            # "#03-12" on a line of its own: the outlets at that unit number (a chain's name then settles which)
            return [o for o, a in self._addresses if a.unit == wanted.unit]
        if wanted.postal:
            found = [o for o, a in self._addresses if a.postal == wanted.postal]
            if wanted.unit and len(found) > 1:
                found = [o for o, a in self._addresses if a.postal == wanted.postal and a.unit == wanted.unit]
            if found:
                return found
        scored: list[tuple[float, Outlet]] = []
        for outlet, known in self._addresses:
            if wanted.unit and known.unit and wanted.unit != known.unit:
                continue
            shared = wanted.words & known.words
            names = {w for w in shared if not w[0].isdigit() and w not in _STREET_WORDS}
            if not names:
                continue
            score = len(shared) / max(1, len(wanted.words | known.words))
            if wanted.unit and wanted.unit == known.unit:
                score += 0.5
            if score >= 0.45:
                scored.append((score, outlet))
        if not scored:
            return []
        best = max(score for score, _ in scored)
        return [outlet for score, outlet in scored if score >= best - 1e-9]

    def by_street(self, text: str) -> list[Outlet]:
        """Outlets whose address contains this street address ("88 Jalan Midah 1"): its house and street numbers all
        there, a name word shared, and most of its words."""
        wanted = parse_address(text).words
        numbers = {w for w in wanted if w[0].isdigit()}
        scored: list[tuple[float, Outlet]] = []
        for outlet, known in self._addresses:
            shared = wanted & known.words
            named = any(not w[0].isdigit() and w not in _STREET_WORDS for w in shared)
            if numbers <= known.words and named and (score := len(shared) / len(wanted)) >= 0.75:
                scored.append((score, outlet))
        best = max((score for score, _ in scored), default=0.0)
        return [outlet for score, outlet in scored if score >= best - 1e-9]

    def by_phone(self, phone: str | None) -> Outlet | None:
        """The outlet that registered this phone number, in any common format."""
        key = normalise_phone(phone) if phone else None
        if not key:
            return None
        found = self._by_phone.get(key)
        if found is not None or not phone or not phone.lstrip().startswith("0"):
            return found
        # A national number with its trunk 0 ("0947 520 1166") is the registered "+63 947 520 1166" without the
        # country code: the one outlet whose phone ends in its digits.
        national = key.lstrip("+")
        owners = {o.code: o for known, o in self._by_phone.items() if known.endswith(national)}
        return next(iter(owners.values())) if len(owners) == 1 else None


def resolve_outlets(mentions: Sequence[OutletMention]) -> list[tuple[Outlet, float]]:
    """The outlets a message names, best first: those with words of their own, or a tie when names are shared.

    "Slice Republic Tampines" names Tampines only (its words cover the chain's); "Slice Republic" alone names
    every Slice Republic outlet; "Tampines and Bedok" names two. More than one outlet is a question.
    """
    covered: dict[str, set[tuple[int, int]]] = {}
    best: dict[str, tuple[Outlet, float]] = {}
    for mention in mentions:
        code = mention.outlet.code
        covered.setdefault(code, set()).update(mention.words)
        if code not in best or mention.score > best[code][1]:
            best[code] = (mention.outlet, mention.score)
    if not covered:
        return []
    distinct = [
        code
        for code, words in covered.items()
        if words - set().union(*(other for key, other in covered.items() if key != code))
    ]
    if not distinct:
        widest = max(len(words) for words in covered.values())
        distinct = [code for code, words in covered.items() if len(words) == widest]
    ranked = sorted(distinct, key=lambda code: (-len(covered[code]), -best[code][1]))
    return [best[code] for code in ranked]


_COMPANY_SUFFIX = re.compile(
    r"[\s,]+(?:pte\.?\s*ltd\.?|private\s+limited|sdn\.?\s*bhd\.?|ltd\.?|llp|llc|inc\.?|co\.?|corp\.?)\s*$",
    re.IGNORECASE,
)


def _company_names(entity: str) -> list[str]:
    """A billing entity as customers write it: in full, and without "Pte Ltd", "LLP", "Sdn Bhd" …"""
    entity = entity.strip()
    if not entity:
        return []
    short = _COMPANY_SUFFIX.sub("", entity).strip()
    return [entity] if short == entity or len(short) < 5 else [entity, short]


def named_apart(mentions: Sequence[OutletMention], outlets: Sequence[Outlet]) -> bool:
    """Is each of these outlets named by words of its own ("Marina Bay: … Tampines: …"), not only by a name they
    share ("Slice Republic")? Then the message names several outlets, and the sender's phone does not choose."""
    words = {o.code: set().union(*(m.words for m in mentions if m.outlet.code == o.code)) for o in outlets}
    return all(words[code] - set().union(*(w for other, w in words.items() if other != code)) for code in words)


def _phrase(text: str) -> str:
    return " ".join(word.replace("'", "") for word in _TOKEN.findall(text.lower()))
