"""TCP framing (RFC 6587): octet counting, LF and NUL delimiters, partial reads, bounded buffers."""

from __future__ import annotations

from berth_log.framing import Frame, StreamFramer


def feed_all(framer: StreamFramer, chunks: list[bytes]) -> list[Frame]:
    frames: list[Frame] = []
    for chunk in chunks:
        frames.extend(framer.feed(chunk))
    return frames


def data(frames: list[Frame]) -> list[bytes]:
    return [frame.data for frame in frames]


def test_newline_framing_docker_style():
    framer = StreamFramer(1024)
    frames = framer.feed(b"<30>May  1 12:00:00 core[1]: a\n<30>May  1 12:00:00 core[1]: b\n")
    assert data(frames) == [b"<30>May  1 12:00:00 core[1]: a", b"<30>May  1 12:00:00 core[1]: b"]
    assert not any(frame.truncated for frame in frames)


def test_crlf_and_blank_lines_are_tolerated():
    framer = StreamFramer(1024)
    assert data(framer.feed(b"\r\n\n<14>a\r\n\r\n<14>b\n")) == [b"<14>a", b"<14>b"]


def test_nul_framing_from_python_syslog_handler_over_tcp():
    framer = StreamFramer(1024)
    assert data(framer.feed(b"<134>1 - h core 1 - - x\x00<134>1 - h core 1 - - y\x00")) == [
        b"<134>1 - h core 1 - - x",
        b"<134>1 - h core 1 - - y",
    ]


def test_octet_counting_allows_newlines_inside_messages():
    message = b"<14>1 - h app - - - line one\nline two"
    framer = StreamFramer(1024)
    assert data(framer.feed(b"%d %s" % (len(message), message) * 2)) == [message, message]


def test_mixed_framings_on_one_connection():
    framer = StreamFramer(1024)
    assert data(framer.feed(b"5 <14>a<14>b\n3 <1>")) == [b"<14>a", b"<14>b", b"<1>"]


def test_byte_by_byte_delivery_gives_the_same_frames():
    stream = b"12 <14>abcdefgh<14>newline\n<14>nul\x007 <14>xyz"
    framer = StreamFramer(1024)
    frames = feed_all(framer, [bytes([byte]) for byte in stream])
    assert data(frames) == [b"<14>abcdefgh", b"<14>newline", b"<14>nul", b"<14>xyz"]


def test_count_header_split_across_reads_waits_for_the_rest():
    framer = StreamFramer(1024)
    assert framer.feed(b"1") == []
    assert framer.feed(b"0") == []
    assert data(framer.feed(b" <14>hello!")) == [b"<14>hello!"]


def test_digits_without_count_header_fall_back_to_newline_framing():
    framer = StreamFramer(1024)
    assert data(framer.feed(b"2024-05-01 message without pri\n123456789012 too many digits\n")) == [
        b"2024-05-01 message without pri",
        b"123456789012 too many digits",
    ]


def test_line_that_never_ends_is_cut_and_the_rest_discarded():
    framer = StreamFramer(1024)
    frames = feed_all(framer, [b"<14>" + b"x" * 500] + [b"y" * 500] * 100)
    assert len(frames) == 1 and frames[0].truncated and len(frames[0].data) == 1024
    assert len(framer._buffer) <= 1024  # noqa: SLF001 - the bound is the point of this test
    # Everything up to the next delimiter belongs to the cut message; the next one is whole.
    assert data(framer.feed(b"zzz\n<14>next\n")) == [b"<14>next"]


def test_oversized_octet_counted_frame_is_cut_and_skipped_exactly():
    framer = StreamFramer(1024)
    header = b"1000000 "
    frames = feed_all(framer, [header + b"a" * 600, b"a" * 600])
    assert len(frames) == 1 and frames[0].truncated and frames[0].data == b"a" * 1024
    remaining = 1_000_000 - 1200
    for _ in range(remaining // 4096):
        assert framer.feed(b"a" * 4096) == []
        assert len(framer._buffer) == 0  # noqa: SLF001
    tail = remaining % 4096
    assert data(framer.feed(b"a" * tail + b"6 <14>ok")) == [b"<14>ok"]


def test_absurd_count_does_not_allocate():
    framer = StreamFramer(1024)
    assert framer.feed(b"9999999999 ") == []
    frames = framer.feed(b"b" * 2000)
    assert len(frames) == 1 and frames[0].truncated
    assert len(framer._buffer) == 0  # noqa: SLF001


def test_finish_returns_the_partial_message_left_at_close():
    framer = StreamFramer(1024)
    assert framer.feed(b"<14>complete\n<14>partial") == [Frame(b"<14>complete", False)]
    assert framer.finish() == Frame(b"<14>partial", False)
    assert framer.finish() is None


def test_finish_strips_an_unfinished_count_header():
    framer = StreamFramer(1024)
    framer.feed(b"100 <14>only part")
    assert framer.finish() == Frame(b"<14>only part", False)


def test_finish_after_cut_line_returns_nothing():
    framer = StreamFramer(1024)
    framer.feed(b"x" * 3000)
    assert framer.finish() is None
