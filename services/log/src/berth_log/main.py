"""``berth-log``: run the collector until SIGTERM/SIGINT, or ``--check`` that one is answering.

Exit codes: 0 clean stop (or healthy), 1 cannot start (port taken, folder not writable) or
unhealthy, 2 bad settings (the message names the variable).
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import socket
import sys

import structlog

from berth_common import logging as berth_logging
from berth_common.settings import SettingsError
from berth_log.server import Collector
from berth_log.settings import LogSettings

log = structlog.get_logger("berth.log")

CHECK_TIMEOUT = 3.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="berth-log", description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 0 if the collector answers on its TCP port (healthcheck)")
    args = parser.parse_args(argv)
    try:
        settings = LogSettings.from_env()
    except SettingsError as exc:
        print(f"berth-log: {exc}", file=sys.stderr)
        return 2
    if args.check:
        return check(settings)
    # The collector's own lines go to stdout only: sending them to itself would loop.
    berth_logging.configure("log", settings.level, None)
    try:
        return asyncio.run(run(settings))
    except OSError as exc:
        log.error("cannot_start", error=str(exc), bind=settings.bind, port=settings.port, directory=settings.directory)
        return 1


async def run(settings: LogSettings) -> int:
    """Serve until SIGTERM or SIGINT, then flush and close everything."""
    collector = Collector(settings)
    await collector.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    try:
        await stop.wait()
    finally:
        await collector.stop()
    return 0


def check(settings: LogSettings) -> int:
    """Connect to the collector's TCP port; 0 when it accepts."""
    host = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(settings.bind, settings.bind)
    try:
        with socket.create_connection((host, settings.port), timeout=CHECK_TIMEOUT):
            return 0
    except OSError as exc:
        print(f"berth-log: no collector on {host}:{settings.port}: {exc}", file=sys.stderr)
        return 1
