"""SIP messages (RFC 3261 §7): parse a datagram into a request or response, and write one back.

Parsing is strict where a wrong guess would be dangerous (start line, Content-Length, the headers every request needs)
and bounded everywhere (size, header count, line length), so hostile input ends in `SipParseError`, never in an
unexpected exception. Header names are kept in their canonical spelling; compact forms (`v`, `f`, `i` …) are expanded.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

MAX_MESSAGE_BYTES = 65_000
MAX_HEADERS = 120
MAX_LINE_BYTES = 8_192
REQUIRED_REQUEST_HEADERS = ("via", "from", "to", "call-id", "cseq")

_COMPACT = {
    "v": "Via",
    "f": "From",
    "t": "To",
    "i": "Call-ID",
    "m": "Contact",
    "l": "Content-Length",
    "c": "Content-Type",
    "k": "Supported",
    "s": "Subject",
    "e": "Content-Encoding",
    "o": "Event",
    "r": "Refer-To",
    "b": "Referred-By",
    "u": "Allow-Events",
    "x": "Session-Expires",
}
_CANONICAL = {
    name.lower(): name
    for name in (
        "Call-ID",
        "CSeq",
        "WWW-Authenticate",
        "Max-Forwards",
        "Content-Length",
        "Content-Type",
        "Record-Route",
        "User-Agent",
        "Refer-To",
        "Referred-By",
        "Subscription-State",
        "Allow-Events",
        "Session-Expires",
        "MIME-Version",
    )
}
_TOKEN = re.compile(r"^[A-Za-z0-9\-.!%*_+`'~]+$")
_STATUS_LINE = re.compile(r"^SIP/2\.0 ([1-6]\d\d) ?(.*)$")
_REQUEST_LINE = re.compile(r"^([A-Za-z0-9\-.!%*_+`'~]+) (\S+) SIP/2\.0$")
_PARAM = re.compile(r";\s*([^;=\s]+)(?:\s*=\s*(\"[^\"]*\"|[^;,\s]*))?")


class SipParseError(ValueError):
    """The bytes are not a SIP message we accept; `reason` is safe to send back in a 400."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def canonical_name(name: str) -> str:
    """`call-id` → `Call-ID`, `v` → `Via`, `x-foo` → `X-Foo`."""
    lowered = name.lower()
    if lowered in _COMPACT:
        return _COMPACT[lowered]
    return _CANONICAL.get(lowered) or "-".join(part.capitalize() for part in lowered.split("-"))


@dataclass(slots=True)
class SipMessage:
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""

    def header(self, name: str) -> str | None:
        """The first value of a header (case-insensitive name), or None."""
        wanted = canonical_name(name)
        return next((value for key, value in self.headers if key == wanted), None)

    def header_values(self, name: str) -> list[str]:
        """Every value of a header, comma-separated lists split (Via, Route, Record-Route …)."""
        wanted = canonical_name(name)
        values: list[str] = []
        for key, value in self.headers:
            if key == wanted:
                values.extend(split_list(value))
        return values

    def set_header(self, name: str, value: str) -> None:
        wanted = canonical_name(name)
        self.headers = [(key, old) for key, old in self.headers if key != wanted]
        self.headers.append((wanted, value))

    def add_header(self, name: str, value: str) -> None:
        self.headers.append((canonical_name(name), value))

    @property
    def call_id(self) -> str:
        return self.header("Call-ID") or ""

    @property
    def cseq(self) -> tuple[int, str]:
        """(number, method) of the CSeq header."""
        return parse_cseq(self.header("CSeq") or "")

    def _first_line(self) -> str:
        raise NotImplementedError

    def to_bytes(self) -> bytes:
        lines = [self._first_line()]
        lines.extend(f"{name}: {value}" for name, value in self.headers if name != "Content-Length")
        lines.append(f"Content-Length: {len(self.body)}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8") + self.body


@dataclass(slots=True)
class SipRequest(SipMessage):
    method: str = ""
    uri: str = ""

    def _first_line(self) -> str:
        return f"{self.method} {self.uri} SIP/2.0"


@dataclass(slots=True)
class SipResponse(SipMessage):
    status: int = 200
    reason: str = "OK"

    def _first_line(self) -> str:
        return f"SIP/2.0 {self.status} {self.reason}"


def parse_message(data: bytes) -> SipRequest | SipResponse:
    """A request or response from one datagram (or one framed TCP message); raises `SipParseError`."""
    if len(data) > MAX_MESSAGE_BYTES:
        raise SipParseError("Message Too Large")
    head, separator, body = data.partition(b"\r\n\r\n")
    if not separator:
        head, separator, body = data.partition(b"\n\n")  # bare LF line ends, tolerated (RFC 3261 §7.5)
        if not separator:
            raise SipParseError("Missing header terminator")
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SipParseError("Headers are not UTF-8") from exc
    lines = text.replace("\r\n", "\n").split("\n")
    while lines and not lines[0].strip():  # keep-alive CRLFs before a message
        lines.pop(0)
    if not lines:
        raise SipParseError("Empty message")
    message = _start_line(lines[0])
    message.headers = _headers(lines[1:])
    message.body = _body(message, body)
    if isinstance(message, SipRequest):
        missing = [name for name in REQUIRED_REQUEST_HEADERS if message.header(name) is None]
        if missing:
            raise SipParseError(f"Missing {canonical_name(missing[0])}")
        _, method = message.cseq
        if method != message.method:
            raise SipParseError("CSeq method does not match the request")
    return message


