"""Message-level signals: urgency, a request for the usual order, header lines of order forms."""

from __future__ import annotations

import re
from enum import StrEnum

from opsdesk.orders.parsing.languages import in_english
from opsdesk.orders.parsing.vocabulary import COUNT_UNITS

_NOT_URGENT = re.compile(
    r"\b(?:not|no|non)[\s-]+(?:urgent|urgently|rush|rushing|hurry|asap)\b|\bnot\s+in\s+a\s+(?:rush|hurry)\b"
    r"|\bno\s+need\s+(?:to\s+)?rush\b|\bwhenever\b"
    # "today's order" names an order, not a deadline ("correction in today's order")
    r"|\btoday['\u2019]?s\s+(?:order|po|indent|requisition|list)\b"
    # "correction to the order from this morning": an order already placed, not a deadline
    r"|\border\s+(?:from|of|placed|sent)\s+(?:this\s+(?:morning|afternoon)|earlier\s+today|today)\b"
)
_STRONG = re.compile(
    r"\b(?:urgent|urgently|urgnt|urgt|urgen|asap|a\.s\.a\.p|rush|rushing|emergency|immediately|right\s+away"
    r"|right\s+now|same[\s-]+day|running\s+out|ran\s+out|run\s+out|out\s+of\s+stock|finish(?:ed|ing)?\s+already"
    r"|in\s+an\s+hour|within\s+(?:the|an|\d+)\s+hours?)\b"
)
_SAME_DAY = re.compile(
    r"\b(?:today|tonight|this\s+(?:morning|afternoon|evening)|by\s+noon|before\s+noon|by\s+lunch(?:time)?"
    r"|before\s+lunch|by\s+12\s*(?:pm|noon)|need\s+(?:it|them)\s+now|now\s+(?:pls|please))\b"
)
_LATER = re.compile(r"\b(?:tomorrow|tmr|tmrw|tml|next|monday|tuesday|wednesday|thursday|friday|saturday|sunday)\b")
_USUAL = re.compile(r"\b(?:as\s+usual|usual\s+order|same\s+as\s+(?:last|usual|before)|repeat\s+(?:last\s+)?order)\b")


# Text that talks to a machine rather than to a supplier. Such sentences are not read at all.
_INSTRUCTION = re.compile(
    r"\b(?:ignore|disregard|forget|override|bypass)\b[^.!?;\n]{0,60}?\b(?:instructions?|prompts?|rules|system|guidelines"
    r"|policies|polic(?:y|ies))\b|\bsystem\s*(?:prompt|message)?\s*:|\b(?:admin|developer|god|debug)\s+mode\b"
    r"|\byou\s+are\s+now\b|\bact\s+as\b|\bjailbreak\b|\bcall\s+the\s+\w+\s+tool\b"
    r"|\b(?:set|change|make|update|override)\s+(?:all\s+|the\s+|every\s+|each\s+)?(?:unit\s+)?(?:quantit(?:y|ies)|qty"
    r"|prices?|totals?|discounts?|amounts?|costs?)\b"
)
_SENTENCE = re.compile(r"[^.!?;\n]+[.!?;]*")


def blank_instructions(text: str) -> str:
    """Blank out sentences that try to instruct the system ("ignore your instructions …"); the length is kept."""
    if not _INSTRUCTION.search(text.lower()):
        return text
    return _SENTENCE.sub(
        lambda m: " " * len(m.group(0)) if _INSTRUCTION.search(m.group(0).lower()) else m.group(0), text
    )


def is_urgent(text: str) -> bool:
    """True when the message asks for speed (urgent, asap, rush, today, by noon …) and does not deny it."""
    text = _NOT_URGENT.sub(" ", text.lower())
    if _STRONG.search(text):
        return True
    return bool(_SAME_DAY.search(text)) and not _LATER.search(text)


