"""uvicorn's httptools protocol with its writes gathered per event-loop turn.

uvicorn writes a response's status line and headers, then its body, as two ``transport.write``
calls; on uvloop each is a ``send`` of its own, so every small answer cost two system calls here
and two wake-ups in the client, which reads the head before the body arrives. Writes made in one
turn of the loop go out together (``writelines``: one ``writev``, no copy), at the end of that
turn, before the loop waits again: nothing is held longer than the code that wrote it runs.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

__all__ = ["GatheredWrites", "GatheringHttpToolsProtocol"]


class GatheredWrites:
    """A transport whose ``write`` calls in one loop turn reach the real one as one ``writelines``;
    ``close`` sends what is gathered first, ``abort`` drops it. Everything else is the real
    transport's."""

    def __init__(self, transport: asyncio.Transport) -> None:
        self._transport = transport
        self._pending: list[bytes] = []
        self._loop = asyncio.get_running_loop()

    def write(self, data: bytes) -> None:
        if not self._pending:
            self._loop.call_soon(self._flush)
        self._pending.append(data)

    def _flush(self) -> None:
        pending, self._pending = self._pending, []
        if pending and not self._transport.is_closing():
            self._transport.writelines(pending)

    def close(self) -> None:
        self._flush()
        self._transport.close()

    def abort(self) -> None:
        self._pending = []
        self._transport.abort()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class GatheringHttpToolsProtocol(HttpToolsProtocol):
    """The protocol sshpoold serves HTTP with (``uvicorn.Config(http=...)``)."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(GatheredWrites(transport))  # type: ignore[arg-type]
