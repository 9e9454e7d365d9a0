"""What a chat app adds to a message: a chat export's "[07/12/26, 9:15 am] Mei Ling: " (or "07/12/26, 9:15 am - Mei
Ling: ") before each line, quoted lines of a reply ("> Noted, your order: …", our own words or an earlier message:
never read again), struck-through text ("~10~ 14 bdl" orders 14), and the app's markers ("<This message was
edited>", "<Media omitted>", "This message was deleted"). The languages outlets mix into their orders are in
languages.py.
"""

from __future__ import annotations

import re

_EXPORT_PREFIX = re.compile(
    r"^\s*(?:\[\s*\d{1,4}[/.-]\d{1,2}[/.-]\d{1,4},?\s+\d{1,2}[:.]\d{2}(?:[:.]\d{2})?\s*(?:[ap]\.?m\.?)?\s*\]"
    r"|\d{1,4}[/.-]\d{1,2}[/.-]\d{1,4},?\s+\d{1,2}[:.]\d{2}(?:[:.]\d{2})?\s*(?:[ap]\.?m\.?)?\s+-)"
    r"\s*(?:[^:\n]{1,40}:\s*)?",
    re.IGNORECASE,
)
_MARKERS = re.compile(
    r"<\s*(?:this\s+message\s+was\s+edited|media\s+omitted|attached:[^>]*)\s*>|\bthis\s+message\s+was\s+deleted\b"
    r"|\(edited\)",
    re.IGNORECASE,
)
_QUOTED = re.compile(r"^\s*>")
_STRUCK = re.compile(r"~~[^~\n]*~~|~[^~\n]+~")  # WhatsApp's strikethrough: "~10~ 14 bdl" means 14


def strip_chat_artefacts(text: str) -> str:
    """The message without export prefixes, quoted reply lines and the app's markers (line count kept)."""
    lines = []
    for line in text.split("\n"):
        line = _EXPORT_PREFIX.sub("", line)
        if _QUOTED.match(line):
            lines.append("")
            continue
        lines.append(_STRUCK.sub(" ", _MARKERS.sub(" ", line)).rstrip(" "))  # not tabs: a trailing tab is a cell
    return "\n".join(lines)


def quoted_text(text: str) -> str:
    """The quoted lines of a reply without their ">" ("> 500ml Round Container x 4 ctn"): what the reply is about."""
    return "\n".join(_QUOTED.sub("", line, count=1) for line in text.split("\n") if _QUOTED.match(line))
