"""The REST client of sshpoold: the same verbs as a direct connection, over HTTP.

It finds the daemon and its token as every sshpool client does (:mod:`sshpool.client.discovery`),
always asks for problem+json, and turns each answer's ``code`` back into the exception class a
direct connection raises (:mod:`sshpool.client.errors`), so callers catch by meaning whichever
way they reach a host. The token never appears in a repr, a log line or an error.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import AsyncGenerator, Sequence
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import quote

import httpx

from sshpool.client.discovery import DaemonEndpoint, find_daemon, find_token
from sshpool.client.duplex import open_exchange
from sshpool.client.errors import ErrorMap
from sshpool.client.fanout import FanOut
from sshpool.client.files import download, upload
from sshpool.client.transport import StreamsTransport
from sshpool.client.trees import RestRemote
from sshpool.client.wire import (
    ACCEPT_FRAMES,
    ACCEPT_NDJSON,
    CommandRequest,
    CommandTimeout,
    command_request,
    frame_events,
    http_deadline,
    http_timeout,
    ndjson_docs,
    started_of,
)
from sshpool.errors import HostKeyError, SSHPoolError
from sshpool.inputs import StdinSource
from sshpool.result import Result
from sshpool.trees import Progress, get_tree, put_tree

__all__ = ["AsyncDaemonClient"]


class AsyncDaemonClient(FanOut):
    """sshpoold over REST, asynchronously. One HTTP connection pool (:attr:`http`); use
    ``async with`` or call :meth:`aclose`. :attr:`errors` is the one translation of its failures,
    for code that sends its own requests on :attr:`http`."""

    def __init__(
        self,
        url: str | DaemonEndpoint | None = None,
        token: str | None = None,
        *,
        timeout: float = 30.0,
        client_id: str | None = None,
    ) -> None:
        # An endpoint found already keeps how it was found, for a "not running" to say.
        self.endpoint: DaemonEndpoint = url if isinstance(url, DaemonEndpoint) else find_daemon(url)
        self._token, self.token_source = find_token(token)
        self.timeout = timeout
        self.client_id = client_id
        self.errors = ErrorMap(self.endpoint, self.token_source)
        self._http: httpx.AsyncClient | None = None

    def __repr__(self) -> str:
        return f"{type(self).__name__}(url={self.url!r})"

    @property
    def url(self) -> str:
        return f"unix:{self.endpoint.socket}" if self.endpoint.socket else self.endpoint.url

    @property
    def has_token(self) -> bool:
        """A token was found (never which: ``token_source`` says where from)."""
        return bool(self._token)

    def auth_headers(self) -> dict[str, str]:
        """The token's and the client id's headers, for a connection of another kind than
        :attr:`http`'s (a terminal's WebSocket)."""
        headers = {"Authorization": f"Bearer {self._token}"} if self._token else {}
        return headers | ({"X-SSHPool-Client": self.client_id} if self.client_id else {})

    @property
    def http(self) -> httpx.AsyncClient:
        """The HTTP connection pool, opened on first use (again after :meth:`aclose`): the
        daemon's address, the token and problem+json are set on it."""
        if self._http is None:
            headers = {"Accept": "application/json", "User-Agent": "sshpool-client"}
            if self._token:
                headers["Authorization"] = f"Bearer {self._token}"
            if self.client_id:
                headers["X-SSHPool-Client"] = self.client_id
            # An idle connection is dropped here before sshpoold's keep-alive timeout (uvicorn's 5 s)
            # can close it under a request: with equal timeouts a reused connection could be closed
            # by the server as the request went out, and the command failed with a ReadError.
            transport: httpx.AsyncBaseTransport
            if self.endpoint.url.startswith("https:"):
                limits = httpx.Limits(max_connections=100, max_keepalive_connections=20, keepalive_expiry=2.0)
                transport = httpx.AsyncHTTPTransport(limits=limits)
            else:
                transport = StreamsTransport(uds=self.endpoint.socket, keepalive_expiry=2.0, max_idle=20)
            self._http = httpx.AsyncClient(
                base_url=self.endpoint.url,
                headers=headers,
                timeout=self.timeout,
                transport=transport,
                follow_redirects=False,
            )
        return self._http

    @staticmethod
    def channel_path(alias: str, suffix: str = "") -> str:
        """The path of a channel's resource: ``/channels/<alias><suffix>``, the alias quoted."""
        return f"/channels/{quote(alias, safe='')}{suffix}"

    async def aclose(self) -> None:
        if self._http is not None:
            http, self._http = self._http, None
            await http.aclose()

    async def __aenter__(self) -> AsyncDaemonClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def _request(
        self, method: str, path: str, *, alias: str | None = None, deadline: float | None = None, json: Any = None
    ) -> httpx.Response:
        deadline = deadline if deadline is not None else self.timeout
        with self.errors.mapping(deadline):
            resp = await self.http.request(method, path, json=json, timeout=deadline)
        await self.errors.check(resp, alias)
        return resp

    async def status(self) -> dict[str, dict[str, Any]]:
        """Every channel's info, by alias."""
        doc: dict[str, dict[str, Any]] = (await self._request("GET", "/channels")).json()
        return doc

    async def info(self, alias: str) -> dict[str, Any]:
        """One channel's info; UnknownAliasError when the daemon has no such channel."""
        doc: dict[str, Any] = (await self._request("GET", self.channel_path(alias), alias=alias)).json()
        return doc

    async def start(self, dsn: str, *, wait: float | None = None, tags: Sequence[str] | None = None) -> dict[str, Any]:
        """Add a channel; ``tags`` join the DSN's own ``?tags``. ``connected`` is False when the
        daemon kept it but is still retrying (``message`` says why)."""
        body: dict[str, Any] = {"dsn": dsn}
        if wait is not None:
            body["wait"] = wait
        if tags is not None:
            body["tags"] = list(tags)
        resp = await self._request("POST", "/channels", json=body, deadline=(wait or 10.0) + self.timeout)
        return started_of(resp, dsn.split("://", 1)[0])

    async def update(self, alias: str, dsn: str | None = None, *, tags: Sequence[str] | None = None) -> dict[str, Any]:
        """Put a new DSN in place (a new password, port...: the channel reconnects), or with
        ``tags`` alone give it these tags instead of its own (``[]`` clears them) on the links it
        has; with both, ``tags`` join the DSN's."""
        body: dict[str, Any] = {} if dsn is None else {"dsn": dsn}
        if tags is not None:
            body["tags"] = list(tags)
        if not body:
            raise TypeError("update() needs a dsn, tags, or both")
        path = self.channel_path(alias)
        resp = await self._request("PATCH", path, alias=alias, json=body, deadline=10.0 + self.timeout)
        return started_of(resp, alias)

    async def import_channels(
        self,
        source: str,
        *,
        path: str | None = None,
        inventory: Any = None,
        tag: str | None = None,
        replace: bool = False,
        with_passwords: bool = False,
    ) -> dict[str, Any]:
        """Channels from an inventory (``ssh-config``, ``ansible``, ``digitalocean``): the
        daemon's ``{"added", "kept", "changed", "skipped"}``."""
        body: dict[str, Any] = {"from": source, "replace": replace}
        for name, value in (("path", path), ("inventory", inventory), ("tag", tag)):
            if value is not None:
                body[name] = value
        if with_passwords:
            body["with_passwords"] = True
        resp = await self._request("POST", "/channels/import", json=body, deadline=60.0 + self.timeout)
        doc: dict[str, Any] = resp.json()
        return doc

    async def stop(self, alias: str) -> None:
        await self._request("DELETE", self.channel_path(alias), alias=alias, deadline=30.0 + self.timeout)

    async def accept_host_key(self, alias: str) -> str:
        """Trust the key the channel's host offers now; returns its SHA256 fingerprint."""
        path = self.channel_path(alias, "/hostkey")
        resp = await self._request("POST", path, alias=alias, deadline=30.0 + self.timeout)
        return str(resp.json()["fingerprint"])

    async def health(self) -> dict[str, Any]:
        """Is the daemon up (``/healthz``) and ready (``/readyz``)? Needs no token."""
        started = time.monotonic()
        with self.errors.mapping(self.timeout):
            alive = await self.http.get("/healthz", timeout=self.timeout)
            ready = await self.http.get("/readyz", timeout=self.timeout)
        return {
            "url": self.url,
            "alive": alive.status_code == 200,
            "ready": ready.status_code == 200,
            "latency": round(time.monotonic() - started, 6),
        }

    async def put_file(
        self,
        alias: str,
        local: str | os.PathLike[str],
        remote: str,
        *,
        recursive: bool = False,
        progress: Progress | None = None,
    ) -> int:
        """Stream ``local`` to ``remote`` on the channel's host (relative to the login directory);
        answers the size written. ``recursive=True`` copies a directory tree as ``scp -r`` does
        (:mod:`sshpool.trees`), one file at a time, telling ``progress`` of each. File errors are
        the OSErrors a local copy raises; a directory without ``recursive`` is IsADirectoryError."""
        if recursive:
            return await put_tree(self._tree(alias), Path(local), remote, progress)
        return await upload(self.http, self.errors, self.channel_path(alias, "/files"), alias, local, remote)

    async def get_file(
        self,
        alias: str,
        remote: str,
        local: str | os.PathLike[str] | BinaryIO,
        *,
        recursive: bool = False,
        progress: Progress | None = None,
    ) -> int:
        """Stream ``remote`` from the channel's host into ``local`` (a path, or an open binary
        stream such as stdout); answers the bytes received. A transfer that breaks off leaves no
        partial file behind (a stream has what arrived). ``recursive=True`` copies a directory
        tree (``local`` a path), as :meth:`put_file`."""
        if recursive:
            if not isinstance(local, (str, os.PathLike)):
                raise TypeError("a directory tree is copied to a local path, not to a stream")
            return await get_tree(self._tree(alias), remote, Path(local), progress)
        try:
            return await download(self.http, self.errors, self.channel_path(alias, "/files"), alias, remote, local)
        except OSError as exc:
            if type(exc) is not OSError:  # FileNotFoundError, PermissionError: as they are
                raise
            raise await self._tree(alias).is_directory_error(remote, exc) from None

    def _tree(self, alias: str) -> RestRemote:
        return RestRemote(self.http, self.errors, self.channel_path(alias), alias)

    async def run(
        self,
        alias: str,
        command: str,
        *,
        input: StdinSource | None = None,
        timeout: CommandTimeout = None,
        env: dict[str, str] | None = None,
        mode: str | None = None,
    ) -> Result:
        """Run ``command``; a command that started always comes back as a Result (check() it).
        ``input`` may be a binary file or an iterator of bytes: it is streamed, of any size.
        ``timeout`` is seconds; None is the daemon's default (``--command-timeout``), and
        ``"none"`` (:data:`~sshpool.client.wire.NO_LIMIT`) no limit: the answer is then awaited as long
        as the command runs."""
        events = self.stream(alias, command, input=input, timeout=timeout, env=env, mode=mode)
        try:
            async with contextlib.aclosing(events):
                async for event in events:
                    if isinstance(event, Result):
                        return event
        except HostKeyError as exc:  # the frames' outcome has no fingerprint: the channel's info does
            if exc.fingerprint is None:
                exc.fingerprint = await self._offered_key(alias)
            raise
        raise AssertionError("the stream always ends with a Result")  # pragma: no cover

    async def _offered_key(self, alias: str) -> str | None:
        with contextlib.suppress(SSHPoolError):
            key = (await self.info(alias)).get("host_key")
            return str(key).split()[-1] if key else None
        return None

    async def stream(
        self,
        alias: str,
        command: str,
        *,
        input: StdinSource | None = None,
        timeout: CommandTimeout = None,
        env: dict[str, str] | None = None,
        mode: str | None = None,
        pty: bool = False,
        keep: bool = True,
    ) -> AsyncGenerator[tuple[str, bytes] | Result, None]:
        """``("stdout"|"stderr", data)`` as the output arrives, then the Result (with all output,
        or none with ``keep=False``, for output of any size). ``input`` may be a binary file or an
        iterator of bytes: it is streamed. Leaving the loop early (or cancelling) closes the
        request, and the daemon stops the command."""
        request = command_request(command, input=input, timeout=timeout, env=env, mode=mode, pty=pty)
        pieces = self._body(self.channel_path(alias), request, http_deadline(timeout), alias, ACCEPT_FRAMES)
        async with contextlib.aclosing(frame_events(pieces, alias, command, keep=keep)) as events:
            async for event in events:
                yield event
                if isinstance(event, Result):
                    return
        raise self.errors.transport_error(httpx.ReadError("the stream ended without a result"), 0, command=True)

    async def _ndjson(
        self, path: str, request: CommandRequest, deadline: float | None, alias: str | None
    ) -> AsyncGenerator[dict[str, Any], None]:
        pieces = self._body(path, request, deadline, alias, ACCEPT_NDJSON)
        async with contextlib.aclosing(pieces):
            async for doc in ndjson_docs(pieces):
                yield doc

    def _body(
        self, path: str, request: CommandRequest, deadline: float | None, alias: str | None, accept: str
    ) -> AsyncGenerator[bytes, None]:
        """The body of a command's streamed answer (NDJSON or frames, as ``accept`` asks), in pieces."""
        if request.stdin is not None:
            return self._duplex(path, request, deadline, alias, accept)
        return self._posted(path, request, deadline, alias, accept)

    async def _posted(
        self, path: str, request: CommandRequest, deadline: float | None, alias: str | None, accept: str
    ) -> AsyncGenerator[bytes, None]:
        with self.errors.mapping(deadline, command=True):
            timeout = http_timeout(deadline, self.timeout)
            headers = {"Accept": accept}
            async with self.http.stream("POST", path, json=request.json, headers=headers, timeout=timeout) as resp:
                await self.errors.check(resp, alias)
                async for piece in resp.aiter_raw():
                    yield piece

    async def _duplex(
        self, path: str, request: CommandRequest, deadline: float | None, alias: str | None, accept: str
    ) -> AsyncGenerator[bytes, None]:
        """The streamed-stdin form: stdin goes up while the output comes down (see
        :mod:`sshpool.client.duplex`); once the consumer has the result and closes this, the
        upload stops, as ssh does."""
        assert request.stdin is not None
        url = self.http.base_url.join(httpx.URL(path, params=request.params))
        fields = {k: v for k, v in self.http.headers.items() if k.lower() not in ("accept", "content-length")}
        fields.update({"Accept": accept, "Content-Type": "application/octet-stream"})
        with self.errors.mapping(deadline, command=True):
            exchange = await open_exchange(
                self.endpoint.url,
                self.endpoint.socket,
                url.raw_path.decode("ascii"),
                fields,
                request.stdin,
                connect_timeout=self.timeout if deadline is None else min(self.timeout, deadline),
                read_timeout=deadline,
            )
        try:
            with self.errors.mapping(deadline, command=True):
                if exchange.status >= 300:
                    content = b"".join([chunk async for chunk in exchange.body()])
                    answer = httpx.Response(
                        exchange.status, headers=exchange.headers, content=content, request=httpx.Request("POST", url)
                    )
                    raise self.errors.response_error(answer, alias)
                async for piece in exchange.body():
                    yield piece
        finally:
            await exchange.aclose()
