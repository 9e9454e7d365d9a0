"""Turn-taking: how long the VAD holds a turn open after the caller goes quiet, and which overlapping sounds are
not a barge-in.

The end of a turn is VAD silence plus a hold that adapts to the caller (`TurnHold`): after a short pause the
recogniser decodes what was said so far (a `SpeechPaused` frame); when that sounds like a complete phrase the turn
ends after `short_seconds`, when it stops mid-phrase ("my card number is", "four zero one one" while a number is
read out) the hold grows to `long_seconds`; otherwise the hold is `base_seconds`, raised to cover the longest pause
this caller has made inside a turn so far. One `TurnHold` per call: nothing carries over to the next caller.

While the bot speaks, caller speech pauses the bot's audio at once; it becomes an interruption when it is confirmed
— it goes on for `confirm_seconds` (1 s of speech by default), or it is short but the recogniser hears words other
than a backchannel. "Mm-hm", "okay", "right" and line noise (no words) let the bot's reply resume where it stopped.
"""

from __future__ import annotations

import re
from collections import deque
from dataclasses import dataclass, field

_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")


def _vocabulary(text: str) -> frozenset[str]:
    return frozenset(text.split())


# A phrase ending in one of these is not finished: the caller is still on their way to the point.
_UNFINISHED = _vocabulary(
    "a an the my our your his her their this that these those and or but so because if then than to of for from "
    "with without in on at by about into is are was were be am i i'm it's we you he she they um uh er erm like "
    "want need would could can should will"
)
_DIGITS = _vocabulary("zero oh one two three four five six seven eight nine double triple")
# What a listener says to show they are following, not to take the turn.
# "Yes" is left out: over a question ("Shall I block it?") it is an answer.
BACKCHANNELS = _vocabulary(
    "m h hm mm hmm mhm mm-hm mmhmm uh-huh uhhuh huh uh um ah oh okay ok right yeah alright i see got it"
)

_HUM = re.compile(r"(?:uh|um|hm|mm|ah|a|u|m|h)+")
_BACKCHANNEL_WORDS = frozenset(word.replace("-", "") for word in BACKCHANNELS)


def words_of(text: str) -> list[str]:
    return _WORD.findall(text.lower().replace("-", ""))


def sounds_complete(text: str) -> bool:
    """Whether a transcript sounds like a finished phrase: words, not ending on a function word, a filler or a
    digit (callers pause between the groups of a number they read out)."""
    found = words_of(text)
    if not found or text.rstrip().endswith((",", "...", "-")):
        return False
    last = found[-1]
    return last not in _UNFINISHED and last not in _DIGITS and not last.isdigit()


def is_backchannel(text: str) -> bool:
    """Whether an utterance heard over the bot is only a backchannel or noise (no words at all)."""
    return all(word in _BACKCHANNEL_WORDS or _is_hum(word) or _is_stray_letter(word) for word in words_of(text))


def _is_hum(word: str) -> bool:
    """A hum or hesitation as a recogniser spells it: "M. H. M.", "Uh, uh", "A-a-a-a", "mmhmm", "aha"."""
    return len(word) >= 3 and _HUM.fullmatch(word) is not None


def _is_stray_letter(word: str) -> bool:
    """A letter on its own: what a recogniser writes for a hum or a click it cannot spell (whisper-tiny heard
    "uh-huh" as "x" on an AVX2-only CPU). A digit is a word: "5" over the bot may answer it."""
    return len(word) == 1 and word.isalpha()


@dataclass
class TurnHold:
    """The silence that ends a caller's turn, per call."""

    base_seconds: float = 0.6
    short_seconds: float = 0.3
    long_seconds: float = 1.1
    pause_seconds: float = 0.2  # a silence this long is a pause: the recogniser gets the utterance so far
    margin_seconds: float = 0.15
    pauses: deque[float] = field(default_factory=lambda: deque(maxlen=8))  # the caller's own pauses inside turns
    verdict: tuple[int, bool] | None = None  # (pause number, sounds complete) from the recogniser

    def resumed_after(self, silence: float) -> None:
        """The caller spoke again after `silence` seconds: it was a pause inside the turn."""
        if silence >= self.pause_seconds:
            self.pauses.append(silence)

    def judged(self, pause: int, complete: bool) -> None:
        self.verdict = (pause, complete)

    def seconds(self, pause: int) -> float:
        """The hold for the current silence (`pause` is its number, 0 when not yet a pause)."""
        if pause and self.verdict is not None and self.verdict[0] == pause:
            return self.short_seconds if self.verdict[1] else self.long_seconds
        learned = max(self.pauses, default=0.0) + self.margin_seconds
        return min(max(self.base_seconds, learned), self.long_seconds)
