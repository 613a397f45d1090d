"""What a command's stdin can be: text or bytes held in memory, or a stream of any size.

A stream (an open binary file, an iterator of bytes, an async iterator of bytes) is read a chunk at
a time and written as the SSH window allows, so ``tar c dir`` of gigabytes never sits in memory.
Blocking sources (a file, a pipe, a generator that reads one) are read in a worker thread, so the
event loop keeps serving every other command meanwhile.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Iterator
from typing import IO

__all__ = ["CHUNK", "Stdin", "StdinSource", "followed_by", "is_streamed", "stdin_of"]

CHUNK = 1 << 18

#: Everything ``input=`` takes.
StdinSource = str | bytes | bytearray | memoryview | IO[bytes] | Iterable[bytes] | AsyncIterable[bytes]
#: What the transports get: bytes in memory, or chunks to stream.
Stdin = bytes | AsyncIterator[bytes]


def is_streamed(source: object) -> bool:
    """True for a file object or an iterator: input whose size is not known up front."""
    return source is not None and not isinstance(source, (str, bytes, bytearray, memoryview))


def stdin_of(source: StdinSource | None) -> Stdin | None:
    """``source`` as bytes or as an async iterator of bytes; a wrong type is a TypeError naming it."""
    if source is None or isinstance(source, bytes):
        return source
    if isinstance(source, str):
        return source.encode()
    if isinstance(source, (bytearray, memoryview)):
        return bytes(source)
    if hasattr(source, "read"):
        return _read_file(source)  # type: ignore[arg-type]
    if isinstance(source, AsyncIterable):
        return _checked(source)
    if isinstance(source, Iterable):
        return _from_thread(iter(source))
    raise TypeError(
        f"input must be str, bytes, a binary file object or an iterator of bytes, not {type(source).__name__}"
    )


def followed_by(first: StdinSource | None, then: bytes) -> StdinSource | None:
    """``first`` and then ``then``, as one input (the sync ``exec_command``: ``input=`` given up
    front, then what was written to its stdin file)."""
    if not then:
        return first
    if first is None:
        return then
    if not is_streamed(first):
        head = stdin_of(first)
        assert isinstance(head, bytes)
        return head + then
    return _then(stdin_of(first), then)


async def _then(first: Stdin | None, then: bytes) -> AsyncIterator[bytes]:
    if isinstance(first, AsyncIterator):
        async for chunk in first:
            yield chunk
    yield then


async def _read_file(f: IO[bytes]) -> AsyncIterator[bytes]:
    while True:
        data = await asyncio.to_thread(f.read, CHUNK)
        if not data:
            return
        yield _as_bytes(data)


async def _from_thread(it: Iterator[bytes]) -> AsyncIterator[bytes]:
    done = object()
    while True:
        item = await asyncio.to_thread(next, it, done)
        if item is done:
            return
        data = _as_bytes(item)
        if data:
            yield data


async def _checked(source: AsyncIterable[bytes]) -> AsyncIterator[bytes]:
    async for item in source:
        data = _as_bytes(item)
        if data:
            yield data


def _as_bytes(item: object) -> bytes:
    if isinstance(item, bytes):
        return item
    if isinstance(item, (bytearray, memoryview)):
        return bytes(item)
    if isinstance(item, str):
        return item.encode()
    raise TypeError(f"input streams must yield bytes, not {type(item).__name__}")
