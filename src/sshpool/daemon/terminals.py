"""``POST /tickets`` and ``WS /channels/<alias>/terminal``: interactive terminals over warm channels.

A browser cannot put a bearer token on a WebSocket, and a token in a URL ends up in logs and
history, so a page first asks for a ticket (bearer-authenticated): one use, for one alias, for
30 seconds, kept in memory only and never logged. A client that can send headers (sshpoolctl)
may present the token itself. The Origin, when a client sends one (browsers always do), must
name the host the request was sent to, so that another site's page cannot open a terminal
with a ticket it obtained some other way.

On the socket: binary messages are the terminal's bytes both ways; a text message from the
client is a JSON control (``{"type": "resize", "cols": C, "rows": R}``); the server's last text
message is the end (``{"type": "exit", "exit_code": ..., "signal": ..., "link_lost": ...}``) before
it closes. A refusal closes the socket with a 44xx code whose reason says what was wrong.
Start, end and duration are audited, never what was typed.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import time
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from fastapi import Request, WebSocket
from fastapi.responses import Response

from sshpool.core.channel import Channel
from sshpool.core.terminal import Terminal, check_size, open_terminal
from sshpool.daemon.answers import json_answer
from sshpool.daemon.endpoints import Endpoints, client_key
from sshpool.daemon.guard import host_accepted, token_accepted
from sshpool.errors import RequestError, SSHPoolError, UnknownAliasError

__all__ = ["TICKET_SECONDS", "TerminalEndpoints", "Tickets"]

TICKET_SECONDS = 30.0


class Tickets:
    """One-use tickets for one alias each, for ``TICKET_SECONDS``."""

    def __init__(self, seconds: float = TICKET_SECONDS) -> None:
        self.seconds = seconds
        self._open: dict[str, tuple[str, float]] = {}

    def issue(self, alias: str) -> tuple[str, datetime]:
        now = time.monotonic()
        self._open = {t: held for t, held in self._open.items() if held[1] > now}
        ticket = secrets.token_urlsafe(32)
        self._open[ticket] = (alias.casefold(), now + self.seconds)
        return ticket, datetime.now(UTC) + timedelta(seconds=self.seconds)

    def redeem(self, ticket: str, alias: str) -> bool:
        """True once for a live ticket of ``alias``; a ticket presented for another alias is spent."""
        held = self._open.pop(ticket, None)
        return held is not None and held[0] == alias.casefold() and held[1] > time.monotonic()


class Refused(Exception):
    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


class TerminalEndpoints(Endpoints):
    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.tickets = Tickets()
        self.open_terminals = 0

    async def issue_ticket(self, request: Request) -> Response:
        """Get a one-time ticket that opens a terminal on a channel, for 30 seconds."""
        raw = await request.body()
        try:
            body = json.loads(raw)
        except ValueError:
            body = None
        if not isinstance(body, dict) or not isinstance(body.get("alias"), str) or set(body) != {"alias"}:
            raise RequestError('send {"alias": "<alias>"}: the channel the ticket opens a terminal on')
        alias = self.pool.get(body["alias"]).alias
        ticket, expires = self.tickets.issue(alias)
        self.audit(request, "ticket", alias=alias)
        return await json_answer({"ticket": ticket, "alias": alias, "expires": expires.isoformat(timespec="seconds")})

    async def terminal(self, websocket: WebSocket, alias: str) -> None:
        """An interactive terminal on the channel's warm connection (WebSocket)."""
        await websocket.accept()
        try:
            channel, options = self._admit(websocket, alias)
        except Refused as exc:
            await websocket.close(exc.code, _reason(exc.reason))
            return
        who = client_key(websocket)
        self.open_terminals += 1
        started = time.monotonic()
        end: dict[str, Any] | None = None
        try:
            async with open_terminal(channel, client=who, **options) as term:
                self.audit(websocket, "terminal", alias=channel.alias, state="open")
                end = await _serve(websocket, term)
        except SSHPoolError as exc:
            end = {"type": "error", "error": exc.code, "message": exc.message}
        finally:
            self.open_terminals -= 1
            duration = round(time.monotonic() - started, 3)
            self.audit(websocket, "terminal", alias=channel.alias, state="closed", duration=duration)
        if end is None:  # the client went away
            return
        with contextlib.suppress(Exception):
            await websocket.send_text(json.dumps(end))
            if end.get("link_lost") or end["type"] == "error":
                reason = end.get("message") or f"the link to {channel.alias} was lost; the channel reconnects"
                await websocket.close(1011, _reason(str(reason)))
            else:
                await websocket.close(1000)

    def _admit(self, websocket: WebSocket, alias: str) -> tuple[Channel, dict[str, Any]]:
        """The channel and the terminal's options, or Refused saying why this socket gets none."""
        headers = websocket.headers
        host = headers.get("host", "")
        if self.state.check_host and not host_accepted(self.state, host):
            raise Refused(4400, f"Host {host!r} is not accepted (see --allowed-host)")
        origin = headers.get("origin")
        if origin is not None and urlsplit(origin).netloc.lower() != host.lower():
            raise Refused(4403, f"Origin {origin!r} is not this daemon's ({host})")
        ticket = websocket.query_params.get("ticket")
        if ticket is not None:
            if not self.tickets.redeem(ticket, alias):
                raise Refused(4401, "the ticket is unknown, used, expired or for another alias: POST /tickets")
        elif not token_accepted(self.state, headers.get("authorization", "")):
            raise Refused(4401, "a terminal needs a ticket (POST /tickets, then ?ticket=) or the bearer token")
        if self.state.draining:
            raise Refused(4503, "sshpoold is shutting down")
        try:
            channel = self.pool.get(alias)
        except UnknownAliasError:
            raise Refused(4404, f"no channel {alias!r}") from None
        if self.open_terminals >= self.state.settings.max_terminals:
            raise Refused(4429, f"{self.open_terminals} terminals are open, the most --max-terminals allows")
        query = websocket.query_params
        try:
            cols, rows = check_size(int(query.get("cols", "80")), int(query.get("rows", "24")))
        except ValueError as exc:
            raise Refused(4400, f"cols and rows must be whole numbers: {exc}") from None
        term = query.get("term", "xterm-256color")
        if not term.replace("-", "").replace(".", "").isalnum() or len(term) > 64:
            raise Refused(4400, f"invalid term {term!r}")
        return channel, {"cols": cols, "rows": rows, "term": term, "command": query.get("command") or None}