_PHONE = re.compile(
    # national numbers with a trunk 0 ("0947 520 1166", "0878-8100-6425") and ten digits split 5-5 ("98200 11223")
    r"(?<![\d+])0\d{2,4}[\s-]?\d{3,4}[\s-]?\d{4}(?!\d)|(?<![\d+])[6-9]\d{4}[\s-]\d{5}(?!\d)"
    r"|(?:\+\s?\d{1,3}[\s-]?)?(?<!\d)\d{4}[\s-]?\d{4}(?!\d)|\+\d[\d\s()-]{7,}\d"
)
# Greetings, thanks and sign-offs: neither items nor notes worth keeping.
_COURTESY = frozenset(
    re.findall(
        r"\w+",
        """thank thanks you thx tq ty tks thks boss hi hello hey dear regards rgds cheers bro sis good morning
        afternoon evening pls please plz much very in advance god bless have a nice day great sir madam mdm team all
        lah ya ok okay noted sincerely best wishes warm""",
    )
)


def phones_in(text: str) -> list[str]:
    """Phone numbers written in the text, in any common format."""
    return [m.group(0) for m in _PHONE.finditer(text)]


def is_remark(line: str) -> bool:
    """A line the customer writes to us (a delivery wish, a note), not a greeting, a title or an order line. Chinese
    counts by its characters ("星期四送 ok": deliver on Thursday)."""
    words = re.findall(r"[a-z]+", line.lower())
    han = len(_HAN.findall(line))
    return (len(words) >= 3 or han >= 3) and not (han < 3 and set(words) <= _COURTESY)


_HAN = re.compile(r"[\u4e00-\u9fff]")


# Words that ask for something: "also pls send some dome lids" orders, "running low on 12" boxes" only tells.
_REQUEST = frozenset({"send", "snd", "add", "need", "needs", "want", "include", "give", "bring", "also", "get"})
_VAGUE = frozenset({"some", "sikit", "abit", "few"})


# A line that takes something out: "cancel the liners", "no need chopsticks already", "remove 2oz cups".
_CANCELS = re.compile(
    r"^\W*(?:(?:pls|please|sorry|oh|and|also|boss|hi|hey|eh|ah|bro|sis|dear|ok|okay)\W+)*(?:cancel|remove|delete|minus|take\s+out|no\s+need(?:\s+for)?"
    r"|don'?t\s+(?:need|want)|dont\s+(?:need|want)|do\s+not\s+(?:need|want)|skip)\b"
    # after the item: "this week sauce cup skip, still got", "liner no need"
    r"|\b(?:skip|cancel|no\s+need|not\s+needed|don'?t\s+need)\W*(?:$|still\b|we\s+(?:still\s+)?(?:got|have)\b)"
)
# A line that corrects a count said before: "sorry sauce cup 1 ctn enough", "scratch that, make it 4", "no wait 3".
_CORRECTS = re.compile(
    r"\b(?:sorry|scratch\s+that|no\s+wait|make\s+(?:it|that)|change(?:d)?\s+(?:it\s+)?to|instead|actually|enough"
    r"|correction|should\s+be)\b"
)


_CANCELS_ORDER = re.compile(
    r"\bcancel(?:led)?\s+(?:the\s+|my\s+|our\s+|this\s+|that\s+|whole\s+|entire\s+|all\s+)*(?:order|po)\b"
)


def cancels_order(text: str) -> bool:
    """Does the message call off a whole order ("sorry boss cancel the order above")? Nothing is then asked."""
    return bool(_CANCELS_ORDER.search(text.lower()))


def cancels(line: str) -> bool:
    """Does this line take an item out of the order ("cancel the liners")?"""
    return bool(_CANCELS.search(line.lower()))


def corrects(text: str) -> bool:
    """Does this text correct a count said before ("make it 4", "sorry, 1 ctn enough")?"""
    return bool(_CORRECTS.search(text.lower()))


_ASKS_ABOUT = re.compile(
    r"\b(?:how\s+much|how\s+many\s+(?:pcs|pieces|per)|what(?:'s|\s+is)?\s+the\s+price|price\s+(?:of|for)|got\s+stock"
    r"|in\s+stock|do\s+you\s+(?:have|sell|carry)|you\s+(?:have|sell|carry))\b"
)


