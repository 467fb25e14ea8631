"""The collector: syslog over UDP and TCP on one port, in one asyncio thread, into per-service files.

Every received message goes parse → line → file in the read callback; files are flushed once
per event-loop turn, so a burst costs one flush and a lone message reaches the disk at once.
The message path never lets an exception out: garbage from one sender must not close its
connection, stop the UDP reader, or cost anyone else their lines.
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import datetime as dt
import socket
import typing

import structlog

from berth_log.files import LogFiles, file_stem, format_line
from berth_log.framing import Frame, StreamFramer
from berth_log.parser import parse
from berth_log.settings import LogSettings

log = structlog.get_logger("berth.log")

STATS_INTERVAL = 60.0
UDP_BATCH = 256  # datagrams read per wake-up before other work gets a turn
UDP_MAX_DATAGRAM = 65535
UDP_RECEIVE_BUFFER = 4 * 1024 * 1024
# Half-open connections (a sender that vanished without FIN) are found by TCP keepalive after
# about IDLE + INTERVAL * COUNT seconds. We do not close idle connections ourselves: docker's
# syslog driver keeps one connection per container and would lose the first line after a
# silent close.
KEEPALIVE_IDLE, KEEPALIVE_INTERVAL, KEEPALIVE_COUNT = 60, 10, 3


@dataclasses.dataclass
class Stats:
    """Counters logged every minute (when they moved) and at shutdown."""

    received: int = 0
    written: int = 0
    unparsed: int = 0
    truncated: int = 0
    write_errors: int = 0
    connections_dropped: int = 0


class Collector:
    """Owns the listeners, the open TCP connections and the files."""

    def __init__(self, settings: LogSettings) -> None:
        self.settings = settings
        self.stats = Stats()
        self.files = LogFiles(settings.directory, settings.rotate_size, settings.rotate_count)
        # Ordered by last activity, so the first one is the longest idle.
        self.connections: collections.OrderedDict[SyslogStreamProtocol, None] = collections.OrderedDict()
        self._udp: socket.socket | None = None
        self._tcp: asyncio.Server | None = None
        self._flush_scheduled = False
        self._stats_task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Bind UDP then TCP on ``bind:port``; raises OSError when the port cannot be had."""
        loop = asyncio.get_running_loop()
        bind, port = self.settings.bind, self.settings.port
        self._udp = _bind_udp(bind, port)
        try:
            self._tcp = await loop.create_server(lambda: SyslogStreamProtocol(self), bind, port, reuse_address=True)
        except OSError:
            self._udp.close()
            raise
        loop.add_reader(self._udp.fileno(), self._read_datagrams, self._udp)
        self._stats_task = asyncio.create_task(self._log_stats_periodically())
        log.info("listening", bind=bind, port=port, directory=self.settings.directory, protocols=["udp", "tcp"])

    async def stop(self) -> None:
        """Stop listening, read what the open connections still hold, flush and close every file."""
        if self._stats_task is not None:
            self._stats_task.cancel()
        if self._tcp is not None:
            self._tcp.close()
        if self._udp is not None:
            asyncio.get_running_loop().remove_reader(self._udp.fileno())
            self._udp.close()
        for connection in list(self.connections):
            connection.close()
        if self._tcp is not None:
            await self._tcp.wait_closed()
        for error in self.files.close():
            self._write_failed(error)
        log.info("stopped", **dataclasses.asdict(self.stats))

    def handle(self, frame: Frame, peer: object) -> None:
        """Parse and store one message; any failure is counted and logged, never raised."""
        self.stats.received += 1
        self.stats.truncated += frame.truncated
        if not frame.data:
            return
        try:
            message = parse(frame.data)
            self.stats.unparsed += message.format == "unparsed"
            line = format_line(message, dt.datetime.now(dt.UTC))
            self.files.write(file_stem(message.app_name), line)
            self.stats.written += 1
        except OSError as exc:
            self._write_failed(exc)
        except Exception:  # noqa: BLE001 - a bug in parsing one message must not stop the collector
            log.exception("message_failed", peer=str(peer), size=len(frame.data))
        self._schedule_flush()

    def _read_datagrams(self, sock: socket.socket) -> None:
        """Drain the UDP socket: one datagram is one message (RFC 5426).

        asyncio's datagram transport reads one datagram per loop turn, which loses bursts once
        the kernel buffer fills; reading up to a batch per wake-up keeps up with them.
        """
        limit = self.settings.max_message_size
        for _ in range(UDP_BATCH):
            try:
                data, peer = sock.recvfrom(UDP_MAX_DATAGRAM)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                # ICMP errors can surface here on some platforms; they say nothing about us.
                log.debug("udp_error", error=str(exc))
                return
            self.handle(Frame(data[:limit], len(data) > limit), peer)

    def register(self, connection: SyslogStreamProtocol) -> None:
        """Track a new TCP connection; beyond max_connections the longest idle one is dropped."""
        self.connections[connection] = None
        while len(self.connections) > self.settings.max_connections:
            oldest = next(iter(self.connections))
            self.connections.pop(oldest)
            self.stats.connections_dropped += 1
            oldest.abort()

    def touch(self, connection: SyslogStreamProtocol) -> None:
        """Note activity: the connection moves to the back of the drop order."""
        if connection in self.connections:
            self.connections.move_to_end(connection)

    def unregister(self, connection: SyslogStreamProtocol) -> None:
        self.connections.pop(connection, None)

    def _schedule_flush(self) -> None:
        if not self._flush_scheduled:
            self._flush_scheduled = True
            asyncio.get_running_loop().call_soon(self._flush)

    def _flush(self) -> None:
        self._flush_scheduled = False
        for error in self.files.flush():
            self._write_failed(error)

    def _write_failed(self, error: OSError) -> None:
        self.stats.write_errors += 1
        # One line per failure would flood stdout on a full disk; log the first and then every 1000th.
        if self.stats.write_errors % 1000 == 1:
            log.error("write_failed", error=str(error), errno=error.errno, write_errors=self.stats.write_errors)

    async def _log_stats_periodically(self) -> None:
        last = None
        while True:
            await asyncio.sleep(STATS_INTERVAL)
            current = dataclasses.asdict(self.stats)
            if current != last:
                log.info("collector_stats", connections=len(self.connections), **current)
                last = current


