"""The pure-ASGI pieces of the REST API: the guard in front of every request, the answers
(the classic plain text, or RFC 9457 problem+json), and running work that a client disconnect
cancels, including NDJSON streams.

Pure ASGI on purpose: Starlette's ``BaseHTTPMiddleware`` and ``StreamingResponse`` (on recent
ASGI servers) hide ``http.disconnect`` until the next write, so a silent command would go on
running for a client that left.
"""

from __future__ import annotations

import asyncio
import base64
import codecs
import contextlib
import hmac
import ipaddress
import json
import logging
import re
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import TYPE_CHECKING, Any, TypeVar

from fastapi.responses import JSONResponse, PlainTextResponse, Response
from pydantic_core import to_json
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sshpool.defaults import Settings
from sshpool.errors import ChannelUnavailableError, SSHPoolError

if TYPE_CHECKING:
    from sshpool.daemon.audit import AuditLog
    from sshpool.daemon.metrics import Metrics
    from sshpool.daemon.store import Store

__all__ = [
    "ApiState",
    "Disconnected",
    "Guard",
    "NDJSONStream",
    "OutputLines",
    "StreamedBody",
    "error_answer",
    "host_name",
    "json_answer",
    "problem",
    "until_disconnect",
    "wants_json",
]

log = logging.getLogger("sshpool")

T = TypeVar("T")
PLAIN_BODIES = {200: "OK", 400: "BAD REQUEST", 404: "NOT FOUND"}
#: Above this much output a result is encoded off the event loop.
_ENCODE_IN_THREAD = 1 << 20
#: No token: health probes carry none, and /docs and its assets hold no data (the page asks for the
#: token before it loads /openapi.json).
OPEN_PATHS = ("/healthz", "/readyz", "/docs")
FANOUT_LIMIT = 64
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
_UPLOAD = re.compile(r"^/channels/[^/]+/files$")  # PUT bodies there are files, streamed by the endpoint
_RUN = re.compile(r"^/channels/[^/]+$")  # POST with application/octet-stream: the body is stdin, streamed
_LOCAL_NAMES = frozenset({"localhost", "127.0.0.1", "::1", "[::1]"})


@dataclass
class ApiState:
    """What the daemon can change while the app runs: the token (SIGHUP), readiness, draining."""

    token: str
    settings: Settings
    allowed_hosts: frozenset[str] = frozenset()
    allow_networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] | None = None
    check_host: bool = True
    ready: bool = True
    draining: bool = False
    store: Store | None = None
    audit: AuditLog | None = None
    fanout_limit: int = FANOUT_LIMIT
    in_flight: set[asyncio.Task[Any]] = field(default_factory=set)


# --------------------------------------------------------------------------- answers


def wants_json(headers: Iterable[tuple[bytes, bytes]]) -> bool:
    """problem+json only when Accept names JSON explicitly; ``*/*`` keeps the classic plain bodies."""
    for name, value in headers:
        if name.lower() == b"accept":
            types = {part.split(";")[0].strip().lower() for part in value.decode("latin-1").split(",")}
            if types & {"application/json", "application/problem+json"}:
                return True
    return False


async def json_answer(content: Any, *, output_bytes: int = 0) -> Response:
    """The compact JSON that JSONResponse writes, encoded by pydantic-core (FastAPI's own encoder,
    ~3x json.dumps on big strings). A result with megabytes of output is encoded in a worker
    thread, so other requests never wait for it: 100 MB took the event loop 0.5 s with json.dumps."""
    if output_bytes > _ENCODE_IN_THREAD:
        body = await run_in_threadpool(to_json, content)
    else:
        body = to_json(content)
    return Response(body, media_type="application/json")


def problem(status: int, code: str, detail: str, *, json_body: bool, alias: str | None = None) -> Response:
    """An error answer: the classic plain text, or RFC 9457 problem+json with our ``code``."""
    headers = {"X-SSHPool-Error": code}
    if status == 503:
        headers["Retry-After"] = "1"
    if json_body:
        body: dict[str, Any] = {
            "type": "about:blank",
            "title": HTTPStatus(status).phrase,
            "status": status,
            "detail": detail,
            "code": code,
        }
        if alias is not None:
            body["alias"] = alias
        return JSONResponse(body, status_code=status, headers=headers, media_type="application/problem+json")
    return PlainTextResponse(PLAIN_BODIES.get(status, detail), status_code=status, headers=headers)


