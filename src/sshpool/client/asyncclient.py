"""The REST client of sshpoold: the same verbs as a direct connection, over HTTP.

It finds the daemon the way every sshpool client does (an explicit URL, ``SSHPOOL_URL``,
``daemon.json`` in the state dir, then 127.0.0.1:8877) and its token (``SSHPOOL_TOKEN``, then the
state dir's ``token`` file), always asks for problem+json, and turns each answer's ``code`` back
into the exception class a direct connection raises, so callers catch by meaning whichever way
they reach a host. The token never appears in a repr, a log line or an error.
"""

from __future__ import annotations

import base64
import contextlib
import errno
import json
import os
import time
from collections.abc import AsyncGenerator, AsyncIterator, Iterator, Mapping
from dataclasses import dataclass, replace
from typing import Any, BinaryIO, TypeVar
from urllib.parse import quote, urlsplit

import anyio
import httpx

from sshpool.bridge import call, iterate
from sshpool.client.duplex import open_exchange
from sshpool.defaults import default_state_dir
from sshpool.errors import (
    CommandTimeoutError,
    DaemonUnavailableError,
    RequestError,
    SSHPoolError,
    TokenError,
    UnknownAliasError,
    error_from_code,
)
from sshpool.inputs import StdinSource, is_streamed, stdin_of
from sshpool.result import Result

__all__ = [
    "DEFAULT_URL",
    "AsyncDaemonClient",
    "DaemonClient",
    "DaemonEndpoint",
    "Done",
    "Output",
    "find_daemon",
    "find_token",
    "pid_alive",
]

DEFAULT_URL = "http://127.0.0.1:8877"
#: A command's HTTP deadline is its own timeout plus this margin, so the daemon's answer (with the
#: partial output of a timed-out command) arrives before the client gives up.
MARGIN = 10.0
#: The daemon's default command timeout, used for the HTTP deadline when the caller gives none.
COMMAND_TIMEOUT = 600.0
#: File transfers have no overall deadline (a big file on a slow link takes what it takes).
TRANSFER_TIMEOUT = httpx.Timeout(None, connect=10.0)
_CHUNK = 256 * 1024
#: The ``code`` of a file error, as the OSError a local file operation raises.
FILE_ERRORS: dict[str, tuple[type[OSError], int]] = {
    "file_not_found": (FileNotFoundError, errno.ENOENT),
    "permission_denied": (PermissionError, errno.EACCES),
    "file_error": (OSError, errno.EIO),
}

T = TypeVar("T")


@dataclass(frozen=True)
class DaemonEndpoint:
    """Where the daemon listens: ``url`` (for messages and the Host header), ``socket`` for a Unix
    socket, and ``source`` saying how it was found (shown when it cannot be reached)."""

    url: str
    socket: str | None = None
    source: str = "default"

    @property
    def where(self) -> str:
        if self.socket:
            return f"unix:{self.socket}"
        parts = urlsplit(self.url)
        return parts.netloc or self.url


@dataclass(frozen=True)
class Output:
    """A chunk of live output: ``stream`` is ``stdout`` or ``stderr``; ``alias`` is set in a fan-out."""

    stream: str
    data: bytes
    alias: str | None = None


@dataclass(frozen=True)
class Done:
    """One channel of a fan-out finished: a Result, or the error that kept its command from starting."""

    alias: str
    outcome: Result | SSHPoolError


def pid_alive(pid: Any) -> bool:
    """``pid`` names a process that runs now (one of another user's counts)."""
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def find_daemon(url: str | None = None, environ: Mapping[str, str] | None = None) -> DaemonEndpoint:
    """The argument, else ``SSHPOOL_URL``, else ``daemon.json`` (its pid alive), else 8877."""
    env = os.environ if environ is None else environ
    if url:
        return _endpoint(url, "argument")
    if env.get("SSHPOOL_URL"):
        return _endpoint(env["SSHPOOL_URL"], "SSHPOOL_URL")
    path = default_state_dir(env) / "daemon.json"
    with contextlib.suppress(OSError, ValueError):
        info = json.loads(path.read_text(encoding="utf-8"))
        if isinstance(info, dict) and pid_alive(info.get("pid")):
            if isinstance(info.get("socket"), str):
                return DaemonEndpoint("http://localhost", info["socket"], str(path))
            if isinstance(info.get("url"), str):
                return DaemonEndpoint(info["url"].rstrip("/"), None, str(path))
    return DaemonEndpoint(DEFAULT_URL, None, "default")


