"""Text clean-up for order messages: symbols, number words, and the noise that must never be read as a quantity.

Everything here is a pure function over strings. ``strip_noise`` and ``extract_pack_hint`` keep the text's length
(they blank, not delete), so positions found after them still point into the message as written.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from decimal import Decimal
from typing import Final

from opsdesk.core.text import singular
from opsdesk.orders.parsing.sizes import SIZE_PREFIX, extract_sizes
from opsdesk.orders.parsing.vocabulary import ABBREVIATIONS, CASE_UNITS, COUNT_UNIT_PATTERN, FILLER_WORDS

_SMALL: Final = {
    "zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9,
    "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15, "sixteen": 16,
    "seventeen": 17, "eighteen": 18, "nineteen": 19,
}  # fmt: skip
_TENS: Final = {
    "twenty": 20, "thirty": 30, "forty": 40, "fourty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80,
    "ninety": 90,
}  # fmt: skip
_NUMBER_WORD = "|".join([*_SMALL, *_TENS, "hundred", "thousand", "dozen", "couple", "half"])
_SCALE_AFTER_A: Final = frozenset({"hundred", "thousand", "dozen", "couple", "half"})
# "and" belongs to a number only after a scale word: "two hundred and fifty", never "two and three".
_NUMBER_RUN = re.compile(  # never a name's "one-north", "one-stop"
    r"\b(?:(?:(?:hundred|thousand)\s+and|a|an|" + _NUMBER_WORD + r")(?:[\s-]+|$))*(?:" + _NUMBER_WORD + r")\b"
    r"(?!-[a-z])"
)
_DIGIT_DOZENS = re.compile(r"\b(\d{1,3})\s*(?:dozens?|dzn|dz|doz)\b")
_UNIT_AHEAD = r"(?=(?:" + "|".join(sorted(CASE_UNITS | {"box", "bag"}, key=len, reverse=True)) + r")\b)"
_ONE_BEFORE_UNIT = re.compile(r"\b(?:a|an)\s+" + _UNIT_AHEAD)  # "a carton" is one
_HALF_A = re.compile(r"\bhalf\s+(?:a|an)\s+" + _UNIT_AHEAD)  # "half a carton" is half of one

_PACK_HINT = re.compile(
    r"\(?\s*(?:pack\s+of\s+|x\s*)?(\d{1,5})\s*(?:pcs?|pieces?|rolls?|sets?|pairs?|sheets?|'?s)?\s*"
    r"(?:/|per|in\s+a|a|each|in\s+1)\s*(?:bundle|bdl|ctn|carton|pkt|pack|packet|case|box|roll|bag)s?\s*\)?"
    r"|\(\s*(?:pack\s+of\s+)?(\d{1,5})\s*(?:pcs?|pieces?|'s)?\s*\)"
)

_MONTHS = r"(?:jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*"
_PER = r"(?:\s*(?:each|ea|per\s+[a-z]+|/\s*[a-z]+))?"
_NOISE: Final[tuple[re.Pattern[str], ...]] = (
    # Money, percentages and anything said about price: the parser never reads prices from messages.
    re.compile(r"(?:s\$|sgd|usd|us\$|rm|\$)\s*\d+(?:\.\d+)?" + _PER),
    re.compile(r"\b\d+(?:\.\d+)?\s*(?:sgd|dollars?|bucks|cents?)\b"),
    re.compile(
        r"\b(?:unit\s+)?(?:price|prices|cost|costs|rate|amount|discount|total)\s*"
        r"(?:is|of|to|at|=|:|should\s+be|be|becomes?|as)?\s*(?:s?\$)?\s*\d+(?:\.\d+)?"
    ),
    re.compile(r"@\s*\$?\d+(?:\.\d+)?" + _PER),
    re.compile(r"\b\d+(?:\.\d+)?\s*%"),
    # Phone numbers (Singapore eight digits, ten-digit mobiles, or any +country number).
    # National numbers with a trunk 0 ("0878-8100-6425", "0947 520 1166").
    re.compile(r"(?<![\d.+])0\d{2,4}[\s-]?\d{3,4}[\s-]?\d{4}(?![\d.])"),
    re.compile(r"(?:\+?65[\s-]?)?(?<!\d)[3689]\d{3}[\s-]?\d{4}(?!\d)"),
    re.compile(r"\+\d[\d\s()-]{7,}\d"),
    # Ten-digit mobiles written without the country code, whole or split ("97690 33120", "90040-58812").
    re.compile(r"(?<![\d.])[6-9]\d{4}[\s-]?\d{5}(?![\d.])"),
    # Addresses and references.
    re.compile(r"\b(?:blk|block)\s*\d+[a-z]?\b"),
    re.compile(r"#\s*\d{1,3}\s*-\s*\d{1,5}\b"),
    re.compile(r"\bsingapore\s*\d{6}\b|\bs\(?\d{6}\)?|\b\d{6}\b"),
    re.compile(
        r"\b(?:avenue|ave|street|st|road|rd|drive|dr|lane|lorong|lor|central|crescent|cres|level|lvl|unit)\s*\d+[a-z]?\b"
    ),
    re.compile(r"\b(?:po|p\.o\.|ref|invoice|inv)\s*(?:no\.?|number|#)?\s*[:#]?\s*[a-z]{0,3}-?\d+\b"),
    re.compile(r"\border\s*(?:no\.?|number|#)\s*:?\s*[a-z]{0,3}-?\d+\b|#\d+\b"),
    # References written with slashes or hyphens ("GB/PO/2026/0377", "PR-88213", "A-0081"), and totals lines.
    re.compile(r"\b[a-z]{1,4}(?:[/-][a-z0-9]+)*[/-][a-z0-9]*\d[a-z0-9]*\b"),
    re.compile(r"^\s*(?:sub-?\s*total|grand\s+total|total|gst|tax|vat)\b.*$"),
    re.compile(r"\bpage\s+[\dli]{1,3}\s*(?:of|/)\s*[\dli]{1,3}\b"),  # a form's "Page 1 of 2", read by OCR too
    # What a correction replaces, in brackets or after a count: "3 box (instead of medium)", "(not 12 inch)".
    re.compile(r"\(\s*(?:instead\s+of|in\s+place\s+of|not)\s+[^()\n]{1,40}\)"),
    # A corrected number: "should be 2000 pcs, not 1000" — the number after "not" is the one to forget.
    re.compile(
        r"\b(?:not|instead\s+of)\s+(?:\d+(?:\.\d+)?|one|two|three|four|five|six|seven|eight|nine|ten)"
        r"(?:\s*(?:pcs?|pieces?|ctns?|cartons?|bdls?|bundles?|packs?))?\b"
    ),
    # Times and dates.
    re.compile(r"\b(?!0\.)(?:[01]?\d|2[0-3])[:.][0-5]\d\s*(?:am|pm|hrs|h)?\b"),  # not "0.75" (that is ¾)
    re.compile(r"\b\d{1,2}\s*(?:am|pm|a\.m\.?|p\.m\.?)"),
    re.compile(r"\b\d{3,4}\s*hrs?\b|\b\d{1,2}\s*noon\b|\b\d{1,2}\s*o'?clock\b"),
    re.compile(
        r"\b(?:by|before|after|latest|around|at|until|till|from)\s+\d{1,2}\b"
        r"(?=\s*(?:$|[,.!;)?]|today|tonight|tomorrow|tmr|tmrw|morning|noon|latest|pls|please|can|or|lah|ok))"
    ),
    re.compile(r"\b(?:open|opens|opening|close|closes|closing)\s+(?:at\s+)?\d{1,2}\b(?!\s*(?:ctn|bdl|pcs|pkt))"),
    # A date, not a range of a count ("3-4 ctn" is asked about: ODD_NUMBER).
    re.compile(r"\b\d{1,2}[/-]\d{1,2}(?:[/-]\d{2,4})?\b(?!\s*(?:" + "|".join(sorted(CASE_UNITS)) + r")\b)"),
    re.compile(r"\b\d{1,2}(?:st|nd|rd|th)\b(?:\s+(?:of\s+)?" + _MONTHS + ")?"),
    re.compile(r"\b\d{1,2}\s+(?:" + _MONTHS + r"|may)\b"),
    re.compile(r"\b" + _MONTHS + r"\s+\d{1,2}(?:st|nd|rd|th)?\b"),
    # A year only next to a month or the word "year": "2000" alone is a count ("(100/bundle): 2000").
    re.compile(r"\b(?:" + _MONTHS + r"|may|year|yr)\s*,?\s*20\d{2}\b"),
)

_KEYCAP = re.compile("\\d\ufe0f?\u20e3")
_KEYCAP_BULLET = re.compile(
    "^[ \t]*(?:\\d\ufe0f?\u20e3)+[ \t]*" + r"(?![ \t]*(?:" + "|".join(sorted(CASE_UNITS)) + r")\b)",
    re.MULTILINE | re.IGNORECASE,
)
_THOUSANDS = re.compile(r"(?<![\d.])(\d{1,3})(?:,(\d{3}))+(?![\d])")
# "2.5k", "10k": thousands of pieces (no one orders 2,500 cartons); not money ("$2k") and not "10kg".
_KILO = re.compile(r"(?<![\w.$])(\d{1,4}(?:\.\d{1,3})?)\s?k\b(?!\s*(?:\$|sgd|dollars?))", re.IGNORECASE)
_UNIT_AFTER = re.compile(r"\s*" + COUNT_UNIT_PATTERN + r"\b", re.IGNORECASE)
_SPACES = re.compile("[ \t\u00a0]+")
# A lone capital S, M or L between spaces, tabs, a dash or a comma ("Gloves L - 2 box", "bag\tM\t5"), or any of
# them in brackets ("(m)"): a size. Never inside a word, an initial ("R. Kamble") or "S/No".
_LETTER_SIZE = re.compile(r"(?<![\w.&'/])(?:(?<=\()([smlSML])(?=\))|([SML])(?=[ \t]|[,:)]|$))", re.MULTILINE)
_LETTERS: Final = {"S": "small", "M": "medium", "L": "large"}
_NUMBERS_ABBREVIATED = re.compile(r"(?<![\w.])(\d+)\s*(?:no|No|NO)\.(?=\s|$|,)")  # "3 no." on an indent slip
_BULLET = re.compile(r"^\s*(?:[-*•·▪►→>~+]+\s*|\d{1,2}[.)]\s+|\(\d{1,2}\)\s+|[a-h][.)]\s+|\[[xX✓✔v ]?\]\s*)")
# Typographic quotes, primes, dashes and the multiplication sign, written the plain way.
_PLAIN = str.maketrans(
    {
        "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u2033": '"', "\u2018": "'", "\u2019": "'", "\u2032": "'",
        "`": "'", "\u00d7": " x ", "\u2013": "-", "\u2014": "-", "\u2010": "-", "\u2011": "-", "\u2212": "-",
        "\uff1a": ":",
    }
)  # fmt: skip
_KEPT_SYMBOLS = frozenset(" \t'\"#$%&()*+,-./:;=?@!~>")
_WORD = re.compile(rf"{SIZE_PREFIX}[a-z]+_[0-9a-z.]+|(?!x\d)[a-z]{{2,}}\d[a-z0-9]*|\d+(?:\.\d+)?|[a-z]+")
# Two letters or more run into digits ("co2"): a word of a name, as the tokens of a message read it
NAMED_CODE = re.compile(r"(?!x\d)[a-z]{2,}\d[a-z0-9]*")
# Letters run into digits ("b1", "l2", "t3") name a place or a code, never a quantity; "x5" is a marked count.
_TOKEN = re.compile(rf"{SIZE_PREFIX}[a-z]+_[0-9a-z.]+|(?!x\d)[a-z]+\d[a-z0-9]*|\d+(?:\.\d+)?|[a-z]+|[x*:=\-+]")
_TSHIRT = re.compile(r"\bt[\s-]?shirts?\b")
# "3-in-1 coffee", "3 in 1", "3in1": a name, not a count
_N_IN_1 = re.compile(r"(?<![\d.])([2-5])\s*-?\s*in\s*-?\s*1\b", re.IGNORECASE)
_NAMED_WEIGHT = re.compile(r"(?<![\d.])(\d+(?:\.\d+)?)\s*(?:kg|kgs|kilo|kilos|kilogram|kilograms)\b")
# What OCR makes of a photographed form: "l0", "2O", "4OOO", "1O,OOO" are numbers; "0RDER", "y0u", "Regu1ar" words;
# "ContainerCTN 4" a name run into its unit.
_OCR_NUMBER = re.compile(
    r"(?<![\w#])(?=[lIoO0-9,]*\d)[lI]?[0-9][0-9oO,]*[oO][0-9oO,]*(?![\w])|(?<![\w#])[lI][0-9][0-9,]*(?![\w])"
)
_OCR_WORD = re.compile(
    r"(?<![\w-])(?![xX][01])(?=\w*[A-Za-z]{2})[A-Za-z]*[a-zA-Z][01][a-zA-Z]+(?![\w-])|(?<![\w-])0[A-Za-z]{3,}(?![\w-])"
    r"|(?<![\w-])[A-Z]{1,3}00[A-Z]{1,3}(?![\w-])"  # "G00D" in capitals
)
_UNTICKED = re.compile(r"^[ \t]*\[[ \t]*\].*$", re.MULTILINE)
_OCR_SIZE = re.compile(r"(?<![\w.])[lI]([0-9oO]{1,3})(?=\s*(?:ml|l|oz|g|kg|cm|mm)\b)", re.IGNORECASE)  # "l000ml"
_OCR_ONE = re.compile(r"(?<![\w'])[Il](?=\s+(?i:ctn|ctns|bdl|bdls|pkt|pkts|carton|cartons|bundle|bundles|pack|pcs)\b)")
# "Pizza Saver Tripod ctn l": a form's Qty column after its Unit column, at the end of the line
_OCR_ONE_AFTER_UNIT = re.compile(
    r"(\b(?i:ctn|ctns|bdl|bdls|pkt|pkts|carton|cartons|bundle|bundles|pack|pcs)\s+)[Il]$", re.MULTILINE
)
_OCR_UNIT_NUMBER = re.compile(r"#\s*([0-9lIoO]{1,3})\s*-\s*([0-9lIoO]{1,5})\b")  # "#0l-25" is "#01-25"
_OCR_UNIT = re.compile(r"([a-z])(CTN|BDL|PKT|PCS|EA|BOX|PK)\s*(\d)")
_JERRY_CAN = re.compile(r"\bjerry\s+can\b", re.IGNORECASE)
_ARROW_LAST = re.compile(r"[ \t]*(?:\u2192|\u21d2|\u27a1\ufe0f?|->|=>)[ \t]*$", re.MULTILINE)  # "Wooden fork ➡️" blank
_CROSSED = re.compile(r"^[ \t]*(?:\u274c|\u2717|\u2718|\u2612)[^\n]*$", re.MULTILINE)  # "❌ pizza saver": not ordered
_ARROW = re.compile(r"(?<=\S)[ \t]*(?:\u2192|\u21d2|\u27a1\ufe0f?|->|=>)[ \t]*(?=[^\s\ufe0f])")  # between words
_SPOKEN_POINT = re.compile(r"\b(\d{1,2})\s+point\s+(\d)\b")
_FRACTION = re.compile(r"(?<![\d/])([1-3])/([2-4])(?![\d/])(?=\s*" + COUNT_UNIT_PATTERN + r"\b)", re.IGNORECASE)
_DIGIT_WORDS: Final = {"2": "two", "3": "three", "4": "four", "5": "five"}


# Numbers that are not plain whole counts: "-5", "0x10", "1e9". Never read as a quantity; asked about.
ODD_NUMBER = re.compile(
    r"(?<![\w.\-/#])-\d+(?:\.\d+)?(?![\d/-])|\b0x[0-9a-f]+\b|\b\d+(?:\.\d+)?e[+-]?\d+\b"
    # a range of counts before a unit: "3-4 ctn", "3 to 4 bundles", "three or four bundle"
    r"|\b\d+\s*(?:-|~|to|or)\s*\d+(?=\s*" + COUNT_UNIT_PATTERN + r"\b)"
    # "x 2 or 3", "2 or 3, whatever you've got": two counts joined by "or" are a range wherever they stand
    r"|\b\d+\s+or\s+\d+\b(?!\s*(?:am|pm|o'?clock)\b)"
)
_VULGAR = re.compile(r"(\d*)\s?([\u00bc-\u00be\u2150-\u215e])")


def _keycaps(text: str) -> str:
    """Keycap digits: "1️⃣ " at the start of a line is a list number (dropped) unless a unit follows ("2️⃣ ctn");
    elsewhere they are the digits they show ("chopsticks 2️⃣ ctn", "1️⃣0️⃣")."""
    text = _KEYCAP_BULLET.sub("", text)
    return _KEYCAP.sub(lambda m: m.group(0)[0], text)


def _vulgar(match: re.Match[str]) -> str:
    """ "1½" → "1.5", "¾" → "0.75": kept as the fraction it is (NFKC would make "½" into "12")."""
    value = int(match.group(1) or 0) + unicodedata.numeric(match.group(2))
    return f" {value:g} "


def clean_message(text: str) -> str:
    """Normalise a raw message: unicode forms, quotes, emoji and symbols out, thousands separators, spacing, and a
    size written as one capital letter ("Gloves L", "(M)") as its word."""
    text = _VULGAR.sub(_vulgar, text.replace("\r\n", "\n").replace("\r", "\n"))
    text = _UNTICKED.sub("", text)  # "[ ] Wooden Spoon ... ___": a tick box left empty orders nothing
    text = _LETTER_SIZE.sub(_letter_size, _NUMBERS_ABBREVIATED.sub(r"\1 nos", text))
    text = _OCR_UNIT_NUMBER.sub(lambda m: m.group(0).translate(_OCR_DIGITS), text)
    text = _OCR_ONE_AFTER_UNIT.sub(r"\g<1>1", _OCR_ONE.sub("1", text))
    text = _OCR_SIZE.sub(lambda m: "1" + m.group(1).translate(_OCR_DIGITS), text)
    text = _OCR_UNIT.sub(r"\1 \2 \3", _OCR_NUMBER.sub(_ocr_number, _OCR_WORD.sub(_ocr_word, text)))
    text = _N_IN_1.sub(_n_in_one, text)  # before the noise: "in-1" would read as a reference
    text = _ARROW.sub(" to ", _ARROW_LAST.sub(":", _CROSSED.sub("", text)))  # "swap the 16oz cold cup → 12oz cup"
    text = _JERRY_CAN.sub("jerrycan", text)
    text = _FRACTION.sub(lambda m: f"{int(m.group(1)) / int(m.group(2)):g}", text)  # "1/2 case": asked, not a date
    text = unicodedata.normalize("NFKC", text)
    text = _keycaps(text).translate(_PLAIN)
    kept = []
    for char in text:
        if char == "\n" or char.isalnum() or char in _KEPT_SYMBOLS:
            kept.append(char)
        elif unicodedata.category(char)[0] in "PZ":
            kept.append(" ")
        # Emoji, pictographs, variation selectors, joiners and control characters are dropped.
    text = _THOUSANDS.sub(lambda m: m.group(0).replace(",", ""), "".join(kept))
    text = _KILO.sub(_thousands_of_pieces, text)
    return "\n".join(_SPACES.sub(" ", line).strip() for line in text.split("\n"))


def _letter_size(match: re.Match[str]) -> str:
    """ "L" → "large" unless a number is right before it ("5 L" is litres, "72 M" metres)."""
    if re.search(r"\d\s*$", match.string[: match.start()]):
        return match.group(0)
    return _LETTERS[(match.group(1) or match.group(2)).upper()]


def _thousands_of_pieces(match: re.Match[str]) -> str:
    """ "2.5k" → "2500 pcs" ("2k ctn" keeps its unit: "2000 ctn"); a fraction of a piece is left as written."""
    value = Decimal(match.group(1)) * 1000
    if value != value.to_integral_value():
        return match.group(0)
    unit = "" if _UNIT_AFTER.match(match.string, match.end()) else " pcs"
    return f"{int(value)}{unit}"


def strip_bullet(line: str) -> str:
    """Remove a leading list marker (dash, dot, ``1.``, ``(2)``) from a line."""
    return _BULLET.sub("", line, count=1)


def strip_noise(text: str) -> str:
    """Blank out prices, phone numbers, addresses, references, times and dates (lower-case text)."""
    for pattern in _NOISE:
        text = pattern.sub(_blank, text)
    return text


def _blank(match: re.Match[str]) -> str:
    return " " * len(match.group(0))


def extract_pack_hint(text: str) -> tuple[str, int | None]:
    """Blank out a pack-size hint such as ``(100/bundle)`` (never a quantity) and return its number."""
    hint: int | None = None

    def _take(match: re.Match[str]) -> str:
        nonlocal hint
        hint = int(match.group(1) or match.group(2))
        return _blank(match)

    return _PACK_HINT.sub(_take, text), hint


def words_to_digits(text: str) -> str:
    """Replace number words with digits: "two hundred" → 200, "a dozen" → 12, "2 dozen bdl" → "24 bdl", "2 dz" → "24
    pcs", "a carton" → "1 carton"."""
    text = _DIGIT_DOZENS.sub(_dozens, text)
    text = _NUMBER_RUN.sub(_number_run, _ONE_BEFORE_UNIT.sub("1 ", _HALF_A.sub("0.5 ", text)))
    return _SPOKEN_POINT.sub(r"\1.\2", text)  # "one point five" (a voice note's 1.5)


