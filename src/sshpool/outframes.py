"""The framed byte stream of a command's output (``Accept: application/x-sshpool-frames``).

The answer of ``POST /channels/<alias>`` in this form is a sequence of frames, each one type byte,
a 4-byte big-endian unsigned payload length, then the payload:

- ``b"1"`` (:data:`STDOUT`): a chunk of stdout, raw bytes as the command wrote them;
- ``b"2"`` (:data:`STDERR`): a chunk of stderr;
- ``b"="`` (:data:`OUTCOME`): the outcome, a UTF-8 JSON object with the fields of the NDJSON
  stream's last line (``exit_code``, ``signal``, ``timed_out``, ``truncated``, the totals,
  ``duration``, and ``error``/``exception`` when there is one). It comes once, last.

Nothing on the byte path is decoded, escaped or base64'd. Reading it, with any transport that
hands over the body in pieces (a blocking socket, httpx's ``aiter_raw``)::

    decoder = FrameDecoder()
    for piece in body_pieces:
        for kind, payload in decoder.feed(piece):
            if kind == STDOUT:
                sys.stdout.buffer.write(payload)
            elif kind == STDERR:
                sys.stderr.buffer.write(payload)
            else:
                outcome = outcome_of(payload)
    decoder.close()  # FrameError if the body ended without its outcome, or inside a frame

Stdlib only: the daemon, the async client and a plain-socket client share this one codec.
"""

from __future__ import annotations

import struct

from sshpool.quickjson import loads

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing is not imported at run time: sshpoolctl's lean path reads frames
    from typing import Any, Final

__all__ = [
    "CONTENT_TYPE",
    "FRAME_CAP",
    "HEADER_SIZE",
    "KINDS",
    "MAX_PAYLOAD",
    "OUTCOME",
    "STDERR",
    "STDOUT",
    "FrameDecoder",
    "FrameError",
    "encode_frame",
    "frame_header",
    "outcome_of",
]

#: The media type, asked in ``Accept`` and answered in ``Content-Type``.
CONTENT_TYPE: Final = "application/x-sshpool-frames"
STDOUT: Final = b"1"
STDERR: Final = b"2"
OUTCOME: Final = b"="
KINDS: Final = frozenset({STDOUT, STDERR, OUTCOME})
#: Type byte + length.
HEADER_SIZE: Final = 5
#: The largest payload sshpoold writes in one frame (bigger chunks are split).
FRAME_CAP: Final = 256 * 1024
#: The largest payload a decoder accepts: a length past it means the stream is not frames.
MAX_PAYLOAD: Final = 64 * 1024 * 1024

_HEADER = struct.Struct(">cI")


class FrameError(ValueError):
    """The bytes are not a well-formed frame stream (unknown type, absurd length, cut short)."""


def frame_header(kind: bytes, size: int) -> bytes:
    """The 5 bytes that go before a payload of ``size`` bytes."""
    return _HEADER.pack(kind, size)


def encode_frame(kind: bytes, payload: bytes | bytearray | memoryview) -> bytes:
    """One whole frame (header and payload)."""
    if kind not in KINDS:
        raise FrameError(f"unknown frame type {kind!r}: use STDOUT, STDERR or OUTCOME")
    return _HEADER.pack(kind, len(payload)) + bytes(payload)


def outcome_of(payload: bytes | bytearray | memoryview) -> dict[str, Any]:
    """The JSON object of an ``=`` frame."""
    doc = loads(payload)
    if not isinstance(doc, dict):
        raise FrameError("the outcome frame does not hold a JSON object")
    return doc


class FrameDecoder:
    """Incremental: :meth:`feed` takes the body in pieces of any size and returns the frames it
    completed, as ``(kind, payload)`` with ``kind`` one of :data:`STDOUT`, :data:`STDERR`,
    :data:`OUTCOME` and ``payload`` a memoryview. A frame that lies inside one fed piece is a view
    of that piece (no copy: do not change a fed bytearray while you use it; ``bytes(payload)`` keeps
    one); a frame split across pieces is gathered into its own buffer once. :attr:`done` turns true
    with the outcome; bytes after it are a :class:`FrameError`. :meth:`close` says the body ended:
    FrameError unless the outcome came and no frame was left half-way."""

    def __init__(self) -> None:
        self.done = False
        self._head = bytearray()  # a header split across pieces
        self._kind = b""  # the frame being gathered, if any
        self._body: bytearray | None = None
        self._filled = 0

    def feed(self, data: bytes | bytearray | memoryview) -> list[tuple[bytes, memoryview]]:
        view = memoryview(data).cast("B") if not isinstance(data, memoryview) or data.format != "B" else data
        frames: list[tuple[bytes, memoryview]] = []
        pos, end = 0, len(view)
        while pos < end:
            if self.done:
                raise FrameError("bytes after the outcome frame")
            if self._body is not None:  # gathering a split payload
                take = min(len(self._body) - self._filled, end - pos)
                self._body[self._filled : self._filled + take] = view[pos : pos + take]
                self._filled += take
                pos += take
                if self._filled == len(self._body):
                    self._emit(frames, self._kind, memoryview(self._body))
                    self._body = None
                continue
            if self._head or end - pos < HEADER_SIZE:
                take = min(HEADER_SIZE - len(self._head), end - pos)
                self._head += view[pos : pos + take]
                pos += take
                if len(self._head) < HEADER_SIZE:
                    break
                kind, size = self._header(self._head)
                self._head.clear()
            else:
                kind, size = self._header(view[pos : pos + HEADER_SIZE])
                pos += HEADER_SIZE
            if end - pos >= size:  # the whole payload is here: a view of it
                self._emit(frames, kind, view[pos : pos + size])
                pos += size
            else:
                self._kind, self._body, self._filled = kind, bytearray(size), 0
        return frames

    def close(self) -> None:
        """The body ended: raise FrameError if it ended inside a frame or before the outcome."""
        if self._head or self._body is not None:
            raise FrameError("the stream ended inside a frame")
        if not self.done:
            raise FrameError("the stream ended without its outcome frame")

    def _emit(self, frames: list[tuple[bytes, memoryview]], kind: bytes, payload: memoryview) -> None:
        frames.append((kind, payload))
        if kind == OUTCOME:
            self.done = True

    @staticmethod
    def _header(raw: bytes | bytearray | memoryview) -> tuple[bytes, int]:
        kind, size = _HEADER.unpack(raw)
        if kind not in KINDS:
            raise FrameError(f"unknown frame type {kind!r}")
        if size > MAX_PAYLOAD:
            raise FrameError(f"a frame of {size} bytes is past the {MAX_PAYLOAD} byte limit")
        return kind, size
