"""``sshpoolctl ssh ALIAS [COMMAND]``: an interactive terminal on a warm channel, as ``ssh host``.

The terminal goes raw (every key, Ctrl-C and Ctrl-Z among them, reaches the remote side), the
window size follows SIGWINCH, ``~.`` after a newline disconnects as in OpenSSH, and the terminal
is restored on every way out. The exit status is the remote side's; 255 when the link was lost,
the remote program was killed by a signal, or the terminal could not be opened (with why).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import sys
import termios
import threading
import tty
from collections.abc import Iterator
from types import FrameType

from sshpool.client import AsyncDaemonClient
from sshpool.client.terminal import RemoteTerminal, open_remote_terminal
from sshpool.ctl.say import EXIT_ERROR, say
from sshpool.errors import SSHPoolError

__all__ = ["ssh"]

_ESCAPE_AFTER = (b"\r", b"\n")


def ssh(client: AsyncDaemonClient, alias: str, command: list[str]) -> int:
    cols, rows = _size()
    try:
        remote = open_remote_terminal(
            client, alias, cols=cols, rows=rows, term=os.environ.get("TERM") or "xterm-256color",
            command=" ".join(command) or None,
        )  # fmt: skip
    except SSHPoolError as exc:
        say(str(exc))
        return EXIT_ERROR
    with _raw(sys.stdin.fileno()), _resizes(remote):
        threading.Thread(target=_keys, args=(remote,), daemon=True).start()
        return _screen(remote, alias)


def _size() -> tuple[int, int]:
    """The window's columns and rows: the terminal's own (COLUMNS would not follow a resize)."""
    for stream in (sys.stdout, sys.stdin):
        with contextlib.suppress(OSError, ValueError):
            size = os.get_terminal_size(stream.fileno())
            return size.columns, size.lines
    return shutil.get_terminal_size((80, 24))


def _screen(remote: RemoteTerminal, alias: str) -> int:
    """Write the remote side's bytes until its end; its exit status."""
    out = sys.stdout.fileno()
    for chunk in remote.output():
        os.write(out, chunk)
    end, code = remote.end, remote.close_code
    if end.get("type") == "exit" and end.get("exit_code") is not None:
        return int(end["exit_code"])
    if end.get("signal"):
        _note(f"the remote program on {alias} was killed by SIG{end['signal']}")
    elif code == 1000 and not end:
        _note(f"disconnected from {alias}")
    else:
        _note(f"the terminal on {alias} ended: {remote.close_reason or end.get('message') or f'code {code}'}")
    return EXIT_ERROR


def _note(text: str) -> None:
    # After raw mode a line starts at column 0 only with a carriage return.
    sys.stderr.write(f"\r\n{text}\r\n" if sys.stderr.isatty() else f"{text}\n")
    sys.stderr.flush()


def _keys(remote: RemoteTerminal) -> None:
    """Send what is typed; ``~.`` at the start of a line disconnects, ``~~`` sends one ``~``."""
    fd = sys.stdin.fileno()
    line_start, tilde = True, False
    with contextlib.suppress(OSError):
        while data := os.read(fd, 4096):
            sent = bytearray()
            for byte in (data[i : i + 1] for i in range(len(data))):
                if tilde:
                    tilde = False
                    if byte == b".":
                        remote.close()
                        return
                    if byte != b"~":
                        sent += b"~"
                elif line_start and byte == b"~":
                    tilde = True
                    continue
                sent += byte
                line_start = byte in _ESCAPE_AFTER
            if sent and not remote.send(bytes(sent)):
                return


@contextlib.contextmanager
def _raw(fd: int) -> Iterator[None]:
    """Raw mode for the block when ``fd`` is a terminal; the settings come back on any exit."""
    if not os.isatty(fd):
        yield
        return
    saved = termios.tcgetattr(fd)
    try:
        tty.setraw(fd)
        yield
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)


@contextlib.contextmanager
def _resizes(remote: RemoteTerminal) -> Iterator[None]:
    """Each SIGWINCH sends the new window size."""

    def resized(signum: int, frame: FrameType | None) -> None:
        remote.resize(*_size())

    before = signal.signal(signal.SIGWINCH, resized)
    try:
        yield
    finally:
        signal.signal(signal.SIGWINCH, before)
