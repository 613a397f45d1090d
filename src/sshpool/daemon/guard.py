"""The guard in front of every request: request id, Host check, token and body limit.

Pure ASGI on purpose: Starlette's ``BaseHTTPMiddleware`` hides ``http.disconnect`` until the next
write, so a silent command would go on running for a client that left.
"""

from __future__ import annotations

import hmac
import itertools
import os
import re
from typing import TYPE_CHECKING

from fastapi.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sshpool.daemon.answers import problem, wants_json
from sshpool.daemon.imports import IMPORT_BODY_LIMIT, IMPORT_PATH
from sshpool.daemon.state import ApiState

if TYPE_CHECKING:
    from sshpool.daemon.metrics import Metrics

__all__ = ["OPEN_PATHS", "Guard", "host_accepted", "host_name", "token_accepted"]

#: No token: health probes carry none, and /docs, /ui and their assets hold no data (the pages ask
#: for the token before they load anything that does).
OPEN_PATHS = ("/healthz", "/readyz", "/docs", "/ui")
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
_UPLOAD = re.compile(r"^/channels/[^/]+/files$")  # PUT bodies there are files, streamed by the endpoint
_RUN = re.compile(r"^/channels/[^/]+$")  # POST with application/octet-stream: the body is stdin, streamed
_LOCAL_NAMES = frozenset({"localhost", "127.0.0.1", "::1", "[::1]"})


class Guard:
    """Request id, Host check, token and body limit, in that order, as one pure-ASGI layer.

    The body is read here, up to the limit (chunked bodies are counted as they arrive), and
    replayed to the app; later ``receive`` calls reach the server, so the endpoint still sees
    ``http.disconnect``.
    """

    def __init__(self, app: ASGIApp, state: ApiState, metrics: Metrics) -> None:
        self.app = app
        self.state = state
        self.metrics = metrics
        # Ids of requests that bring none: unique in this daemon's life (a random prefix per
        # start, then a counter), without a getrandom call per request.
        self._id_prefix = os.urandom(4).hex()
        self._ids = itertools.count()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers: list[tuple[bytes, bytes]] = scope["headers"]
        first = dict(reversed(headers))  # each header's first value, as a client sent it
        rid = first.get(b"x-request-id", b"").decode("latin-1")
        if not _REQUEST_ID.match(rid):
            rid = f"{self._id_prefix}{next(self._ids):08x}"
        scope.setdefault("state", {})["request_id"] = rid
        id_header = (b"x-request-id", rid.encode())
        method = scope["method"]
        counted = self.metrics.count_request

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", ()), id_header]
                counted(method, message["status"])
            await send(message)

        refusal = self._refuse(scope, first)
        if refusal is not None:
            await refusal(scope, receive, send_with_id)
            return
        path: str = scope["path"]
        upload = method == "PUT" and _UPLOAD.match(path) is not None
        if method == "POST" and _content_type(first) == "application/octet-stream" and _RUN.match(path):
            await self.app(scope, receive, send_with_id)  # stdin of any size, pulled as the command reads it
            return
        limit = self.state.settings.file_limit if upload else self.state.settings.body_limit
        if method == "POST" and path == IMPORT_PATH:  # an inventory: tens of thousands of hosts
            limit = max(limit, IMPORT_BODY_LIMIT)
        length = first.get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > limit):
            as_json = wants_json(headers)
            if not length.isdigit():
                refused = problem(400, "bad_request", "Content-Length is not a number", json_body=as_json)
            else:
                refused = problem(413, "too_large", _too_large(limit, upload), json_body=as_json)
            await refused(scope, receive, send_with_id)
            return
        if upload:  # streamed: the endpoint counts the bytes against --file-limit as they arrive
            await self.app(scope, receive, send_with_id)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                refused = problem(413, "too_large", _too_large(limit), json_body=wants_json(headers))
                await refused(scope, receive, send_with_id)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send_with_id)

    def _refuse(self, scope: Scope, first: dict[bytes, bytes]) -> Response | None:
        path: str = scope["path"]
        if self.state.check_host:
            host = first.get(b"host", b"").decode("latin-1")
            if not host_accepted(self.state, host):
                return problem(
                    400,
                    "bad_request",
                    f"Host header {host!r} is not accepted: use localhost, 127.0.0.1 or [::1], "
                    "or start sshpoold with --allowed-host NAME",
                    json_body=wants_json(scope["headers"]),
                )
        if path in OPEN_PATHS or path.startswith("/static/"):
            return None
        if not token_accepted(self.state, first.get(b"authorization", b"").decode("latin-1")):
            resp = problem(
                401,
                "unauthorized",
                "missing or wrong token: send 'Authorization: Bearer <token>' with the token from "
                "SSHPOOL_TOKEN or the state dir's 'token' file",
                json_body=wants_json(scope["headers"]),
            )
            resp.headers["WWW-Authenticate"] = 'Bearer realm="sshpoold"'
            return resp
        return None


def _too_large(limit: int, upload: bool = False) -> str:
    if upload:
        return f"file larger than {limit} bytes (--file-limit)"
    if limit == IMPORT_BODY_LIMIT:
        return f"inventory larger than {limit} bytes: import it in parts"
    return f"request body larger than {limit} bytes (--body-limit)"


def token_accepted(state: ApiState, authorization: str) -> bool:
    """Whether an Authorization header carries this daemon's token (``Bearer <token>``), compared
    in constant time."""
    scheme, _, given = authorization.partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), state.token.encode())


def host_accepted(state: ApiState, host: str) -> bool:
    """Whether a Host header names this daemon: a loopback name or an --allowed-host."""
    name = host_name(host)
    return name in _LOCAL_NAMES or name in state.allowed_hosts


def host_name(host: str) -> str:
    host = host.strip().lower()
    if host.startswith("["):
        return host[: host.find("]") + 1] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def _content_type(first: dict[bytes, bytes]) -> str:
    return first.get(b"content-type", b"").decode("latin-1").split(";")[0].strip().lower()
