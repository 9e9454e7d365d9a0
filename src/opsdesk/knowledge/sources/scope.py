"""Path patterns that narrow what a source reads: a repository's files, or the URL paths a crawl follows.

A pattern matches a whole path from its root (a repository's root; a URL's path without its leading ``/``):
``*`` matches within one path segment, ``?`` one character, ``[abc]``/``[a-z]``/``[!abc]`` one character of a
set, and a segment ``**`` any number of segments, none included (``docs/**`` matches ``docs/a.md`` and
``docs/a/b.md``). A pattern ending in ``/`` matches everything under that folder (``docs/`` is ``docs/**``); a
pattern without ``/`` matches a file name at any depth (``*.md`` is ``**/*.md``); a leading ``/`` is ignored.

Matching walks the segments (a set of reachable positions) rather than compiling a regular expression, so its cost
stays proportional to pattern times path length whatever the pattern (no catastrophic backtracking on ``*a*a*a*b``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

MAX_PATTERN_CHARS = 300
MAX_PATTERNS = 50


@dataclass(frozen=True, slots=True)
class _Token:
    """One character-level piece of a segment: "=" a literal, "?" any one character, "*" any run, "[" a set."""

    kind: str
    char: str = ""
    negate: bool = False
    ranges: tuple[tuple[str, str], ...] = ()

    def accepts(self, char: str) -> bool:
        if self.kind == "?":
            return True
        if self.kind == "=":
            return self.char == char
        return any(low <= char <= high for low, high in self.ranges) != self.negate


def pattern_problem(pattern: str) -> str | None:
    """Why ``pattern`` cannot be used (empty, too long, control characters), or None."""
    if not pattern.strip("/ "):
        return "a path pattern must name something (it is empty or only slashes)"
    if len(pattern) > MAX_PATTERN_CHARS:
        return f"a path pattern is at most {MAX_PATTERN_CHARS} characters"
    if any(ord(char) < 32 or ord(char) == 127 for char in pattern):
        return "a path pattern must not contain control characters"
    return None


@dataclass(frozen=True, slots=True)
class PathFilter:
    """Keeps paths matching any of ``include`` (all when it is empty) and none of ``exclude``."""

    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    _include: tuple[_Pattern, ...] = field(init=False, repr=False, compare=False)
    _exclude: tuple[_Pattern, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_include", tuple(_compile(pattern) for pattern in self.include))
        object.__setattr__(self, "_exclude", tuple(_compile(pattern) for pattern in self.exclude))

    @property
    def narrows(self) -> bool:
        return bool(self.include or self.exclude)

    def allows(self, path: str) -> bool:
        segments = tuple(path.lstrip("/").split("/"))
        if self._include and not any(pattern.matches(segments) for pattern in self._include):
            return False
        return not any(pattern.matches(segments) for pattern in self._exclude)

    def describe(self) -> str:
        """The filter in words, for messages: "paths docs/**, *.md; not drafts/"."""
        words = []
        if self.include:
            words.append("paths " + ", ".join(self.include))
        if self.exclude:
            words.append("not " + ", ".join(self.exclude))
        return "; ".join(words) or "every path"


@dataclass(frozen=True, slots=True)
class _Pattern:
    segments: tuple[str | tuple[_Token, ...], ...]  # "**" stays a string; other segments are token lists

    def matches(self, path: tuple[str, ...]) -> bool:
        # reachable[j]: the pattern's first i segments can match the path's first j segments
        reachable = [True] + [False] * len(path)
        for segment in self.segments:
            if isinstance(segment, str):  # "**": from any reachable j, every later j is reachable too
                first = next((j for j, ok in enumerate(reachable) if ok), None)
                reachable = [first is not None and j >= first for j in range(len(path) + 1)]
            else:
                reachable = [False] + [reachable[j] and _segment_matches(segment, path[j]) for j in range(len(path))]
        return reachable[-1]


def _compile(pattern: str) -> _Pattern:
    text = pattern.strip().lstrip("/")
    if text.endswith("/"):
        text += "**"
    elif "/" not in text:
        text = "**/" + text
    parts = [part for part in text.split("/") if part]  # "a//b" is "a/b"
    segments: list[str | tuple[_Token, ...]] = []
    for part in parts:
        if part == "**":
            if not segments or segments[-1] != "**":
                segments.append("**")
        else:
            segments.append(_tokens(part))
    return _Pattern(tuple(segments))


def _tokens(segment: str) -> tuple[_Token, ...]:
    tokens: list[_Token] = []
    i = 0
    while i < len(segment):
        char = segment[i]
        if char == "*":
            while i + 1 < len(segment) and segment[i + 1] == "*":
                i += 1  # "a**b" inside a segment is "a*b"
            tokens.append(_Token("*"))
        elif char == "?":
            tokens.append(_Token("?"))
        elif char == "[":
            found = _char_set(segment, i)
            if found is None:
                tokens.append(_Token("=", char))
            else:
                token, i = found
                tokens.append(token)
        else:
            tokens.append(_Token("=", char))
        i += 1
    return tuple(tokens)


def _char_set(segment: str, start: int) -> tuple[_Token, int] | None:
    """The set starting at ``segment[start] == "["`` and the index of its closing "]", or None when unclosed."""
    i = start + 1
    negate = i < len(segment) and segment[i] in "!^"
    if negate:
        i += 1
    ranges: list[tuple[str, str]] = []
    first = True
    while i < len(segment) and (segment[i] != "]" or first):
        low = segment[i]
        if i + 2 < len(segment) and segment[i + 1] == "-" and segment[i + 2] != "]":
            ranges.append((low, segment[i + 2]))
            i += 3
        else:
            ranges.append((low, low))
            i += 1
        first = False
    if i >= len(segment):
        return None
    return _Token("[", negate=negate, ranges=tuple(ranges)), i


def _segment_matches(tokens: tuple[_Token, ...], text: str) -> bool:
    """Wildcard matching with one backtrack point: O(len(tokens) * len(text))."""
    t = s = 0
    star_t, star_s = -1, 0
    while s < len(text):
        if t < len(tokens) and tokens[t].kind == "*":
            star_t, star_s = t, s
            t += 1
        elif t < len(tokens) and tokens[t].accepts(text[s]):
            t += 1
            s += 1
        elif star_t >= 0:
            star_s += 1
            t, s = star_t + 1, star_s
        else:
            return False
    while t < len(tokens) and tokens[t].kind == "*":
        t += 1
    return t == len(tokens)
