"""structlog JSON logging for every service: stdout plus syslog to the log collector.

``configure`` routes both structlog and the standard library through one JSON renderer, binds the
service name to every line, and, when a collector address is given, forwards each line over
syslog (RFC 5424, UDP so a missing collector never blocks a request). Values of keys that look
like secrets are replaced before rendering, wherever the event came from.
"""

from __future__ import annotations

import datetime as _dt
import logging
import logging.handlers
import os
import socket
import sys
from typing import Any

import structlog

SECRET_KEYS = ("password", "secret", "token", "authorization", "cookie", "private_key", "credential")
MAX_SYSLOG_BYTES = 60_000


def redact_secrets(_logger: Any, _name: str, event: dict[str, Any]) -> dict[str, Any]:
    """structlog processor: mask values whose key names a secret."""
    for key in list(event):
        lowered = key.lower()
        if any(word in lowered for word in SECRET_KEYS) and event[key] not in (None, ""):
            event[key] = "********"
    return event


class Rfc5424Formatter(logging.Formatter):
    """Formats an already-rendered JSON line as the body of an RFC 5424 syslog message.

    ``SysLogHandler`` prepends ``<PRI>``; we supply ``VERSION TIMESTAMP HOST APP PROCID MSGID SD``.
    """

    def __init__(self, app_name: str, inner: logging.Formatter) -> None:
        super().__init__()
        self.app_name = app_name
        self.inner = inner
        self.hostname = socket.gethostname() or "-"

    def format(self, record: logging.LogRecord) -> str:
        body = self.inner.format(record)
        stamp = _dt.datetime.fromtimestamp(record.created, _dt.UTC).isoformat(timespec="milliseconds")
        line = f"1 {stamp.replace('+00:00', 'Z')} {self.hostname} {self.app_name} {os.getpid()} - - {body}"
        encoded = line.encode("utf-8", "replace")
        if len(encoded) > MAX_SYSLOG_BYTES:
            line = encoded[:MAX_SYSLOG_BYTES].decode("utf-8", "ignore")
        return line


def parse_address(address: str) -> tuple[str, int]:
    """``host:port`` to a tuple; raises ValueError naming what is wrong."""
    host, sep, port = address.rpartition(":")
    if not sep or not host or not port.isdigit():
        raise ValueError(f"expected host:port, got {address!r}")
    return host, int(port)


def configure(service: str, level: str = "INFO", syslog_address: str | None = None) -> None:
    """Configure structlog and stdlib logging for ``service``; safe to call more than once."""
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.ExtraAdder(),
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        redact_secrets,
    ]
    renderer = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            _bind_service(service),
            structlog.processors.format_exc_info,
            structlog.processors.JSONRenderer(sort_keys=False),
        ],
    )
    handlers: list[logging.Handler] = []
    stdout = logging.StreamHandler(sys.stdout)
    stdout.setFormatter(renderer)
    handlers.append(stdout)
    if syslog_address:
        host, port = parse_address(syslog_address)
        syslog = logging.handlers.SysLogHandler(
            address=(host, port),
            facility=logging.handlers.SysLogHandler.LOG_LOCAL0,
            socktype=socket.SOCK_DGRAM,
        )
        syslog.setFormatter(Rfc5424Formatter(service, renderer))
        handlers.append(syslog)

    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
        handler.close()
    for handler in handlers:
        root.addHandler(handler)
    root.setLevel(level.upper())
    # Werkzeug's own access lines duplicate ours and are not JSON.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    logging.getLogger("pika").setLevel(logging.WARNING)

    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )


def _bind_service(service: str):
    def processor(_logger: Any, _name: str, event: dict[str, Any]) -> dict[str, Any]:
        event.setdefault("service", service)
        return event

    return processor


def get_logger(name: str | None = None) -> Any:
    return structlog.get_logger(name)
