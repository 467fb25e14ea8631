"""The collector as a real process: syslog over UDP and TCP from several services, rotation,
garbage and abusive clients, berth_common.logging end to end, clean shutdown and bad settings."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from support.log_collector import BERTH_LOG, WAIT_TIMEOUT, Collector, run_collector
from support.waiting import wait_until


@pytest.fixture
def collector(tmp_path: Path) -> Iterator[Collector]:
    with run_collector(tmp_path) as running:
        yield running


def test_messages_from_several_services_over_udp_and_both_tcp_framings(collector: Collector):
    # core: berth_common-style RFC 5424 over UDP, with SysLogHandler's trailing NUL.
    collector.udp(b'<134>1 2024-05-01T12:00:00.123Z web1 core 4242 - - {"event": "request", "status": 200}\x00')
    # registry: docker's default syslog format, newline framed, two messages in one write.
    collector.tcp(b"<30>May  1 12:00:01 registry[812]: first\n<27>May  1 12:00:02 registry[812]: second\n")
    # jobservice: RFC 6587 octet counting, with a newline inside the message.
    message = b"<30>1 2024-05-01T12:00:03.000001Z host jobservice 812 jobservice - line one\nline two"
    collector.tcp(b"%d %s" % (len(message), message))
    # proxy: nginx's own syslog output over UDP.
    collector.udp(b'<190>May  1 12:00:04 berthhost proxy: 127.0.0.1 "GET /v2/ HTTP/1.1" 200')
    # A tagless message: unknown.log.
    collector.udp(b"<14>no tag here at all")

    assert collector.wait_for_line("core.log", '"event": "request"') == (
        '2024-05-01T12:00:00.123Z web1 core[4242]: {"event": "request", "status": 200}'
    )
    collector.wait_for_line("registry.log", "second")
    assert [line.split(" ", 1)[1] for line in collector.lines("registry.log")] == ["- registry[812]: first", "- registry[812]: second"]
    assert collector.wait_for_line("jobservice.log", "line one") == (
        "2024-05-01T12:00:03.000Z host jobservice[812]: line one\\nline two"
    )
    collector.wait_for_line("proxy.log", "GET /v2/")
    collector.wait_for_line("unknown.log", "no tag here at all")
    names = sorted(p.name for p in collector.directory.iterdir())
    assert names == ["core.log", "jobservice.log", "proxy.log", "registry.log", "unknown.log"]


def test_persistent_tcp_connection_is_flushed_without_closing(collector: Collector):
    # docker keeps one connection per container open for its whole life: lines must appear
    # while it stays open, not when it closes.
    with socket.create_connection(collector.address, timeout=5) as sock:
        for index in range(3):
            sock.sendall(b"<30>May  1 12:00:00 core[1]: persistent %d\n" % index)
            collector.wait_for_line("core.log", f"persistent {index}")


def test_many_messages_from_concurrent_connections_are_all_written(collector: Collector):
    senders = [socket.create_connection(collector.address, timeout=5) for _ in range(20)]
    try:
        for round_ in range(50):
            for index, sock in enumerate(senders):
                sock.sendall(b"<30>May  1 12:00:00 svc%d[1]: message %d\n" % (index % 4, round_))
    finally:
        for sock in senders:
            sock.close()
    wait_until(lambda: sum(len(collector.lines(f"svc{i}.log")) for i in range(4)) == 1000, timeout=WAIT_TIMEOUT, what="1000 lines")
    for index in range(4):
        assert len(collector.lines(f"svc{index}.log")) == 250


def test_rotation_by_size_keeps_count_files(tmp_path: Path):
    with run_collector(tmp_path, LOG_ROTATE_SIZE="2048", LOG_ROTATE_COUNT="2") as collector:
        with socket.create_connection(collector.address, timeout=5) as sock:
            for index in range(100):
                sock.sendall(b"<30>May  1 12:00:00 core[1]: message %03d %s\n" % (index, b"x" * 60))
        collector.wait_for_line("core.log", "message 099")
        names = sorted(p.name for p in collector.directory.iterdir())
        assert names == ["core.log", "core.log.1", "core.log.2"]
        for path in collector.directory.iterdir():
            assert 0 < path.stat().st_size <= 2048
        kept = collector.lines("core.log.2") + collector.lines("core.log.1") + collector.lines("core.log")
        numbers = [int(line.split("message ")[1][:3]) for line in kept]
        # The newest lines, in order, with nothing missing between them; the oldest were deleted.
        assert numbers == list(range(numbers[0], 100)) and numbers[0] > 0


def test_garbage_and_abusive_clients_do_not_stop_the_collector(collector: Collector):
    # UDP junk: binary, bad PRI, empty, and an oversized datagram (cut to 64 KiB).
    for junk in [b"\x00\xff\xfe\x01binary", b"<999>bad pri", b"<abc>", b"", b"<14>1 2024-05-01T10:00:00Z h junk - - [broken", b"z" * 65000]:
        collector.udp(junk)
    # TCP: a client that never sends a newline (3 MiB), one that announces 2 GB and sends
    # little, half-open connections that never send anything, and one that sends half a message.
    endless = socket.create_connection(collector.address, timeout=5)
    endless.sendall(b"<14>" + b"n" * (3 * 1024 * 1024))
    liar = socket.create_connection(collector.address, timeout=5)
    liar.sendall(b"2000000000 <14>1 - h liar - - - short")
    idle = [socket.create_connection(collector.address, timeout=5) for _ in range(30)]
    half = socket.create_connection(collector.address, timeout=5)
    half.sendall(b"<30>May  1 12:00:00 half[1]: cut in the mid")

    collector.tcp(b"<30>May  1 12:00:00 core[1]: still serving tcp\n")
    collector.udp(b"<30>May  1 12:00:00 core[1]: still serving udp")
    collector.wait_for_line("core.log", "still serving tcp")
    collector.wait_for_line("core.log", "still serving udp")

    # The endless line was cut at 64 KiB and written once.
    cut = collector.wait_for_line("unknown.log", "nnnn")
    assert 64 * 1024 - 100 < len(cut) < 64 * 1024 + 100
    # Partial messages are written when their senders go away.
    half.close()
    collector.wait_for_line("half.log", "cut in the mid")
    liar.close()
    collector.wait_for_line("liar.log", "short")
    for sock in [endless, *idle]:
        sock.close()
    assert collector.alive()
    assert resident_kib(collector.process.pid) < 150 * 1024, "memory grew with abusive clients"

    collector.process.send_signal(signal.SIGTERM)
    assert collector.process.wait(10) == 0
    assert len([line for line in collector.lines("unknown.log") if "nnnn" in line]) == 1
    stats = collector.stdout_events()[-1]
    assert stats["event"] == "stopped" and stats["unparsed"] >= 3 and stats["truncated"] == 1 and stats["write_errors"] == 0


def test_oversized_udp_message_is_cut_to_the_limit(tmp_path: Path):
    with run_collector(tmp_path, LOG_MAX_MESSAGE_SIZE="1024") as collector:
        collector.udp(b"<30>May  1 12:00:00 core[1]: " + b"u" * 5000)
        line = collector.wait_for_line("core.log", "uuuu")
        assert line.endswith("u" * 900) and len(line) < 1100


def test_connection_limit_drops_the_longest_idle_connection(tmp_path: Path):
    with run_collector(tmp_path, LOG_MAX_CONNECTIONS="5") as collector:
        oldest = socket.create_connection(collector.address, timeout=5)
        others = [socket.create_connection(collector.address, timeout=5) for _ in range(5)]
        # The oldest (and idlest) connection was dropped when the sixth arrived.
        assert wait_until(lambda: _closed_by_peer(oldest), timeout=WAIT_TIMEOUT, what="the oldest connection to be dropped")
        others[-1].sendall(b"<30>May  1 12:00:00 core[1]: newest still works\n")
        collector.wait_for_line("core.log", "newest still works")
        for sock in [oldest, *others]:
            sock.close()


def resident_kib(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text().splitlines()
    return int(next(line for line in status if line.startswith("VmRSS:")).split()[1])


def _closed_by_peer(sock: socket.socket) -> bool:
    sock.settimeout(0.1)
    try:
        return sock.recv(1) == b""
    except TimeoutError:
        return False
    except ConnectionResetError:
        return True


def test_path_traversal_in_app_name_stays_in_the_directory(collector: Collector, tmp_path: Path):
    collector.udp(b"<14>1 - h ../../escaped - - - sneaky")
    collector.udp(b"<14>May  1 12:00:00 host /etc/cron.d/evil: sneaky too")
    collector.wait_for_line("_.._escaped.log", "sneaky")
    collector.wait_for_line("_etc_cron.d_evil.log", "sneaky too")
    assert not (tmp_path / "escaped.log").exists() and not (tmp_path.parent / "escaped.log").exists()


def test_berth_common_logging_lines_land_in_the_service_file(collector: Collector):
    # A separate process, configured the way every Berth service configures itself.
    script = textwrap.dedent(
        f"""
        import logging
        from berth_common.logging import configure, get_logger
        configure("registry", "INFO", "127.0.0.1:{collector.port}")
        get_logger("berth.test").info("blob_pushed", digest="sha256:abc", password="hunter2")
        logging.getLogger("stdlib").warning("plain stdlib line")
        """
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=30)
    assert result.returncode == 0, result.stderr

    line = collector.wait_for_line("registry.log", "blob_pushed")
    header, body = line.split(": ", 1)
    stamp, host, tag = header.split(" ")
    assert tag.startswith("registry[") and stamp.endswith("Z") and host == socket.gethostname()
    event = json.loads(body)
    assert event["event"] == "blob_pushed" and event["service"] == "registry" and event["digest"] == "sha256:abc"
    assert event["password"] == "********" and "hunter2" not in line
    assert json.loads(collector.wait_for_line("registry.log", "plain stdlib line").split(": ", 1)[1])["level"] == "warning"
    # The same lines went to the process's stdout as well.
    assert b"blob_pushed" in result.stdout


def test_sigterm_flushes_and_exits_cleanly(collector: Collector):
    with socket.create_connection(collector.address, timeout=5) as sock:
        sock.sendall(b"<30>May  1 12:00:00 core[1]: before stop\n<30>May  1 12:00:00 core[1]: unterminated at stop")
        collector.wait_for_line("core.log", "before stop")
        collector.process.send_signal(signal.SIGTERM)
        assert collector.process.wait(10) == 0
    assert any("unterminated at stop" in line for line in collector.lines("core.log"))
    events = [event["event"] for event in collector.stdout_events()]
    assert "listening" in events and events[-1] == "stopped"
    stopped = collector.stdout_events()[-1]
    assert stopped["written"] == 2 and stopped["service"] == "log"


def test_check_mode_reports_health(collector: Collector):
    env = {**os.environ, "LOG_DIRECTORY": str(collector.directory), "LOG_PORT": str(collector.port)}
    assert subprocess.run([BERTH_LOG, "--check"], env=env, timeout=10).returncode == 0
    collector.process.send_signal(signal.SIGTERM)
    collector.process.wait(10)
    result = subprocess.run([BERTH_LOG, "--check"], env=env, capture_output=True, timeout=10)
    assert result.returncode == 1 and b"no collector" in result.stderr


def test_bad_settings_stop_with_the_variable_named(tmp_path: Path):
    env = {**os.environ, "LOG_DIRECTORY": str(tmp_path), "LOG_PORT": "eighty", "LOG_ROTATE_COUNT": "0"}
    result = subprocess.run([BERTH_LOG], env=env, capture_output=True, timeout=10)
    assert result.returncode == 2
    assert b"LOG_PORT: expected an integer" in result.stderr and b"LOG_ROTATE_COUNT: must be at least 1" in result.stderr
    env = {key: value for key, value in os.environ.items() if key != "LOG_DIRECTORY"}
    result = subprocess.run([BERTH_LOG], env=env, capture_output=True, timeout=10)
    assert result.returncode == 2 and b"LOG_DIRECTORY: required" in result.stderr


def test_port_in_use_is_a_clear_error(collector: Collector, tmp_path: Path):
    env = {**os.environ, "LOG_DIRECTORY": str(tmp_path / "other"), "LOG_PORT": str(collector.port), "LOG_BIND": "127.0.0.1"}
    result = subprocess.run([BERTH_LOG], env=env, capture_output=True, timeout=10)
    assert result.returncode == 1
    event = json.loads(result.stdout.splitlines()[-1])
    assert event["event"] == "cannot_start" and "address already in use" in event["error"].lower()
    assert b"Traceback" not in result.stdout + result.stderr