def error_answer(exc: SSHPoolError, *, json_body: bool) -> Response:
    resp = problem(exc.http_status, exc.code, exc.message, json_body=json_body, alias=exc.alias)
    if isinstance(exc, ChannelUnavailableError) and exc.code in ("auth_failed", "host_key_unknown", "host_key_changed"):
        resp.headers["Retry-After"] = "30"
    fingerprint = getattr(exc, "fingerprint", None)
    if json_body and fingerprint:
        body = json.loads(bytes(resp.body))
        body["fingerprint"] = fingerprint
        kept = {k: v for k, v in resp.headers.items() if k.lower() != "content-length"}
        resp = JSONResponse(body, status_code=resp.status_code, headers=kept, media_type=resp.media_type)
    return resp


# --------------------------------------------------------------------------- middleware


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

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers: list[tuple[bytes, bytes]] = scope["headers"]
        rid = next((v.decode("latin-1") for k, v in headers if k == b"x-request-id"), "")
        if not _REQUEST_ID.match(rid):
            rid = uuid.uuid4().hex[:16]
        scope.setdefault("state", {})["request_id"] = rid
        as_json = wants_json(headers)
        method = scope["method"]

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", rid.encode())]
                self.metrics.requests.labels(method, str(message["status"])).inc()
            await send(message)

        refusal = self._refuse(scope, headers, as_json)
        if refusal is not None:
            await refusal(scope, receive, send_with_id)
            return
        upload = method == "PUT" and _UPLOAD.match(scope["path"]) is not None
        if method == "POST" and _RUN.match(scope["path"]) and _content_type(headers) == "application/octet-stream":
            await self.app(scope, receive, send_with_id)  # stdin of any size, pulled as the command reads it
            return
        limit = self.state.settings.file_limit if upload else self.state.settings.body_limit
        length = next((v for k, v in headers if k == b"content-length"), None)
        if length is not None and (not length.isdigit() or int(length) > limit):
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
                await problem(413, "too_large", _too_large(limit), json_body=as_json)(scope, receive, send_with_id)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": b"".join(chunks), "more_body": False}
            return await receive()

        await self.app(scope, replay, send_with_id)

    def _refuse(self, scope: Scope, headers: list[tuple[bytes, bytes]], as_json: bool) -> Response | None:
        path: str = scope["path"]
        if self.state.check_host:
            host = next((v.decode("latin-1") for k, v in headers if k == b"host"), "")
            name = host_name(host)
            if name not in _LOCAL_NAMES and name not in self.state.allowed_hosts:
                return problem(
                    400,
                    "bad_request",
                    f"Host header {host!r} is not accepted: use localhost, 127.0.0.1 or [::1], "
                    "or start sshpoold with --allowed-host NAME",
                    json_body=as_json,
                )
        if path in OPEN_PATHS or path.startswith("/static/"):
            return None
        auth = next((v.decode("latin-1") for k, v in headers if k == b"authorization"), "")
        scheme, _, given = auth.partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), self.state.token.encode()):
            resp = problem(
                401,
                "unauthorized",
                "missing or wrong token: send 'Authorization: Bearer <token>' with the token from "
                "SSHPOOL_TOKEN or the state dir's 'token' file",
                json_body=as_json,
            )
            resp.headers["WWW-Authenticate"] = 'Bearer realm="sshpoold"'
            return resp
        return None


def _too_large(limit: int, upload: bool = False) -> str:
    if upload:
        return f"file larger than {limit} bytes (--file-limit)"
    return f"request body larger than {limit} bytes (--body-limit)"


def host_name(host: str) -> str:
    host = host.strip().lower()
    if host.startswith("["):
        return host[: host.find("]") + 1] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


# --------------------------------------------------------------------------- disconnects


class Disconnected(Exception):
    """The client went away before its answer was ready."""


async def until_disconnect(receive: Receive, work: Awaitable[T]) -> T:
    """Await ``work`` unless the client disconnects first; then cancel it (the core signals the
    remote command) and raise :class:`Disconnected`."""
    task = asyncio.ensure_future(work)

    async def watch() -> None:
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return

    watcher = asyncio.ensure_future(watch())
    try:
        await asyncio.wait({task, watcher}, return_when=asyncio.FIRST_COMPLETED)
    except asyncio.CancelledError:
        task.cancel()
        watcher.cancel()
        raise
    watcher.cancel()
    if watcher.done() and not watcher.cancelled():
        watcher.exception()  # a broken receive counts as a disconnect
    if task.done():
        return task.result()
    task.cancel()
    with contextlib.suppress(BaseException):
        await task
    raise Disconnected


