"""One HTTP/1.1 request whose body is written while its answer is read: a command's streamed stdin.

httpx (like most HTTP clients) sends the whole body before it reads a byte of the answer. For a
command's stdin that is wrong twice: ``cat`` of gigabytes would pile its output up in the daemon
while the upload runs, and a command that never reads stdin (``uptime`` with stdin an idle pipe)
would wait for an EOF that never comes, where ssh returns as soon as the command ends. Here the
body goes out in chunks (``Transfer-Encoding: chunked``, each written as the socket drains) while
the answer streams back, and the upload stops when the answer is complete. The connection is
used once (``Connection: close``). Its failures are raised as httpx's own classes, so the client's
one :class:`~sshpool.client.errors.ErrorMap` translates them like those of any other request.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import AsyncIterator, Mapping
from urllib.parse import urlsplit

import httpx

from sshpool.client.transport import within

__all__ = ["Exchange", "open_exchange"]

_MAX_HEAD = 64 * 1024


class Exchange:
    """The answer of a request whose body may still be going out: ``status``, ``headers``
    (lower-case names) and :meth:`body`; :meth:`aclose` stops the upload and closes."""

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        pump: asyncio.Task[None],
        status: int,
        headers: dict[str, str],
        read_timeout: float | None,
    ) -> None:
        self._reader = reader
        self._writer = writer
        self._pump = pump
        self.status = status
        self.headers = headers
        self._timeout = read_timeout

    async def _read(self, n: int) -> bytes:
        return await within(self._reader.read(n), self._timeout)

    async def _line(self) -> bytes:
        return await within(self._reader.readuntil(b"\n"), self._timeout)

    async def body(self) -> AsyncIterator[bytes]:
        """The answer's body; a wait that runs out is httpx's ReadTimeout, a broken connection its
        ReadError."""
        try:
            async for data in self._body():
                yield data
        except TimeoutError:
            raise httpx.ReadTimeout("no answer") from None
        except (OSError, EOFError) as exc:
            raise httpx.ReadError(str(exc)) from None

    async def _body(self) -> AsyncIterator[bytes]:
        if "chunked" in self.headers.get("transfer-encoding", "").lower():
            while True:
                size = int((await self._line()).split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while (await self._line()).strip():
                        pass  # trailers
                    return
                left = size
                while left:
                    data = await self._read(min(left, 1 << 20))
                    if not data:
                        raise ConnectionResetError("the daemon closed the connection mid-answer")
                    left -= len(data)
                    yield data
                await self._line()
        length = self.headers.get("content-length")
        left = int(length) if length is not None and length.isdigit() else -1
        while left != 0:
            data = await self._read(1 << 20 if left < 0 else min(left, 1 << 20))
            if not data:
                if left > 0:
                    raise ConnectionResetError("the daemon closed the connection mid-answer")
                return
            left -= len(data) if left > 0 else 0
            yield data

    async def aclose(self) -> None:
        self._pump.cancel()
        with contextlib.suppress(BaseException):
            await self._pump
        self._writer.close()
        with contextlib.suppress(Exception):
            await self._writer.wait_closed()


async def open_exchange(
    url: str,
    socket_path: str | None,
    target: str,
    headers: Mapping[str, str],
    body: AsyncIterator[bytes],
    *,
    connect_timeout: float,
    read_timeout: float | None,
) -> Exchange:
    """POST ``target`` (path and query) with ``body`` streamed; returns once the answer's head is
    in. Any failure until then (refused, no such socket, TLS, no head in time) is httpx's
    ConnectError with the socket's message."""
    try:
        return await _open(url, socket_path, target, headers, body, connect_timeout, read_timeout)
    except (OSError, EOFError) as exc:
        raise httpx.ConnectError(str(exc)) from None


async def _open(
    url: str,
    socket_path: str | None,
    target: str,
    headers: Mapping[str, str],
    body: AsyncIterator[bytes],
    connect_timeout: float,
    read_timeout: float | None,
) -> Exchange:
    parts = urlsplit(url)
    if socket_path:
        opened = asyncio.open_unix_connection(socket_path)
    else:
        https = parts.scheme == "https"
        port = parts.port or (443 if https else 80)
        host = parts.hostname or "127.0.0.1"
        context = ssl.create_default_context() if https else None
        opened = asyncio.open_connection(host, port, ssl=context)
    reader, writer = await within(opened, connect_timeout)
    head = [f"POST {target} HTTP/1.1", f"Host: {parts.netloc or 'localhost'}"]
    head += [f"{k}: {v}" for k, v in headers.items()]
    head += ["Transfer-Encoding: chunked", "Connection: close", "", ""]
    writer.write("\r\n".join(head).encode("latin-1"))

    async def pump() -> None:
        try:
            async for chunk in body:
                writer.write(b"%x\r\n%b\r\n" % (len(chunk), chunk))
                await writer.drain()
            writer.write(b"0\r\n\r\n")
            await writer.drain()
        except (ConnectionError, OSError):
            pass  # the daemon answered and closed before reading it all: the answer says why
        finally:
            aclose = getattr(body, "aclose", None)
            if aclose is not None:
                with contextlib.suppress(Exception):
                    await aclose()

    task = asyncio.get_running_loop().create_task(pump())
    try:
        status, fields = await within(_head(reader), read_timeout)
    except BaseException:
        task.cancel()
        writer.close()
        raise
    return Exchange(reader, writer, task, status, fields, read_timeout)


async def _head(reader: asyncio.StreamReader) -> tuple[int, dict[str, str]]:
    while True:
        raw = await reader.readuntil(b"\r\n\r\n")
        if len(raw) > _MAX_HEAD:
            raise ConnectionError("the answer's head is too large")
        lines = raw.decode("latin-1").split("\r\n")
        try:
            status = int(lines[0].split(" ", 2)[1])
        except (IndexError, ValueError):
            raise ConnectionError(f"not an HTTP answer: {lines[0][:80]!r}") from None
        if status == 100:
            continue
        fields: dict[str, str] = {}
        for line in lines[1:]:
            name, sep, value = line.partition(":")
            if sep:
                fields[name.strip().lower()] = value.strip()
        return status, fields
