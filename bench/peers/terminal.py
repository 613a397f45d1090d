"""Interactive terminals: how long a user waits for the remote prompt, and how long a keystroke
takes to come back.

The prompt contenders each start a process in a new pseudo-terminal, as a person at a shell does,
and time it from the start to the remote shell's prompt: ``sshpoolctl ssh ALIAS`` on the warm
channel, a fresh ``ssh host`` and ``ssh host`` through a ControlMaster that is up (``openssh``).
The echo contenders type one character at a time into a shell that is at its prompt and time each
one's echo: through sshpoold's terminal WebSocket, and on a pty session of asyncssh used directly
(the same SSH work without the daemon and the WebSocket in between).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import Callable
from typing import Any

import asyncssh
import httpx
from websockets.sync.client import ClientConnection, connect
from websockets.typing import Origin

from ..config import Target
from .common import Tally, cipher_options
from .oneshot import _sshpoolctl
from .ptys import COLS, PROMPT, ROWS, WAIT, time_to_prompt
from .sshpool_rest import start_channel


def echo_loop(n: int, send: Callable[[bytes], None], until: Callable[[bytes], None]) -> dict[str, Any]:
    """``n`` keystrokes, each timed from its send to its echo; the line is erased (Ctrl-U) after."""
    tally = Tally()
    for i in range(n):
        key = b"abcdefghijklmnopqrstuvwxyz"[i % 26 : i % 26 + 1]
        started = time.perf_counter()
        try:
            send(key)
            until(key)
        except (TimeoutError, EOFError, OSError) as exc:
            tally.fail(exc)
            break
        tally.times.append(time.perf_counter() - started)
        if i % 26 == 25:
            send(b"\x15")
    send(b"\x15")
    return tally.as_dict()


class SshpoolctlSsh:
    """``sshpoolctl ssh ALIAS``: process start, a ticket, the WebSocket, a pty session on the warm
    channel, every time."""

    name = "sshpoolctl-ssh"
    alias = "term"

    def __init__(self, target: Target) -> None:
        self.t = target
        self.exe = _sshpoolctl()
        self.port = target.daemon_url.rstrip("/").rsplit(":", 1)[1]
        self.env = {**os.environ, "SSHPOOL_TOKEN": target.daemon_token, "TERM": "xterm"}

    def setup(self) -> str | None:
        if not self.exe:
            raise RuntimeError("sshpoolctl is not installed")
        start_channel(self.t, self.t.dsn(self.alias))
        return None

    def close(self) -> None:
        pass

    def prompt(self, n: int) -> dict[str, Any]:
        argv = [self.exe, "--host", "127.0.0.1", "--port", self.port, "ssh", self.alias]
        return time_to_prompt(n, argv, self.env)


class TerminalWebSocket:
    """One terminal WebSocket kept open, as the page's xterm.js keeps it: keystrokes in binary
    frames, their echo back."""

    name = "sshpool-terminal"
    alias = "term-ws"

    def __init__(self, target: Target) -> None:
        self.t = target
        self.ws: ClientConnection | None = None
        self.seen = b""

    def setup(self) -> None:
        start_channel(self.t, self.t.dsn(self.alias))
        answer = httpx.post(
            self.t.daemon_url + "/tickets",
            json={"alias": self.alias},
            headers={"Authorization": f"Bearer {self.t.daemon_token}"},
            timeout=WAIT,
        )
        answer.raise_for_status()
        ticket = answer.json()["ticket"]
        url = self.t.daemon_url.replace("http://", "ws://") + f"/channels/{self.alias}/terminal"
        url += f"?ticket={ticket}&cols={COLS}&rows={ROWS}"
        self.ws = connect(url, origin=Origin(self.t.daemon_url), open_timeout=WAIT, compression=None)
        self.until(PROMPT)

    def until(self, wanted: bytes) -> None:
        assert self.ws is not None
        deadline = time.monotonic() + WAIT
        while wanted not in self.seen:
            message = self.ws.recv(timeout=max(deadline - time.monotonic(), 0.001))
            if isinstance(message, bytes):
                self.seen += message
        self.seen = self.seen[self.seen.index(wanted) + len(wanted) :]

    def send(self, data: bytes) -> None:
        assert self.ws is not None
        self.ws.send(data)

    def echo(self, n: int) -> dict[str, Any]:
        return echo_loop(n, self.send, self.until)

    def close(self) -> None:
        if self.ws is not None:
            with contextlib.suppress(Exception):
                self.ws.send(b"exit\r")
            self.ws.close()


class AsyncsshPty:
    """A pty session of asyncssh used directly, at its shell's prompt: the echo floor."""

    name = "asyncssh-pty"

    def __init__(self, target: Target) -> None:
        self.t = target
        self.loop = asyncio.new_event_loop()
        self.conn: asyncssh.SSHClientConnection | None = None
        self.proc: asyncssh.SSHClientProcess[bytes] | None = None
        self.seen = b""

    def _do(self, coro: Any) -> Any:
        return self.loop.run_until_complete(asyncio.wait_for(coro, WAIT))

    async def _open(self) -> None:
        self.conn = await asyncssh.connect(
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
        self.proc = await self.conn.create_process(term_type="xterm", term_size=(COLS, ROWS), encoding=None)

    async def _until(self, wanted: bytes) -> None:
        assert self.proc is not None
        while wanted not in self.seen:
            chunk = await self.proc.stdout.read(65536)
            if not chunk:
                raise EOFError(f"the shell ended before {wanted!r}")
            self.seen += chunk
        self.seen = self.seen[self.seen.index(wanted) + len(wanted) :]

    def setup(self) -> None:
        self._do(self._open())
        self.until(PROMPT)

    def until(self, wanted: bytes) -> None:
        self._do(self._until(wanted))

    def send(self, data: bytes) -> None:
        assert self.proc is not None
        self.proc.stdin.write(data)

    def echo(self, n: int) -> dict[str, Any]:
        return echo_loop(n, self.send, self.until)

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self._do(self.conn.wait_closed())
        self.loop.close()


PEERS = {"sshpoolctl-ssh": SshpoolctlSsh, "sshpool-terminal": TerminalWebSocket, "asyncssh-pty": AsyncsshPty}
