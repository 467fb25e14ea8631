"""Per-service files: safe names, the line format, size rotation with N kept, bounded open files."""

from __future__ import annotations

import datetime as dt
import os

import pytest

from berth_log.files import LogFiles, file_stem, format_line
from berth_log.parser import parse

RECEIVED = dt.datetime(2024, 5, 1, 12, 0, 0, 500000, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("app", "stem"),
    [
        ("core", "core"),
        ("db-migrations", "db-migrations"),
        ("registry.v2", "registry.v2"),
        (None, "unknown"),
        ("", "unknown"),
        ("../../etc/passwd", "_.._etc_passwd"),
        ("..", "unknown"),
        (".hidden", "hidden"),
        ("a/b\\c", "a_b_c"),
        ("nul\x00byte", "nul_byte"),
        ("sp ace", "sp_ace"),
        ("ünïcode", "_n_code"),
        ("x" * 300, "x" * 64),
    ],
)
def test_file_stem_is_a_safe_file_name(app, stem):
    assert file_stem(app) == stem


def test_every_stem_stays_inside_the_directory(tmp_path):
    files = LogFiles(tmp_path / "logs", rotate_size=1024 * 1024, rotate_count=2)
    for app in ["../escape", "/abs/path", "..", "....//....//x", "a/../../b"]:
        files.write(file_stem(app), b"line\n")
    files.close()
    assert all(path.parent == tmp_path / "logs" for path in (tmp_path / "logs").iterdir())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["logs"]


def test_line_uses_sender_timestamp_in_utc():
    message = parse(b"<14>1 2024-05-01T14:00:00.25+02:00 host core 42 - - {\"event\": \"x\"}")
    assert format_line(message, RECEIVED) == b'2024-05-01T12:00:00.250Z host core[42]: {"event": "x"}\n'


def test_line_uses_reception_time_without_a_zoned_timestamp():
    message = parse(b"<30>May  1 09:00:00 registry[7]: started")
    assert format_line(message, RECEIVED) == b"2024-05-01T12:00:00.500Z - registry[7]: started\n"


def test_line_keeps_structured_data_and_escapes_control_characters():
    message = parse(b'<14>1 - h app - - [x@1 k="a\\"b"] one\ntwo\r\x1b[31m\ttab')
    assert format_line(message, RECEIVED) == b'2024-05-01T12:00:00.500Z h app: [x@1 k="a\\"b"] one\\ntwo\\r\\x1b[31m\ttab\n'


def test_garbage_line_is_one_line():
    line = format_line(parse(b"\x00\n\xff junk \n more"), RECEIVED)
    assert line.count(b"\n") == 1 and line.endswith(b"\n")
    assert b" - -: " in line


def test_rotation_keeps_count_files_and_deletes_the_oldest(tmp_path):
    files = LogFiles(tmp_path, rotate_size=1024, rotate_count=3)
    line = b"x" * 99 + b"\n"  # ten lines fill a file
    for index in range(55):
        files.write("core", b"%03d" % index + line[3:])
    files.close()
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["core.log", "core.log.1", "core.log.2", "core.log.3"]
    for path in tmp_path.iterdir():
        assert path.stat().st_size <= 1024
    # Newest in core.log, then .1, .2, .3; lines 0..14 rotated out and deleted.
    assert (tmp_path / "core.log").read_bytes().startswith(b"050")
    assert (tmp_path / "core.log.1").read_bytes().startswith(b"040")
    assert (tmp_path / "core.log.3").read_bytes().startswith(b"020")
    assert b"019" not in b"".join(p.read_bytes()[:3] for p in tmp_path.iterdir())


def test_rotation_continues_from_existing_file_size(tmp_path):
    (tmp_path / "core.log").write_bytes(b"y" * 1000)
    files = LogFiles(tmp_path, rotate_size=1024, rotate_count=1)
    files.write("core", b"z" * 100)
    files.close()
    assert (tmp_path / "core.log.1").read_bytes() == b"y" * 1000
    assert (tmp_path / "core.log").read_bytes() == b"z" * 100


def test_a_line_bigger_than_rotate_size_still_gets_written(tmp_path):
    files = LogFiles(tmp_path, rotate_size=1024, rotate_count=2)
    files.write("core", b"a" * 5000)
    files.write("core", b"b")
    files.close()
    assert (tmp_path / "core.log.1").read_bytes() == b"a" * 5000
    assert (tmp_path / "core.log").read_bytes() == b"b"


def test_files_are_private_to_owner_and_group(tmp_path):
    files = LogFiles(tmp_path, rotate_size=1024, rotate_count=2)
    files.write("core", b"x\n")
    files.close()
    assert (tmp_path / "core.log").stat().st_mode & 0o777 == 0o640 & ~_umask()


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


def test_symlink_in_log_folder_is_not_followed(tmp_path):
    target = tmp_path / "target"
    target.write_bytes(b"")
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "core.log").symlink_to(target)
    files = LogFiles(logs, rotate_size=1024, rotate_count=2)
    with pytest.raises(OSError):
        files.write("core", b"x\n")
    assert target.read_bytes() == b""


def test_open_files_are_bounded_and_lines_survive_eviction(tmp_path):
    files = LogFiles(tmp_path, rotate_size=1024 * 1024, rotate_count=2, max_open=2)
    for round_ in range(3):
        for app in ("a", "b", "c", "d"):
            files.write(app, b"%s%d\n" % (app.encode(), round_))
            assert len(files._open) <= 2  # noqa: SLF001 - the bound is the point of this test
    assert files.close() == []
    for app in ("a", "b", "c", "d"):
        assert (tmp_path / f"{app}.log").read_bytes() == b"%s0\n%s1\n%s2\n" % ((app.encode(),) * 3)


def test_flush_makes_lines_visible(tmp_path):
    files = LogFiles(tmp_path, rotate_size=1024 * 1024, rotate_count=2)
    files.write("core", b"hello\n")
    assert files.flush() == []
    assert (tmp_path / "core.log").read_bytes() == b"hello\n"
    files.close()
