"""The words of the trade in the languages outlets mix into their orders, written in English before parsing. Only
words of the trade and of ordering, not a translator; the catalog's own names are never translated.

- Malay and Chinese, as outlets in Singapore and Malaysia write: "sudu kayu" → "wooden spoon", "筷子 3箱" →
  "chopsticks 3 ctn", and Malay units after a count ("4 guni", "300 biji"). "tapau" (to go) is left alone, since
  "tapau boxes" names no one product.
- Hinglish, as outlets in India write: Hindi counts before a unit ("paanch packet" → "5 packet") and the verbs and
  particles of an order ("bhej do" → "send", "thoda" → "some", "wala" dropped).
- Tagalog and Taglish, as sari-sari stores write: unit words ("kahon", "sako", "tali", "dosena"), counts before a
  unit ("isang sako", "apat na case"), "tig-2 na kahon" (2 each), and particles ("po", "ng", "lang") dropped.
- Bahasa Indonesia, as warung in Jakarta write: counts ("dua puluh lima kilo", "tiga dus"), "selusin", "sekodi",
  "3 lusin", "setengah" (half: asked), "atau" (or), and the words of an order ("pesan", "kirim", "ya kak").
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Final

from opsdesk.orders.parsing.vocabulary import COUNT_UNIT_PATTERN

# Malay phrases first (the noun comes first in Malay: "sudu kayu" is a wooden spoon), then single words.
_MALAY: Final = {
    "sudu kayu": "wooden spoon", "garpu kayu": "wooden fork", "pisau kayu": "wooden knife",
    "beg plastik": "plastic bag", "beg kertas": "paper bag", "cawan kertas": "paper cup",
    "kotak pizza": "pizza box", "bekas makanan": "food container", "tisu": "napkin", "penyepit": "chopsticks",
    "tutup": "lid", "penutup": "lid", "sudu": "spoon", "garpu": "fork", "pisau": "knife", "beg": "bag",
    "plastik": "plastic", "kertas": "paper", "kotak": "box", "bekas": "container", "cawan": "cup",
}  # fmt: skip
# Chinese: each term becomes English words with spaces around them; units become the English unit word.
_CHINESE: Final = {
    "筷子": "chopsticks", "餐巾纸": "napkin", "纸巾": "napkin", "酱料杯": "sauce cup", "酱汁杯": "sauce cup",
    "酱杯": "sauce cup", "杯盖": "cup lid", "盖子": "lid", "纸杯": "paper cup", "杯子": "cup", "塑料袋": "plastic bag",
    "背心袋": "singlet bag", "纸袋": "paper bag", "袋子": "bag", "饭盒": "meal box", "披萨盒": "pizza box",
    "比萨盒": "pizza box", "盒子": "box", "木勺": "wooden spoon", "勺子": "spoon", "木叉": "wooden fork",
    "叉子": "fork", "保鲜膜": "cling wrap", "刀": "knife", "盖": "lid", "杯": "cup", "袋": "bag", "盒": "box",
    "汤杯盖": "soup container lid", "汤盒盖": "soup container lid", "汤杯": "soup container", "汤盒": "soup container",
    "打包盒": "takeaway container", "吸管": "straw", "汤": "soup",
    "箱": "ctn", "包": "pkt", "捆": "bdl", "扎": "bdl", "个": "pcs", "谢谢": "thanks",
}  # fmt: skip
# Hinglish: the verbs, particles and time words of an order written in Hindi with Latin letters ("500 ml wala
# container paanch packet bhej do"), so that the line reads as an order; words for products are the catalog's aliases.
_HINGLISH: Final = {
    "bhej do": "send", "bhej dena": "send", "bhej dijiye": "send", "bhejna": "send", "bhejo": "send", "bhej": "send",
    "kar do": "", "kar dena": "", "dena": "", "chahiye": "need", "chaiye": "need", "wala": "", "wali": "", "wale": "",
    "bhi": "also", "aur": "and", "thoda": "some", "thodi": "some", "kal": "tomorrow", "subah": "morning",
    "aaj": "today", "jaldi": "urgent", "tak": "by", "woh": "", "wo": "", "yeh": "", "ye": "", "haan": "yes",
    "bhaiya": "", "bhai": "", "ji": "",
}  # fmt: skip
# Hindi counts before a unit word ("paanch packet", "do roll"); "do" alone is English.
_HINDI_NUMBERS: Final = {
    "ek": 1, "do": 2, "teen": 3, "char": 4, "chaar": 4, "paanch": 5, "panch": 5, "chhe": 6, "chhah": 6, "saat": 7,
    "aath": 8, "nau": 9, "das": 10, "gyarah": 11, "barah": 12, "baarah": 12, "pandrah": 15, "bees": 20,
    "pachees": 25, "pachchis": 25, "tees": 30, "chaalis": 40, "chalis": 40, "pachaas": 50, "pachas": 50, "sau": 100,
}  # fmt: skip
# Tagalog and Taglish, as sari-sari stores write: units first ("isang sako bigas", "tatlong kahon"), then counts
# before a unit ("dalawang", "apat na"), "tig-2" (each), and the particles and verbs of an order.
_TAGALOG_UNITS: Final = {
    "kahon": "case", "sako": "sack", "bote": "bottle", "dosena": "dozen", "piraso": "pcs", "tali": "strip",
    "ream": "strip", "pakete": "pack", "balot": "pack",
}  # fmt: skip
_TAGALOG_NUMBERS: Final = {
    "isa": 1, "isang": 1, "dalawa": 2, "dalawang": 2, "tatlo": 3, "tatlong": 3, "apat": 4, "lima": 5, "limang": 5,
    "anim": 6, "pito": 7, "pitong": 7, "walo": 8, "walong": 8, "siyam": 9, "sampu": 10, "sampung": 10,
}  # fmt: skip
_TAGALOG: Final = {
    "ngayon na": "asap", "paubos na": "running out", "ubos na": "running out", "pa-order": "order",
    "paorder": "order", "pa-deliver": "deliver", "padeliver": "deliver", "pakideliver": "deliver", "pahabol": "add",
    "dagdagan": "add", "kailangan": "need", "ngayon": "today", "bukas": "tomorrow", "umaga": "morning",
    "konting": "some", "konti": "some", "kaunti": "some", "tsaka": "and", "saka": "and", "palitan": "change",
    "gawing": "make it", "hindi": "not", "salamat": "thanks",
}  # fmt: skip
# Particles, dropped only in lower case: "PO 00912" is a purchase order, "po" (polite) is not.
_TAGALOG_PARTICLES = re.compile(
    r"(?<![\w-])(?:po(?!\s*(?:#|no\b|number\b|\d))|opo|ng|lang|lng|naman|yung|ung|niyo|nyo|ito|d2|dito|na)(?![\w-])"
)
# Bahasa Indonesia, as warung and restaurants in Jakarta write: counts ("dua dus", "dua puluh lima kilo"), "selusin"
# (12), "sekodi" (20), "setengah" (half: asked), "atau" (or: a range), and the words of an order.
_INDONESIAN_DIGITS: Final = {
    "satu": 1, "dua": 2, "tiga": 3, "empat": 4, "lima": 5, "enam": 6, "tujuh": 7, "delapan": 8, "sembilan": 9,
}  # fmt: skip
_INDONESIAN_NUMBER = re.compile(
    r"\b((?:(?:satu|dua|tiga|empat|lima|enam|tujuh|delapan|sembilan|se)\s*(?:puluh|belas|ratus)|sepuluh|sebelas"
    r"|seratus|satu|dua|tiga|empat|lima|enam|tujuh|delapan|sembilan)(?:\s+(?:satu|dua|tiga|empat|lima|enam|tujuh"
    r"|delapan|sembilan))?)\b(?=\s+(?:" + COUNT_UNIT_PATTERN + r"|kilo|kg|liter|tray|box|sleeve|lusin|kodi)\b|\s*$)",
    re.IGNORECASE | re.MULTILINE,
)
_INDONESIAN: Final = {
    "selusin": "12 pcs", "sekodi": "20 pcs", "setengah": "0.5", "atau": "or", "pesanan terpisah": "separate order",
    "terpisah": "separate", "pesan": "order", "pesen": "order", "pesanan": "order", "pesenan": "order",
    "kirim": "send", "tolong": "please", "makasih": "thanks", "terima kasih": "thanks", "besok": "tomorrow",
    "hari ini": "today", "segera": "urgent", "stok habis": "ran out", "habis": "ran out", "sama": "and",
    "dan": "and", "terus": "then", "juga": "also", "buat": "for", "untuk": "for", "sebelum": "before",
    "tambahin": "add", "tambah": "add", "susulan": "add", "ralat": "correction", "jadi": "make it", "maaf": "sorry",
    "bukan": "not", "cabang": "branch", "mau": "want", "halo": "hello", "saya": "", "aku": "", "kami": "",
    "jam": "at", "dari": "from", "ke": "to", "pagi": "morning",
    "kak": "", "ya": "", "mas": "", "mbak": "", "bu": "", "yang": "",
    "aja": "", "saja": "", "dong": "", "deh": "", "ini": "", "itu": "", "udah": "", "sudah": "",
}  # fmt: skip
_INDONESIAN_PATTERN = re.compile(
    r"(?<![\w-])(?:" + "|".join(re.escape(k) for k in sorted(_INDONESIAN, key=len, reverse=True)) + r")(?![\w-])",
    re.IGNORECASE,
)
_INDONESIAN_PARTS = re.compile(
    r"se(?=puluh|belas|ratus)|satu|dua|tiga|empat|lima|enam|tujuh|delapan|sembilan|puluh|belas|ratus"
)
_DOZENS_OF = re.compile(r"\b(\d+)\s*(lusin|kodi)\b", re.IGNORECASE)
_TAGALOG_UNIT_PATTERN = re.compile(r"\b(" + "|".join(_TAGALOG_UNITS) + r")\b", re.IGNORECASE)
_TAGALOG_COUNT = re.compile(
    r"\b(" + "|".join(_TAGALOG_NUMBERS) + r")(?:\s+na)?\s+(?=(?:" + COUNT_UNIT_PATTERN + r"|dozen|tray|box|bale)\b)",
    re.IGNORECASE,
)
_EACH = re.compile(r"\btig-?\s*(\d+|" + "|".join(_TAGALOG_NUMBERS) + r")(?:\s+na)?\s+(\w+)", re.IGNORECASE)
_TAGALOG_PATTERN = re.compile(
    r"(?<![\w-])(?:" + "|".join(re.escape(k) for k in sorted(_TAGALOG, key=len, reverse=True)) + r")(?![\w-])",
    re.IGNORECASE,
)
_HINGLISH_PATTERN = re.compile(
    r"\b(?:" + "|".join(re.escape(k) for k in sorted(_HINGLISH, key=len, reverse=True)) + r")\b", re.IGNORECASE
)
_HINDI_COUNT = re.compile(
    r"\b(" + "|".join(_HINDI_NUMBERS) + r")\s+(?=(?:" + COUNT_UNIT_PATTERN + r"|box|boxes|bag|bags|can|cans)\b)",
    re.IGNORECASE,
)
_MALAY_PATTERN = re.compile(
    r"\b(?:" + "|".join(re.escape(k) for k in sorted(_MALAY, key=len, reverse=True)) + r")\b", re.IGNORECASE
)
_CHINESE_PATTERN = re.compile("|".join(re.escape(k) for k in sorted(_CHINESE, key=len, reverse=True)))


# Malay unit words after a count ("tepung roti 4 guni", "telur 300 biji"); elsewhere they may be words of a name
# ("biji kopi" is coffee beans).
_MALAY_UNITS: Final = {"guni": "bag", "kes": "case", "gulung": "roll", "biji": "pcs", "botol": "bottle"}
_MALAY_UNIT_PATTERN = re.compile(r"(\d)\s*(" + "|".join(_MALAY_UNITS) + r")\b", re.IGNORECASE)


def in_english(text: str, keep: re.Pattern[str] | None = None) -> str:
    """Malay, Chinese, Hinglish and Tagalog words of the trade written in English; ``keep`` matches the catalog's
    own names that hold such words ("kertas pembakar" is its name for baking paper), left as written."""
    kept: list[str] = []

    def hold(match: re.Match[str]) -> str:
        kept.append(match.group(0))
        return f"\ue000{len(kept) - 1}\ue001"

    text = keep.sub(hold, text) if keep is not None else text
    text = _translate(text)
    return re.sub("\ue000(\\d+)\ue001", lambda m: kept[int(m.group(1))], text) if kept else text


def kept_names(names: Iterable[str]) -> re.Pattern[str] | None:
    """A pattern for the names (catalog aliases) that ``in_english`` would otherwise change, or None."""
    units = {*_TAGALOG_UNITS, *_MALAY_UNITS}  # "sako bigas": the unit is read as one ("isang sako bigas")
    changed = [
        name
        for name in {n.lower() for n in names}
        if name and _translate(name) != name and units.isdisjoint(name.split())
    ]
    if not changed:
        return None
    alternatives = "|".join(re.escape(name) for name in sorted(changed, key=len, reverse=True))
    return re.compile(rf"(?<![\w-])(?:{alternatives})(?![\w-])", re.IGNORECASE)


_CHINESE_DIGITS: Final = {"一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
# "三箱", "两捆", "十二包": a count in Chinese numerals before a unit word (never inside a name)
_CHINESE_COUNT = re.compile(r"([一二两三四五六七八九十]{1,3})(?=\s*[箱包捆扎个盒件])")


def _chinese_number(match: re.Match[str]) -> str:
    """ "三" → 3, "十二" → 12, "二十" → 20, "两" → 2; anything else stays as written."""
    digits = match.group(1)
    tens, _, ones = digits.partition("十")
    if "十" not in digits:
        return str(_CHINESE_DIGITS[digits]) if len(digits) == 1 else digits
    if (tens and tens not in _CHINESE_DIGITS) or (ones and ones not in _CHINESE_DIGITS):
        return digits
    return str(_CHINESE_DIGITS.get(tens, 1) * 10 + _CHINESE_DIGITS.get(ones, 0))


def _translate(text: str) -> str:
    text = _CHINESE_COUNT.sub(_chinese_number, text)
    text = _CHINESE_PATTERN.sub(lambda m: f" {_CHINESE[m.group(0)]} ", text)
    text = _HINDI_COUNT.sub(lambda m: f"{_HINDI_NUMBERS[m.group(1).lower()]} ", text)
    text = _HINGLISH_PATTERN.sub(lambda m: _HINGLISH[m.group(0).lower()], text)
    text = _MALAY_UNIT_PATTERN.sub(lambda m: f"{m.group(1)} {_MALAY_UNITS[m.group(2).lower()]}", text)
    return _indonesian(_tagalog(_MALAY_PATTERN.sub(lambda m: _MALAY[m.group(0).lower()], text)))


def _indonesian(text: str) -> str:
    """ "dua puluh lima kilo" → "25 kilo", "3 lusin" → "36 pcs", "pesan", "kirim", "ya kak" in English."""
    text = _INDONESIAN_NUMBER.sub(lambda m: str(_indonesian_value(m.group(1))), text)
    text = _DOZENS_OF.sub(lambda m: f"{int(m.group(1)) * (12 if m.group(2).lower() == 'lusin' else 20)} pcs", text)
    return _INDONESIAN_PATTERN.sub(lambda m: _INDONESIAN[m.group(0).lower()], text)


def _indonesian_value(words: str) -> int:
    """ "dua puluh lima" → 25, "sebelas" → 11, "seratus" → 100, "tiga" → 3."""
    total = 0
    parts = _INDONESIAN_PARTS.findall(words.lower())
    current = 0
    for part in parts:
        if part == "se":
            current = 1
        elif part == "puluh":
            total += current * 10
            current = 0
        elif part == "belas":
            total += current + 10
            current = 0
        elif part == "ratus":
            total += current * 100
            current = 0
        else:
            current = _INDONESIAN_DIGITS[part]
    return total + current


def _tagalog(text: str) -> str:
    """ "isang sako bigas" → "1 sack bigas", "tig-2 na kahon" → "2 case each", "po", "ng", "lang" dropped."""
    text = _TAGALOG_UNIT_PATTERN.sub(lambda m: _TAGALOG_UNITS[m.group(1).lower()], text)
    text = "\n".join(_each(line) for line in text.split("\n"))
    text = _TAGALOG_COUNT.sub(lambda m: f"{_TAGALOG_NUMBERS[m.group(1).lower()]} ", text)
    return _TAGALOG_PARTICLES.sub("", _TAGALOG_PATTERN.sub(lambda m: _TAGALOG[m.group(0).lower()], text))


def _each(line: str) -> str:
    """ "corned beef at 555, tig-2 na kahon": 2 cases of each, "at" joining the items."""
    if not _EACH.search(line):
        return line
    line = _EACH.sub(lambda m: f"{_tagalog_number(m.group(1))} {m.group(2)} each", line)
    return re.sub(r"\bat\b", "and", line)


def _tagalog_number(word: str) -> int:
    return int(word) if word.isdigit() else _TAGALOG_NUMBERS[word.lower()]
