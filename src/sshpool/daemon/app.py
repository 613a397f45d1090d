"""The REST API over a :class:`~sshpool.core.pool.Pool`: the classic routes, kept byte-compatible for its
clients, plus fan-out, live output, health, metrics and a local /docs.

Here the app is wired: its error answers and its route table. The endpoints are in
:mod:`sshpool.daemon.channels` and :mod:`sshpool.daemon.runs`; the guard (request id, Host check, token,
body limit) in :mod:`sshpool.daemon.guard`, the two hot routes (run a command, fan-out), which skip
FastAPI's layers, in :mod:`sshpool.daemon.hotpath`, the answers in :mod:`sshpool.daemon.answers`, the body rule
in :mod:`sshpool.daemon.bodies`, the OpenAPI text in :mod:`sshpool.daemon.apidoc`. Endpoints read the raw
body themselves, so FastAPI never answers 422.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from functools import partial
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from sshpool._version import __version__
from sshpool.core.pool import Pool
from sshpool.daemon.allowlist import parse_networks
from sshpool.daemon.answers import error_answer, problem, wants_json
from sshpool.daemon.apidoc import RESPONSES, TAGS, body_doc, summary_of, tag_of
from sshpool.daemon.audit import AuditLog
from sshpool.daemon.channels import ChannelEndpoints
from sshpool.daemon.guard import Guard, host_name
from sshpool.daemon.hotpath import HotPath
from sshpool.daemon.imports import IMPORT_PATH, ImportEndpoints
from sshpool.daemon.metrics import Metrics
from sshpool.daemon.runs import RunEndpoints
from sshpool.daemon.state import FANOUT_LIMIT, ApiState
from sshpool.daemon.store import Store
from sshpool.daemon.terminals import TerminalEndpoints
from sshpool.defaults import Settings
from sshpool.errors import SSHPoolError

__all__ = ["App", "create_app"]

Endpoint = Callable[..., Awaitable[Response]]


class App(FastAPI):
    """FastAPI with a front door: :attr:`front` (the hot routes, else FastAPI's own stack)."""

    front: ASGIApp

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.front(scope, receive, send)


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
    app = App(
        title="sshpoold",
        version=__version__,
        description="Persistent SSH channels by alias: start, stop, status and run commands in milliseconds.",
        docs_url=None,
        redoc_url=None,
        openapi_url="/openapi.json",
        openapi_tags=[{k: v for k, v in tag.items() if k != "x-operations"} for tag in TAGS],
    )
    app.state.api = state
    app.state.metrics = metrics
    _answer_errors(app)
    runs = RunEndpoints(pool, state, metrics)
    terminals = TerminalEndpoints(pool, state, metrics)
    _add_routes(app, ChannelEndpoints(pool, state, metrics), runs, ImportEndpoints(pool, state, metrics), terminals)
    app.add_middleware(Guard, state=state, metrics=metrics)
    hot = HotPath(partial(FastAPI.__call__, app), runs)
    hot.hot = Guard(hot.handle, state=state, metrics=metrics)
    app.front = hot
    return app


def _answer_errors(app: FastAPI) -> None:
    """Our errors, Starlette's 404/405 and FastAPI's validation errors, all in the one answer format."""

    async def on_sshpool_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, SSHPoolError)
        return error_answer(exc, json_body=wants_json(request.scope["headers"]))

    async def on_http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        as_json = wants_json(request.scope["headers"])
        if exc.status_code == 405:
            allowed = sorted(_allowed_methods(app.router.routes, request.scope) or {"GET"})
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
        return problem(400, "bad_request", f"invalid request: {exc}", json_body=wants_json(request.scope["headers"]))

    app.add_exception_handler(SSHPoolError, on_sshpool_error)
    app.add_exception_handler(StarletteHTTPException, on_http_error)
    app.add_exception_handler(RequestValidationError, on_validation)


