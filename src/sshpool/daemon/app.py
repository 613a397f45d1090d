"""The REST API over a :class:`~sshpool.core.pool.Pool`: the classic routes, kept byte-compatible for its
clients, plus fan-out, live output, health, metrics and a local /docs.

The guard (request id, Host check, token, body limit) and the answers live in :mod:`sshpool.daemon.asgi`,
the body rule in :mod:`sshpool.daemon.bodies`, the OpenAPI text in :mod:`sshpool.daemon.apidoc`. Endpoints read
the raw body themselves, so FastAPI never answers 422.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator
from dataclasses import replace
from importlib import resources
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import Scope

from sshpool._version import __version__
from sshpool.core.pool import Pool
from sshpool.core.target import resolve
from sshpool.daemon.apidoc import DOCS_HTML, RESPONSES, body_doc
from sshpool.daemon.asgi import (
    FANOUT_LIMIT,
    ApiState,
    Disconnected,
    Guard,
    NDJSONStream,
    OutputLines,
    StreamedBody,
    error_answer,
    host_name,
    json_answer,
    problem,
    until_disconnect,
    wants_json,
)
from sshpool.daemon.audit import AuditLog
from sshpool.daemon.bodies import COMMAND_FIELDS, Body, CommandSpec, command_spec, number, query_body, read_body
from sshpool.daemon.metrics import CONTENT_TYPE as METRICS_TYPE
from sshpool.daemon.metrics import Metrics
from sshpool.daemon.store import Store
from sshpool.daemon.transfer import download, upload
from sshpool.defaults import UNSET, Settings
from sshpool.dsn import DSN
from sshpool.errors import (
    AliasInUseError,
    HostNotAllowedError,
    RequestError,
    ShuttingDownError,
    SSHPoolError,
    UnknownAliasError,
)
from sshpool.result import Result
from sshpool.selectors import expand, terms

__all__ = ["ApiState", "create_app", "parse_networks", "wants_json"]

log = logging.getLogger("sshpool")


def create_app(
    pool: Pool,
    *,
    token: str,
    allowed_hosts: Iterable[str] = (),
    allow_networks: Iterable[str] | None = None,
    settings: Settings | None = None,
    store: Store | None = None,
    audit: AuditLog | None = None,
    check_host: bool = True,
    ready: bool = True,
    fanout_limit: int = FANOUT_LIMIT,
) -> FastAPI:
    """The ASGI app for ``pool``. ``allow_networks`` (CIDRs) limits which hosts POST /channels
    may add; ``None`` allows any. The returned app's ``state.api`` is the :class:`ApiState`."""
    if not token:
        raise ValueError("an empty token would let anyone in; pass a real token")
    state = ApiState(
        token=token,
        settings=settings or pool.settings,
        allowed_hosts=frozenset(
            host_name(f"[{h}]" if ":" in h and not h.startswith("[") else h) for h in allowed_hosts
        ),
        allow_networks=None if allow_networks is None else tuple(parse_networks(allow_networks)),
        check_host=check_host,
        ready=ready,
        store=store,
        audit=audit,
        fanout_limit=fanout_limit,
    )
    metrics = Metrics(pool)
    app = FastAPI(
        title="sshpoold",
        version=__version__,
        description="Persistent SSH channels by alias: start, stop, status and run commands in milliseconds.",
        docs_url=None,
        redoc_url=None,
        openapi_url="/openapi.json",
    )
    app.state.api = state
    app.state.metrics = metrics
    handlers = _Handlers(pool, state, metrics)
    handlers.install(app)
    app.add_middleware(Guard, state=state, metrics=metrics)
    return app


def parse_networks(items: Iterable[str]) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    nets = []
    for item in items:
        for part in item.split(","):
            if part.strip():
                try:
                    nets.append(ipaddress.ip_network(part.strip(), strict=False))
                except ValueError:
                    raise ValueError(
                        f"invalid network {part.strip()!r} in --allow-hosts: use CIDRs like 10.0.0.0/8"
                    ) from None
    return nets