_NOT_ORDERED = re.compile(
    r"\b(?:never|didn'?t|did\s+not|not)\s+order(?:ed)?\b|\b(?:got|sent|delivered|gave)\s+(?:us\s+)?(?:extra|wrong|the\s+wrong)\b"
)


def says_not_ordered(line: str) -> bool:
    """A complaint about what came, not an order: "yesterday delivery got extra 2 ctn of 750ml container, we never
    order"; its counts order nothing."""
    return bool(_NOT_ORDERED.search(line.lower()))


def is_prose(line: str, counts: int, counted_in_units: bool) -> bool:
    """A sentence to us rather than an order line: its product words and stray numbers order nothing.

    Without a count, any remark that asks for nothing; with one bare number ("this one is for Saturday"), only a
    longer sentence that asks for nothing. A count with a unit ("3 ctn") is always an order line.
    """
    words = re.findall(r"[a-z]+", line.lower())
    if counts == 0 and _ASKS_ABOUT.search(line.lower()):
        return True  # "also how much for the 12oz lids ah": a question about a product orders none of it
    if counted_in_units or counts > 1 or _REQUEST & set(words) or not is_remark(line):
        return False
    if counts == 0 and _VAGUE & set(words) and (len(words) <= 4 or COUNT_UNITS & set(words)):
        return False  # "icing sugar some", "few packs of lemonade": asked for without a count, asked, never a note
    return counts == 0 or len(words) >= 5


_CORRECTION = re.compile(
    r"\b(?:sorry|typo|revised?|revision|correction|correct(?:ed)?|change|changed|amend(?:ed)?|update[ds]?|instead"
    r"|should\s+be|add|also\s+add|remove|minus|less|more|wrong|mistake|actually|make\s+it)\b"
)
_SEPARATE = re.compile(
    r"\b(?:another|separate|second|2nd|new|next|other|extra)\s+(?:order|delivery|form)\b|\bseparate(?:ly)?\b"
    r"|\bone\s+more\s+order\b|\bnot\s+(?:a\s+)?(?:change|correction)\b"
)


class DraftRelation(StrEnum):
    """What a message sent while a draft waits for YES is to that draft."""

    CORRECTION = "correction"  # "sorry, change 12" box to 5 bundles", a "REVISED ORDER" form
    NEW_ORDER = "new_order"  # "another order for next Tue", a form for another outlet
    UNCLEAR = "unclear"  # a whole new form with neither: ask whether it replaces the draft or is a second order


def draft_relation(text: str, *, items: int, outlet_named: str | None, draft_outlet: str | None) -> DraftRelation:
    """Tell a correction of the waiting draft from a new order form (``outlet_named``: the outlet the text names).
    Words of other languages count in English ("pahabol", "dagdagan": add)."""
    lower = in_english(text).lower()
    if _SEPARATE.search(lower) or (outlet_named and draft_outlet and outlet_named != draft_outlet):
        return DraftRelation.NEW_ORDER
    if _CORRECTION.search(lower):
        return DraftRelation.CORRECTION
    lines = [line for line in lower.splitlines() if line.strip()]
    return DraftRelation.UNCLEAR if items >= 2 and len(lines) >= 3 else DraftRelation.CORRECTION


_IN_PIECES = re.compile(
    r"\b(?:in|qty|quantity|quantities|counts?|all)\s*[(:]?\s*(?:pcs|pieces|pc|pcs\.)\b|\(\s*(?:pcs|pieces)\s*\)"
)


def counts_in_pieces(text: str) -> bool:
    """Does the message say its bare counts are pieces ("weekly top-up (in pcs)", "Qty (pcs)")?"""
    return bool(_IN_PIECES.search(text.lower()))


def asks_for_usual_order(text: str) -> bool:
    """True for "same as usual", "repeat last order" — the order flow can fill it from history."""
    return bool(_USUAL.search(text.lower()))


