"""A few lines of HTTP/1.1 over a blocking socket: one request per process, for the lean path.

``http.client`` pulls in ``email.parser`` and ``ssl`` and httpx an event loop, each more than a
whole ``sshpoolctl run`` against a warm channel costs; sshpoold's answers are plain: a status line,
headers, then a body with a ``Content-Length`` or chunked. TLS is not spoken here: an ``https``
daemon takes the full client. The socket is ``_socket``'s, which ``socket`` wraps: that module
loads ``enum`` and ``selectors`` for what one blocking request never uses.
"""

from __future__ import annotations

import _socket as socket

from sshpool.locate import host_port

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator

__all__ = ["PLAIN", "Answer", "Exchange", "ProtocolError", "quote"]

_READ = 256 * 1024
#: Characters that go into a URL path or query as they are (RFC 3986's unreserved ones).
PLAIN = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-~")


def quote(text: str) -> str:
    """``text`` percent-encoded for a path segment or a query value (urllib.parse loads ``re``)."""
    return "".join(ch if ch in PLAIN else "".join(f"%{b:02X}" for b in ch.encode()) for ch in text)


class ProtocolError(OSError):
    """The server's bytes are not an HTTP/1.1 answer (or it closed before the answer's end)."""


class Answer:
    """The status, the headers (names lower-case) and the body of one response, read as it comes."""

    def __init__(self, sock: socket.socket, status: int, headers: dict[str, str], rest: bytes) -> None:
        self.sock = sock
        self.status = status
        self.headers = headers
        self._rest = rest

    def chunks(self) -> Iterator[bytes]:
        """The body in the pieces the network gives (de-chunked)."""
        if self.headers.get("transfer-encoding", "").lower() == "chunked":
            yield from self._chunked()
            return
        length = self.headers.get("content-length")
        left = int(length) if length is not None and length.isdigit() else -1
        data = self._rest
        while True:
            if data:
                if left >= 0:
                    data = data[:left]
                    left -= len(data)
                yield data
            if left == 0:
                return
            data = self.sock.recv(_READ)
            if not data:
                if left > 0:
                    raise ProtocolError("the answer ended before its Content-Length")
                return

    def read(self) -> bytes:
        return b"".join(self.chunks())

    def _chunked(self) -> Iterator[bytes]:
        buf = bytearray(self._rest)
        while True:
            while (eol := buf.find(b"\r\n")) < 0:
                self._more(buf)
            try:
                size = int(bytes(buf[:eol]).split(b";", 1)[0], 16)
            except ValueError:
                raise ProtocolError("a chunk size that is not hex") from None
            del buf[: eol + 2]
            if size == 0:
                return
            while size > 0:
                if not buf:
                    self._more(buf)
                piece = bytes(buf[:size])
                del buf[: len(piece)]
                size -= len(piece)
                yield piece
            while len(buf) < 2:
                self._more(buf)
            del buf[:2]

    def _more(self, buf: bytearray) -> None:
        data = self.sock.recv(_READ)
        if not data:
            raise ProtocolError("the answer ended inside a chunk")
        buf += data


class Exchange:
    """One connection to the daemon (TCP or a Unix socket), one request, one answer."""

    def __init__(self, url: str, unix_socket: str | None, timeout: float | None) -> None:
        if unix_socket:
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.host = "localhost"
            target: str | tuple[str, int] = unix_socket
        else:
            netloc = url.partition("://")[2].split("/", 1)[0].rpartition("@")[2]
            name, port = host_port(netloc)
            self.host = netloc
            family = socket.AF_INET6 if ":" in name else socket.AF_INET
            self.sock = socket.socket(family, socket.SOCK_STREAM)
            self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            target = (name, port)
        try:
            self.sock.settimeout(min(timeout, 10.0) if timeout is not None else 10.0)
            self.sock.connect(target)
            self.sock.settimeout(timeout)
        except BaseException:
            self.sock.close()
            raise

    def send(self, method: str, path: str, headers: dict[str, str], body: bytes = b"") -> Answer:
        head = [f"{method} {path} HTTP/1.1", f"Host: {self.host}", "Connection: close"]
        head += [f"{k}: {v}" for k, v in headers.items()]
        if body or method in ("POST", "PUT", "PATCH"):
            head.append(f"Content-Length: {len(body)}")
        self.sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body)
        buf = b""
        while (end := buf.find(b"\r\n\r\n")) < 0:
            data = self.sock.recv(_READ)
            if not data:
                raise ProtocolError("the server closed the connection without an answer")
            buf += data
            if len(buf) > 65536:
                raise ProtocolError("an answer whose headers never end")
        lines = buf[:end].decode("latin-1").split("\r\n")
        parts = lines[0].split(" ", 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
            raise ProtocolError(f"not an HTTP answer: {lines[0][:60]!r}")
        fields: dict[str, str] = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            fields[name.strip().lower()] = value.strip()
        return Answer(self.sock, int(parts[1]), fields, buf[end + 4 :])

    def close(self) -> None:
        self.sock.close()
