"""Split a syslog TCP byte stream into messages (RFC 6587), with bounded memory.

Each frame is read in one of the two framings RFC 6587 describes, chosen per frame as rsyslog
does: a frame that starts with a digit is octet-counted (``LEN SP MSG``); anything else is
non-transparent, ended by LF (docker's syslog driver, rsyslog forwarding) or NUL (Python's
``SysLogHandler`` over TCP). A frame longer than ``max_size`` is cut to ``max_size`` bytes and
the rest of it is discarded as it arrives, so a client that never sends a newline, or announces
a gigabyte, costs at most ``max_size`` bytes of buffer.
"""

from __future__ import annotations

import re
from typing import NamedTuple

_OCTET_COUNT = re.compile(rb"[1-9][0-9]{0,9} ")
_MAX_COUNT_DIGITS = 10
_DELIMITER = re.compile(rb"[\n\x00]")
_LEADING_DELIMITERS = b"\r\n\x00"


class Frame(NamedTuple):
    data: bytes
    truncated: bool


class StreamFramer:
    """Feed it what a connection receives; it returns the complete frames found so far."""

    def __init__(self, max_size: int) -> None:
        self.max_size = max_size
        self._buffer = bytearray()
        self._skip = 0  # bytes still to drop from an oversized octet-counted frame
        self._skip_line = False  # dropping the rest of an oversized newline-framed frame
        self._scanned = 0  # bytes of the buffer already searched for a delimiter

    def feed(self, data: bytes) -> list[Frame]:
        self._buffer += data
        frames: list[Frame] = []
        while self._next_frame(frames):
            pass
        return frames

    def finish(self) -> Frame | None:
        """The partial frame left when the peer closes (rsyslog writes it too), if any."""
        data = bytes(self._buffer).rstrip(b"\r")
        self._buffer.clear()
        self._scanned = 0
        if not data or self._skip or self._skip_line:
            return None
        counted = _OCTET_COUNT.match(data)
        if counted is not None:
            data = data[counted.end() :]
        return Frame(data[: self.max_size], len(data) > self.max_size) if data else None

    def _next_frame(self, frames: list[Frame]) -> bool:
        """Move at most one frame (or one discarded piece) out of the buffer; False when it needs more."""
        buf = self._buffer
        if self._skip:
            dropped = min(self._skip, len(buf))
            del buf[:dropped]
            self._skip -= dropped
            return bool(buf)
        if self._skip_line:
            end = _DELIMITER.search(buf)
            if end is None:
                buf.clear()
                return False
            del buf[: end.end()]
            self._skip_line = False
            return True
        if not buf:
            return False
        if buf[0] in _LEADING_DELIMITERS:
            # Empty frames: a stray CR/LF between messages, or NUL padding.
            stripped = len(buf) - len(buf.lstrip(_LEADING_DELIMITERS))
            del buf[:stripped]
            self._scanned = 0
            return bool(buf)
        if 0x31 <= buf[0] <= 0x39:  # '1'..'9': octet counting, if a "LEN " header follows
            counted = _OCTET_COUNT.match(buf)
            if counted is not None:
                return self._counted_frame(frames, int(counted.group()[:-1]), counted.end())
            if buf.isdigit() and len(buf) <= _MAX_COUNT_DIGITS:
                return False  # the length is still arriving
        return self._delimited_frame(frames)

    def _counted_frame(self, frames: list[Frame], length: int, start: int) -> bool:
        buf = self._buffer
        available = len(buf) - start
        if available >= length:
            frames.append(Frame(bytes(buf[start : start + min(length, self.max_size)]), length > self.max_size))
            del buf[: start + length]
            self._scanned = 0
            return True
        if length > self.max_size and available >= self.max_size:
            frames.append(Frame(bytes(buf[start : start + self.max_size]), True))
            del buf[: start + available]
            self._skip = length - available
            self._scanned = 0
            return False
        return False

    def _delimited_frame(self, frames: list[Frame]) -> bool:
        buf = self._buffer
        end = _DELIMITER.search(buf, self._scanned)
        if end is None:
            if len(buf) > self.max_size:
                frames.append(Frame(bytes(buf[: self.max_size]), True))
                buf.clear()
                self._skip_line = True
                self._scanned = 0
            else:
                self._scanned = len(buf)
            return False
        frame = bytes(buf[: end.start()]).rstrip(b"\r")
        del buf[: end.end()]
        self._scanned = 0
        frames.append(Frame(frame[: self.max_size], len(frame) > self.max_size))
        return True
