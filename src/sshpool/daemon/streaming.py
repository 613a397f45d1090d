"""Work that a client disconnect cancels: the watcher, a streamed stdin body, and NDJSON streams.

Pure ASGI on purpose: Starlette's ``StreamingResponse`` (on recent ASGI servers) hides
``http.disconnect`` until the next write, so a silent command would go on running for a client
that left.
"""

from __future__ import annotations

import asyncio
import base64
import codecs
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

from fastapi.responses import Response
from starlette.types import Message, Receive, Scope, Send

__all__ = ["Disconnected", "LiveStream", "NDJSONStream", "OutputLines", "StreamedBody", "until_disconnect"]

log = logging.getLogger("sshpool")

T = TypeVar("T")


class Disconnected(Exception):
    """The client went away before its answer was ready."""


async def until_disconnect(receive: Receive, work: Awaitable[T]) -> T:
    """Await ``work`` unless the client disconnects first; then cancel it (the core signals the
    remote command), let it end, and raise :class:`Disconnected`.

    ``work`` runs in the caller's own task and one watcher task cancels that task on a disconnect:
    no task for the work and no ``asyncio.wait`` per request (their callbacks were a tenth of the
    daemon's own CPU on a warm-shell command). The watcher's cancel is told from any other by
    ``Task.uncancel``, so a cancellation from outside still propagates."""
    me = asyncio.current_task()
    assert me is not None
    gone = False

    async def watch() -> None:
        nonlocal gone
        try:
            while (await receive())["type"] != "http.disconnect":
                pass
        except Exception:  # noqa: S110 - a broken receive counts as a disconnect
            pass
        gone = True
        me.cancel()

    watcher = asyncio.get_running_loop().create_task(watch())
    try:
        result = await work
    except asyncio.CancelledError:
        if gone and me.uncancel() == 0:
            raise Disconnected from None
        raise
    finally:
        watcher.cancel()
    if gone:  # the work ended on its own (or took the cancel as its answer) as the client left
        if me.uncancel() == 0:
            raise Disconnected
        raise asyncio.CancelledError
    return result


class StreamedBody:
    """A request body that is a command's stdin: chunks pulled from ``receive`` as the command reads
    them (uvicorn stops reading the socket while we do not pull, so memory stays bounded).
    :meth:`receive_after` is what a disconnect watcher awaits instead of ``receive``: it must not
    take body chunks, so it waits until the body has ended (or the client went away)."""

    def __init__(self, receive: Receive) -> None:
        self._receive = receive
        self._ended = asyncio.Event()
        self._gone = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            while True:
                message = await self._receive()
                if message["type"] == "http.disconnect":
                    self._gone = True
                    raise Disconnected
                chunk = message.get("body", b"")
                if chunk:
                    yield chunk
                if not message.get("more_body", False):
                    return
        finally:
            self._ended.set()

    async def receive_after(self) -> Message:
        await self._ended.wait()
        if self._gone:
            return {"type": "http.disconnect"}
        return await self._receive()


class LiveStream(Response):
    """An answer written while its command runs (NDJSON lines, output frames): no Content-Length,
    never cached. ``produce`` runs the command; ``watch`` is what watches for a disconnect when
    the request body (streamed stdin) is still being read."""

    def __init__(self, produce: Callable[[Any], Awaitable[Any]], rid: str, watch: Receive | None = None) -> None:
        super().__init__(media_type=self.media_type, headers={"Cache-Control": "no-store"})
        self.raw_headers = [(k, v) for k, v in self.raw_headers if k != b"content-length"]
        self.produce = produce
        self.rid = rid
        self.watch = watch  # what watches for a disconnect, when the body is still being read

    async def serve(self, receive: Receive, producer: Awaitable[None], pump: Awaitable[None]) -> None:
        """Run ``producer`` (the command) beside ``pump`` (which writes the answer); a client that
        leaves cancels both, and the command is awaited to its end either way."""
        work = asyncio.ensure_future(producer)
        try:
            await until_disconnect(self.watch or receive, pump)
        except (Disconnected, OSError):
            log.info("client went away during request %s: command cancelled", self.rid)
        finally:
            if not work.done():
                work.cancel()
            with contextlib.suppress(BaseException):
                await work


class NDJSONStream(LiveStream):
    """Lines of JSON as they come. ``produce(emit)`` runs while the response streams; a client
    disconnect cancels it."""

    media_type = "application/x-ndjson"

    produce: Callable[[Callable[[dict[str, Any]], None]], Awaitable[None]]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        queue: asyncio.Queue[bytes | None] = asyncio.Queue()

        def emit(line: dict[str, Any]) -> None:
            queue.put_nowait((json.dumps(line, ensure_ascii=False) + "\n").encode())

        async def producer() -> None:
            try:
                await self.produce(emit)
            except Exception as exc:
                log.exception("request %s failed while streaming", self.rid)
                emit({"error": "internal", "exception": f"sshpoold failed: {type(exc).__name__}: {exc}"})
            finally:
                queue.put_nowait(None)

        async def pump() -> None:
            await send({"type": "http.response.start", "status": 200, "headers": self.raw_headers})
            while (chunk := await queue.get()) is not None:
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b"", "more_body": False})

        await self.serve(receive, producer(), pump())


class OutputLines:
    """Incremental UTF-8 decoding per stream, so a character split across chunks stays whole."""

    def __init__(self, emit: Callable[[dict[str, Any]], None], raw: bool, alias: str | None) -> None:
        self.emit = emit
        self.raw = raw
        self.alias = alias
        self.decoders = {s: codecs.getincrementaldecoder("utf-8")(errors="replace") for s in ("stdout", "stderr")}

    def __call__(self, stream: str, data: bytes) -> None:
        text = self.decoders[stream].decode(data)
        line: dict[str, Any] = {"alias": self.alias} if self.alias is not None else {}
        line["stream"] = stream
        line["data"] = text
        if self.raw:
            line["data_b64"] = base64.b64encode(data).decode("ascii")
        elif not text:
            return
        self.emit(line)

    def flush(self) -> None:
        for stream, decoder in self.decoders.items():
            tail = decoder.decode(b"", final=True)
            if tail and not self.raw:
                line: dict[str, Any] = {"alias": self.alias} if self.alias is not None else {}
                self.emit({**line, "stream": stream, "data": tail})