def _endpoint(url: str, source: str) -> DaemonEndpoint:
    url = url.strip()
    if url.startswith("unix:"):
        return DaemonEndpoint("http://localhost", url[len("unix:") :], source)
    if "://" not in url:
        url = "http://" + url
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise RequestError(
            f"{source}: {url!r} is not a daemon address; use http://HOST:PORT, https://HOST:PORT or unix:/path"
        )
    return DaemonEndpoint(url.rstrip("/"), None, source)


def find_token(token: str | None = None, environ: Mapping[str, str] | None = None) -> tuple[str | None, str]:
    """The token and where it came from: the argument, ``SSHPOOL_TOKEN``, then ``<state dir>/token``."""
    env = os.environ if environ is None else environ
    if token:
        return token, "the token argument"
    if env.get("SSHPOOL_TOKEN"):
        return env["SSHPOOL_TOKEN"].strip(), "SSHPOOL_TOKEN"
    path = default_state_dir(env) / "token"
    try:
        text = path.read_text(encoding="utf-8").strip()
    except OSError:
        return None, f"no SSHPOOL_TOKEN and no readable {path}"
    return (text or None), str(path)


def _command_body(
    command: str,
    *,
    input: bytes | str | None,
    timeout: float | None,
    env: Mapping[str, str] | None,
    mode: str | None = None,
    pty: bool = False,
) -> dict[str, Any]:
    body: dict[str, Any] = {"command": command, "raw": True}
    if mode is not None:
        body["mode"] = mode
    if pty:
        body["pty"] = True
    if timeout is not None:
        body["timeout"] = timeout
    if isinstance(input, str):
        body["input"] = input
    elif input is not None:
        body["input_b64"] = base64.b64encode(bytes(input)).decode("ascii")
    if env:
        body["env"] = dict(env)
    return body


def _request_of(
    command: str,
    *,
    input: StdinSource | None,
    timeout: float | None,
    env: Mapping[str, str] | None,
    mode: str | None = None,
    pty: bool = False,
) -> dict[str, Any]:
    """httpx arguments for one command: JSON, or, when stdin is a stream (a file, an iterator), the
    streamed form: the body is stdin and the command and its options go in the query string."""
    if not is_streamed(input):
        data = input if isinstance(input, str) else stdin_of(input)
        assert data is None or isinstance(data, (str, bytes))
        return {"json": _command_body(command, input=data, timeout=timeout, env=env, mode=mode, pty=pty)}
    params: list[tuple[str, str]] = [("command", command), ("raw", "true")]
    if mode is not None:
        params.append(("mode", mode))
    if pty:
        params.append(("pty", "true"))
    if timeout is not None:
        params.append(("timeout", repr(float(timeout))))
    params += [("env", f"{k}={v}") for k, v in (env or {}).items()]
    return {"params": params, "content": stdin_of(input), "headers": {"Content-Type": "application/octet-stream"}}


def _http_deadline(timeout: float | None) -> float:
    return (timeout if timeout is not None else COMMAND_TIMEOUT) + MARGIN


#: ``error`` codes of a command that started: these stay Results (``check()`` raises for them).
STARTED = frozenset({"timeout", "link_lost", "channel_stopped", "signal", "command_failed"})


