"""``sshpoolctl ssh ALIAS [COMMAND]``: an interactive terminal on a warm channel, as ``ssh host``.

The terminal goes raw (every key, Ctrl-C and Ctrl-Z among them, reaches the remote side), the
window size follows SIGWINCH, ``~.`` after a newline disconnects as in OpenSSH, and the terminal
is restored on every way out. The exit status is the remote side's; 255 when the link was lost,
the remote program was killed by a signal, or the terminal could not be opened (with why).
"""

from __future__ import annotations

# The C module under signal: its Python layer costs ~1.6 ms of imports (enum), a fifteenth of a
# terminal's start. contextlib (~3 ms with collections and functools) is not used for that reason.
import _signal as signal  # type: ignore[import-not-found,unused-ignore]
import os
import select
import sys
import termios
import tty

from sshpool import quickjson
from sshpool.ctl.rawhttp import Exchange, ProtocolError, quote
from sshpool.ctl.rawws import WebSocket
from sshpool.ctl.say import EXIT_ERROR, say
from sshpool.locate import host_port

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
        if not address[1] and address[0].startswith("https:"):
            _tls(exchange)
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


def _tls(exchange: Exchange) -> None:
    """TLS over the connected socket, verified as the full client verifies (the system's trusted
    certificates, or SSL_CERT_FILE's); only an https daemon pays for ssl's imports."""
    import ssl  # noqa: PLC0415 (~25 ms of imports, for an https daemon only)

    name = host_port(exchange.host)[0]
    exchange.sock = ssl.create_default_context().wrap_socket(exchange.sock, server_hostname=name)  # type: ignore[arg-type]


def _session(ws: WebSocket, alias: str) -> int:
    """The terminal in one thread: the screen, the keys and the window's size are waited for
    together (a TLS connection must not be read and written from two threads at once). Raw mode
    while it is open (when stdin is a terminal), the SIGWINCH handler and its wake-up pipe; all put
    back on any way out."""
    fd = sys.stdin.fileno()
    saved = termios.tcgetattr(fd) if os.isatty(fd) else None
    wake, woken = os.pipe()
    os.set_blocking(woken, False)
    try:
        if saved is not None:
            tty.setraw(fd)
        handler = signal.signal(signal.SIGWINCH, _no_op)
        wakeup = signal.set_wakeup_fd(woken)
        try:
            return _pump(ws, alias, fd, wake)
        finally:
            signal.set_wakeup_fd(wakeup)
            signal.signal(signal.SIGWINCH, handler)
    finally:
        os.close(wake)
        os.close(woken)
        if saved is not None:
            termios.tcsetattr(fd, termios.TCSADRAIN, saved)


def _no_op(signum: int, frame: FrameType | None) -> None:
    """SIGWINCH's handler: the wake-up pipe carries it to :func:`_pump`."""


def _pump(ws: WebSocket, alias: str, keyboard: int, wake: int) -> int:
    """Screen bytes out, keys in, resizes sent, until the remote side's end; its exit status."""
    out = sys.stdout.fileno()
    keys = _Keys()
    end: dict[str, object] = {}
    sources = [ws.fileno(), keyboard, wake]
    while True:
        if ws.pending():  # the screen first; the rest only if it is ready now
            ready = [ws.fileno(), *select.select(sources, [], [], 0)[0]]
        else:
            ready = select.select(sources, [], [])[0]
        if wake in ready:
            os.read(wake, 512)
            cols, rows = _size()
            ws.send(f'{{"type": "resize", "cols": {cols}, "rows": {rows}}}')
        if keyboard in ready:
            try:
                typed = os.read(keyboard, 4096)
            except OSError:
                typed = b""
            if not typed:  # stdin ended (not a terminal): the remote side goes on until its end
                sources.remove(keyboard)
            else:
                data, leave = keys.feed(typed)
                if data:
                    ws.send(data)
                if leave:
                    ws.close()
        if ws.fileno() in ready:
            message = ws.recv()
            if message is None:
                break
            if isinstance(message, bytes):
                os.write(out, message)
            else:
                try:
                    end = _json(message)
                except ValueError:
                    pass
    return _status(ws, alias, end)


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


def _status(ws: WebSocket, alias: str, end: dict[str, object]) -> int:
    """The exit status the remote side's end gives (255 with why when it gives none)."""
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


class _Keys:
    """What is typed, as it is sent: ``~.`` at the start of a line disconnects, ``~~`` sends one
    ``~``, as in OpenSSH."""

    def __init__(self) -> None:
        self.line_start, self.tilde = True, False

    def feed(self, data: bytes) -> tuple[bytes, bool]:
        """The bytes to send, and whether to disconnect (after sending them)."""
        sent = bytearray()
        for byte in (data[i : i + 1] for i in range(len(data))):
            if self.tilde:
                self.tilde = False
                if byte == b".":
                    return bytes(sent), True
                if byte != b"~":
                    sent += b"~"
            elif self.line_start and byte == b"~":
                self.tilde = True
                continue
            sent += byte
            self.line_start = byte in _ESCAPE_AFTER
        return bytes(sent), False