def _add_routes(
    app: FastAPI, channels: ChannelEndpoints, runs: RunEndpoints, imports: ImportEndpoints, terms: TerminalEndpoints
) -> None:
    """The route table: method, path, endpoint, operationId, its answers in apidoc.RESPONSES and
    its body in apidoc.body_doc, its group in apidoc.TAGS. An endpoint's summary is its docstring's
    first sentence."""
    routes: list[tuple[str, str, Endpoint, str, str, str | None]] = [
        ("GET", "/channels", channels.list_channels, "listChannels", "list", None),
        ("POST", "/channels", channels.start_channel, "startChannel", "start", "dsn"),
        ("POST", IMPORT_PATH, imports.import_channels, "importChannels", "import", "import"),  # before {alias}
        ("GET", "/channels/{alias}", channels.get_channel, "getChannel", "info", None),
        ("POST", "/channels/{alias}", runs.run_command, "runCommand", "run", "command"),
        ("DELETE", "/channels/{alias}", channels.stop_channel, "stopChannel", "stop", None),
        ("PATCH", "/channels/{alias}", channels.update_channel, "updateChannel", "start", "patch"),
        ("POST", "/channels/{alias}/hostkey", channels.accept_host_key, "acceptHostKey", "hostkey", None),
        ("GET", "/channels/{alias}/audit", channels.channel_audit, "channelAudit", "audit", "audit"),
        ("PUT", "/channels/{alias}/files", channels.put_file, "putFile", "put", "file"),
        ("GET", "/channels/{alias}/files", channels.get_file, "getFile", "get", "path"),
        ("PATCH", "/channels/{alias}/files", channels.chmod_file, "chmodFile", "chmod", "chmod"),
        ("GET", "/channels/{alias}/dirs", channels.list_dir, "listDir", "listdir", "listdir"),
        ("PUT", "/channels/{alias}/dirs", channels.make_dir, "makeDir", "mkdir", "mkdir"),
        ("POST", "/run", runs.fan_out, "fanOut", "fanout", "fanout"),
        ("POST", "/tickets", terms.issue_ticket, "issueTicket", "ticket", "ticket"),
        ("GET", "/healthz", channels.healthz, "healthz", "health", None),
        ("GET", "/readyz", channels.readyz, "readyz", "ready", None),
        ("GET", "/metrics", channels.metrics_page, "metrics", "metrics", None),
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
            summary=summary_of(endpoint.__doc__, op_id),
            tags=[tag_of(op_id)],
        )
    # Any other method on the import path is a 405 naming POST, not a request about a channel "import".
    at = next(i for i, route in enumerate(r.routes) if getattr(route, "path", None) == IMPORT_PATH) + 1
    others = ["GET", "PUT", "PATCH", "DELETE"]
    r.routes.insert(at, Route(IMPORT_PATH, _not_allowed, methods=others, include_in_schema=False))
    r.add_api_websocket_route("/channels/{alias}/terminal", terms.terminal)
    r.add_api_route("/docs", channels.docs, methods=["GET"], include_in_schema=False)
    r.add_api_route("/ui", channels.ui, methods=["GET"], include_in_schema=False)
    r.add_api_route("/static/{name}", channels.static, methods=["GET"], include_in_schema=False)


def _allowed_methods(routes: Iterable[Any], scope: Scope) -> set[str]:
    """Every method the documented routes serve on this path (Starlette's 405 names only the
    first route's). A fixed path (``/channels/import``) is its own resource: the ``{alias}``
    routes its name also matches do not count, as no channel may be named so."""
    matching = [
        route
        for route in routes
        if getattr(route, "include_in_schema", True) and route.matches({**scope, "method": "GET"})[0] != Match.NONE
    ]
    fixed = [route for route in matching if not getattr(route, "param_convertors", None)]
    methods: set[str] = set()
    for route in fixed or matching:
        methods |= getattr(route, "methods", None) or set()
    return methods - {"HEAD"} | ({"HEAD"} if "GET" in methods else set())


async def _not_allowed(request: Request) -> Response:
    raise StarletteHTTPException(405)