class SyslogStreamProtocol(asyncio.Protocol):
    """One TCP sender: frames the stream, hands each message to the collector."""

    def __init__(self, collector: Collector) -> None:
        self.collector = collector
        self.framer = StreamFramer(collector.settings.max_message_size)
        self.transport: asyncio.Transport | None = None
        self.peer: object = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = typing.cast(asyncio.Transport, transport)
        self.peer = transport.get_extra_info("peername")
        _enable_keepalive(transport.get_extra_info("socket"))
        self.collector.register(self)

    def data_received(self, data: bytes) -> None:
        self.collector.touch(self)
        for frame in self.framer.feed(data):
            self.collector.handle(frame, self.peer)

    def eof_received(self) -> bool:
        self._finish()
        return False  # close our side too

    def connection_lost(self, exc: Exception | None) -> None:
        self._finish()
        self.collector.unregister(self)

    def close(self) -> None:
        self._finish()
        if self.transport is not None:
            self.transport.close()

    def abort(self) -> None:
        if self.transport is not None:
            self.transport.abort()

    def _finish(self) -> None:
        frame = self.framer.finish()
        if frame is not None:
            self.collector.handle(frame, self.peer)


def _bind_udp(bind: str, port: int) -> socket.socket:
    """A non-blocking UDP socket on ``bind:port`` with a receive buffer sized for bursts."""
    family, kind, proto, _name, address = socket.getaddrinfo(bind, port, type=socket.SOCK_DGRAM, flags=socket.AI_PASSIVE)[0]
    sock = socket.socket(family, kind, proto)
    try:
        # The kernel caps this at net.core.rmem_max; asking for more is harmless.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, UDP_RECEIVE_BUFFER)
        sock.bind(address)
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    return sock


def _enable_keepalive(sock: socket.socket | None) -> None:
    if sock is None:
        return
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    for option, value in (
        ("TCP_KEEPIDLE", KEEPALIVE_IDLE),
        ("TCP_KEEPINTVL", KEEPALIVE_INTERVAL),
        ("TCP_KEEPCNT", KEEPALIVE_COUNT),
    ):
        if hasattr(socket, option):  # Linux has all three; other systems keep their defaults
            sock.setsockopt(socket.IPPROTO_TCP, getattr(socket, option), value)
