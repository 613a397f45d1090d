"""The floor of any warm-shell design: asyncssh with a bare remote loop that runs each command in a
subshell with stdin from /dev/null, then writes an end line with its exit status to stdout and
stderr. No job control, no end-marker hiding, no parse check, no leftover detection, no process
marker: what is left is the SSH round trip and the fork of the remote shell, which any design
that isolates commands from each other pays. sshpool's warm-shell figures are read against it.
"""

from __future__ import annotations

import asyncio
import secrets
from typing import Any

import asyncssh

from .asyncssh_raw import CONNECTIONS, SESSIONS, AsyncsshRaw

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


class SubshellFloor(AsyncsshRaw):
    """asyncssh raw's connections and bursts, with a remote loop in place of a session per command:
    a slot is one loop, and a channel has as many as asyncssh raw has session slots."""

    name = "subshell-floor"

    def __init__(self, target: Any) -> None:
        super().__init__(target)
        self.shell: _Shell | None = None
        self.shells: dict[int, list[list[_Shell]]] = {}

    async def _shell(self, conn: asyncssh.SSHClientConnection) -> _Shell:
        _, shell = await conn.create_session(_Shell, LOOP, encoding=None)
        assert isinstance(shell, _Shell)
        _, status = await shell.run("true")
        if status != 0:
            raise RuntimeError(f"the remote loop did not start (exit {status})")
        return shell

    async def _one(self, slot: Any, command: str) -> tuple[bytes, int | None]:
        shell: _Shell = slot
        return await shell.run(command)

    def _latency_slot(self) -> Any:
        return self.shell

    async def _slots(self, channels: int) -> list[list[Any]]:
        if channels not in self.shells:
            self.groups[channels] = [[await self._connect() for _ in range(CONNECTIONS)] for _ in range(channels)]
            self.shells[channels] = [
                [await self._shell(c) for c in conns for _ in range(SESSIONS)] for conns in self.groups[channels]
            ]
        return list(self.shells[channels])

    def setup(self) -> None:
        super().setup()
        assert self.conn is not None
        self.shell = self._do(self._shell(self.conn))


PEERS = {"subshell-floor": SubshellFloor}
