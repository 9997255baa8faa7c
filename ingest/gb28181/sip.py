"""SIP messages as GB/T 28181 uses them (RFC 3261 §7): parse, serialise, answer.

Only what the standard's devices and platforms send is understood: requests and responses with
``Content-Length`` framed bodies, compact header names, folded header lines. Anything else is a
``SipError`` carrying the status a peer should get (400 malformed, 413 too large, 505 wrong version), so
the transport answers it and never crashes on it.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field

VERSION = "SIP/2.0"
#: GB/T 28181 bodies are short XML documents; a catalog page of a few items is a few KiB.
MAX_BODY = 64 * 1024
MAX_HEADERS = 16 * 1024
#: RFC 3261 §7.3.3 compact forms.
_COMPACT = {"v": "via", "f": "from", "t": "to", "i": "call-id", "m": "contact", "l": "content-length",
            "c": "content-type", "k": "supported", "s": "subject", "e": "content-encoding"}  # fmt: skip
_CANONICAL = {"call-id": "Call-ID", "cseq": "CSeq", "www-authenticate": "WWW-Authenticate"}
_TOKEN = re.compile(r"^[A-Za-z0-9.!%*_+`'~-]+$")
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
_NAME = re.compile(r"^[A-Za-z0-9.!%*_+`'~-]+$")
#: Headers a request must carry before anything can be answered to it (RFC 3261 §8.1.1).
REQUIRED = ("via", "from", "to", "call-id", "cseq")

REASONS = {
    100: "Trying",
    200: "OK",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    408: "Request Timeout",
    413: "Request Entity Too Large",
    415: "Unsupported Media Type",
    481: "Call/Transaction Does Not Exist",
    500: "Server Internal Error",
    501: "Not Implemented",
    505: "Version Not Supported",
}


class SipError(Exception):
    """What is wrong with a message, and the status its sender should get."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def canonical(name: str) -> str:
    lower = name.strip().lower()
    lower = _COMPACT.get(lower, lower)
    return _CANONICAL.get(lower) or "-".join(part.capitalize() for part in lower.split("-"))


