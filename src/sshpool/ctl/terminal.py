"""``sshpoolctl ssh ALIAS [COMMAND]``: an interactive terminal on a warm channel, as ``ssh host``.

The terminal goes raw (every key, Ctrl-C and Ctrl-Z among them, reaches the remote side), the
window size follows SIGWINCH, ``~.`` after a newline disconnects as in OpenSSH, and the terminal
is restored on every way out. The exit status is the remote side's; 255 when the link was lost,
the remote program was killed by a signal, or the terminal could not be opened (with why).
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import termios
import threading
import tty

from sshpool import quickjson
from sshpool.ctl.rawhttp import Exchange, ProtocolError, quote
from sshpool.ctl.rawws import WebSocket
from sshpool.ctl.say import EXIT_ERROR, say

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from types import FrameType

    from sshpool.locate import Address

__all__ = ["ssh", "ssh_call"]

_ESCAPE_AFTER = (b"\r", b"\n")


def ssh_call(address: Address, headers: dict[str, str], words: list[str]) -> Callable[[], int] | None:
    """``ssh ALIAS [COMMAND...]`` for the lean path, or None when the words are the full CLI's
    (``--help``, an option, no alias)."""
    if not words or words[0].startswith("-"):
        return None
    return lambda: ssh(address, headers, words[0], words[1:])


def ssh(address: Address, headers: dict[str, str], alias: str, command: list[str]) -> int:
    cols, rows = _size()
    term = os.environ.get("TERM") or "xterm-256color"
    query = f"cols={cols}&rows={rows}&term={quote(term)}"
    if command:
        query += f"&command={quote(' '.join(command))}"
    exchange: Exchange | None = None
    try:
        exchange = Exchange(address[0], address[1], None)
        ws = WebSocket.open(exchange, f"/channels/{quote(alias)}/terminal?{query}", headers)
    except (OSError, ProtocolError) as exc:
        if exchange is not None:
            exchange.close()
        say(f"cannot open a terminal on {alias} at {address[1] or address[0]}: {_why(exc)}")
        return EXIT_ERROR
    try:
        with _raw(sys.stdin.fileno()), _resizes(ws):
            threading.Thread(target=_keys, args=(ws,), daemon=True).start()
            return _screen(ws, alias)
    finally:
        exchange.close()


def _why(exc: BaseException) -> str:
    if isinstance(exc, ConnectionRefusedError | FileNotFoundError):
        return "nothing listens there (is sshpoold running? `sshpoolctl doctor`)"
    return str(exc) or type(exc).__name__


def _size() -> tuple[int, int]:
    """The window's columns and rows: the terminal's own (COLUMNS would not follow a resize)."""
    for stream in (sys.stdout, sys.stdin):
        with contextlib.suppress(OSError, ValueError):
            size = os.get_terminal_size(stream.fileno())
            return size.columns, size.lines
    return 80, 24


def _screen(ws: WebSocket, alias: str) -> int:
    """Write the remote side's bytes until its end; its exit status."""
    out = sys.stdout.fileno()
    end: dict[str, object] = {}
    while (message := ws.recv()) is not None:
        if isinstance(message, bytes):
            os.write(out, message)
        else:
            with contextlib.suppress(ValueError):
                end = _json(message)
    code = ws.close_code
    status = end.get("exit_code")
    if end.get("type") == "exit" and isinstance(status, int):
        return status
    if end.get("signal"):
        _note(f"the remote program on {alias} was killed by SIG{end['signal']}")
    elif code == 1000 and not end:
        _note(f"disconnected from {alias}")
    else:
        _note(f"the terminal on {alias} ended: {ws.close_reason or end.get('message') or f'code {code}'}")
    return EXIT_ERROR


def _json(text: str) -> dict[str, object]:
    value = quickjson.loads(text)
    return value if isinstance(value, dict) else {}


def _note(text: str) -> None:
    # After raw mode a line starts at column 0 only with a carriage return.
    sys.stderr.write(f"\r\n{text}\r\n" if sys.stderr.isatty() else f"{text}\n")
    sys.stderr.flush()


def _keys(remote: WebSocket) -> None:
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
def _resizes(remote: WebSocket) -> Iterator[None]:
    """Each SIGWINCH sends the new window size."""

    def resized(signum: int, frame: FrameType | None) -> None:
        cols, rows = _size()
        remote.send(f'{{"type": "resize", "cols": {cols}, "rows": {rows}}}')

    before = signal.signal(signal.SIGWINCH, resized)
    try:
        yield
    finally:
        signal.signal(signal.SIGWINCH, before)