def _content_type(headers: list[tuple[bytes, bytes]]) -> str:
    value = next((v for k, v in headers if k == b"content-type"), b"")
    return value.decode("latin-1").split(";")[0].strip().lower()


class StreamedBody:
    """A request body that is a command's stdin: chunks pulled from ``receive`` as the command reads
    them (uvicorn stops reading the socket while we do not pull, so memory stays bounded).
    :meth:`receive_after` is what a disconnect watcher awaits instead of ``receive``: it must not
    take body chunks, so it waits until the body has ended (or the client went away)."""

    def __init__(self, receive: Receive) -> None:
        self._receive = receive
        self._ended = asyncio.Event()
        self._gone = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            while True:
                message = await self._receive()
                if message["type"] == "http.disconnect":
                    self._gone = True
                    raise Disconnected
                chunk = message.get("body", b"")
                if chunk:
                    yield chunk
                if not message.get("more_body", False):
                    return
        finally:
            self._ended.set()

    async def receive_after(self) -> Message:
        await self._ended.wait()
        if self._gone:
            return {"type": "http.disconnect"}
        return await self._receive()


class NDJSONStream(Response):
    """Lines of JSON as they come. ``produce(emit)`` runs while the response streams; a client
    disconnect cancels it."""

    media_type = "application/x-ndjson"

    def __init__(
        self,
        produce: Callable[[Callable[[dict[str, Any]], None]], Awaitable[None]],
        rid: str,
        watch: Receive | None = None,
    ) -> None:
        super().__init__(media_type=self.media_type, headers={"Cache-Control": "no-store"})
        self.raw_headers = [(k, v) for k, v in self.raw_headers if k != b"content-length"]
        self.produce = produce
        self.rid = rid
        self.watch = watch  # what watches for a disconnect, when the body is still being read

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        queue: asyncio.Queue[bytes | None] = asyncio.Queue()

        def emit(line: dict[str, Any]) -> None:
            queue.put_nowait((json.dumps(line, ensure_ascii=False) + "\n").encode())

        async def producer() -> None:
            try:
                await self.produce(emit)
            except Exception as exc:
                log.exception("request %s failed while streaming", self.rid)
                emit({"error": "internal", "exception": f"sshpoold failed: {type(exc).__name__}: {exc}"})
            finally:
                queue.put_nowait(None)

        async def pump() -> None:
            await send({"type": "http.response.start", "status": 200, "headers": self.raw_headers})
            while (chunk := await queue.get()) is not None:
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b"", "more_body": False})

        work = asyncio.ensure_future(producer())
        try:
            await until_disconnect(self.watch or receive, pump())
        except (Disconnected, OSError):
            log.info("client went away during request %s: command cancelled", self.rid)
        finally:
            if not work.done():
                work.cancel()
            with contextlib.suppress(BaseException):
                await work


class OutputLines:
    """Incremental UTF-8 decoding per stream, so a character split across chunks stays whole."""

    def __init__(self, emit: Callable[[dict[str, Any]], None], raw: bool, alias: str | None) -> None:
        self.emit = emit
        self.raw = raw
        self.alias = alias
        self.decoders = {s: codecs.getincrementaldecoder("utf-8")(errors="replace") for s in ("stdout", "stderr")}

    def __call__(self, stream: str, data: bytes) -> None:
        text = self.decoders[stream].decode(data)
        line: dict[str, Any] = {"alias": self.alias} if self.alias is not None else {}
        line["stream"] = stream
        line["data"] = text
        if self.raw:
            line["data_b64"] = base64.b64encode(data).decode("ascii")
        elif not text:
            return
        self.emit(line)

    def flush(self) -> None:
        for stream, decoder in self.decoders.items():
            tail = decoder.decode(b"", final=True)
            if tail and not self.raw:
                line: dict[str, Any] = {"alias": self.alias} if self.alias is not None else {}
                self.emit({**line, "stream": stream, "data": tail})
