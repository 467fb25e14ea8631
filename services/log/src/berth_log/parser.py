"""Parse one syslog message, RFC 5424 or RFC 3164, as real senders write them.

Accepted shapes (``<PRI>`` is ``<`` + facility * 8 + severity + ``>``):

* RFC 5424: ``<PRI>1 TIMESTAMP HOST APP PROCID MSGID SD [MSG]``, any field may be ``-``, SD is
  ``-`` or ``[id name="value" ...]...`` with ``\\"``, ``\\\\`` and ``\\]`` escapes, MSG may start
  with a UTF-8 BOM. This is what berth_common.logging's ``Rfc5424Formatter`` sends (UDP, with the
  NUL that ``SysLogHandler`` appends) and docker's ``rfc5424`` / ``rfc5424micro`` syslog formats.
* RFC 3164 and its relatives: ``<PRI>Mmm dd hh:mm:ss HOST TAG[PID]: MSG`` (docker ``rfc3164``),
  the same without HOST (docker's default format, ``logger``), with an ISO 8601 timestamp
  (rsyslog's RFC 3339 templates), or with no timestamp at all (``SysLogHandler`` with an ident).

Anything else is still a message: without a valid PRI the whole text becomes MSG with the RFC 3164
default priority (user.notice) and no app name, so garbage lands in ``unknown.log`` instead of
being dropped. ``parse`` never raises.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re

DEFAULT_FACILITY = 1  # user
DEFAULT_SEVERITY = 5  # notice; RFC 3164 4.3.3 says a relay assumes <13> when PRI is missing

_PRI = re.compile(r"<(\d{1,3})>")
_RFC5424_HEADER = re.compile(
    r"([1-9]\d{0,2}) "  # VERSION
    r"(-|\d{4}-\d\d-\d\dT\S+) "  # TIMESTAMP (validated below)
    r"(\S+) (\S+) (\S+) (\S+)"  # HOSTNAME APP-NAME PROCID MSGID
    r"(?: |$)"
)
# "Mmm dd hh:mm:ss" with the day space-padded ("May  1") or not, optionally with fractions.
_BSD_TIMESTAMP = re.compile(r"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) {1,2}(\d{1,2}) (\d\d):(\d\d):(\d\d)(?:\.\d{1,9})? ")
_ISO_TIMESTAMP = re.compile(r"(\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(?:\.\d{1,9})?(?:Z|[+-]\d\d:?\d\d)?) ")
# "tag:", "tag[pid]:" as the first token of a RFC 3164 MSG; tags are short and have no brackets.
_TAG = re.compile(r"([^\s\[\]:]{1,64})(?:\[([^\]\s]{1,128})\])?:(?: |$)")
_SD_NAME = re.compile(r'[^ =\]"]{1,32}')
_BOM = "\ufeff"


@dataclasses.dataclass(frozen=True)
class SDElement:
    """One RFC 5424 structured data element: ``[id name="value" ...]``."""

    id: str
    params: tuple[tuple[str, str], ...] = ()


@dataclasses.dataclass(frozen=True)
class SyslogMessage:
    """A parsed message; fields the sender left out (or sent as ``-``) are ``None``.

    ``timestamp`` is set only when the message carried a time with a UTC offset; the BSD
    ``Mmm dd hh:mm:ss`` form has neither year nor zone, so callers use the reception time instead.
    """

    facility: int
    severity: int
    message: str
    format: str  # "rfc5424", "rfc3164" or "unparsed" (no valid PRI)
    timestamp: dt.datetime | None = None
    hostname: str | None = None
    app_name: str | None = None
    procid: str | None = None
    msgid: str | None = None
    structured_data: tuple[SDElement, ...] = ()


def parse(data: bytes) -> SyslogMessage:
    """Parse one framed message (trailing newline/NUL already removed or not); never raises."""
    text = data.decode("utf-8", "replace").rstrip("\r\n\x00")
    pri = _PRI.match(text)
    if pri is None or int(pri.group(1)) > 191:
        return SyslogMessage(DEFAULT_FACILITY, DEFAULT_SEVERITY, text, "unparsed")
    facility, severity = divmod(int(pri.group(1)), 8)
    rest = text[pri.end() :]
    header = _RFC5424_HEADER.match(rest)
    if header is not None:
        return _parse_rfc5424(facility, severity, rest, header)
    return _parse_rfc3164(facility, severity, rest)


def _nil(value: str) -> str | None:
    return None if value == "-" else value


def _parse_rfc5424(facility: int, severity: int, rest: str, header: re.Match[str]) -> SyslogMessage:
    """The RFC 5424 reading of ``rest`` whose header ``header`` matched."""
    # An unreadable TIMESTAMP (no offset, a bad date) costs only the timestamp: the version
    # digit and the date shape already make this unmistakably RFC 5424.
    timestamp = None if header.group(2) == "-" else _iso_datetime(header.group(2))
    pos = header.end()
    try:
        elements, pos = _parse_structured_data(rest, pos)
    except ValueError:
        # A header that reads as RFC 5424 but SD that does not: keep everything after the
        # header as the message rather than guess where SD ends.
        elements, message = (), rest[pos:]
    else:
        if pos < len(rest) and rest[pos] != " ":
            elements, message = (), rest[header.end() :]
        else:
            message = rest[pos + 1 :]
    if message.startswith(_BOM):
        message = message[len(_BOM) :]
    return SyslogMessage(
        facility=facility,
        severity=severity,
        message=message,
        format="rfc5424",
        timestamp=timestamp,
        hostname=_nil(header.group(3)),
        app_name=_nil(header.group(4)),
        procid=_nil(header.group(5)),
        msgid=_nil(header.group(6)),
        structured_data=elements,
    )


def _parse_structured_data(text: str, pos: int) -> tuple[tuple[SDElement, ...], int]:
    """Read SD starting at ``pos``; returns the elements and the position after them.

    Raises ValueError on anything RFC 5424 section 6.3 does not allow.
    """
    if text.startswith("-", pos):
        return (), pos + 1
    if not text.startswith("[", pos):
        raise ValueError("structured data must be '-' or start with '['")
    elements: list[SDElement] = []
    try:
        while pos < len(text) and text[pos] == "[":
            name = _SD_NAME.match(text, pos + 1)
            if name is None:
                raise ValueError("SD-ID expected")
            pos = name.end()
            params: list[tuple[str, str]] = []
            while text[pos] != "]":
                if text[pos] != " ":
                    raise ValueError("space expected between SD parameters")
                param = _SD_NAME.match(text, pos + 1)
                if param is None or text[param.end() : param.end() + 2] != '="':
                    raise ValueError('PARAM-NAME="..." expected')
                value, pos = _read_sd_value(text, param.end() + 2)
                params.append((param.group(), value))
            pos += 1
            elements.append(SDElement(name.group(), tuple(params)))
    except IndexError:
        raise ValueError("structured data ends early") from None
    return tuple(elements), pos


def _read_sd_value(text: str, pos: int) -> tuple[str, int]:
    """Read a PARAM-VALUE up to its closing quote; returns the unescaped value and the next position."""
    chars: list[str] = []
    while True:
        char = text[pos]
        if char == "\\" and text[pos + 1] in '"\\]':
            chars.append(text[pos + 1])
            pos += 2
        elif char == '"':
            return "".join(chars), pos + 1
        else:
            chars.append(char)
            pos += 1


def _parse_rfc3164(facility: int, severity: int, rest: str) -> SyslogMessage:
    timestamp = None
    has_timestamp = True
    bsd = _BSD_TIMESTAMP.match(rest)
    if bsd is not None:
        rest = rest[bsd.end() :]
    else:
        iso = _ISO_TIMESTAMP.match(rest)
        if iso is not None:
            timestamp = _iso_datetime(iso.group(1))
            rest = rest[iso.end() :]
        else:
            has_timestamp = False

    hostname = None
    tag = _TAG.match(rest)
    if tag is None and has_timestamp:
        # After a timestamp the next word is the host unless it is already the tag
        # (docker's default format and `logger` leave the host out).
        host, space, after = rest.partition(" ")
        if space and host:
            hostname, rest = host, after
            tag = _TAG.match(rest)
    app_name = procid = None
    if tag is not None:
        app_name, procid = tag.group(1), tag.group(2)
        rest = rest[tag.end() :]
    return SyslogMessage(
        facility=facility,
        severity=severity,
        message=rest,
        format="rfc3164",
        timestamp=timestamp,
        hostname=hostname,
        app_name=app_name,
        procid=procid,
    )


def _iso_datetime(value: str) -> dt.datetime | None:
    """An aware datetime from an RFC 3339 / ISO 8601 stamp, or None (naive stamps are useless here)."""
    try:
        date_part, sep, fraction_and_zone = value.partition(".")
        if sep:
            # Python takes at most 6 fraction digits; RFC 3339 senders may send up to 9.
            digits = re.match(r"\d*", fraction_and_zone).group()
            value = f"{date_part}.{digits[:6].ljust(6, '0')}{fraction_and_zone[len(digits):]}"
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None