def _methods_for(route: Any, scope: Scope) -> set[str]:
    """Every method any route serves on this path (Starlette's 405 names only the first route's)."""
    from starlette.routing import Match

    match, _ = route.matches({**scope, "method": "GET"})
    if match == Match.NONE:
        return set()
    methods: set[str] = getattr(route, "methods", None) or set()
    return methods - {"HEAD"} | ({"HEAD"} if "GET" in methods else set())


def _client_key(request: Request) -> str:
    given = request.headers.get("x-sshpool-client", "").strip()
    if given:
        return given[:128]
    return request.client.host if request.client else "local"


class _Handlers:
    """The endpoints, with the pool, state and metrics they share."""

    def __init__(self, pool: Pool, state: ApiState, metrics: Metrics) -> None:
        self.pool = pool
        self.state = state
        self.metrics = metrics

    # -- plumbing

    def install(self, app: FastAPI) -> None:
        async def on_sshpool_error(request: Request, exc: Exception) -> Response:
            assert isinstance(exc, SSHPoolError)
            return error_answer(exc, json_body=wants_json(request.scope["headers"]))

        async def on_http_error(request: Request, exc: Exception) -> Response:
            assert isinstance(exc, StarletteHTTPException)
            as_json = wants_json(request.scope["headers"])
            if exc.status_code == 405:
                allowed = sorted(
                    {m for route in app.router.routes for m in _methods_for(route, request.scope)} or {"GET"}
                )
                exc.headers = {"Allow": ", ".join(allowed)}
                resp = problem(
                    405,
                    "method_not_allowed",
                    f"method {request.method} is not allowed on {request.url.path}",
                    json_body=as_json,
                )
                resp.headers.update(exc.headers or {})
                return resp
            if exc.status_code == 404:
                return problem(404, "not_found", f"no such resource: {request.url.path}", json_body=as_json)
            return problem(exc.status_code, "bad_request", str(exc.detail), json_body=as_json)

        async def on_validation(request: Request, exc: Exception) -> Response:
            return problem(
                400, "bad_request", f"invalid request: {exc}", json_body=wants_json(request.scope["headers"])
            )

        app.add_exception_handler(SSHPoolError, on_sshpool_error)
        app.add_exception_handler(StarletteHTTPException, on_http_error)
        app.add_exception_handler(RequestValidationError, on_validation)

        routes: list[tuple[str, str, Callable[..., Awaitable[Response]], str, str, str | None]] = [
            ("GET", "/channels", self.list_channels, "listChannels", "list", None),
            ("POST", "/channels", self.start_channel, "startChannel", "start", "dsn"),
            ("GET", "/channels/{alias}", self.get_channel, "getChannel", "info", None),
            ("POST", "/channels/{alias}", self.run_command, "runCommand", "run", "command"),
            ("DELETE", "/channels/{alias}", self.stop_channel, "stopChannel", "stop", None),
            ("PATCH", "/channels/{alias}", self.update_channel, "updateChannel", "start", "dsn"),
            ("POST", "/channels/{alias}/hostkey", self.accept_host_key, "acceptHostKey", "hostkey", None),
            ("PUT", "/channels/{alias}/files", self.put_file, "putFile", "put", "file"),
            ("GET", "/channels/{alias}/files", self.get_file, "getFile", "get", "path"),
            ("POST", "/run", self.fan_out, "fanOut", "fanout", "fanout"),
            ("GET", "/healthz", self.healthz, "healthz", "health", None),
            ("GET", "/readyz", self.readyz, "readyz", "ready", None),
            ("GET", "/metrics", self.metrics_page, "metrics", "metrics", None),
        ]
        r = app.router
        for method, path, endpoint, op_id, doc, body in routes:
            r.add_api_route(
                path,
                endpoint,
                methods=[method],
                operation_id=op_id,
                responses=RESPONSES[doc],
                openapi_extra=body_doc(body) if body else None,
                summary=(endpoint.__doc__ or op_id).strip().splitlines()[0],
            )
        r.add_api_route("/docs", self.docs, methods=["GET"], include_in_schema=False)
        r.add_api_route("/static/{name}", self.static, methods=["GET"], include_in_schema=False)

    def _audit(self, request: Request, event: str, **fields: Any) -> None:
        if self.state.audit is not None:
            try:
                self.state.audit.write(
                    event, request_id=request.scope["state"].get("request_id"), client=_client_key(request), **fields
                )
            except OSError as exc:
                log.error("audit log write failed: %s", exc)

    @contextlib.contextmanager
    def _draining_waits(self) -> Iterator[None]:
        """Work a shutdown waits for (up to --drain-timeout) before it closes the channels."""
        task = asyncio.current_task()
        if task is not None:
            self.state.in_flight.add(task)
        try:
            yield
        finally:
            if task is not None:
                self.state.in_flight.discard(task)

    def _refuse_while_draining(self) -> None:
        if self.state.draining:
            self.metrics.refused("shutting_down")
            raise ShuttingDownError("sshpoold is shutting down; retry against the restarted daemon")

    async def _persist(self, dsn: DSN, source: str = "api") -> None:
        if self.state.store is not None:
            await asyncio.to_thread(self.state.store.put, dsn, source)

    # -- channels

    async def list_channels(self) -> Response:
        """Status of every channel."""
        return JSONResponse({alias: info.to_dict() for alias, info in self.pool.status().items()})

    async def get_channel(self, alias: str) -> Response:
        """Status of one channel."""
        return JSONResponse(self.pool.get(alias).info().to_dict())

    async def start_channel(self, request: Request) -> Response:
        """Start a channel from a DSN."""
        self._refuse_while_draining()
        body = await read_body(request, "dsn", ("wait",))
        wait = number(body.fields, "wait")
        dsn = DSN.parse(body.text)
        if dsn.alias in self.pool:
            existing = self.pool.get(dsn.alias)
            if existing.dsn.to_text(reveal_password=True) == dsn.to_text(reveal_password=True):
                # The same DSN again (a script that starts what it needs, a retried request):
                # nothing changes, and the answer is the one a first start would give now.
                info = existing.info()
                return self._started(dsn.alias, info.state, info.last_error)
            raise AliasInUseError(
                f"alias {existing.alias!r} is already in use by {existing.dsn.to_text()}, not {dsn.to_text()}; "
                "PATCH /channels/<alias> (sshpoolctl update) changes its DSN, or stop it first, "
                "or pick another alias",
                alias=dsn.alias,
            )
        await self._check_allowed(dsn)
        info = await self.pool.start(dsn, wait=UNSET if "wait" not in body.fields else wait)
        await self._persist(dsn)
        self._audit(request, "start", alias=dsn.alias, dsn=dsn.to_text(), state=info.state)
        return self._started(dsn.alias, info.state, info.last_error)

    def _started(self, alias: str, state: str, why: str | None) -> Response:
        where = {"Location": f"/channels/{alias}"}
        if state == "up":
            return PlainTextResponse("OK", headers=where)
        return PlainTextResponse(f"added; not connected: {why or state}; retrying", status_code=202, headers=where)

    async def update_channel(self, request: Request, alias: str) -> Response:
        """Replace a channel's DSN (new password, port...) keeping its start_time."""
        self._refuse_while_draining()
        channel = self.pool.get(alias)
        body = await read_body(request, "dsn", ("wait",))
        wait = number(body.fields, "wait")
        dsn = DSN.parse(body.text)
        if dsn.key != channel.dsn.key:
            raise RequestError(f"the DSN's alias {dsn.alias!r} differs from {alias!r}: PATCH cannot rename a channel")
        await self._check_allowed(dsn)
        info = await self.pool.update(alias, dsn, wait=UNSET if "wait" not in body.fields else wait)
        await self._persist(dsn)
        self._audit(request, "update", alias=dsn.alias, dsn=dsn.to_text(), state=info.state)
        return self._started(dsn.alias, info.state, info.last_error)

    async def stop_channel(self, request: Request, alias: str) -> Response:
        """Stop a channel and forget it."""
        channel = self.pool.get(alias)
        if self.state.store is not None:
            await asyncio.to_thread(self.state.store.delete, channel.alias)
        with contextlib.suppress(UnknownAliasError):
            await self.pool.stop(channel.alias)
        self._audit(request, "stop", alias=channel.alias)
        return PlainTextResponse("OK")

    async def accept_host_key(self, request: Request, alias: str) -> Response:
        """Trust the host key the channel's host offers now."""
        channel = self.pool.get(alias)
        fingerprint = await self.pool.accept_host_key(channel.alias)
        self._audit(request, "hostkey", alias=channel.alias, fingerprint=fingerprint)
        return JSONResponse({"alias": channel.alias, "fingerprint": fingerprint})

    async def _check_allowed(self, dsn: DSN) -> None:
        nets = self.state.allow_networks
        if nets is None:
            return
        try:
            target = resolve(dsn, self.state.settings)
            hosts = [target.host, *(j.host for j in target.jump)]
        except (ValueError, OSError):
            hosts = [dsn.host]
        for host in hosts:
            addrs = await _addresses(host, nets)
            bad = [a for a in addrs if not any(a in n for n in nets)]
            if not addrs or bad:
                raise HostNotAllowedError(
                    f"host {host!r} is outside the networks this daemon may connect to "
                    f"({', '.join(str(n) for n in nets)}; see --allow-hosts)",
                    alias=dsn.alias,
                )

    # -- files

    async def put_file(self, request: Request, alias: str) -> Response:
        """Upload a file to the channel's host (the body, streamed; --file-limit). A shutdown
        waits for it as for a command (--drain-timeout)."""
        self._refuse_while_draining()
        channel = self.pool.get(alias)
        with self._draining_waits():
            answer, fields = await upload(channel, request, self.state.settings.file_limit, _client_key(request))
        self._audit(request, "put", alias=channel.alias, **fields)
        return answer

    async def get_file(self, request: Request, alias: str) -> Response:
        """Download a file from the channel's host (streamed). A shutdown waits for it (up to
        --drain-timeout) as for an upload: the request's task ends when the last byte is sent."""
        self._refuse_while_draining()
        channel = self.pool.get(alias)
        task = asyncio.current_task()
        if task is not None:
            self.state.in_flight.add(task)
            task.add_done_callback(self.state.in_flight.discard)
        answer, fields = await download(channel, request, self.state.settings.file_limit, _client_key(request))
        self._audit(request, "get", alias=channel.alias, **fields)
        return answer

    # -- commands

    async def run_command(self, request: Request, alias: str) -> Response:
        """Run a command on a channel."""
        self._refuse_while_draining()
        channel = self.pool.get(alias)
        watch = request.receive
        ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if ctype == "application/octet-stream":  # the body is the command's stdin, streamed
            stdin = StreamedBody(request.receive)
            spec = replace(command_spec(query_body(list(request.query_params.multi_items()))), input=stdin)
            watch = stdin.receive_after
        else:
            spec = command_spec(await read_body(request, "command", COMMAND_FIELDS))
        client = _client_key(request)
        rid = request.scope["state"].get("request_id", "")
        if "application/x-ndjson" in request.headers.get("accept", ""):

            async def produce(emit: Callable[[dict[str, Any]], None]) -> None:
                chunks = OutputLines(emit, spec.raw, None)
                result = await self._run_or_error(request, channel.alias, spec, client, on_output=chunks)
                chunks.flush()
                emit(result.to_dict(raw=spec.raw, output=False))

            return NDJSONStream(produce, rid, watch)
        try:
            result = await until_disconnect(watch, self._run_one(request, channel.alias, spec, client))
        except Disconnected:
            log.info("client went away during request %s on %s: command cancelled", rid, channel.alias)
            self._audit(request, "run", alias=channel.alias, command=spec.command, error="client_disconnected")
            return Response(status_code=499)
        return await json_answer(result.to_dict(raw=spec.raw), output_bytes=_output_bytes(result))

    async def _run_one(
        self,
        request: Request,
        alias: str,
        spec: CommandSpec,
        client: str,
        on_output: Callable[[str, bytes], None] | None = None,
    ) -> Result:
        """Run and account for one command; a refusal comes back as a Result with ``error``
        when ``as_result`` callers (fan-out, streams) need one, else it raises."""
        started = time.monotonic()
        with self._draining_waits():
            try:
                mode = self.pool.get(alias).effective_mode(spec.mode, spec.input, spec.pty)
                result = await self.pool.run(
                    alias,
                    spec.command,
                    input=spec.input,
                    timeout=UNSET if spec.timeout is None else spec.timeout,
                    env=spec.env,
                    pty=spec.pty,
                    on_output=on_output,
                    client=client,
                    mode=spec.mode,
                )
            except SSHPoolError as exc:
                self.metrics.refused(exc.code, alias)
                self._audit(
                    request,
                    "run",
                    alias=alias,
                    command=spec.command,
                    error=exc.code,
                    duration=round(time.monotonic() - started, 6),
                )
                raise
        if result.error == "channel_stopped" and self.state.draining:
            result = replace(result, exception="sshpoold is shutting down: the command was signalled before it ended")
        self.metrics.observe(result, time.monotonic() - started, mode, alias)
        self._audit(
            request,
            "run",
            alias=alias,
            command=spec.command,
            exit_code=result.exit_code,
            error=result.error,
            signal=result.signal,
            duration=round(result.duration, 6),
        )
        return result

    async def _run_or_error(
        self,
        request: Request,
        alias: str,
        spec: CommandSpec,
        client: str,
        on_output: Callable[[str, bytes], None] | None = None,
    ) -> Result:
        try:
            return await self._run_one(request, alias, spec, client, on_output)
        except SSHPoolError as exc:
            return Result(error=exc.code, exception=exc.message, alias=alias)

    async def fan_out(self, request: Request) -> Response:
        """Run a command on many channels at once."""
        self._refuse_while_draining()
        body = await read_body(request, "command", (*COMMAND_FIELDS, "channels"))
        if "channels" not in body.fields:
            raise RequestError('field "channels" is required: a list of aliases, "*" or a glob like "web*"; send JSON')
        aliases = self._select(body.fields["channels"])
        spec = command_spec(Body(body.text, {k: v for k, v in body.fields.items() if k != "channels"}))
        client = _client_key(request)
        limit = asyncio.Semaphore(self.state.fanout_limit)
        rid = request.scope["state"].get("request_id", "")

        async def one(alias: str, on_output: Callable[[str, bytes], None] | None = None) -> Result:
            async with limit:
                if alias not in self.pool:
                    return Result(error="unknown_alias", exception=f"unknown alias {alias!r}", alias=alias)
                return await self._run_or_error(request, alias, spec, client, on_output)

        if "application/x-ndjson" in request.headers.get("accept", ""):

            async def produce(emit: Callable[[dict[str, Any]], None]) -> None:
                results: dict[str, dict[str, Any]] = {}

                async def streamed(alias: str) -> None:
                    chunks = OutputLines(emit, spec.raw, alias)
                    result = await one(alias, chunks)
                    chunks.flush()
                    results[alias] = result.to_dict(raw=spec.raw, output=False)
                    emit({"alias": alias, "result": results[alias]})

                await asyncio.gather(*(streamed(a) for a in aliases))
                emit({"results": {a: results[a] for a in aliases}})

            return NDJSONStream(produce, rid)

        async def everyone() -> list[Result]:
            return list(await asyncio.gather(*(one(a) for a in aliases)))

        try:
            results = await until_disconnect(request.receive, everyone())
        except Disconnected:
            return Response(status_code=499)
        return await json_answer(
            {a: r.to_dict(raw=spec.raw) for a, r in zip(aliases, results, strict=True)},
            output_bytes=sum(map(_output_bytes, results)),
        )

    def _select(self, channels: Any) -> list[str]:
        """The aliases a ``channels`` field names: ``"*"``, a glob, a comma-separated list or a
        JSON array, whose terms are aliases or globs (``"w*,db1"``). A glob that matches nothing
        is a 404 naming it; a plain alias that is not there is answered in its own result."""
        if isinstance(channels, str):
            chosen = terms(channels)
        elif isinstance(channels, list) and channels and all(isinstance(c, str) for c in channels):
            chosen = list(channels)
        else:
            chosen = []
        if not chosen:
            raise RequestError('field "channels" must be a non-empty list of aliases, "*" or a glob pattern')
        return expand(chosen, self.pool.aliases())

    # -- operations

    async def healthz(self) -> Response:
        """The process is up."""
        return PlainTextResponse("")

    async def readyz(self) -> Response:
        """Ready: state loaded, listening, not draining."""
        return PlainTextResponse("", status_code=200 if self.state.ready and not self.state.draining else 503)

    async def metrics_page(self) -> Response:
        """Prometheus metrics."""
        return Response(self.metrics.render(), media_type=METRICS_TYPE)

    async def docs(self) -> Response:
        return Response(DOCS_HTML, media_type="text/html")

    async def static(self, name: str) -> Response:
        types = {".js": "application/javascript", ".css": "text/css", ".png": "image/png"}
        kind = next((t for ext, t in types.items() if name.endswith(ext)), None)
        try:
            data = (
                (resources.files("sshpool.daemon") / "static" / name).read_bytes() if kind and "/" not in name else None
            )
        except (FileNotFoundError, IsADirectoryError):
            data = None
        if data is None:
            return PlainTextResponse("NOT FOUND", status_code=404)
        return Response(data, media_type=kind, headers={"Cache-Control": "public, max-age=86400"})


