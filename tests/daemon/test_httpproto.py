"""The daemon's HTTP protocol gathers the writes of one event-loop turn into one ``writelines``
(a response's head and body left as two sends before), on real loopback transports."""

from __future__ import annotations

import asyncio
from typing import Any

from sshpool.daemon.httpproto import GatheredWrites


class Recording:
    """A real transport, with the batches ``writelines`` was given written down."""

    def __init__(self, transport: asyncio.Transport) -> None:
        self.transport = transport
        self.batches: list[list[bytes]] = []

    def writelines(self, data: list[bytes]) -> None:
        self.batches.append(list(data))
        self.transport.writelines(data)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.transport, name)


class Pair:
    def __init__(self) -> None:
        self.opened: list[Any] = []

    async def open(self) -> tuple[GatheredWrites, Recording, asyncio.StreamReader]:
        made: asyncio.Future[asyncio.Transport] = asyncio.get_running_loop().create_future()

        class Serve(asyncio.Protocol):
            def connection_made(self, transport: asyncio.BaseTransport) -> None:
                assert isinstance(transport, asyncio.Transport)
                made.set_result(transport)

        server = await asyncio.get_running_loop().create_server(Serve, "127.0.0.1", 0)
        reader, writer = await asyncio.open_connection("127.0.0.1", server.sockets[0].getsockname()[1])
        recording = Recording(await made)
        self.opened += [server, writer, recording]
        return GatheredWrites(recording), recording, reader  # type: ignore[arg-type]

    async def close(self) -> None:
        for thing in self.opened:
            thing.close()
        for thing in self.opened:
            if isinstance(thing, asyncio.StreamWriter):
                await thing.wait_closed()


async def test_a_head_and_a_body_written_in_one_turn_leave_as_one_batch_in_order() -> None:
    pairs = Pair()
    gathered, recording, reader = await pairs.open()
    gathered.write(b"HTTP/1.1 200 OK\r\ncontent-length: 3\r\n\r\n")
    gathered.write(b"hi\n")
    assert recording.batches == []  # nothing goes before the turn ends
    assert await asyncio.wait_for(reader.readexactly(41), 5) == b"HTTP/1.1 200 OK\r\ncontent-length: 3\r\n\r\nhi\n"
    assert recording.batches == [[b"HTTP/1.1 200 OK\r\ncontent-length: 3\r\n\r\n", b"hi\n"]]
    gathered.write(b"next")
    await asyncio.wait_for(reader.readexactly(4), 5)
    assert len(recording.batches) == 2  # a later turn is a batch of its own
    await pairs.close()


async def test_close_sends_what_was_gathered_first_and_abort_drops_it() -> None:
    pairs = Pair()
    gathered, _, reader = await pairs.open()
    gathered.write(b"last words")
    gathered.close()
    assert await asyncio.wait_for(reader.read(), 5) == b"last words"  # then end of file
    gathered, _, reader = await pairs.open()
    gathered.write(b"never sent")
    gathered.abort()
    assert await asyncio.wait_for(reader.read(), 5) == b""
    assert gathered.is_closing()  # everything else is the real transport's
    await pairs.close()
