"""A command's output as frames (:mod:`sshpool.outframes`): the bytes as they come, then the outcome.

Pure ASGI like :class:`~sshpool.daemon.streaming.NDJSONStream`, for the same reason (a client
disconnect must cancel a silent command at once). The byte path does no decoding and no
escaping: the output callback only queues the chunks the SSH channel handed over; the pump
takes all that is ready at each turn, packs consecutive chunks of one stream into frames of up
to :data:`~sshpool.outframes.FRAME_CAP` bytes, and writes them in sends of about a MiB.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

from starlette.types import Receive, Scope, Send

from sshpool.daemon.streaming import LiveStream
from sshpool.outframes import CONTENT_TYPE, FRAME_CAP, OUTCOME, STDERR, STDOUT, encode_frame, frame_header
from sshpool.result import OutputCallback

__all__ = ["FrameStream", "packed"]

log = logging.getLogger("sshpool")

#: About this many bytes go to the server in one send.
_SEND = 1 << 20


def packed(chunks: list[tuple[bytes, bytes | memoryview]]) -> Iterator[bytes]:
    """``(kind, data)`` chunks as frames, consecutive chunks of one kind sharing a frame up to
    FRAME_CAP bytes, joined into blobs of about a MiB (each byte is copied once, by the join)."""
    parts: list[bytes | memoryview] = []
    size = 0
    i = 0
    while i < len(chunks):
        kind = chunks[i][0]
        frame: list[bytes | memoryview] = []
        room = FRAME_CAP
        while i < len(chunks) and chunks[i][0] == kind and room:
            data = chunks[i][1]
            if len(data) <= room:
                frame.append(data)
                room -= len(data)
                i += 1
            else:  # the rest of this chunk goes into the next frame(s)
                view = memoryview(data)
                frame.append(view[:room])
                chunks[i] = (kind, view[room:])
                room = 0
        payload = FRAME_CAP - room
        parts.append(frame_header(kind, payload))
        parts += frame
        size += payload
        if size >= _SEND:
            yield b"".join(parts)
            parts, size = [], 0
    if parts:
        yield b"".join(parts)


class FrameStream(LiveStream):
    """``produce(on_output)`` runs the command, handing its output to ``on_output`` as it comes,
    and answers the outcome (a dict, the ``=`` frame); a client disconnect cancels it."""

    media_type = CONTENT_TYPE

    produce: Callable[[OutputCallback], Awaitable[dict[str, Any]]]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        pending: list[tuple[bytes, bytes | memoryview]] = []
        ready = asyncio.Event()
        outcome: list[dict[str, Any]] = []

        def on_output(stream: str, data: bytes) -> None:
            if data:
                pending.append((STDERR if stream == "stderr" else STDOUT, data))
                ready.set()

        async def producer() -> None:
            try:
                outcome.append(await self.produce(on_output))
            except Exception as exc:
                log.exception("request %s failed while streaming", self.rid)
                outcome.append({"error": "internal", "exception": f"sshpoold failed: {type(exc).__name__}: {exc}"})
            finally:
                ready.set()

        async def pump() -> None:
            await send({"type": "http.response.start", "status": 200, "headers": self.raw_headers})
            while True:
                while pending:
                    batch = pending[:]
                    pending.clear()
                    for blob in packed(batch):
                        await send({"type": "http.response.body", "body": blob, "more_body": True})
                if outcome:  # it comes after the last output: all of it was sent
                    break
                await ready.wait()
                ready.clear()
            last = encode_frame(OUTCOME, json.dumps(outcome[0], ensure_ascii=False).encode())
            await send({"type": "http.response.body", "body": last, "more_body": False})

        await self.serve(receive, producer(), pump())