def _dozens(match: re.Match[str]) -> str:
    """ "2 dozen bdl" → "24 bdl"; "1 dz" with no unit after is twelve pieces ("toilet cleaner 1L - 1 dz")."""
    value = int(match.group(1)) * 12
    return f"{value}" if _UNIT_AFTER.match(match.string, match.end()) else f"{value} pcs"


def _number_run(match: re.Match[str]) -> str:
    words = [w for w in re.split(r"[\s-]+", match.group(0)) if w]
    kept: list[str] = []
    while words and words[0] in ("a", "an") and (len(words) == 1 or words[1] not in _SCALE_AFTER_A):
        kept.append(words.pop(0))
    value = _value_of(words)
    if value is None:
        return match.group(0)
    return " ".join([*kept, f"{value:g}"]) + " "


def _value_of(words: list[str]) -> float | None:
    total, current, seen, halves = 0.0, 0.0, False, 0.0
    for word in words:
        if word in _SMALL:
            current += _SMALL[word]
        elif word in _TENS:
            current += _TENS[word]
        elif word == "hundred":
            current = max(current, 1) * 100
        elif word == "thousand":
            total += max(current, 1) * 1000
            current = 0
        elif word == "dozen":
            current = max(current, 1) * 12
            if halves and not seen:  # "half a dozen"
                current, halves = current / 2, 0.0
        elif word == "couple":
            current += 2
        elif word == "half":
            halves = 0.5
            continue
        else:
            continue
        seen = True
    if not seen:
        return halves or None
    return total + current + halves


