"""``sshpoolctl ssh ALIAS [COMMAND]``: an interactive terminal on a warm channel, as ``ssh host``.

The terminal goes raw (every key, Ctrl-C and Ctrl-Z among them, reaches the remote side), the
window size follows SIGWINCH, ``~.`` after a newline disconnects as in OpenSSH, and the terminal
is restored on every way out. The exit status is the remote side's; 255 when the link was lost,
the remote program was killed by a signal, or the terminal could not be opened (with why).
"""

from __future__ import annotations

# The C modules under signal and threading: their Python layers cost ~5 ms of imports (enum,
# collections, functools), a fifth of a terminal's start. contextlib is not used for the same reason.
import _signal as signal  # type: ignore[import-not-found,unused-ignore]
import _thread
import os
import sys
import termios
import tty

from sshpool import quickjson
from sshpool.ctl.rawhttp import Exchange, ProtocolError, quote
from sshpool.ctl.rawws import WebSocket
from sshpool.ctl.say import EXIT_ERROR, say

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
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
        return _session(ws, alias)
    finally:
        exchange.close()


def _session(ws: WebSocket, alias: str) -> int:
    """Raw mode while the terminal is open (when stdin is a terminal) and each SIGWINCH sent as the
    new size; both put back on any way out."""

    def resized(signum: int, frame: FrameType | None) -> None:
        cols, rows = _size()
        ws.send(f'{{"type": "resize", "cols": {cols}, "rows": {rows}}}')

    fd = sys.stdin.fileno()
    saved = termios.tcgetattr(fd) if os.isatty(fd) else None
    try:
        if saved is not None:
            tty.setraw(fd)
        before = signal.signal(signal.SIGWINCH, resized)
        try:
            _thread.start_new_thread(_keys, (ws,))  # ends with the process, as a daemon thread
            return _screen(ws, alias)
        finally:
            signal.signal(signal.SIGWINCH, before)
    finally:
        if saved is not None:
            termios.tcsetattr(fd, termios.TCSADRAIN, saved)


def _why(exc: BaseException) -> str:
    if isinstance(exc, ConnectionRefusedError | FileNotFoundError):
        return "nothing listens there (is sshpoold running? `sshpoolctl doctor`)"
    return str(exc) or type(exc).__name__


def _size() -> tuple[int, int]:
    """The window's columns and rows: the terminal's own (COLUMNS would not follow a resize)."""
    for stream in (sys.stdout, sys.stdin):
        try:
            size = os.get_terminal_size(stream.fileno())
        except (OSError, ValueError):
            continue
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
            try:
                end = _json(message)
            except ValueError:
                pass
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
    try:
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
    except OSError:
        return
