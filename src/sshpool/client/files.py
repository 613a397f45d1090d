"""Files to and from a channel's host, streamed both ways through ``/channels/<alias>/files``.

Neither direction holds a file in memory, and neither has an overall deadline (a big file on a
slow link takes what it takes). A download that breaks off is the OSError a local copy raises,
and leaves no partial file behind.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import AsyncIterator
from typing import BinaryIO

import anyio
import httpx

from sshpool.client.errors import ErrorMap
from sshpool.client.wire import TRANSFER_TIMEOUT

__all__ = ["download", "upload"]

CHUNK = 256 * 1024


async def upload(
    http: httpx.AsyncClient,
    errors: ErrorMap,
    path: str,
    alias: str,
    local: str | os.PathLike[str],
    remote: str,
    mode: int | None = None,
) -> int:
    """PUT ``local`` to ``remote`` at ``path`` (a channel's ``/files``), with permission bits
    ``mode`` if given; the size written."""
    st = await anyio.Path(local).stat()  # a missing local file: FileNotFoundError here
    if stat.S_ISDIR(st.st_mode):
        raise IsADirectoryError(errno.EISDIR, f"{local} is a directory", os.fspath(local))
    size = st.st_size

    async def chunks() -> AsyncIterator[bytes]:
        async with await anyio.open_file(local, "rb") as fh:
            while piece := await fh.read(CHUNK):
                yield piece

    headers = {"Content-Length": str(size), "Content-Type": "application/octet-stream"}
    with errors.mapping(0):
        params = {"path": remote} if mode is None else {"path": remote, "mode": f"{mode:o}"}
        resp = await http.put(path, params=params, content=chunks(), headers=headers, timeout=TRANSFER_TIMEOUT)
    await errors.check(resp, alias)
    return int(resp.json()["size"])


async def download(
    http: httpx.AsyncClient,
    errors: ErrorMap,
    path: str,
    alias: str,
    remote: str,
    local: str | os.PathLike[str] | BinaryIO,
) -> int:
    """GET ``remote`` from ``path`` (a channel's ``/files``) into ``local``, a path or an open
    binary stream; the bytes received."""
    target = local if isinstance(local, (str, os.PathLike)) else None
    with errors.mapping(0):  # no connection: the daemon's failure, as for any request
        try:
            async with http.stream("GET", path, params={"path": remote}, timeout=TRANSFER_TIMEOUT) as resp:
                await errors.check(resp, alias)
                expected = int(resp.headers.get("content-length", "-1"))
                if isinstance(local, (str, os.PathLike)):
                    received = await _to_file(resp, local)
                else:
                    received = await _to_stream(resp, local)
        except httpx.HTTPError as exc:
            if isinstance(exc, httpx.ConnectError):
                raise
            await _discard(target)
            raise OSError(errno.EIO, f"cannot download {remote}: the transfer broke off ({exc})") from None
    if expected >= 0 and received != expected:
        await _discard(target)
        raise OSError(errno.EIO, f"cannot download {remote}: got {received} of {expected} bytes")
    return received


async def _to_stream(resp: httpx.Response, out: BinaryIO) -> int:
    received = 0
    async for piece in resp.aiter_bytes(CHUNK):
        await anyio.to_thread.run_sync(out.write, piece)
        received += len(piece)
    await anyio.to_thread.run_sync(out.flush)
    return received


async def _to_file(resp: httpx.Response, path: str | os.PathLike[str]) -> int:
    received = 0
    async with await anyio.open_file(path, "wb") as fh:
        async for piece in resp.aiter_bytes(CHUNK):
            await fh.write(piece)
            received += len(piece)
    return received


async def _discard(path: str | os.PathLike[str] | None) -> None:
    if path is not None:
        await anyio.Path(path).unlink(missing_ok=True)