def outcome_of(d: dict[str, Any], alias: str, command: str | None = None) -> Result | SSHPoolError:
    """A streamed or fanned-out result: a Result when the command started, else the error that
    kept it from starting (unknown alias, channel unavailable...), as run() would raise it."""
    code = d.get("error")
    if code and code not in STARTED and d.get("exit_code") is None and not d.get("signal"):
        return error_from_code(str(code), str(d.get("exception") or code), alias=alias)
    return Result.from_dict(d, alias=alias, command=command)


class AsyncDaemonClient:
    """sshpoold over REST, asynchronously. One HTTP connection pool; use ``async with`` or call
    :meth:`aclose`."""

    def __init__(
        self,
        url: str | None = None,
        token: str | None = None,
        *,
        timeout: float = 30.0,
        client_id: str | None = None,
    ) -> None:
        self.endpoint = find_daemon(url)
        self._token, self.token_source = find_token(token)
        self.timeout = timeout
        self.client_id = client_id
        self._http: httpx.AsyncClient | None = None

    def __repr__(self) -> str:
        return f"AsyncDaemonClient(url={self.url!r})"

    @property
    def url(self) -> str:
        return f"unix:{self.endpoint.socket}" if self.endpoint.socket else self.endpoint.url

    @property
    def has_token(self) -> bool:
        """A token was found (never which: ``token_source`` says where from)."""
        return bool(self._token)

    # -- plumbing

    def _client(self) -> httpx.AsyncClient:
        if self._http is None:
            headers = {"Accept": "application/json", "User-Agent": "sshpool-client"}
            if self._token:
                headers["Authorization"] = f"Bearer {self._token}"
            if self.client_id:
                headers["X-SSHPool-Client"] = self.client_id
            # An idle connection is dropped here before sshpoold's keep-alive timeout (uvicorn's 5 s)
            # can close it under a request: with equal timeouts a reused connection could be closed
            # by the server as the request went out, and the command failed with a ReadError.
            limits = httpx.Limits(max_connections=100, max_keepalive_connections=20, keepalive_expiry=2.0)
            transport = httpx.AsyncHTTPTransport(uds=self.endpoint.socket, limits=limits)
            self._http = httpx.AsyncClient(
                base_url=self.endpoint.url,
                headers=headers,
                timeout=self.timeout,
                transport=transport,
                follow_redirects=False,
            )
        return self._http

    async def aclose(self) -> None:
        if self._http is not None:
            http, self._http = self._http, None
            await http.aclose()

    async def __aenter__(self) -> AsyncDaemonClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def not_running(self) -> DaemonUnavailableError:
        hint = "start it with `sshpoold`"
        if self.endpoint.source not in ("default", "argument"):
            hint += f" (address from {self.endpoint.source})"
        return DaemonUnavailableError(f"the daemon is not running on {self.endpoint.where} — {hint}")

    def _transport_error(self, exc: httpx.HTTPError, deadline: float, *, command: bool = False) -> SSHPoolError:
        if isinstance(exc, httpx.ConnectError) and ("SSL" in str(exc) or "CERTIFICATE" in str(exc).upper()):
            return self._tls_error(exc)
        if isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout):
            return self.not_running()
        if isinstance(exc, httpx.RemoteProtocolError) and self.endpoint.url.startswith("http://"):
            return DaemonUnavailableError(
                f"the server at {self.endpoint.where} did not answer as sshpoold does over plain HTTP: if it "
                f"serves TLS (--tls-cert), use https://{self.endpoint.where}; else check that it is sshpoold"
            )
        if isinstance(exc, httpx.TimeoutException):
            if command:
                return CommandTimeoutError(
                    f"no answer from the daemon at {self.endpoint.where} within {deadline:g} s; "
                    "the command may still be running: pass a larger timeout"
                )
            return DaemonUnavailableError(
                f"the daemon at {self.endpoint.where} did not answer within {deadline:g} s; "
                "check that it is healthy (`sshpoolctl status`) or raise the client timeout"
            )
        what = " (the command may have run)" if command else ""
        return DaemonUnavailableError(
            f"lost the connection to the daemon at {self.endpoint.where}{what}: {type(exc).__name__}; "
            "check that sshpoold is still running"
        )

    def _tls_error(self, exc: httpx.ConnectError) -> SSHPoolError:
        text = str(exc)
        if "WRONG_VERSION_NUMBER" in text or "record layer failure" in text or "packet length" in text:
            return DaemonUnavailableError(
                f"{self.endpoint.url} asks for TLS, but the server there speaks plain HTTP: use "
                f"http://{self.endpoint.where} (sshpoold serves https only with --tls-cert)"
            )
        return DaemonUnavailableError(
            f"TLS with the daemon at {self.endpoint.where} failed: {text}; for a self-signed --tls-cert, "
            "add it to the trusted certificates (SSL_CERT_FILE)"
        )

    def _error(self, resp: httpx.Response, alias: str | None = None) -> SSHPoolError | OSError:
        """The exception for a non-2xx answer, from its problem+json ``code``; a file error is the
        OSError a local file operation raises."""
        doc: dict[str, Any] = {}
        with contextlib.suppress(ValueError):
            parsed = json.loads(resp.content or b"null")
            if isinstance(parsed, dict):
                doc = parsed
        code = str(doc.get("code") or resp.headers.get("x-sshpool-error") or "")
        detail = str(doc.get("detail") or resp.text.strip() or f"HTTP {resp.status_code}")
        who = doc.get("alias") if isinstance(doc.get("alias"), str) else alias
        if resp.status_code == 401 or code == "unauthorized":
            return TokenError(
                f"the daemon at {self.endpoint.where} refused the token (from {self.token_source}); "
                "set SSHPOOL_TOKEN or SSHPOOL_STATE_DIR to the daemon's token"
            )
        if not code:
            code = {404: "unknown_alias", 400: "bad_request", 409: "alias_in_use", 413: "too_large"}.get(
                resp.status_code, "error"
            )
        if code in FILE_ERRORS:
            cls, number = FILE_ERRORS[code]
            return cls(number, detail)
        if code == "not_found":
            return RequestError(f"the daemon at {self.endpoint.where} has no {resp.request.url.path}: {detail}")
        if code == "unknown_alias":
            return UnknownAliasError(who or "", None, message=detail)
        return error_from_code(code, detail, alias=who, fingerprint=doc.get("fingerprint"))

    async def _request(
        self,
        method: str,
        path: str,
        *,
        alias: str | None = None,
        deadline: float | None = None,
        **kwargs: Any,
    ) -> httpx.Response:
        deadline = deadline if deadline is not None else self.timeout
        try:
            resp = await self._client().request(method, path, timeout=deadline, **kwargs)
        except httpx.HTTPError as exc:
            raise self._transport_error(exc, deadline) from None
        if resp.status_code >= 300:
            raise self._error(resp, alias)
        return resp

    @staticmethod
    def _path(alias: str, tail: str = "") -> str:
        return f"/channels/{quote(alias, safe='')}{tail}"

    # -- channels

    # -- files

    async def put_file(self, alias: str, local: str | os.PathLike[str], remote: str) -> int:
        """Stream ``local`` to ``remote`` on the channel's host (relative to the login directory);
        answers the size written. File errors are the OSErrors a local copy raises."""
        size = (await anyio.Path(local).stat()).st_size  # a missing local file: FileNotFoundError here

        async def chunks() -> AsyncIterator[bytes]:
            async with await anyio.open_file(local, "rb") as fh:
                while piece := await fh.read(_CHUNK):
                    yield piece

        try:
            resp = await self._client().put(
                self._path(alias, "/files"),
                params={"path": remote},
                content=chunks(),
                headers={"Content-Length": str(size), "Content-Type": "application/octet-stream"},
                timeout=TRANSFER_TIMEOUT,
            )
        except httpx.HTTPError as exc:
            raise self._transport_error(exc, 0) from None
        if resp.status_code >= 300:
            raise self._error(resp, alias)
        return int(resp.json()["size"])

    async def get_file(self, alias: str, remote: str, local: str | os.PathLike[str] | BinaryIO) -> int:
        """Stream ``remote`` from the channel's host into ``local`` (a path, or an open binary
        stream such as stdout); answers the bytes received. A transfer that breaks off leaves no
        partial file behind (a stream has what arrived)."""
        received = 0
        path = local if isinstance(local, (str, os.PathLike)) else None

        async def discard() -> None:
            if path is not None:
                await anyio.Path(path).unlink(missing_ok=True)

        try:
            async with self._client().stream(
                "GET", self._path(alias, "/files"), params={"path": remote}, timeout=TRANSFER_TIMEOUT
            ) as resp:
                if resp.status_code >= 300:
                    await resp.aread()
                    raise self._error(resp, alias)
                expected = int(resp.headers.get("content-length", "-1"))
                if path is None:
                    out: BinaryIO = local  # type: ignore[assignment]
                    async for piece in resp.aiter_bytes(_CHUNK):
                        await anyio.to_thread.run_sync(out.write, piece)
                        received += len(piece)
                    await anyio.to_thread.run_sync(out.flush)
                else:
                    async with await anyio.open_file(path, "wb") as fh:
                        async for piece in resp.aiter_bytes(_CHUNK):
                            await fh.write(piece)
                            received += len(piece)
        except httpx.ConnectError as exc:
            raise self._transport_error(exc, 0) from None
        except httpx.HTTPError as exc:
            await discard()
            raise OSError(errno.EIO, f"cannot download {remote}: the transfer broke off ({exc})") from None
        if expected >= 0 and received != expected:
            await discard()
            raise OSError(errno.EIO, f"cannot download {remote}: got {received} of {expected} bytes")
        return received

    async def channels(self) -> dict[str, dict[str, Any]]:
        """Every channel's info, by alias."""
        doc: dict[str, dict[str, Any]] = (await self._request("GET", "/channels")).json()
        return doc

    async def channel(self, alias: str) -> dict[str, Any]:
        doc: dict[str, Any] = (await self._request("GET", self._path(alias), alias=alias)).json()
        return doc

    def _started(self, resp: httpx.Response, fallback: str) -> dict[str, Any]:
        location = resp.headers.get("location", "")
        alias = location.rsplit("/", 1)[-1] if location.startswith("/channels/") else fallback
        return {
            "alias": alias,
            "connected": resp.status_code == 200,
            "status": resp.status_code,
            "message": resp.text.strip(),
        }

    async def start(self, dsn: str, *, wait: float | None = None) -> dict[str, Any]:
        """Add a channel. ``connected`` is False when the daemon kept it but is still retrying
        (``message`` says why)."""
        body: dict[str, Any] = {"dsn": dsn}
        if wait is not None:
            body["wait"] = wait
        resp = await self._request("POST", "/channels", json=body, deadline=(wait or 10.0) + self.timeout)
        return self._started(resp, dsn.split("://", 1)[0])

    async def update(self, alias: str, dsn: str) -> dict[str, Any]:
        resp = await self._request(
            "PATCH", self._path(alias), alias=alias, json={"dsn": dsn}, deadline=10.0 + self.timeout
        )
        return self._started(resp, alias)

    async def stop(self, alias: str) -> None:
        await self._request("DELETE", self._path(alias), alias=alias, deadline=30.0 + self.timeout)

    async def accept_host_key(self, alias: str) -> str:
        """Trust the key the channel's host offers now; returns its SHA256 fingerprint."""
        resp = await self._request("POST", self._path(alias, "/hostkey"), alias=alias, deadline=30.0 + self.timeout)
        return str(resp.json()["fingerprint"])

    async def health(self) -> dict[str, Any]:
        """Is the daemon up (``/healthz``) and ready (``/readyz``)? Needs no token."""
        started = time.monotonic()
        try:
            alive = await self._client().get("/healthz", timeout=self.timeout)
            ready = await self._client().get("/readyz", timeout=self.timeout)
        except httpx.HTTPError as exc:
            raise self._transport_error(exc, self.timeout) from None
        return {
            "url": self.url,
            "alive": alive.status_code == 200,
            "ready": ready.status_code == 200,
            "latency": round(time.monotonic() - started, 6),
        }

    # -- commands

    async def run(
        self,
        alias: str,
        command: str,
        *,
        input: StdinSource | None = None,
        timeout: float | None = None,
        env: dict[str, str] | None = None,
        mode: str | None = None,
    ) -> Result:
        """Run ``command``; a command that started always comes back as a Result (check() it).
        ``input`` may be a binary file or an iterator of bytes: it is streamed, of any size."""
        if is_streamed(input):
            events = self.stream(alias, command, input=input, timeout=timeout, env=env, mode=mode)
            async with contextlib.aclosing(events):
                async for event in events:
                    if isinstance(event, Result):
                        return event
            raise AssertionError("the stream always ends with a Result")  # pragma: no cover
        request = _request_of(command, input=input, timeout=timeout, env=env, mode=mode)
        deadline = _http_deadline(timeout)
        try:
            resp = await self._client().post(self._path(alias), timeout=deadline, **request)
        except httpx.HTTPError as exc:
            raise self._transport_error(exc, deadline, command=True) from None
        if resp.status_code >= 300:
            raise self._error(resp, alias)
        return Result.from_dict(resp.json(), alias=alias, command=command)

    async def stream(
        self,
        alias: str,
        command: str,
        *,
        input: StdinSource | None = None,
        timeout: float | None = None,
        env: dict[str, str] | None = None,
        mode: str | None = None,
        pty: bool = False,
        keep: bool = True,
    ) -> AsyncGenerator[tuple[str, bytes] | Result, None]:
        """``("stdout"|"stderr", data)`` as the output arrives, then the Result (with all output,
        or none with ``keep=False``, for output of any size). ``input`` may be a binary file or an
        iterator of bytes: it is streamed. Leaving the loop early (or cancelling) closes the
        request, and the daemon stops the command."""
        request = _request_of(command, input=input, timeout=timeout, env=env, mode=mode, pty=pty)
        out: dict[str, bytearray] = {"stdout": bytearray(), "stderr": bytearray()}
        lines = self._ndjson(self._path(alias), request, _http_deadline(timeout), alias)
        async with contextlib.aclosing(lines):
            async for line in lines:
                if "stream" in line:
                    stream, data = _chunk(line)
                    if keep:
                        out[stream] += data
                    yield stream, data
                    continue
                outcome = outcome_of(line, alias, command)
                if isinstance(outcome, SSHPoolError):  # refused before it started, as run() raises
                    raise outcome
                yield replace(outcome, **_texts(out["stdout"], out["stderr"]))
                return
        raise self._transport_error(httpx.ReadError("the stream ended without a result"), 0, command=True)

    async def run_many(
        self,
        command: str,
        channels: str | list[str] = "*",
        *,
        input: bytes | str | None = None,
        timeout: float | None = None,
        env: dict[str, str] | None = None,
        mode: str | None = None,
    ) -> dict[str, Result | SSHPoolError]:
        """Fan out: each channel's Result, or the error that kept its command from starting."""
        body = {**_command_body(command, input=input, timeout=timeout, env=env, mode=mode), "channels": channels}
        deadline = _http_deadline(timeout)
        try:
            resp = await self._client().post("/run", json=body, timeout=deadline)
        except httpx.HTTPError as exc:
            raise self._transport_error(exc, deadline, command=True) from None
        if resp.status_code >= 300:
            raise self._error(resp)
        doc: dict[str, dict[str, Any]] = resp.json()
        return {alias: outcome_of(d, alias, command) for alias, d in doc.items()}

    async def stream_many(
        self,
        command: str,
        channels: str | list[str] = "*",
        *,
        input: bytes | str | None = None,
        timeout: float | None = None,
        env: dict[str, str] | None = None,
        mode: str | None = None,
    ) -> AsyncGenerator[Output | Done, None]:
        """Fan out with live output: :class:`Output` chunks tagged by alias, a :class:`Done` as
        each channel finishes."""
        body = {**_command_body(command, input=input, timeout=timeout, env=env, mode=mode), "channels": channels}
        out: dict[tuple[str, str], bytearray] = {}
        lines = self._ndjson("/run", {"json": body}, _http_deadline(timeout), None)
        async with contextlib.aclosing(lines):
            async for line in lines:
                if "stream" in line:
                    stream, data = _chunk(line)
                    alias = str(line.get("alias"))
                    out.setdefault((alias, stream), bytearray()).extend(data)
                    yield Output(stream, data, alias)
                elif "result" in line:
                    alias = str(line["alias"])
                    outcome = outcome_of(line["result"], alias, command)
                    if isinstance(outcome, Result):
                        texts = _texts(out.get((alias, "stdout"), b""), out.get((alias, "stderr"), b""))
                        outcome = replace(outcome, **texts)
                    yield Done(alias, outcome)
                elif "results" in line:
                    return
                elif "error" in line:
                    raise error_from_code(str(line["error"]), str(line.get("exception") or line["error"]))

    async def _ndjson(
        self, path: str, request: dict[str, Any], deadline: float, alias: str | None
    ) -> AsyncGenerator[dict[str, Any], None]:
        headers = {"Accept": "application/x-ndjson, application/problem+json", **request.pop("headers", {})}
        if "content" in request:
            async for doc in self._duplex_ndjson(path, request, headers, deadline, alias):
                yield doc
            return
        try:
            async with self._client().stream("POST", path, headers=headers, timeout=deadline, **request) as resp:
                if resp.status_code >= 300:
                    await resp.aread()
                    raise self._error(resp, alias)
                async for doc in ndjson_docs(resp.aiter_bytes()):
                    yield doc
        except httpx.HTTPError as exc:
            raise self._transport_error(exc, deadline, command=True) from None

    async def _duplex_ndjson(
        self, path: str, request: dict[str, Any], headers: dict[str, str], deadline: float, alias: str | None
    ) -> AsyncGenerator[dict[str, Any], None]:
        """The streamed-stdin form: stdin goes up while the output comes down (see
        :mod:`sshpool.client.duplex`); once the result is in, the upload stops, as ssh does."""
        client = self._client()
        target = httpx.URL(path, params=request["params"])
        url = client.base_url.join(target)
        fields = {k: v for k, v in client.headers.items() if k.lower() not in ("accept", "content-length")}
        fields.update(headers)
        try:
            exchange = await open_exchange(
                self.endpoint.url,
                self.endpoint.socket,
                url.raw_path.decode("ascii"),
                fields,
                request["content"],
                connect_timeout=min(self.timeout, deadline),
                read_timeout=deadline,
            )
        except (OSError, EOFError) as exc:
            raise self._transport_error(httpx.ConnectError(str(exc)), deadline, command=True) from None
        except TimeoutError:
            raise self._transport_error(httpx.ReadTimeout("no answer"), deadline, command=True) from None
        try:
            if exchange.status >= 300:
                content = b"".join([chunk async for chunk in exchange.body()])
                resp = httpx.Response(
                    exchange.status, headers=exchange.headers, content=content, request=httpx.Request("POST", url)
                )
                raise self._error(resp, alias)
            async for doc in ndjson_docs(exchange.body()):
                yield doc
                if "stream" not in doc:
                    return  # the result: nothing more to send or read
        except TimeoutError:
            raise self._transport_error(httpx.ReadTimeout("no answer"), deadline, command=True) from None
        except (OSError, EOFError) as exc:
            raise self._transport_error(httpx.ReadError(str(exc)), deadline, command=True) from None
        finally:
            await exchange.aclose()


