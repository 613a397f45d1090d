"""Output as it arrives and as files: the pieces ``stream()`` yields, the paramiko-shaped file
objects ``exec_command()`` returns, and the live console printer of ``interactive=True``."""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import io
import sys
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, NamedTuple

from sshpool.result import OutputCallback, Result

__all__ = ["Chunk", "LivePrinter", "OutputCallback", "OutputFile", "OutputStream"]


class Chunk(NamedTuple):
    """A piece of output as it arrived; ``stream`` is ``stdout`` or ``stderr``."""

    stream: str
    data: bytes

    @property
    def text(self) -> str:
        return self.data.decode("utf-8", errors="replace")


class OutputFile:
    """A read-only bytes file over a command's stdout or stderr (paramiko's ChannelFile shape:
    ``read()``, ``readline()``, iteration, ``channel.recv_exit_status()``). ``load`` runs the
    command the first time output is needed."""

    def __init__(self, load: Callable[[], Result], stream: str) -> None:
        self._load = load
        self._stream = stream
        self._buffer: io.BytesIO | None = None
        self.closed = False

    def _buf(self) -> io.BytesIO:
        if self._buffer is None:
            result = self._load()
            data = result.stdout_bytes if self._stream == "stdout" else result.stderr_bytes
            if data is None:
                data = (result.stdout if self._stream == "stdout" else result.stderr).encode()
            self._buffer = io.BytesIO(data)
        return self._buffer

    @property
    def result(self) -> Result:
        return self._load()

    @property
    def channel(self) -> OutputFile:
        return self

    def recv_exit_status(self) -> int | None:
        return self._load().exit_code

    def read(self, size: int = -1) -> bytes:
        return self._buf().read(size)

    def readline(self, size: int = -1) -> bytes:
        return self._buf().readline(size)

    def readlines(self) -> list[bytes]:
        return self._buf().readlines()

    def readable(self) -> bool:
        return True

    def writable(self) -> bool:
        return False

    def __iter__(self) -> Iterator[bytes]:
        return iter(self._buf().readlines())

    def close(self) -> None:
        self.closed = True

    def __enter__(self) -> OutputFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class OutputStream:
    """``async for chunk in conn.stream(cmd)``: chunks as they arrive; ``.result`` at the end.
    Leaving early (``aclose()`` or ``async with``) stops the command."""

    _END: Any = object()

    def __init__(self, start: Callable[[OutputCallback], Awaitable[Result]]) -> None:
        self._start = start
        self._queue: asyncio.Queue[Any] = asyncio.Queue()
        self._task: asyncio.Task[Result] | None = None
        self.result: Result | None = None

    def __aiter__(self) -> OutputStream:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._body())
        return self

    async def _body(self) -> Result:
        try:
            return await self._start(lambda name, data: self._queue.put_nowait(Chunk(name, data)))
        finally:
            self._queue.put_nowait(self._END)

    async def __anext__(self) -> Chunk:
        self.__aiter__()
        item = await self._queue.get()
        if item is self._END:
            assert self._task is not None
            self.result = await self._task
            raise StopAsyncIteration
        chunk: Chunk = item
        return chunk

    async def aclose(self) -> None:
        if self._task is not None and not self._task.done():
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def __aenter__(self) -> OutputStream:
        return self.__aiter__()

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


class LivePrinter:
    """Live output for ``interactive=True``: each stream decoded incrementally to the console."""

    def __init__(self) -> None:
        self._decoders = {
            "stdout": codecs.getincrementaldecoder("utf-8")(errors="replace"),
            "stderr": codecs.getincrementaldecoder("utf-8")(errors="replace"),
        }

    def __call__(self, stream: str, data: bytes) -> None:
        target = sys.stderr if stream == "stderr" else sys.stdout
        target.write(self._decoders[stream].decode(data))
        target.flush()
