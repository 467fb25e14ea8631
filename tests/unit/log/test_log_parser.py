"""The syslog parser against real senders' formats: RFC examples, docker's syslog driver,
Python's SysLogHandler (and berth_common.logging on top of it), glibc, rsyslog, nginx, and garbage."""

from __future__ import annotations

import datetime as dt
import logging
import logging.handlers

import pytest

from berth_common.logging import Rfc5424Formatter
from berth_log.parser import SDElement, parse

UTC = dt.UTC


def stamp(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)


# --- RFC 5424 -------------------------------------------------------------------------------


def test_rfc5424_example_with_bom_and_msgid():
    m = parse(b"<34>1 2003-10-11T22:14:15.003Z mymachine.example.com su - ID47 - \xef\xbb\xbf'su root' failed for lonvick on /dev/pts/8")
    assert (m.format, m.facility, m.severity) == ("rfc5424", 4, 2)
    assert m.timestamp == dt.datetime(2003, 10, 11, 22, 14, 15, 3000, tzinfo=UTC)
    assert (m.hostname, m.app_name, m.procid, m.msgid) == ("mymachine.example.com", "su", None, "ID47")
    assert m.structured_data == ()
    assert m.message == "'su root' failed for lonvick on /dev/pts/8"


def test_rfc5424_example_with_offset_and_microseconds():
    m = parse(b"<165>1 2003-08-24T05:14:15.000003-07:00 192.0.2.1 myproc 8710 - - %% It's time to make the do-nuts.")
    assert (m.facility, m.severity) == (20, 5)
    assert m.timestamp == stamp("2003-08-24T12:14:15.000003+00:00")
    assert (m.hostname, m.app_name, m.procid, m.msgid) == ("192.0.2.1", "myproc", "8710", None)
    assert m.message == "%% It's time to make the do-nuts."


def test_rfc5424_structured_data_then_message():
    m = parse(
        b'<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 '
        b'[exampleSDID@32473 iut="3" eventSource="Application" eventID="1011"] '
        b"\xef\xbb\xbfAn application event log entry..."
    )
    assert m.app_name == "evntslog"
    assert m.structured_data == (
        SDElement("exampleSDID@32473", (("iut", "3"), ("eventSource", "Application"), ("eventID", "1011"))),
    )
    assert m.message == "An application event log entry..."


def test_rfc5424_several_sd_elements_and_no_message():
    m = parse(
        b'<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 '
        b'[exampleSDID@32473 iut="3" eventSource="Application" eventID="1011"][examplePriority@32473 class="high"]'
    )
    assert [element.id for element in m.structured_data] == ["exampleSDID@32473", "examplePriority@32473"]
    assert m.structured_data[1].params == (("class", "high"),)
    assert m.message == ""


def test_rfc5424_sd_value_escapes():
    m = parse(rb'<14>1 2024-05-01T10:00:00Z h app 1 - [x@1 a="say \"hi\"" b="back\\slash" c="close\]" d="un]escaped"] msg')
    assert m.structured_data == (SDElement("x@1", (("a", 'say "hi"'), ("b", "back\\slash"), ("c", "close]"), ("d", "un]escaped"))),)
    assert m.message == "msg"


def test_util_linux_logger_rfc5424_with_time_quality():
    m = parse(
        b"<13>1 2024-05-01T12:00:00.123456+02:00 buildhost root - - "
        b'[timeQuality tzKnown="1" isSynced="1" syncAccuracy="40500"] hello'
    )
    assert m.timestamp == stamp("2024-05-01T10:00:00.123456+00:00")
    assert (m.app_name, m.procid) == ("root", None)
    assert m.structured_data[0].id == "timeQuality"
    assert m.message == "hello"


def test_rfc5424_nanosecond_fraction_is_cut_to_microseconds():
    m = parse(b"<14>1 2024-05-01T10:00:00.123456789Z h app - - - x")
    assert m.timestamp == dt.datetime(2024, 5, 1, 10, 0, 0, 123456, tzinfo=UTC)


def test_rfc5424_nil_everything():
    m = parse(b"<14>1 - - - - - -")
    assert m.format == "rfc5424"
    assert (m.timestamp, m.hostname, m.app_name, m.procid, m.msgid, m.message) == (None, None, None, None, None, "")


