"""A WebSocket client (RFC 6455) over the lean path's blocking socket, for ``sshpoolctl ssh``.

websockets' own client costs ~87 ms of imports here (``importlib.metadata``, ``email``, ``ssl``),
three times a whole Python start, and a terminal is only instant when it opens before the user
notices: the handshake is one HTTP/1.1 request, and the frames sshpoold sends are whole messages
of a few kilobytes. One thread reads and writes it (a TLS socket must not be used from two at once);
:meth:`fileno` and :meth:`pending` let it wait for the socket together with the keyboard.
The server end of every test of this module is sshpoold's (uvicorn's websockets).
"""

from __future__ import annotations

import binascii
import os

try:  # CPython's own SHA-1: hashlib's wrapper starts OpenSSL and reads its config (~2.4 ms of a ~25 ms start)
    from _sha1 import sha1  # type: ignore[import-not-found,unused-ignore]
except ImportError:  # pragma: no cover - an interpreter without it
    from hashlib import sha1

from sshpool.ctl.rawhttp import Exchange, ProtocolError

__all__ = ["WebSocket"]

_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
_TEXT, _BINARY, _CLOSE, _PING, _PONG = 1, 2, 8, 9, 10
_READ = 256 * 1024
#: A message larger than this from the server is a protocol error, not a reason to run out of memory.
_MAX_MESSAGE = 64 * 1024 * 1024


class WebSocket:
    """One client connection: :meth:`recv` a message (None once closed: :attr:`close_code` and
    :attr:`close_reason` say how), :meth:`send` bytes or text, :meth:`close`."""

    def __init__(self, exchange: Exchange, rest: bytes) -> None:
        self.sock = exchange.sock
        self._buf = bytearray(rest)
        self._closed_by_us = False
        self.close_code: int | None = None
        self.close_reason = ""

    @classmethod
    def open(cls, exchange: Exchange, path: str, headers: dict[str, str]) -> WebSocket:
        """The opening handshake; ProtocolError saying what the server answered instead."""
        key = binascii.b2a_base64(os.urandom(16), newline=False)
        head = [f"GET {path} HTTP/1.1", f"Host: {exchange.host}", "Upgrade: websocket", "Connection: Upgrade"]
        head += [f"Sec-WebSocket-Key: {key.decode()}", "Sec-WebSocket-Version: 13"]
        head += [f"{k}: {v}" for k, v in headers.items()]
        exchange.sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode("latin-1"))
        buf = b""
        while (end := buf.find(b"\r\n\r\n")) < 0:
            data = exchange.sock.recv(_READ)
            if not data or len(buf) > 65536:
                raise ProtocolError("the server closed the connection during the WebSocket handshake")
            buf += data
        lines = buf[:end].decode("latin-1").split("\r\n")
        status = lines[0].split(" ", 2)
        if len(status) < 2 or status[1] != "101":
            raise ProtocolError(f"it answered {' '.join(status[1:]) or lines[0][:60]!r}, not a WebSocket")
        fields = {n.strip().lower(): v.strip() for n, _, v in (line.partition(":") for line in lines[1:])}
        digest = sha1(key + _GUID).digest()  # noqa: S324 (RFC 6455's handshake, not a secret)
        expected = binascii.b2a_base64(digest, newline=False).decode()
        if fields.get("sec-websocket-accept") != expected:
            raise ProtocolError("the server's WebSocket handshake does not answer ours")
        return cls(exchange, buf[end + 4 :])

    def fileno(self) -> int:
        return self.sock.fileno()

    def pending(self) -> bool:
        """Whether bytes already read (by this client or by TLS) wait for :meth:`recv`, which a
        ``select`` on the socket would not show."""
        tls_pending = getattr(self.sock, "pending", None)
        return bool(self._buf) or bool(tls_pending is not None and tls_pending())

    def send(self, data: bytes | str) -> bool:
        """One message (bytes: binary, str: text); False once the connection is gone."""
        payload, opcode = (data.encode(), _TEXT) if isinstance(data, str) else (data, _BINARY)
        return self._frame(opcode, payload)

    def close(self, code: int = 1000) -> None:
        """Start the closing handshake; :meth:`recv` returns None once the server has answered."""
        self._closed_by_us = True
        self._frame(_CLOSE, code.to_bytes(2, "big"))

    def recv(self) -> bytes | str | None:
        message = bytearray()
        kind = 0
        while True:
            try:
                fin, opcode, payload = self._next_frame()
            except (OSError, ProtocolError):
                self.close_code = self.close_code or 1006
                return None
            if opcode == _PING:
                self._frame(_PONG, payload)
            elif opcode == _CLOSE:
                self.close_code = int.from_bytes(payload[:2], "big") if len(payload) >= 2 else 1005
                self.close_reason = payload[2:].decode("utf-8", "replace")
                if not self._closed_by_us:
                    self._frame(_CLOSE, payload[:2])
                return None
            elif opcode in (0, _TEXT, _BINARY):
                kind = kind or opcode
                message += payload
                if len(message) > _MAX_MESSAGE:
                    self.close_code = 1009
                    return None
                if fin:
                    return bytes(message) if kind == _BINARY else message.decode("utf-8", "replace")

    def _frame(self, opcode: int, payload: bytes) -> bool:
        n = len(payload)
        if n < 126:
            head = bytes((0x80 | opcode, 0x80 | n))
        elif n < 65536:
            head = bytes((0x80 | opcode, 0x80 | 126)) + n.to_bytes(2, "big")
        else:
            head = bytes((0x80 | opcode, 0x80 | 127)) + n.to_bytes(8, "big")
        mask = os.urandom(4)
        # Masking as one big-integer XOR: bytes-at-a-time Python would cost a paste of a page dearly.
        pad = (mask * (n // 4 + 1))[:n]
        masked = (int.from_bytes(payload, "big") ^ int.from_bytes(pad, "big")).to_bytes(n, "big")
        try:
            self.sock.sendall(head + mask + masked)
        except OSError:
            return False
        return True

    def _next_frame(self) -> tuple[bool, int, bytes]:
        first, second = self._take(2)
        n = second & 0x7F
        if n == 126:
            n = int.from_bytes(self._take(2), "big")
        elif n == 127:
            n = int.from_bytes(self._take(8), "big")
        if n > _MAX_MESSAGE:
            raise ProtocolError(f"a WebSocket frame of {n} bytes")
        mask = self._take(4) if second & 0x80 else b""
        payload = self._take(n)
        if mask:
            pad = (mask * (n // 4 + 1))[:n]
            payload = (int.from_bytes(payload, "big") ^ int.from_bytes(pad, "big")).to_bytes(n, "big")
        return bool(first & 0x80), first & 0x0F, payload

    def _take(self, n: int) -> bytes:
        while len(self._buf) < n:
            data = self.sock.recv(_READ)
            if not data:
                raise ProtocolError("the connection ended inside a WebSocket frame")
            self._buf += data
        taken = bytes(self._buf[:n])
        del self._buf[:n]
        return taken