async def ndjson_docs(chunks: AsyncIterator[bytes]) -> AsyncGenerator[dict[str, Any], None]:
    """The JSON objects of an NDJSON byte stream, split at ``\\n`` bytes only.

    A JSON string may hold U+2028, U+2029 or U+0085 raw (the daemon writes them so, and that is valid
    NDJSON), and most binary output holds such a character once decoded; ``str.splitlines`` and
    httpx's ``aiter_lines`` break lines there too and cut the record in two. A record may span
    many chunks; each byte is scanned once."""
    buf = bytearray()
    async for chunk in chunks:
        scanned = len(buf)
        buf += chunk
        start = 0
        while (end := buf.find(b"\n", scanned)) >= 0:
            if doc := _record(buf[start:end]):
                yield doc
            start = scanned = end + 1
        if start:
            del buf[:start]
    if doc := _record(buf):  # a last record with no newline after it
        yield doc


def _record(line: bytes | bytearray) -> dict[str, Any] | None:
    if not line.strip():
        return None
    doc = json.loads(line)
    return doc if isinstance(doc, dict) else None


def _chunk(line: dict[str, Any]) -> tuple[str, bytes]:
    stream = "stderr" if line.get("stream") == "stderr" else "stdout"
    if "data_b64" in line:
        return stream, base64.b64decode(line["data_b64"])
    return stream, str(line.get("data", "")).encode()


