"""Log collector settings, read once from ``LOG_*`` environment variables (rendered by prepare)."""

from __future__ import annotations

import dataclasses

from berth_common.settings import Settings, setting


@dataclasses.dataclass(frozen=True, repr=False)
class LogSettings(Settings):
    PREFIX = "LOG_"

    directory: str = setting(str, required=True, help="folder for one file per service")
    bind: str = setting(str, "127.0.0.1", help="address to listen on (0.0.0.0 in a container)")
    port: int = setting(int, 1514, minimum=1, maximum=65535, help="TCP and UDP syslog port")
    rotate_size: int = setting(int, 200 * 1024 * 1024, minimum=1024, help="bytes before a file rotates")
    rotate_count: int = setting(int, 50, minimum=1, maximum=10000, help="rotated files kept per service")
    level: str = setting(str, "INFO", choices=("DEBUG", "INFO", "WARNING", "ERROR"))
    # Bounds that keep memory flat whatever senders do: a message longer than this is cut, a TCP
    # client never holds more than this in our buffers, and past max_connections the connection
    # idle for longest is dropped to make room.
    max_message_size: int = setting(int, 64 * 1024, minimum=1024, maximum=1024 * 1024, help="bytes kept of one message")
    max_connections: int = setting(int, 256, minimum=1, maximum=10000, help="concurrent TCP senders")
