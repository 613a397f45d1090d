"""The floor of any warm-shell design: asyncssh with a bare remote loop that runs each command in a
subshell with stdin from /dev/null, then writes an end line with its exit status to stdout and
stderr. No job control, no end-marker hiding, no parse check, no leftover detection, no process
marker: what is left is the SSH round trip and the fork of the remote shell, which any design
that isolates commands from each other pays. sshpool's warm-shell figures are read against it.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
from typing import Any

import asyncssh

from ..config import Target
from .common import ECHO, ECHO_OUT, Tally, burst_result, cipher_options

SHELLS = 8  # per connection, as sshpool's session cap
CONNECTIONS = 4

LOOP = 'while IFS= read -r l; do eval "$l"; done'


def _frame(command: str, token: str) -> bytes:
    quoted = "'" + command.replace("'", "'\\''") + "'"
    return f"( eval {quoted} ) </dev/null & wait $!; echo {token} $?; echo {token} >&2\n".encode()


class _Shell(asyncssh.SSHClientSession[bytes]):
    """One remote loop; one command at a time, answered when both end lines came."""

    def __init__(self) -> None:
        self.out = bytearray()
        self.err = bytearray()
        self.token = b""
        self.done: asyncio.Future[tuple[bytes, int]] | None = None
        self.chan: asyncssh.SSHClientChannel[bytes] | None = None

    def connection_made(self, chan: asyncssh.SSHClientChannel[bytes]) -> None:
        self.chan = chan

    def data_received(self, data: bytes, datatype: asyncssh.DataType) -> None:
        (self.err if datatype == asyncssh.EXTENDED_DATA_STDERR else self.out).extend(data)
        if self.done is None or self.done.done() or not self.out.endswith(b"\n"):
            return
        at = self.out.rfind(self.token + b" ")
        if at >= 0 and self.err.endswith(self.token + b"\n"):
            status = int(self.out[at + len(self.token) + 1 :].strip())
            self.done.set_result((bytes(self.out[:at]), status))

    def connection_lost(self, exc: Exception | None) -> None:
        if self.done is not None and not self.done.done():
            self.done.set_exception(exc or ConnectionError("shell ended"))

    async def run(self, command: str) -> tuple[bytes, int]:
        assert self.chan is not None
        self.out.clear()
        self.err.clear()
        self.token = secrets.token_hex(16).encode()
        self.done = asyncio.get_running_loop().create_future()
        self.chan.write(_frame(command, self.token.decode()))
        return await asyncio.wait_for(self.done, 600)


class SubshellFloor:
    name = "subshell-floor"

    def __init__(self, target: Target) -> None:
        self.t = target
        self.loop = asyncio.new_event_loop()
        self.conns: list[asyncssh.SSHClientConnection] = []
        self.shell: _Shell | None = None
        self.groups: dict[int, list[list[_Shell]]] = {}

    def _do(self, coro: Any) -> Any:
        return self.loop.run_until_complete(coro)

    async def _connect(self) -> asyncssh.SSHClientConnection:
        conn = await asyncssh.connect(
            self.t.host,
            port=self.t.port,
            username=self.t.user,
            client_keys=[self.t.key],
            known_hosts=self.t.known_hosts,
            agent_path=None,
            config=[],
            connect_timeout=15,
            **cipher_options(),
        )
        self.conns.append(conn)
        return conn

    async def _shell(self, conn: asyncssh.SSHClientConnection) -> _Shell:
        _, shell = await conn.create_session(_Shell, LOOP, encoding=None)
        assert isinstance(shell, _Shell)
        _, status = await shell.run("true")
        if status != 0:
            raise RuntimeError(f"the remote loop did not start (exit {status})")
        return shell

    def setup(self) -> None:
        async def go() -> None:
            self.shell = await self._shell(await self._connect())

        self._do(go())

    def close(self) -> None:
        async def shut() -> None:
            for c in self.conns:
                c.close()
            for c in self.conns:
                with contextlib.suppress(Exception):
                    async with asyncio.timeout(3):
                        await c.wait_closed()

        self._do(shut())
        self.loop.close()

    def latency(self, n: int, command: str = ECHO) -> dict[str, Any]:
        async def go() -> Tally:
            assert self.shell is not None
            tally = Tally()
            for _ in range(n):
                started = time.perf_counter()
                try:
                    out, status = await self.shell.run(command)
                except Exception as exc:
                    tally.fail(exc)
                    continue
                tally.check(started, out, status, ECHO_OUT)
            return tally

        result: Tally = self._do(go())
        return result.as_dict()

    def throughput(self, callers: int, channels: int, total: int) -> dict[str, Any]:
        async def go() -> dict[str, Any]:
            if channels not in self.groups:
                groups = []
                for _ in range(channels):
                    conns = [await self._connect() for _ in range(CONNECTIONS)]
                    groups.append([await self._shell(c) for c in conns for _ in range(SHELLS)])
                self.groups[channels] = groups
            slots: list[asyncio.Queue[_Shell]] = []
            for shells in self.groups[channels]:
                q: asyncio.Queue[_Shell] = asyncio.Queue()
                for s in shells:
                    q.put_nowait(s)
                slots.append(q)
            tally = Tally()
            left = [total]
            ok = [0]

            async def caller(i: int) -> None:
                q = slots[i % channels]
                while left[0] > 0:
                    left[0] -= 1
                    shell = await q.get()
                    try:
                        out, status = await shell.run(ECHO)
                        if status == 0 and out == ECHO_OUT:
                            ok[0] += 1
                        else:
                            tally.fail(f"exit {status}")
                    except Exception as exc:
                        tally.fail(exc)
                    finally:
                        q.put_nowait(shell)

            started = time.perf_counter()
            await asyncio.gather(*(caller(i) for i in range(callers)))
            return burst_result(time.perf_counter() - started, ok[0], tally)

        result: dict[str, Any] = self._do(go())
        return result


PEERS = {"subshell-floor": SubshellFloor}
