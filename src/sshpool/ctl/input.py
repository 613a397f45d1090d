"""What ``sshpoolctl run`` sends as the command's stdin, the way ``ssh host cmd`` does.

A pipe or a file on stdin is streamed to the command, of any size, a chunk at a time; a terminal,
``/dev/null``, an empty file, a pipe already at end of file, or ``-n`` send nothing, so such a
command still takes the channel's warm shell and never waits on a prompt.
"""

from __future__ import annotations

import asyncio
import os
import select
import stat
import threading
from collections.abc import AsyncIterator

from sshpool.inputs import CHUNK

__all__ = ["stdin_stream"]

#: Chunks read ahead of the network: memory stays at a few chunks whatever the input's size.
_AHEAD = 4


def stdin_stream(fd: int = 0, *, force: bool = False) -> AsyncIterator[bytes] | None:
    """The stream to send for ``fd``, or None when there is nothing to send. ``force`` (``--stdin``)
    streams even a terminal."""
    try:
        st = os.fstat(fd)
    except OSError:
        return None  # stdin closed
    if not force:
        if os.isatty(fd) or stat.S_ISCHR(st.st_mode) or (stat.S_ISREG(st.st_mode) and st.st_size == 0):
            return None
        if stat.S_ISFIFO(st.st_mode) or stat.S_ISSOCK(st.st_mode):
            first = _ready_chunk(fd)
            if first == b"":
                return None
            return _pumped(fd, first)
    return _pumped(fd, None)


def _ready_chunk(fd: int) -> bytes | None:
    """A chunk already waiting in the pipe, b"" at end of file, None when nothing has arrived yet."""
    readable, _, _ = select.select([fd], [], [], 0)
    return os.read(fd, CHUNK) if readable else None


async def _pumped(fd: int, first: bytes | None) -> AsyncIterator[bytes]:
    """Chunks read by a daemon thread: a blocked read of an idle pipe never holds the process open
    once the command has finished."""
    if first:
        yield first
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[bytes | OSError] = asyncio.Queue()
    slots = threading.Semaphore(_AHEAD)

    def put(item: bytes | OSError) -> bool:
        try:
            loop.call_soon_threadsafe(queue.put_nowait, item)
        except RuntimeError:  # the loop is gone: the command is over
            return False
        return True

    def pump() -> None:
        while True:
            slots.acquire()
            try:
                data: bytes | OSError = os.read(fd, CHUNK)
            except OSError as exc:
                data = exc
            if not put(data) or not isinstance(data, bytes) or not data:
                return

    threading.Thread(target=pump, name="sshpoolctl-stdin", daemon=True).start()
    while True:
        item = await queue.get()
        slots.release()
        if isinstance(item, OSError):
            raise item
        if not item:
            return
        yield item