def _ocr_number(match: re.Match[str]) -> str:
    return match.group(0).translate(_OCR_DIGITS)


def _ocr_word(match: re.Match[str]) -> str:
    word = match.group(0)
    return word.translate(_OCR_LETTERS_UPPER if word[1:].isupper() else _OCR_LETTERS)  # "W0NG", "0RDER" in capitals


_OCR_DIGITS = str.maketrans({"l": "1", "I": "1", "o": "0", "O": "0"})
_OCR_LETTERS = str.maketrans({"0": "o", "1": "l"})
_OCR_LETTERS_UPPER = str.maketrans({"0": "O", "1": "I"})


def _n_in_one(match: re.Match[str]) -> str:
    return f"{_DIGIT_WORDS[match.group(1)]}inone"


def join_compounds(text: str) -> str:
    """Write compounds one way ("t-shirt", "t shirt" → "tshirt", "3-in-1" → "threeinone") and drop possessives
    ("nonna's" → "nonna")."""
    text = _N_IN_1.sub(_n_in_one, text)
    return _TSHIRT.sub("tshirt", text.replace("'s", "").replace("'", ""))


def expand_abbreviation(word: str) -> str:
    """The full form of a common shorthand (``prem`` → ``premium``), or the word itself."""
    return ABBREVIATIONS.get(word, word)