async def _addresses(
    host: str, nets: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]
) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    """The host's addresses, looked up only when needed: a literal IP as is, /etc/hosts names
    from the file, and DNS only when the allow-list reaches beyond loopback (so a loopback-only
    daemon never sends a lookup out)."""
    try:
        return [ipaddress.ip_address(host.split("%")[0])]
    except ValueError:
        pass
    from_file = _etc_hosts().get(host.lower())
    if from_file:
        return from_file
    if all(n.is_loopback for n in nets):
        return []
    loop = asyncio.get_running_loop()
    try:
        async with asyncio.timeout(5):
            infos = await loop.getaddrinfo(host, None)
    except (OSError, TimeoutError):
        return []
    return [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos]


def _etc_hosts() -> dict[str, list[ipaddress.IPv4Address | ipaddress.IPv6Address]]:
    table: dict[str, list[ipaddress.IPv4Address | ipaddress.IPv6Address]] = {
        "localhost": [ipaddress.ip_address("127.0.0.1"), ipaddress.ip_address("::1")]
    }
    with contextlib.suppress(OSError):
        with open("/etc/hosts", encoding="utf-8", errors="replace") as fh:
            for line in fh:
                parts = line.split("#", 1)[0].split()
                if len(parts) < 2:
                    continue
                try:
                    addr = ipaddress.ip_address(parts[0])
                except ValueError:
                    continue
                for name in parts[1:]:
                    table.setdefault(name.lower(), []).append(addr)
    return table


def _output_bytes(result: Result) -> int:
    return len(result.stdout) + len(result.stderr)
