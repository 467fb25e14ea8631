"""The syslog lines of forwarded audit records: RFC 5424, one line each, nothing a value holds
can break the line or the key="value" form."""

from __future__ import annotations

import socket

import pytest

from berth_jobservice.services.audit_forward import SyslogSender, parse_endpoint, syslog_line


def payload(**overrides):
    return {
        "event_type": "create_artifact", "operation": "push", "resource_type": "artifact", "resource": "library/app:v1",
        "username": "alice", "client_ip": "10.0.0.1", "op_time": "2026-11-28T03:30:00.000Z", "success": True, **overrides,
    }  # fmt: skip


def test_line_is_rfc5424_with_harbors_fields():
    line = syslog_line(payload(), "host-1")
    assert line == (
        b'<110>1 2026-11-28T03:30:00.000Z host-1 audit - - - operator="alice" time="2026-11-28T03:30:00.000Z" '
        b'resourceType="artifact" resource="library/app:v1" action="create" eventType="create_artifact" success=true clientIP="10.0.0.1"\n'
    )


def test_values_cannot_break_the_line_or_the_quoting():
    line = syslog_line(payload(resource='evil"\nname\\x', username="a\r\nb", success=False, description="why"), "h o s t")
    assert line.count(b"\n") == 1 and line.endswith(b"\n")
    assert rb'resource="evil\"\nname\\x"' in line and rb'operator="a\r\nb"' in line
    assert b"success=false" in line and b'description="why"' in line
    assert b" host audit " in line  # no spaces in the HOSTNAME field


@pytest.mark.parametrize("endpoint,address", [("logs.example.com:514", ("logs.example.com", 514)), ("[::1]:1514", ("::1", 1514))])
def test_endpoints(endpoint, address):
    assert parse_endpoint(endpoint) == address


@pytest.mark.parametrize("endpoint", ["logs", ":514", "logs:", "logs:0", "logs:70000", "logs:x"])
def test_bad_endpoints(endpoint):
    with pytest.raises(ValueError):
        parse_endpoint(endpoint)


def test_sender_reconnects_after_the_endpoint_closed_its_end():
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        endpoint = f"127.0.0.1:{server.getsockname()[1]}"
        sender = SyslogSender(timeout=2)
        sender.send(endpoint, [b"one\n"])
        first, _ = server.accept()
        assert first.recv(100) == b"one\n"
        first.close()  # the endpoint restarts, say
        sender.send(endpoint, [b"two\n"])  # noticed before writing: a fresh connection
        second, _ = server.accept()
        second.settimeout(2)
        assert second.recv(100) == b"two\n"
        second.close()
        sender.close()
    with pytest.raises(OSError):
        sender.send(endpoint, [b"three\n"])  # nobody listens any more