async def _serve(websocket: WebSocket, term: Terminal) -> dict[str, Any] | None:
    """Pump both ways until the remote side ends (its end, as a dict) or the client leaves (None)."""

    async def output() -> None:
        while chunk := await term.read():
            await websocket.send_bytes(chunk)

    async def keys() -> None:
        while (message := await websocket.receive())["type"] != "websocket.disconnect":
            if message.get("bytes") is not None:
                term.write(message["bytes"])
            elif message.get("text") is not None:
                _control(term, message["text"])

    pump, typing = asyncio.ensure_future(output()), asyncio.ensure_future(keys())
    try:
        await asyncio.wait({pump, typing}, return_when=asyncio.FIRST_COMPLETED)
        if not pump.done() or pump.exception() is not None:
            return None  # the client left, or its socket broke under the output
    finally:
        for task in (pump, typing):
            task.cancel()
            with contextlib.suppress(BaseException):
                await task
    return (await term.end()).to_dict()


def _reason(text: str) -> str:
    """A close reason as long as the protocol allows (123 bytes of UTF-8), cut between characters."""
    return text.encode()[:123].decode("utf-8", "ignore")


def _control(term: Terminal, text: str) -> None:
    """A client's control message; one that is not understood is ignored (the terminal goes on)."""
    with contextlib.suppress(ValueError, TypeError, KeyError):
        message = json.loads(text)
        if isinstance(message, dict) and message.get("type") == "resize":
            term.resize(int(message["cols"]), int(message["rows"]))