def item_terms(text: str, *, keep_filler: bool = False) -> tuple[tuple[str, ...], frozenset[str]]:
    """Content words (singular, shorthand expanded) and size tokens of an item description or catalog name
    (``keep_filler``: every word, "top flour" stays two words)."""
    words: list[str] = []
    sizes: set[str] = set()
    for token in _name_tokens(text):
        if token.startswith(SIZE_PREFIX):
            sizes.add(token)
        elif _is_name_word(token) and (keep_filler or token not in FILLER_WORDS):
            words.append(singular(expand_abbreviation(token)))
    return tuple(words), frozenset(sizes)


def _name_tokens(text: str) -> list[str]:
    """The tokens of a name. In a name, a weight is the product's size ("Gas LPG 12kg"; in a message it may be a
    count, "50kg flour"), and a size written as one capital letter ("Paper Lunch Box M") is read as in messages."""
    text = _LETTER_SIZE.sub(_letter_size, text)
    return _WORD.findall(_NAMED_WEIGHT.sub(_weight_size, extract_sizes(words_to_digits(join_compounds(text.lower())))))


def _is_name_word(token: str) -> bool:
    """A word a name is matched by: two letters or more, or letters run into digits ("co2")."""
    return (token.isalpha() and len(token) > 1) or bool(NAMED_CODE.fullmatch(token))


