"""A terminal on sshpoold (``WS /channels/<alias>/terminal``) from a process that can send headers:
the bearer token goes in the handshake, so no ticket is needed. Blocking (websockets' threaded
client): a terminal is one process's foreground, not a task among many.
"""

from __future__ import annotations

import contextlib
import json
import ssl
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus
from websockets.sync.client import ClientConnection, connect, unix_connect

from sshpool.client.asyncclient import AsyncDaemonClient
from sshpool.errors import RequestError

__all__ = ["RemoteTerminal", "open_remote_terminal"]


class RemoteTerminal:
    """The terminal's socket: :meth:`output` yields the remote bytes until the end, then
    :attr:`end` (the server's last word) and :attr:`close_code`/:attr:`close_reason` say how it
    ended; :meth:`send` and :meth:`resize` may be called from other threads."""

    def __init__(self, ws: ClientConnection) -> None:
        self._ws = ws
        self.end: dict[str, Any] = {}

    def output(self) -> Iterator[bytes]:
        with contextlib.suppress(ConnectionClosed):
            for message in self._ws:
                if isinstance(message, bytes):
                    yield message
                else:
                    with contextlib.suppress(ValueError):
                        self.end = json.loads(message)

    def send(self, data: bytes) -> bool:
        """False once the socket is closed."""
        try:
            self._ws.send(data)
        except (ConnectionClosed, OSError):
            return False
        return True

    def resize(self, cols: int, rows: int) -> None:
        with contextlib.suppress(ConnectionClosed, OSError):
            self._ws.send(json.dumps({"type": "resize", "cols": cols, "rows": rows}))

    def close(self) -> None:
        self._ws.close(1000)

    @property
    def close_code(self) -> int | None:
        return self._ws.close_code

    @property
    def close_reason(self) -> str:
        return self._ws.close_reason or ""


def open_remote_terminal(
    client: AsyncDaemonClient, alias: str, *, cols: int, rows: int, term: str, command: str | None = None
) -> RemoteTerminal:
    """Open the terminal; RequestError saying why it could not be opened."""
    query = {"cols": cols, "rows": rows, "term": term} | ({"command": command} if command else {})
    path = f"/channels/{quote(alias, safe='')}/terminal?{urlencode(query, quote_via=quote)}"
    headers = client.auth_headers()
    endpoint = client.endpoint
    try:
        if endpoint.socket:
            ws = unix_connect(endpoint.socket, "ws://localhost" + path, additional_headers=headers, open_timeout=15)
        else:
            parts = urlsplit(endpoint.url)
            secure = parts.scheme == "https"
            url = f"{'wss' if secure else 'ws'}://{parts.netloc}{path}"
            context = ssl.create_default_context() if secure else None
            ws = connect(url, additional_headers=headers, ssl=context, open_timeout=15)
    except (OSError, InvalidHandshake, TimeoutError) as exc:
        raise RequestError(f"cannot open a terminal on {alias} at {client.url}: {_why(exc)}") from None
    return RemoteTerminal(ws)


def _why(exc: BaseException) -> str:
    if isinstance(exc, InvalidStatus):
        return f"it answered {exc.response.status_code} (is it sshpoold, and new enough for terminals?)"
    if isinstance(exc, ConnectionRefusedError | FileNotFoundError):
        return "nothing listens there (is sshpoold running? `sshpoolctl doctor`)"
    return str(exc) or type(exc).__name__