def test_rfc5424_bad_timestamp_keeps_the_rest():
    m = parse(b"<14>1 2024-05-01T10:00:00 host app 1 - - no zone")
    assert (m.format, m.timestamp, m.app_name, m.message) == ("rfc5424", None, "app", "no zone")


def test_rfc5424_broken_structured_data_becomes_message():
    m = parse(b'<14>1 2024-05-01T10:00:00Z host app 1 - [broken x="unterminated')
    assert m.app_name == "app"
    assert m.structured_data == ()
    assert m.message == '[broken x="unterminated'


# --- docker's syslog logging driver (daemon/logger/syslog), as sent with a trailing newline ----


def test_docker_default_unix_format_has_no_hostname():
    m = parse(b"<30>May  1 12:00:00 core[1234]: {\"event\": \"request\"}\n")
    assert (m.format, m.facility, m.severity) == ("rfc3164", 3, 6)
    assert (m.hostname, m.app_name, m.procid) == (None, "core", "1234")
    assert m.timestamp is None  # no year, no zone: the collector uses the reception time
    assert m.message == '{"event": "request"}'


def test_docker_rfc3164():
    m = parse(b"<27>Nov 27 09:05:01 dockerhost registry[812]: Traceback (most recent call last):\n")
    assert (m.severity, m.hostname, m.app_name, m.procid) == (3, "dockerhost", "registry", "812")
    assert m.message == "Traceback (most recent call last):"


def test_docker_rfc5424_uses_tag_as_app_and_msgid():
    m = parse(b"<30>1 2024-05-01T14:00:00+02:00 dockerhost jobservice 812 jobservice - job started\n")
    assert m.timestamp == stamp("2024-05-01T12:00:00+00:00")
    assert (m.hostname, m.app_name, m.procid, m.msgid) == ("dockerhost", "jobservice", "812", "jobservice")
    assert m.message == "job started"


def test_docker_rfc5424micro():
    m = parse(b"<30>1 2024-05-01T12:00:00.654321Z dockerhost proxy 812 proxy - 127.0.0.1 - - \"GET /v2/ HTTP/1.1\" 401\n")
    assert m.timestamp == dt.datetime(2024, 5, 1, 12, 0, 0, 654321, tzinfo=UTC)
    assert m.app_name == "proxy"
    assert m.message == '127.0.0.1 - - "GET /v2/ HTTP/1.1" 401'


# --- Python's SysLogHandler and berth_common.logging ------------------------------------------


def _syslog_handler_bytes(formatter: logging.Formatter, message: str, ident: str = "") -> bytes:
    """Exactly what SysLogHandler.emit puts on the wire (PRI + ident + formatted + NUL)."""
    handler = logging.handlers.SysLogHandler(address=("127.0.0.1", 9), facility=logging.handlers.SysLogHandler.LOG_LOCAL0)
    try:
        handler.setFormatter(formatter)
        handler.ident = ident
        record = logging.LogRecord("berth", logging.WARNING, __file__, 1, message, None, None)
        text = handler.ident + handler.format(record) + "\000"
        return f"<{handler.encodePriority(handler.facility, handler.mapPriority(record.levelname))}>".encode() + text.encode()
    finally:
        handler.close()


def test_berth_common_rfc5424_formatter_output():
    data = _syslog_handler_bytes(Rfc5424Formatter("registry", logging.Formatter("%(message)s")), '{"event": "push", "level": "warning"}')
    assert data.endswith(b"\x00")
    m = parse(data)
    assert (m.format, m.facility, m.severity) == ("rfc5424", 16, 4)
    assert m.app_name == "registry"
    assert m.procid is not None and m.procid.isdigit()
    assert m.timestamp is not None and m.timestamp.tzinfo is not None
    assert m.message == '{"event": "push", "level": "warning"}'


def test_syslog_handler_with_ident_and_no_timestamp():
    m = parse(_syslog_handler_bytes(logging.Formatter("%(message)s"), "disk almost full", ident="backup: "))
    assert (m.format, m.app_name, m.hostname, m.message) == ("rfc3164", "backup", None, "disk almost full")


def test_syslog_handler_bare_message_has_no_app():
    m = parse(_syslog_handler_bytes(logging.Formatter("%(message)s"), "just text"))
    assert (m.app_name, m.message) == (None, "just text")


