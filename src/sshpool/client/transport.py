"""httpx's transport for a plain-HTTP or Unix-socket sshpoold: HTTP/1.1 over asyncio streams.

httpx's own transport (httpcore, with h11 parsing every byte in Python) costs more client CPU per
request than a command on a warm channel does, and sshpoold speaks plain HTTP/1.1: a status line,
headers, and a ``Content-Length`` or chunked body. This transport writes the request and reads
the answer in a few lines and keeps idle connections for the next request, so the daemon-backed
library keeps httpx's API (requests, streamed answers, timeouts) and its error classes (which
:class:`~sshpool.client.errors.ErrorMap` translates) at a fraction of its cost. TLS stays
httpx's own transport's.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable
from typing import TypeVar

import httpx

__all__ = ["StreamsTransport", "within"]

_MAX_HEAD = 64 * 1024
_READ = 1 << 20
_NO_BODY = {204, 304}
T = TypeVar("T")


async def within(pending: Awaitable[T], seconds: float | None) -> T:
    """``pending``, or TimeoutError after ``seconds`` (None: no limit). Not ``asyncio.wait_for``:
    on Python 3.11 it returns the result of an awaitable that completes as a cancellation arrives
    and drops the cancellation (cpython#86296), so a Ctrl-C during a streamed answer waited for
    the command's end."""
    async with asyncio.timeout(seconds):
        return await pending


class _Conn:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.idle_since = 0.0

    def usable(self, expiry: float) -> bool:
        return time.monotonic() - self.idle_since < expiry and not self.reader.at_eof() and not self.writer.is_closing()

    def close(self) -> None:
        self.writer.close()


class StreamsTransport(httpx.AsyncBaseTransport):
    """Connections to one daemon (``uds`` a Unix socket, else the request's host and port);
    ``keepalive_expiry`` below sshpoold's keep-alive timeout (uvicorn's 5 s), so that a kept
    connection is never closed by the server as a request goes out on it."""

    def __init__(self, *, uds: str | None = None, keepalive_expiry: float = 2.0, max_idle: int = 20) -> None:
        self.uds = uds
        self.expiry = keepalive_expiry
        self.max_idle = max_idle
        self._idle: list[_Conn] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        timeouts = request.extensions.get("timeout", {})
        conn = self._kept() or await self._connect(request, timeouts.get("connect"))
        try:
            await self._send(conn, request, timeouts.get("write"))
            status, reason, headers = await self._head(conn, request, timeouts.get("read"))
        except BaseException:
            conn.close()
            raise
        body = _Body(self, conn, request, headers, timeouts.get("read"), request.method == "HEAD" or status in _NO_BODY)
        return httpx.Response(
            status, headers=headers, stream=body, extensions={"http_version": b"HTTP/1.1", "reason_phrase": reason}
        )

    def _kept(self) -> _Conn | None:
        while self._idle:
            conn = self._idle.pop()
            if conn.usable(self.expiry):
                return conn
            conn.close()
        return None

    async def aclose(self) -> None:
        idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()
            with contextlib.suppress(Exception):
                await conn.writer.wait_closed()

    def release(self, conn: _Conn) -> None:
        conn.idle_since = time.monotonic()
        if len(self._idle) < self.max_idle and not conn.writer.is_closing():
            self._idle.append(conn)
        else:
            conn.close()

    async def _connect(self, request: httpx.Request, timeout: float | None) -> _Conn:
        try:
            if self.uds:
                opened = asyncio.open_unix_connection(self.uds)
            else:
                opened = asyncio.open_connection(request.url.host, request.url.port or 80)
            reader, writer = await within(opened, timeout)
        except TimeoutError:
            raise httpx.ConnectTimeout("timed out connecting", request=request) from None
        except OSError as exc:
            raise httpx.ConnectError(str(exc), request=request) from None
        return _Conn(reader, writer)

    async def _send(self, conn: _Conn, request: httpx.Request, timeout: float | None) -> None:
        head = [b"%s %s HTTP/1.1" % (request.method.encode(), request.url.raw_path)]
        head += [b"%s: %s" % (name, value) for name, value in request.headers.raw]
        chunked = request.headers.get("transfer-encoding", "").lower() == "chunked"
        try:
            if isinstance(request.stream, httpx.ByteStream):  # read already: one write, one segment
                conn.writer.write(b"\r\n".join(head) + b"\r\n\r\n" + request.content)
                await within(conn.writer.drain(), timeout)
                return
            conn.writer.write(b"\r\n".join(head) + b"\r\n\r\n")
            assert isinstance(request.stream, httpx.AsyncByteStream)
            async for data in request.stream:
                if chunked and data:
                    conn.writer.write(b"%x\r\n%s\r\n" % (len(data), data))
                elif data:
                    conn.writer.write(data)
                await within(conn.writer.drain(), timeout)
            if chunked:
                conn.writer.write(b"0\r\n\r\n")
            await within(conn.writer.drain(), timeout)
        except TimeoutError:
            raise httpx.WriteTimeout("timed out sending the request", request=request) from None
        except OSError as exc:
            raise httpx.WriteError(str(exc) or type(exc).__name__, request=request) from None

    async def _head(
        self, conn: _Conn, request: httpx.Request, timeout: float | None
    ) -> tuple[int, bytes, list[tuple[bytes, bytes]]]:
        try:
            raw = await within(conn.reader.readuntil(b"\r\n\r\n"), timeout)
        except TimeoutError:
            raise httpx.ReadTimeout("no answer in time", request=request) from None
        except asyncio.IncompleteReadError as exc:
            why = "Server disconnected without sending a response." if not exc.partial else "the answer's head ended"
            raise httpx.RemoteProtocolError(why, request=request) from None
        except asyncio.LimitOverrunError:
            raise httpx.RemoteProtocolError("an answer whose head never ends", request=request) from None
        except OSError as exc:
            raise httpx.ReadError(str(exc) or type(exc).__name__, request=request) from None
        lines = raw[:-4].split(b"\r\n")
        version, _, rest = lines[0].partition(b" ")
        code, _, reason = rest.partition(b" ")
        if not version.startswith(b"HTTP/1.") or not code.isdigit():
            raise httpx.RemoteProtocolError(f"not an HTTP/1.1 answer: {lines[0][:60]!r}", request=request)
        headers = []
        for line in lines[1:]:
            name, sep, value = line.partition(b":")
            if not sep:
                raise httpx.RemoteProtocolError(f"a header line without a colon: {line[:60]!r}", request=request)
            headers.append((name.strip(), value.strip()))
        return int(code), reason, headers


class _Body(httpx.AsyncByteStream):
    """The answer's body as it comes; read to its end, the connection goes back to the pool."""

    def __init__(
        self,
        transport: StreamsTransport,
        conn: _Conn,
        request: httpx.Request,
        headers: list[tuple[bytes, bytes]],
        timeout: float | None,
        empty: bool,
    ) -> None:
        self.transport = transport
        self.conn: _Conn | None = conn
        self.request = request
        self.timeout = timeout
        fields = {name.lower(): value for name, value in headers}
        self.chunked = b"chunked" in fields.get(b"transfer-encoding", b"").lower()
        length = fields.get(b"content-length")
        self.length = 0 if empty else int(length) if length is not None and length.isdigit() else None
        self.reusable = b"close" not in fields.get(b"connection", b"").lower() and (
            self.chunked or self.length is not None
        )
        self.done = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        assert self.conn is not None
        reader = self.conn.reader
        try:
            if self.chunked:
                async for data in self._chunks(reader):
                    yield data
            elif self.length is not None:
                left = self.length
                while left:
                    data = await self._read(reader.read(min(left, _READ)))
                    if not data:
                        raise httpx.RemoteProtocolError("the answer ended before its length", request=self.request)
                    left -= len(data)
                    yield data
            else:
                while data := await self._read(reader.read(_READ)):
                    yield data
        except TimeoutError:
            raise httpx.ReadTimeout("no more of the answer in time", request=self.request) from None
        except asyncio.IncompleteReadError:
            raise httpx.RemoteProtocolError("the answer ended inside a chunk", request=self.request) from None
        except (OSError, ValueError) as exc:
            if isinstance(exc, httpx.HTTPError):
                raise
            raise httpx.ReadError(str(exc) or type(exc).__name__, request=self.request) from None
        self.done = True

    async def _chunks(self, reader: asyncio.StreamReader) -> AsyncIterator[bytes]:
        while True:
            line = await self._read(reader.readuntil(b"\r\n"))
            size = int(line.split(b";", 1)[0].strip() or b"0", 16)
            if size == 0:
                while (await self._read(reader.readuntil(b"\r\n"))).strip():
                    pass  # trailers
                return
            while size:
                data = await self._read(reader.read(min(size, _READ)))
                if not data:
                    raise asyncio.IncompleteReadError(b"", size)
                size -= len(data)
                yield data
            await self._read(reader.readexactly(2))

    async def _read(self, pending: Awaitable[bytes]) -> bytes:
        return await within(pending, self.timeout)

    async def aclose(self) -> None:
        conn, self.conn = self.conn, None
        if conn is None:
            return
        if self.done and self.reusable:
            self.transport.release(conn)
        else:
            conn.close()