def _weight_size(match: re.Match[str]) -> str:
    return f" {weight_token(float(match.group(1)))} "


def weight_token(kilograms: float) -> str:
    """The size token of a weight: 12 kg → ``size_wt_12000g`` (the same as "12000g" written in grams)."""
    return f"{SIZE_PREFIX}wt_{round(kilograms * 1000)}g"


def whole_terms(text: str) -> bool:
    """Does ``item_terms`` keep every part of this name? Not for "c&o crisps" (its single letters go) or "30/70
    gas" (its numbers go): such a name, read as its words, would be another name ("crisps", "gas")."""
    return all(token.startswith(SIZE_PREFIX) or _is_name_word(token) for token in _name_tokens(text))


def tokens(text: str) -> list[str]:
    """Tokens of prepared lower-case text: size tokens, numbers, words, and the markers ``x * : = -``."""
    return _TOKEN.findall(text)


def normalise_phone(raw: str) -> str | None:
    """A comparable phone key (``+6591234567``) from any common format, or None when there are too few digits."""
    digits = re.sub(r"\D", "", raw)
    if len(digits) == 8:
        return "+65" + digits
    if len(digits) == 10 and digits.startswith("65"):
        return "+" + digits
    if len(digits) >= 9:
        return "+" + digits.lstrip("0")
    return None


_AND = re.compile(r"\s*(?:&|\band\b|\bn\b)\s*", re.IGNORECASE)


def joined_names(names: Iterable[str]) -> re.Pattern[str] | None:
    """A pattern for the parts of catalog names joined by "&" or "and" ("strawberry & lime"), written any way."""
    joined = set()
    for name in names:
        for found in re.finditer(r"([a-z]+)\s*(?:&|\band\b)\s*([a-z]+)", name.lower()):
            joined.add(rf"{found.group(1)}\s*(?:&|\band\b|\bn\b)\s*{found.group(2)}")
    if not joined:
        return None
    return re.compile(r"\b(?:" + "|".join(sorted(joined, key=len, reverse=True)) + r")\b", re.IGNORECASE)


def join_names(pattern: re.Pattern[str], text: str) -> str:
    """ "Strawberry & Lime" → "Strawberry-Lime" where a catalog name joins the two words, so "&" splits nothing."""
    return pattern.sub(lambda m: _AND.sub("-", m.group(0)), text)
