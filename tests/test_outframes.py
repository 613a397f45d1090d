"""The output frame codec: whatever bytes go in come out whole, however the stream is cut."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sshpool.outframes import (
    CONTENT_TYPE,
    OUTCOME,
    STDERR,
    STDOUT,
    FrameDecoder,
    FrameError,
    encode_frame,
    frame_header,
    outcome_of,
)

# Every byte and character that some reader takes for a line break, and bytes that are not UTF-8.
BREAKS = [b"\n", b"\r", b"\r\n", b"\x0b", b"\x0c", b"\x1c", b"\x1d", b"\x1e", b"\x85", b"\xc2\x85"]
BREAKS += [b"\xe2\x80\xa8", b"\xe2\x80\xa9", b"\xff", b"\xfe\x00", b"\x80", b"\xed\xa0\x80", b"\x00"]

payloads = st.lists(st.sampled_from(BREAKS) | st.binary(max_size=300), max_size=8).map(b"".join)
frames = st.lists(st.tuples(st.sampled_from([STDOUT, STDERR]), payloads), max_size=12)


def stream_of(chunks: list[tuple[bytes, bytes]], outcome: dict[str, object]) -> bytes:
    body = b"".join(encode_frame(kind, data) for kind, data in chunks)
    return body + encode_frame(OUTCOME, json.dumps(outcome).encode())


@given(frames, st.lists(st.integers(min_value=1, max_value=700), max_size=40))
def test_any_bytes_cut_anywhere_come_out_byte_exact(chunks: list[tuple[bytes, bytes]], cuts: list[int]) -> None:
    body = stream_of(chunks, {"exit_code": 0})
    decoder = FrameDecoder()
    got: list[tuple[bytes, bytes]] = []
    pos = 0
    for size in [*cuts, len(body)]:
        got += [(kind, bytes(payload)) for kind, payload in decoder.feed(body[pos : pos + size])]
        pos += size
        if pos >= len(body):
            break
    decoder.close()
    assert got[:-1] == chunks
    assert got[-1][0] == OUTCOME and outcome_of(got[-1][1]) == {"exit_code": 0}
    assert decoder.done


def test_a_frame_inside_one_piece_is_a_view_of_it_without_a_copy() -> None:
    body = bytearray(encode_frame(STDOUT, b"abc") + encode_frame(STDERR, b"") + encode_frame(OUTCOME, b"{}"))
    (k1, p1), (k2, p2), (k3, p3) = FrameDecoder().feed(body)
    assert (k1, bytes(p1), k2, bytes(p2), k3, outcome_of(p3)) == (STDOUT, b"abc", STDERR, b"", OUTCOME, {})
    assert p1.obj is body  # a view of the fed buffer


def test_the_header_is_a_type_byte_and_a_big_endian_length() -> None:
    assert encode_frame(STDOUT, b"hi") == b"1\x00\x00\x00\x02hi"
    assert frame_header(OUTCOME, 258) == b"=\x00\x00\x01\x02"
    assert CONTENT_TYPE == "application/x-sshpool-frames"


def test_a_stream_that_is_not_frames_or_is_cut_short_is_a_clear_error() -> None:
    with pytest.raises(FrameError, match="unknown frame type"):
        FrameDecoder().feed(b'{"stdout": ""}')
    with pytest.raises(FrameError, match="limit"):
        FrameDecoder().feed(b"1\xff\xff\xff\xff")
    with pytest.raises(FrameError, match="unknown frame type"):
        encode_frame(b"x", b"")
    cut = FrameDecoder()
    cut.feed(encode_frame(STDOUT, b"hello")[:-2])
    with pytest.raises(FrameError, match="inside a frame"):
        cut.close()
    silent = FrameDecoder()
    silent.feed(encode_frame(STDOUT, b"hello"))
    with pytest.raises(FrameError, match="without its outcome"):
        silent.close()
    after = FrameDecoder()
    with pytest.raises(FrameError, match="after the outcome"):
        after.feed(encode_frame(OUTCOME, b"{}") + b"1")
    with pytest.raises(FrameError, match="JSON object"):
        outcome_of(b"[1]")