@dataclass
class SipMessage:
    #: A request's method and URI, or None for a response.
    method: str | None = None
    uri: str = ""
    status: int = 0
    reason: str = ""
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""

    @property
    def is_request(self) -> bool:
        return self.method is not None

    def header(self, name: str) -> str | None:
        wanted = canonical(name)
        return next((v for n, v in self.headers if n == wanted), None)

    def all(self, name: str) -> list[str]:
        wanted = canonical(name)
        return [v for n, v in self.headers if n == wanted]

    def set(self, name: str, value: str) -> None:
        wanted = canonical(name)
        self.headers = [(n, v) for n, v in self.headers if n != wanted]
        self.headers.append((wanted, value))

    def add(self, name: str, value: str) -> None:
        self.headers.append((canonical(name), value))

    @property
    def cseq(self) -> tuple[int, str]:
        number, _, method = (self.header("cseq") or "").partition(" ")
        return int(number), method.strip()

    @property
    def branch(self) -> str:
        via = self.header("via") or ""
        return param(via, "branch") or ""

    def serialise(self) -> bytes:
        start = (
            f"{self.method} {self.uri} {VERSION}" if self.method else f"{VERSION} {self.status} {self.reason}"
        )
        lines = [start] + [f"{n}: {v}" for n, v in self.headers if n != "Content-Length"]
        lines.append(f"Content-Length: {len(self.body)}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode() + self.body


def param(value: str, name: str) -> str | None:
    """A ``;name=value`` parameter of a header value (after any <uri>), e.g. tag, branch, expires."""
    tail = value.rpartition(">")[2] if ">" in value else value
    for part in tail.split(";")[1:]:
        key, _, found = part.partition("=")
        if key.strip().lower() == name:
            return found.strip().strip('"')
    return None


def uri_user(value: str) -> str:
    """The user part of the URI in a header or request line: ``<sip:3402…@host>;tag=x`` → ``3402…``."""
    inner = value[value.find("<") + 1 : value.find(">")] if "<" in value else value.split(";")[0]
    inner = inner.strip()
    scheme, _, rest = inner.partition(":")
    if scheme.lower() not in ("sip", "sips") or "@" not in rest:
        return ""
    return rest.split("@", 1)[0]


def split_head(data: bytes) -> tuple[bytes, bytes] | None:
    end = data.find(b"\r\n\r\n")
    if end < 0:
        return None
    return data[:end], data[end + 4 :]


def parse(data: bytes, *, max_body: int = MAX_BODY) -> SipMessage:
    """One whole message (a datagram, or what ``Framer`` cut from a stream); SipError when malformed."""
    data = data.lstrip(b"\r\n")
    parts = split_head(data)
    if parts is None:
        if b"\n\n" in data:  # bare LF line ends, as some hand-written devices send
            head, _, body = data.partition(b"\n\n")
        else:
            raise SipError(400, "no blank line after the headers")
    else:
        head, body = parts
    if len(head) > MAX_HEADERS:
        raise SipError(413, "headers too large")
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        raise SipError(400, "headers are not UTF-8") from None
    lines = text.replace("\r\n", "\n").split("\n")
    message = _start_line(lines[0])
    for line in lines[1:]:
        if line[:1] in (" ", "\t") and message.headers:  # a folded continuation (RFC 3261 §7.3.1)
            name, value = message.headers[-1]
            message.headers[-1] = (name, f"{value} {line.strip()}")
            continue
        name, colon, value = line.partition(":")
        if not colon or _NAME.fullmatch(name.strip()) is None:
            raise SipError(400, f"malformed header line {line[:40]!r}")
        if _CONTROL.search(value):
            # Echoed into a response (Via, From, To…), it would break that response in turn.
            raise SipError(400, f"control character in {name.strip()[:40]}")
        message.add(name, value.strip())
    length_text = message.header("content-length")
    if length_text is None:
        length = len(body)
    else:
        if not length_text.isdigit():
            raise SipError(400, "Content-Length is not a number")
        length = int(length_text)
    if length > max_body:
        raise SipError(413, f"body of {length} bytes is over {max_body}")
    if length > len(body):
        raise SipError(400, f"body shorter than its Content-Length ({len(body)} < {length})")
    message.body = body[:length]
    if message.is_request:
        missing = [h for h in REQUIRED if message.header(h) is None]
        if missing:
            raise SipError(400, f"missing {', '.join(canonical(h) for h in missing)}")
        number, _, method = (message.header("cseq") or "").partition(" ")
        if not number.strip().isdigit() or method.strip() != message.method:
            raise SipError(400, "CSeq does not match the request")
    return message


def _start_line(line: str) -> SipMessage:
    if line.startswith("SIP/"):
        version, _, rest = line.partition(" ")
        code, _, reason = rest.partition(" ")
        if version != VERSION:
            raise SipError(505, f"version {version[:16]!r}")
        if not (code.isdigit() and len(code) == 3 and 100 <= int(code) < 700):
            raise SipError(400, "malformed status line")
        return SipMessage(status=int(code), reason=reason.strip())
    parts = line.split(" ")
    if len(parts) != 3:
        raise SipError(400, "malformed request line")
    method, uri, version = parts
    if version != VERSION:
        raise SipError(505, f"version {version[:16]!r}")
    if _TOKEN.fullmatch(method) is None or ":" not in uri:
        raise SipError(400, "malformed request line")
    return SipMessage(method=method, uri=uri)


def respondable(data: bytes) -> SipMessage | None:
    """As much of a bad request as an error response needs (its Via, From, To, Call-ID, CSeq), or None.

    Used when ``parse`` refused the message: the headers may still be fine when the body is what is wrong.
    """
    head = data.lstrip(b"\r\n").split(b"\r\n\r\n", 1)[0][:MAX_HEADERS]
    try:
        lines = head.decode("utf-8").split("\r\n")
    except UnicodeDecodeError:
        return None
    first = lines[0].split(" ")
    if len(first) != 3 or not first[2].startswith("SIP/") or _TOKEN.fullmatch(first[0]) is None:
        return None
    message = SipMessage(method=first[0], uri=first[1])
    for line in lines[1:]:
        name, colon, value = line.partition(":")
        if colon and _NAME.fullmatch(name.strip()) and not _CONTROL.search(value):
            message.add(name, value.strip())
    if any(message.header(h) is None for h in REQUIRED):
        return None
    return message


def new_tag() -> str:
    return secrets.token_hex(6)


def new_branch() -> str:
    return "z9hG4bK" + secrets.token_hex(8)


def response(
    request: SipMessage, status: int, reason: str | None = None, *, to_tag: str | None = None
) -> SipMessage:
    """The response to a request: its Via, From, Call-ID and CSeq, and its To with a tag (RFC 3261 §8.2.6)."""
    answer = SipMessage(status=status, reason=reason or REASONS.get(status, "Unknown"))
    for via in request.all("via"):
        answer.add("via", via)
    answer.add("from", request.header("from") or "")
    to = request.header("to") or ""
    if status > 100 and param(to, "tag") is None:
        to = f"{to};tag={to_tag or new_tag()}"
    answer.add("to", to)
    answer.add("call-id", request.header("call-id") or "")
    answer.add("cseq", request.header("cseq") or "")
    answer.add("user-agent", "gridwatch")
    return answer


class Framer:
    """Cuts a TCP byte stream into messages by Content-Length (RFC 3261 §18.3); keepalive CRLFs are skipped.

    ``feed`` returns whole messages as bytes; a header block or body over the limits raises SipError (413)
    and the connection should close, since where the next message begins is then unknown.
    """

    def __init__(self, max_body: int = MAX_BODY) -> None:
        self._buffer = b""
        self._max_body = max_body

    @property
    def pending(self) -> int:
        """Bytes of a message begun and not finished (0 between messages)."""
        return len(self._buffer.strip(b"\r\n"))

    def feed(self, data: bytes) -> list[bytes]:
        self._buffer += data
        found: list[bytes] = []
        while True:
            self._buffer = self._buffer.lstrip(b"\r\n")
            end = self._buffer.find(b"\r\n\r\n")
            if end < 0:
                if len(self._buffer) > MAX_HEADERS:
                    raise SipError(413, "headers too large")
                return found
            match = re.search(rb"(?im)^(?:content-length|l)[ \t]*:[ \t]*(\d+)[ \t]*$", self._buffer[:end])
            length = int(match.group(1)) if match else 0
            if length > self._max_body:
                raise SipError(413, f"body of {length} bytes is over {self._max_body}")
            total = end + 4 + length
            if len(self._buffer) < total:
                return found
            found.append(self._buffer[:total])
            self._buffer = self._buffer[total:]
