"""Message-level signals: urgency, a request for the usual order, header lines of order forms."""

from __future__ import annotations

import re
from enum import StrEnum

_NOT_URGENT = re.compile(
    r"\b(?:not|no|non)[\s-]+(?:urgent|urgently|rush|rushing|hurry|asap)\b|\bnot\s+in\s+a\s+(?:rush|hurry)\b"
    r"|\bno\s+need\s+(?:to\s+)?rush\b|\bwhenever\b"
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


def asks_for_usual_order(text: str) -> bool:
    """True for "same as usual", "repeat last order" — the order flow can fill it from history."""
    return bool(_USUAL.search(text.lower()))


class HeaderKind(StrEnum):
    OUTLET = "outlet"  # the value names the outlet
    SKIP = "skip"  # dates, contacts, addresses: not items
    TEXT = "text"  # order lines or remarks: read the value as free text


_HEADER_KEYS: dict[str, HeaderKind] = {}
for _kind, _keys in (
    (
        HeaderKind.OUTLET,
        "outlet|outlet name|branch|store|shop|restaurant|customer|company|deliver to|delivery to|"
        "ship to|send to|location|site|client|from|for|outlet/branch|branch name|shop name",
    ),
    (
        HeaderKind.SKIP,
        "date|delivery date|deliver date|day|delivery day|time|delivery time|contact|contact person|"
        "contact no|contact number|tel|phone|hp|mobile|handphone|address|addr|po|po no|po number|ref|"
        "reference|attn|email|invoice|signature|pic|person in charge|name|ordered by|submitted by|"
        "total|total items|payment|terms",
    ),
    (
        HeaderKind.TEXT,
        "order|orders|items|item|remarks|remark|notes|note|request|message|msg|special request|"
        "instructions|comments|comment|additional|add on|add-on|others|other",
    ),
):
    for _key in _keys.split("|"):
        _HEADER_KEYS[_key] = _kind


def header_kind(key: str) -> HeaderKind | None:
    """What a ``Key:`` at the start of a line introduces, or None when the key is not a header (e.g. a product)."""
    return _HEADER_KEYS.get(re.sub(r"[^a-z/ -]", "", key.lower()).strip())