def _start_line(line: str) -> SipRequest | SipResponse:
    if len(line) > MAX_LINE_BYTES:
        raise SipParseError("Start line too long")
    if line.startswith("SIP/"):
        status = _STATUS_LINE.match(line)
        if status is None:
            raise SipParseError("Bad status line")
        return SipResponse(status=int(status.group(1)), reason=status.group(2))
    request = _REQUEST_LINE.match(line)
    if request is None:
        raise SipParseError("Bad request line")
    uri = request.group(2)
    if ":" not in uri or any(ord(char) < 33 for char in uri):
        raise SipParseError("Bad Request-URI")
    return SipRequest(method=request.group(1).upper(), uri=uri)


def _headers(lines: list[str]) -> list[tuple[str, str]]:
    headers: list[tuple[str, str]] = []
    for line in lines:
        if len(line) > MAX_LINE_BYTES:
            raise SipParseError("Header line too long")
        if line[:1] in (" ", "\t"):  # folded continuation of the previous header
            if not headers:
                raise SipParseError("Continuation before any header")
            name, value = headers[-1]
            headers[-1] = (name, f"{value} {line.strip()}")
            continue
        name, colon, value = line.partition(":")
        name = name.strip()
        if not colon or not _TOKEN.match(name):
            raise SipParseError("Bad header line")
        if "\x00" in value:
            raise SipParseError("NUL in header")
        headers.append((canonical_name(name), value.strip()))
        if len(headers) > MAX_HEADERS:
            raise SipParseError("Too many headers")
    return headers


def _body(message: SipMessage, body: bytes) -> bytes:
    declared = message.header("Content-Length")
    if declared is None:
        return body
    if not declared.isdigit():
        raise SipParseError("Bad Content-Length")
    length = int(declared)
    if length > len(body):
        raise SipParseError("Body shorter than Content-Length")
    return body[:length]


def split_list(value: str) -> list[str]:
    """Splits a comma-separated header value, ignoring commas inside quotes and angle brackets."""
    parts: list[str] = []
    depth, quoted, start = 0, False, 0
    for index, char in enumerate(value):
        if char == '"':
            quoted = not quoted
        elif not quoted and char == "<":
            depth += 1
        elif not quoted and char == ">":
            depth = max(0, depth - 1)
        elif not quoted and depth == 0 and char == ",":
            parts.append(value[start:index].strip())
            start = index + 1
    parts.append(value[start:].strip())
    return [part for part in parts if part]


def parse_cseq(value: str) -> tuple[int, str]:
    number, _, method = value.strip().partition(" ")
    if not number.isdigit() or len(number) > 10 or not _TOKEN.match(method.strip() or "-"):
        raise SipParseError("Bad CSeq")
    return int(number), method.strip().upper()


def params(value: str) -> dict[str, str]:
    """The `;name=value` parameters after a header's main value (outside `<…>`), names lower-cased."""
    closing = value.rfind(">")
    tail = value[closing + 1 :] if closing >= 0 else value[value.find(";") :] if ";" in value else ""
    return {match.group(1).lower(): (match.group(2) or "").strip('"') for match in _PARAM.finditer(tail)}


def address_uri(value: str) -> str:
    """The URI of a name-addr or addr-spec (`"Ann" <sip:ann@host>;tag=1` → `sip:ann@host`)."""
    start, end = value.find("<"), value.find(">")
    if 0 <= start < end:
        return value[start + 1 : end].strip()
    return value.split(";", 1)[0].strip()


def uri_user(uri: str) -> str:
    """The user part of a SIP URI (`sip:+4412345@host;x` → `+4412345`), empty when there is none."""
    rest = uri.split(":", 1)[1] if ":" in uri else uri
    return rest.split("@", 1)[0] if "@" in rest else ""


def salvage_request(data: bytes) -> SipRequest | None:
    """From a request we could not parse, the headers a 400 response needs — or None when a reply is impossible.

    Values are cut to printable characters so nothing hostile is echoed back verbatim beyond the header's text.
    """
    text = data[:MAX_MESSAGE_BYTES].decode("utf-8", errors="replace")
    lines = text.replace("\r\n", "\n").split("\n")
    if not lines or lines[0].startswith("SIP/") or " SIP/2.0" not in lines[0]:
        return None  # a response, or not SIP at all: never answered
    request = SipRequest(method=lines[0].split(" ", 1)[0][:32], uri="sip:invalid")
    for line in lines[1:MAX_HEADERS]:
        if not line.strip():
            break
        name, colon, value = line.partition(":")
        if not colon or not _TOKEN.match(name.strip()):
            continue
        canonical = canonical_name(name.strip())
        if canonical in ("Via", "From", "To", "Call-ID", "CSeq") and request.header(canonical) is None:
            request.add_header(canonical, "".join(char for char in value.strip() if char.isprintable())[:1024])
    if any(request.header(name) is None for name in REQUIRED_REQUEST_HEADERS):
        return None
    return request
