"""An interactive terminal on a channel's warm connection: a new pty session on a link that is
already open (no handshake), holding one of its session slots while it lasts.

Bytes both ways, never decoded (a terminal carries whatever the remote programs write); stderr
comes through the pty as a terminal shows it. The end says how the remote side ended: its exit
status, the signal that killed it, or that the link went away under it.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import asyncssh

from sshpool.core.linkerrors import STREAM_ERRORS, unavailable

if TYPE_CHECKING:
    from sshpool.core.channel import Channel

__all__ = ["Terminal", "TerminalEnd", "open_terminal"]

#: Largest window a client may ask for; a larger one is a client's mistake, not a terminal.
MAX_SIZE = 10_000


@dataclass(frozen=True)
class TerminalEnd:
    """How a terminal ended: ``exit_code`` or ``signal`` from the remote side, or ``link_lost``."""

    exit_code: int | None = None
    signal: str | None = None
    link_lost: bool = False

    def to_dict(self) -> dict[str, object]:
        return {"type": "exit", "exit_code": self.exit_code, "signal": self.signal, "link_lost": self.link_lost}


def check_size(cols: int, rows: int) -> tuple[int, int]:
    """``(cols, rows)`` when both are 1-10,000, else ValueError saying so."""
    if not (1 <= cols <= MAX_SIZE and 1 <= rows <= MAX_SIZE):
        raise ValueError(f"a terminal is 1-{MAX_SIZE} columns by 1-{MAX_SIZE} rows, not {cols}x{rows}")
    return cols, rows


class Terminal:
    """One pty session: :meth:`read` output (``b""`` at its end), :meth:`write` input,
    :meth:`resize`; :meth:`end` once the output has ended."""

    def __init__(self, process: asyncssh.SSHClientProcess[bytes], conn: asyncssh.SSHClientConnection) -> None:
        self._process = process
        self._conn = conn

    async def read(self) -> bytes:
        try:
            return await self._process.stdout.read(65536)
        except STREAM_ERRORS:
            return b""

    def write(self, data: bytes) -> None:
        with contextlib.suppress(*STREAM_ERRORS):
            self._process.stdin.write(data)

    def resize(self, cols: int, rows: int) -> None:
        check_size(cols, rows)
        with contextlib.suppress(*STREAM_ERRORS):
            self._process.change_terminal_size(cols, rows)

    async def end(self) -> TerminalEnd:
        """How the remote side ended (waits for its exit status after the output ended)."""
        with contextlib.suppress(*STREAM_ERRORS):
            await self._process.wait_closed()
        status = self._process.exit_status
        signal = self._process.exit_signal
        if signal is not None:
            return TerminalEnd(signal=signal[0])
        if status is None or (status == -1 and self._conn.is_closed()):
            return TerminalEnd(link_lost=True)
        return TerminalEnd(exit_code=status)

    def close(self) -> None:
        self._process.close()


@contextlib.asynccontextmanager
async def open_terminal(
    channel: Channel,
    *,
    command: str | None = None,
    term: str = "xterm-256color",
    cols: int = 80,
    rows: int = 24,
    timeout: float | None = None,
    client: str = "",
) -> AsyncIterator[Terminal]:
    """A pty session on ``channel`` (a login shell, or ``command``) for the block; it is closed
    when the block ends. Only a failure to open it is a ChannelUnavailableError."""
    check_size(cols, rows)
    wait = channel.settings.connect_timeout if timeout is None else timeout
    async with channel.slot(timeout=wait, client=client) as conn:
        with unavailable(channel.alias, lambda exc: f"cannot open a terminal on channel {channel.alias}: {exc}"):
            process = await conn.create_process(
                command,
                term_type=term,
                term_size=(cols, rows),
                request_pty="force",
                encoding=None,
            )
        terminal = Terminal(process, conn)
        try:
            yield terminal
        finally:
            terminal.close()
