"""Audit records to a syslog endpoint (Harbor's ``audit_log_forward_endpoint``).

Core and the registry queue each record as an ``AUDIT_LOG`` outbox event when forwarding is on
(:mod:`berth_common.audit`); the relay publishes them and :class:`AuditForwarder
<berth_jobservice.runtime.forwarder.AuditForwarder>` sends each as one RFC 5424 line over TCP
(newline framing, RFC 6587), facility "log audit" (13), severity informational. The message is
Harbor's key="value" form, which log pipelines already parse::

    <110>1 2026-11-28T03:30:00.123Z berth audit - - - operator="admin" time="2026-11-28T03:30:00.123Z" \
resourceType="artifact" resource="library/app:v1" action="create" eventType="create_artifact" success=true clientIP="127.0.0.1"
"""

from __future__ import annotations

import re
import socket
from collections.abc import Iterable, Mapping
from typing import Any

from berth_common.audit import harbor_operation

PRI = 13 * 8 + 6  # facility log audit, severity informational
APP_NAME = "audit"
_UNSAFE = re.compile(r'["\\\r\n]')


def _quoted(value: Any) -> str:
    text = "" if value is None else str(value)
    return '"' + _UNSAFE.sub(lambda m: {"\r": "\\r", "\n": "\\n"}.get(m.group(), "\\" + m.group()), text) + '"'


def syslog_line(payload: Mapping[str, Any], hostname: str) -> bytes:
    """One audit record (an ``AUDIT_LOG`` payload) as a newline-terminated RFC 5424 message."""
    when = payload.get("op_time") or "-"
    operation = str(payload.get("operation", ""))
    fields = [
        f"operator={_quoted(payload.get('username'))}",
        f"time={_quoted(when)}",
        f"resourceType={_quoted(payload.get('resource_type'))}",
        f"resource={_quoted(payload.get('resource'))}",
        f"action={_quoted(harbor_operation(operation))}",
        f"eventType={_quoted(payload.get('event_type'))}",
        f"success={'true' if payload.get('success', True) else 'false'}",
        f"clientIP={_quoted(payload.get('client_ip'))}",
    ]
    if payload.get("description"):
        fields.append(f"description={_quoted(payload['description'])}")
    host = re.sub(r"[^\x21-\x7e]", "", hostname)[:255] or "-"
    return f"<{PRI}>1 {when} {host} {APP_NAME} - - - {' '.join(fields)}\n".encode()


def parse_endpoint(endpoint: str) -> tuple[str, int]:
    """``host:port`` (``[v6]:port`` too) as a socket address; ValueError when malformed."""
    host, sep, port = endpoint.strip().rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"not host:port: {endpoint!r}")
    return host.strip("[]"), int(port)


class SyslogSender:
    """One TCP connection to the endpoint, opened on first use and again after a failure."""

    def __init__(self, timeout: float = 5.0) -> None:
        self.timeout = timeout
        self._endpoint = ""
        self._sock: socket.socket | None = None

    def send(self, endpoint: str, lines: Iterable[bytes]) -> None:
        """Send every line or raise OSError (the connection is closed then, for a fresh start)."""
        if endpoint != self._endpoint:
            self.close()
            self._endpoint = endpoint
        try:
            if self._sock is not None and not self._open():
                self.close()
            if self._sock is None:
                self._sock = socket.create_connection(parse_endpoint(endpoint), timeout=self.timeout)
            self._sock.sendall(b"".join(lines))
        except (OSError, ValueError) as exc:
            self.close()
            raise OSError(f"cannot forward audit records to {endpoint}: {exc}") from exc

    def _open(self) -> bool:
        """False once the endpoint has closed its end: a write would then vanish unnoticed."""
        try:
            return self._sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) != b""
        except BlockingIOError:
            return True
        except OSError:
            return False

    def close(self) -> None:
        if self._sock is not None:
            try:
                self._sock.close()
            finally:
                self._sock = None