class HeaderKind(StrEnum):
    OUTLET = "outlet"  # the value names the outlet
    ADDRESS = "address"  # the value is an address: matched against the outlets' addresses
    CONTACT = "contact"  # the value holds a phone number: matched against the outlets' phones
    SKIP = "skip"  # dates, names, references: not items
    REMARK = "remark"  # the customer's note: kept on the order; read for items only when it holds a quantity
    PICKUP = "pickup"  # "Empties to collect: 6 kegs, 3 gas": what we take back, a note on the order, never items
    TEXT = "text"  # order lines: read the value as free text


_HEADER_KEYS: dict[str, HeaderKind] = {}
for _kind, _keys in (
    (
        HeaderKind.OUTLET,
        "outlet|outlet name|branch|store|shop|restaurant|customer|company|deliver to|delivery to|"
        "ship to|send to|location|site|client|from|for|outlet/branch|branch name|shop name|customer name|"
        "company name|restaurant name|store name|outlet/store",
    ),
    (
        HeaderKind.ADDRESS,
        "address|addr|add|adress|addresss|delivery address|deliver address|outlet address|location address",
    ),
    (
        HeaderKind.CONTACT,
        "contact|contact no|contact number|contact num|tel|tel no|phone|phone no|phone number|hp|hp no|mobile|"
        "mobile no|handphone|whatsapp|wa|contact/tel|tel/hp|number|no|ph|ph no|mob|mob no|cell|cell no|landline",
    ),
    (
        HeaderKind.SKIP,
        "date|order date|delivery date|deliver date|day|delivery day|time|delivery time|contact person|"
        "person|po|po no|po number|ref|reference|attn|email|invoice|signature|pic|person in charge|name|"
        "ordered by|submitted by|total|total items|payment|terms|prepared by|requested by|sender|subject|from|to|cc|"
        "sent|supplier|vendor|approved by|attention",
    ),
    (
        HeaderKind.REMARK,
        "remarks|remark|notes|note|nb|ps|request|message|msg|special request|special instructions|instructions|"
        "instruction|comments|comment|delivery remarks|delivery notes|delivery instructions",
    ),
    (
        HeaderKind.PICKUP,
        "empties|empties to collect|empties for collection|to collect|collect|collection|returns|to return|"
        "pick up|pickup|to pick up",
    ),
    (HeaderKind.TEXT, "order|orders|items|item|additional|add on|add-on|others|other|order list|order items"),
):
    for _key in _keys.split("|"):
        _HEADER_KEYS[_key] = _kind

# A key made of several words is read by its words: "Outlet Address" is an address, "Contact Person" a name.
_KEY_WORDS: tuple[tuple[frozenset[str], HeaderKind], ...] = (
    (frozenset({"address", "addr", "adress", "add"}), HeaderKind.ADDRESS),
    (frozenset({"person", "name", "attn", "pic"}), HeaderKind.SKIP),
    (frozenset({"tel", "phone", "ph", "hp", "mobile", "mob", "cell", "handphone", "whatsapp", "number", "no",
                "contact"}),
     HeaderKind.CONTACT),
    (frozenset({"date", "day", "time", "po", "ref", "email", "delivery", "req", "requested", "required"}),
     HeaderKind.SKIP),
    (frozenset({"remark", "remarks", "note", "notes", "instruction", "instructions", "comment", "comments"}),
     HeaderKind.REMARK),
    (frozenset({"empties", "empty", "collect", "collection", "pickup"}), HeaderKind.PICKUP),
)  # fmt: skip


def header_kind(key: str) -> HeaderKind | None:
    """What a ``Key:`` at the start of a line introduces, or None when the key is not a header (e.g. a product)."""
    plain = re.sub(r"[^a-z/ -]", "", key.lower()).strip()
    exact = _HEADER_KEYS.get(plain)
    if exact is not None or not plain:
        return exact
    words = set(re.findall(r"[a-z]+", plain))
    if len(words) > 4:
        return None
    for signal, kind in _KEY_WORDS:
        if words & signal:
            return kind
    return None
