"""The client's HTTP/1.1 transport against a loopback server that answers as told: kept
connections are reused and dropped when they should be, bodies come whole in either framing, and
every failure is the httpx error the client's error table already reads."""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest

from sshpool.client.transport import StreamsTransport, within

Answer = Callable[[bytes], bytes | None]  # the request's bytes -> the answer's, None: close at once


def ok(body: bytes = b"hello", extra: bytes = b"") -> bytes:
    return b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n%s\r\n%s" % (len(body), extra, body)


class Server:
    """Reads one request at a time (head, then a Content-Length or chunked body) and writes what
    ``answer`` gives; counts connections and keeps the bodies it received."""

    def __init__(self, answer: Answer) -> None:
        self.answer = answer
        self.connections = 0
        self.bodies: list[bytes] = []
        self.server: asyncio.Server | None = None
        self.writers: list[asyncio.StreamWriter] = []

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self.writers.append(writer)
        with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError):
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                fields = dict(line.lower().split(b": ", 1) for line in head.split(b"\r\n")[1:] if b": " in line)
                if fields.get(b"transfer-encoding") == b"chunked":
                    body = b""
                    while size := int((await reader.readuntil(b"\r\n")).strip(), 16):
                        body += await reader.readexactly(size)
                        await reader.readexactly(2)
                    await reader.readexactly(2)
                else:
                    body = await reader.readexactly(int(fields.get(b"content-length", b"0")))
                self.bodies.append(body)
                out = self.answer(head)
                if out is None:
                    break
                writer.write(out)
                await writer.drain()
                if b"Connection: close" in out:
                    break
        writer.close()

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.sockets[0].getsockname()[1]}"


@contextlib.asynccontextmanager
async def serving(answer: Answer, **kwargs: Any) -> AsyncIterator[tuple[Server, httpx.AsyncClient]]:
    server = Server(answer)
    server.server = await asyncio.start_server(server._serve, "127.0.0.1", 0)
    async with httpx.AsyncClient(base_url=server.url, transport=StreamsTransport(**kwargs), timeout=2) as client:
        yield server, client
    server.server.close()
    for writer in server.writers:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()
    await server.server.wait_closed()


async def test_requests_one_after_another_share_one_kept_connection() -> None:
    async with serving(lambda head: ok(head.split(b" ")[1])) as (server, client):
        paths = [(await client.post(f"/run/{n}", json={"n": n})).content for n in range(5)]
    assert paths == [b"/run/0", b"/run/1", b"/run/2", b"/run/3", b"/run/4"]
    assert server.connections == 1
    assert server.bodies == [b'{"n":%d}' % n for n in range(5)]


async def test_a_connection_idle_past_its_expiry_or_closed_by_the_server_is_not_reused() -> None:
    async with serving(lambda head: ok(), keepalive_expiry=0.05) as (server, client):
        await client.get("/")
        await asyncio.sleep(0.1)
        await client.get("/")
    assert server.connections == 2
    async with serving(lambda head: ok(extra=b"Connection: close\r\n")) as (server, client):
        assert [(await client.get("/")).content for _ in range(3)] == [b"hello"] * 3
    assert server.connections == 3


async def test_a_chunked_answer_and_a_chunked_upload_come_whole() -> None:
    chunked = (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n1;x=y\r\n \r\n5\r\nworld\r\n0\r\n\r\n"
    )

    async def upload() -> AsyncIterator[bytes]:
        for part in (b"ab", b"", b"cd" * 5000):
            yield part

    async with serving(lambda head: chunked) as (server, client):
        r = await client.post("/", content=upload())
        assert r.content == b"hello world"
        assert (await client.get("/")).content == b"hello world"
    assert server.bodies == [b"ab" + b"cd" * 5000, b""]
    assert server.connections == 1


async def test_an_answer_left_half_read_closes_its_connection() -> None:
    big = ok(b"x" * (3 << 20))
    async with serving(lambda head: big) as (server, client):
        async with client.stream("GET", "/") as r:
            async for _ in r.aiter_raw():
                break
        assert len((await client.get("/")).content) == 3 << 20
    assert server.connections == 2


@pytest.mark.parametrize(
    ("answer", "error"),
    [
        (lambda head: None, httpx.RemoteProtocolError),
        (lambda head: b"SSH-2.0-OpenSSH_9.2\r\n\r\n", httpx.RemoteProtocolError),
        (
            lambda head: b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\nConnection: close\r\n\r\nshort",
            httpx.RemoteProtocolError,
        ),
        (lambda head: b"HTTP/1.1 200 OK\r\nbad header\r\n\r\n", httpx.RemoteProtocolError),
        (
            lambda head: b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\nzz\r\n",
            httpx.ReadError,
        ),
    ],
    ids=["closed without an answer", "not HTTP", "cut short", "bad header", "bad chunk size"],
)
async def test_a_broken_answer_is_httpx_s_error_for_it(answer: Answer, error: type[Exception]) -> None:
    async with serving(answer) as (_, client):
        with pytest.raises(error):
            await client.get("/")


async def test_no_answer_in_time_is_a_read_timeout_and_nothing_listening_a_connect_error() -> None:
    async with serving(lambda head: b"HTTP/1.1 200 OK\r\n") as (_, client):
        with pytest.raises(httpx.ReadTimeout):
            await client.get("/", timeout=0.2)
    async with httpx.AsyncClient(transport=StreamsTransport()) as client:
        with pytest.raises(httpx.ConnectError):
            await client.get("http://127.0.0.1:1/")
    async with httpx.AsyncClient(transport=StreamsTransport(uds="/nonexistent/sshpool.sock")) as client:
        with pytest.raises(httpx.ConnectError):
            await client.get("http://localhost/")


@pytest.mark.parametrize("wait", ["within", "asyncio.wait_for"])
async def test_a_cancellation_that_arrives_with_the_data_is_not_lost(wait: str) -> None:
    """Ctrl-C during a streamed answer: the read's data and the cancellation come in one loop
    turn. Python 3.11's asyncio.wait_for hands back the data and drops the cancellation (so the
    shell waited for the command's end); the transport's reads do not."""
    loop = asyncio.get_running_loop()
    data: asyncio.Future[bytes] = loop.create_future()
    read = asyncio.ensure_future(within(data, 30) if wait == "within" else asyncio.wait_for(data, 30))
    await asyncio.sleep(0)
    data.set_result(b"output")
    read.cancel()
    if wait == "within" or sys.version_info >= (3, 12):
        with pytest.raises(asyncio.CancelledError):
            await read
    else:
        assert await read == b"output"  # the flaw the transport steps around