def _texts(stdout: bytes | bytearray, stderr: bytes | bytearray) -> dict[str, Any]:
    return {
        "stdout": stdout.decode("utf-8", errors="replace"),
        "stderr": stderr.decode("utf-8", errors="replace"),
        "stdout_bytes": bytes(stdout),
        "stderr_bytes": bytes(stderr),
    }


class DaemonClient:
    """:class:`AsyncDaemonClient`, blocking: each call goes through the package's one event loop
    thread (:mod:`sshpool.bridge`), so it works from threads and from code inside a loop."""

    def __init__(
        self,
        url: str | None = None,
        token: str | None = None,
        *,
        timeout: float = 30.0,
        client_id: str | None = None,
    ) -> None:
        self.aclient = AsyncDaemonClient(url, token, timeout=timeout, client_id=client_id)

    def __repr__(self) -> str:
        return f"DaemonClient(url={self.aclient.url!r})"

    @property
    def url(self) -> str:
        return self.aclient.url

    def close(self) -> None:
        call(self.aclient.aclose)

    def __enter__(self) -> DaemonClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def channels(self) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = call(self.aclient.channels)
        return out

    def channel(self, alias: str) -> dict[str, Any]:
        out: dict[str, Any] = call(self.aclient.channel, alias)
        return out

    def start(self, dsn: str, *, wait: float | None = None) -> dict[str, Any]:
        out: dict[str, Any] = call(self.aclient.start, dsn, wait=wait)
        return out

    def update(self, alias: str, dsn: str) -> dict[str, Any]:
        out: dict[str, Any] = call(self.aclient.update, alias, dsn)
        return out

    def stop(self, alias: str) -> None:
        call(self.aclient.stop, alias)

    def run(self, alias: str, command: str, **kwargs: Any) -> Result:
        out: Result = call(self.aclient.run, alias, command, **kwargs)
        return out

    def stream(self, alias: str, command: str, **kwargs: Any) -> Iterator[tuple[str, bytes] | Result]:
        """Blocking iteration over :meth:`AsyncDaemonClient.stream`; closing the iterator early
        closes the request."""
        return iterate(self.aclient.stream(alias, command, **kwargs))

    def run_many(
        self, command: str, channels: str | list[str] = "*", **kwargs: Any
    ) -> dict[str, Result | SSHPoolError]:
        out: dict[str, Result | SSHPoolError] = call(self.aclient.run_many, command, channels, **kwargs)
        return out

    def stream_many(self, command: str, channels: str | list[str] = "*", **kwargs: Any) -> Iterator[Output | Done]:
        return iterate(self.aclient.stream_many(command, channels, **kwargs))

    def accept_host_key(self, alias: str) -> str:
        out: str = call(self.aclient.accept_host_key, alias)
        return out

    def health(self) -> dict[str, Any]:
        out: dict[str, Any] = call(self.aclient.health)
        return out