# --- other RFC 3164 senders ---------------------------------------------------------------------


def test_rfc3164_example():
    m = parse(b"<34>Oct 11 22:14:15 mymachine su: 'su root' failed for lonvick on /dev/pts/8")
    assert (m.facility, m.severity, m.hostname, m.app_name, m.procid) == (4, 2, "mymachine", "su", None)
    assert m.message == "'su root' failed for lonvick on /dev/pts/8"


def test_rfc3164_host_without_tag():
    m = parse(b"<13>Feb  5 17:32:18 10.0.0.99 Use the BFG!")
    assert (m.hostname, m.app_name, m.message) == ("10.0.0.99", None, "Use the BFG!")


def test_glibc_syslog_to_dev_log():
    m = parse(b"<13>May  1 12:00:00 root: hello")
    assert (m.hostname, m.app_name, m.message) == (None, "root", "hello")


def test_nginx_syslog_access_log():
    m = parse(b'<190>Nov 27 09:05:01 berthhost proxy: 10.0.0.1 - - [27/Nov/2024:09:05:01 +0000] "GET /v2/ HTTP/1.1" 200 2')
    assert (m.facility, m.severity, m.hostname, m.app_name) == (23, 6, "berthhost", "proxy")
    assert m.message.startswith("10.0.0.1 - -")


def test_rsyslog_forward_format_with_rfc3339_timestamp():
    m = parse(b"<86>2024-05-01T12:00:00.123456+02:00 gateway sshd[4242]: Accepted publickey for deploy")
    assert m.timestamp == stamp("2024-05-01T10:00:00.123456+00:00")
    assert (m.hostname, m.app_name, m.procid, m.message) == ("gateway", "sshd", "4242", "Accepted publickey for deploy")


def test_high_precision_bsd_timestamp_and_ipv6_host():
    m = parse(b"<14>May 12 01:02:03.456789 ::1 app[7]: x")
    assert (m.hostname, m.app_name, m.procid, m.message) == ("::1", "app", "7", "x")


def test_naive_iso_timestamp_is_skipped_not_trusted():
    m = parse(b"<14>2024-05-01T12:00:00 host app: x")
    assert (m.timestamp, m.hostname, m.app_name, m.message) == (None, "host", "app", "x")


# --- garbage: always a message, never an exception ----------------------------------------------


@pytest.mark.parametrize(
    "data",
    [
        b"no pri at all",
        b"<999>1 2024-05-01T10:00:00Z h app - - - too big",
        b"<abc>hello",
        b"<>hello",
        b"<14",
        b"",
        b"\x00\x01\x02\xff\xfe binary \x80\x81",
        b"\xef\xbb\xbf",
        b"<" + b"9" * 5000,
        b"[" * 10000,
    ],
)
def test_garbage_is_kept_as_unparsed_message(data):
    m = parse(data)
    assert m.format == "unparsed"
    assert m.app_name is None
    assert (m.facility, m.severity) == (1, 5)
    assert m.message == data.decode("utf-8", "replace").rstrip("\r\n\x00")


@pytest.mark.parametrize(
    "data",
    [
        b"<14>",
        b"<14>1",
        b"<14>1 ",
        b"<14>1 2024-05-01T10:00:00Z",
        b"<14>1 2024-05-01T10:00:00Z h a p m [",
        b'<14>1 2024-05-01T10:00:00Z h a p m [id k="v',
        b'<14>1 2024-05-01T10:00:00Z h a p m [id k="v\\',
        b"<14>1 2024-05-01T10:00:00Z h a p m [id k=v]",
        b"<14>1 2024-05-01T10:00:00Z h a p m [] x",
        b"<14>1 2024-05-01T10:00:00Z h a p m -x",
        b"<14>Jan 99 99:99:99 host tag: x",
        b"<14>\xff\xfe[\x00]: \x01",
        b"<0>" + b"A" * 70000,
    ],
)
def test_truncated_or_malformed_headers_never_raise(data):
    m = parse(data)
    assert isinstance(m.message, str)
    assert 0 <= m.facility <= 23 and 0 <= m.severity <= 7


def test_invalid_utf8_is_replaced():
    m = parse(b"<14>1 2024-05-01T10:00:00Z h app - - - caf\xe9")
    assert m.message == "caf\ufffd"
