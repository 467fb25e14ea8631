"""One append-only file per sending service, rotated by size, and the line written for a message.

``<directory>/<app>.log`` holds the current file; rotation renames it to ``<app>.log.1``, shifting
older ones up to ``<app>.log.<count>`` and deleting the one beyond. The app name comes from the
network, so :func:`file_stem` reduces it to a safe file name that cannot leave the directory.
Files stay open (a bounded number of them, least recently used closed first) and are written
through a buffer that the server flushes once per event-loop turn.
"""

from __future__ import annotations

import collections
import dataclasses
import datetime as dt
import os
import re
from pathlib import Path
from typing import BinaryIO

from berth_log.parser import SDElement, SyslogMessage

UNKNOWN = "unknown"
MAX_STEM = 64
_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]")
# Control characters would break "one line per message"; show them escaped instead.
_ESCAPES = {code: f"\\x{code:02x}" for code in [*range(0x20), 0x7F] if code != ord("\t")}
_ESCAPES |= {ord("\n"): "\\n", ord("\r"): "\\r"}
_FILE_MODE = 0o640


def file_stem(app_name: str | None) -> str:
    """A file name (without ``.log``) for ``app_name``: only ``[A-Za-z0-9_.-]``, never hidden or empty."""
    if not app_name:
        return UNKNOWN
    stem = _UNSAFE.sub("_", app_name)[:MAX_STEM].lstrip(".")
    return stem or UNKNOWN


def escape(text: str) -> str:
    return text.translate(_ESCAPES)


def format_line(message: SyslogMessage, received: dt.datetime) -> bytes:
    """``TIMESTAMP HOST APP[PROCID]: [SD] MSG`` and a newline, as rsyslog's file output reads.

    TIMESTAMP is the sender's when it carried a zone, else ``received``; always UTC.
    """
    stamp = (message.timestamp or received).astimezone(dt.UTC).isoformat(timespec="milliseconds")
    tag = escape(message.app_name or "-")
    if message.procid:
        tag += f"[{escape(message.procid)}]"
    parts = [stamp.replace("+00:00", "Z"), escape(message.hostname or "-"), tag + ":"]
    if message.structured_data:
        parts.append("".join(_render_sd(element) for element in message.structured_data))
    parts.append(escape(message.message))
    return (" ".join(parts) + "\n").encode("utf-8", "replace")


def _render_sd(element: SDElement) -> str:
    """The element as RFC 5424 writes it, values re-escaped."""
    params = "".join(f' {name}="{_sd_escape(value)}"' for name, value in element.params)
    return escape(f"[{element.id}{params}]")


def _sd_escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("]", "\\]")


@dataclasses.dataclass
class _OpenFile:
    handle: BinaryIO
    size: int


class LogFiles:
    """Appends lines to per-service files under ``directory`` and rotates them by size.

    Not thread-safe: the collector calls it from its one event-loop thread.
    """

    def __init__(self, directory: str | os.PathLike[str], rotate_size: int, rotate_count: int, max_open: int = 64) -> None:
        self.directory = Path(directory)
        self.rotate_size = rotate_size
        self.rotate_count = rotate_count
        self.max_open = max_open
        self._open: collections.OrderedDict[str, _OpenFile] = collections.OrderedDict()
        self._deferred_errors: list[OSError] = []  # from closing files to stay under max_open
        self.directory.mkdir(parents=True, exist_ok=True)

    def path(self, stem: str, generation: int = 0) -> Path:
        """The current file (generation 0) or rotated file ``generation`` of ``stem``."""
        return self.directory / (f"{stem}.log" if generation == 0 else f"{stem}.log.{generation}")

    def write(self, stem: str, line: bytes) -> None:
        """Append ``line`` to ``stem``'s file, rotating first if it would pass the size limit.

        Raises OSError when the disk refuses; the file is closed then and reopened next time.
        """
        current = self._get(stem)
        try:
            if current.size and current.size + len(line) > self.rotate_size:
                current = self._rotate(stem, current)
            current.handle.write(line)
            current.size += len(line)
        except OSError:
            self._discard(stem)
            raise

    def flush(self) -> list[OSError]:
        """Flush every open file; returns the errors (each failing file is closed)."""
        errors, self._deferred_errors = self._deferred_errors, []
        for stem, current in list(self._open.items()):
            try:
                current.handle.flush()
            except OSError as exc:
                errors.append(exc)
                self._discard(stem)
        return errors

    def close(self) -> list[OSError]:
        """Flush and close every file; returns flush errors."""
        errors = self.flush()
        for stem in list(self._open):
            self._discard(stem)
        return errors

    def _get(self, stem: str) -> _OpenFile:
        current = self._open.get(stem)
        if current is not None:
            self._open.move_to_end(stem)
            return current
        while len(self._open) >= self.max_open:
            error = self._discard(next(iter(self._open)))
            if error is not None:
                self._deferred_errors.append(error)
        current = self._open[stem] = self._open_file(stem)
        return current

    def _open_file(self, stem: str) -> _OpenFile:
        # O_NOFOLLOW: a symlink planted in the log folder must not redirect our writes.
        fd = os.open(self.path(stem), os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, _FILE_MODE)
        handle = os.fdopen(fd, "ab", buffering=64 * 1024)
        return _OpenFile(handle, os.fstat(fd).st_size)

    def _rotate(self, stem: str, current: _OpenFile) -> _OpenFile:
        current.handle.close()
        del self._open[stem]
        self.path(stem, self.rotate_count).unlink(missing_ok=True)
        for generation in range(self.rotate_count - 1, 0, -1):
            try:
                os.replace(self.path(stem, generation), self.path(stem, generation + 1))
            except FileNotFoundError:
                pass
        try:
            os.replace(self.path(stem), self.path(stem, 1))
        except FileNotFoundError:
            pass  # removed by hand while open; the new file starts afresh all the same
        current = self._open[stem] = self._open_file(stem)
        return current

    def _discard(self, stem: str) -> OSError | None:
        """Close ``stem``'s file (flushing it); returns the error if the flush failed."""
        current = self._open.pop(stem, None)
        if current is not None:
            try:
                current.handle.close()
            except OSError as exc:
                return exc
        return None
