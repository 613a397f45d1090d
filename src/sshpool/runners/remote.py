"""A daemon's channel as a Runner: the helpers of :class:`~sshpool.connection.helpers.AsyncConnection`
over sshpoold's REST API, so ``sshpool.connect("web1", daemon=True)`` and
``AsyncDaemonClient().channel("web1")`` behave like a direct connection to the same host.

Every command goes as JSON with ``raw`` on (output byte-exact), binary stdin as ``input_b64``,
live output as NDJSON; files go through ``PUT``/``GET /channels/<alias>/files``, streamed. Errors
come back as the classes a direct connection raises (the problem+json ``code`` picks the class),
and file errors as the OSErrors a local file operation would raise.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx

from sshpool.client import AsyncDaemonClient as RestClient
from sshpool.client.discovery import DaemonEndpoint, find_daemon, find_token
from sshpool.client.wire import (
    NO_LIMIT,
    CommandTimeout,
    chunk_of,
    command_body,
    http_deadline,
    ndjson_docs,
    outcome_of,
    texts_of,
)
from sshpool.connection import AsyncConnection, OutputCallback, PasswordPrompt
from sshpool.defaults import UNSET, Settings, Timeout
from sshpool.dsn import DSN, make_dsn
from sshpool.errors import AliasInUseError, SSHPoolError, TokenError, error_from_code
from sshpool.inputs import StdinSource, is_streamed
from sshpool.result import Result
from sshpool.trees import Progress

__all__ = ["AsyncDaemonClient", "DaemonRunner", "locate", "open_daemon_connection"]


def locate(
    daemon: bool | str, token: str | None = None, state_dir: str | os.PathLike[str] | None = None
) -> tuple[DaemonEndpoint, str]:
    """The daemon's endpoint (with how it was found, which a "not running" names) and token,
    found as every sshpool client finds them (:func:`sshpool.client.find_daemon`,
    :func:`~sshpool.client.find_token`); ``state_dir`` stands in for ``SSHPOOL_STATE_DIR``."""
    env: Mapping[str, str] = os.environ
    if state_dir is not None:
        env = {**os.environ, "SSHPOOL_STATE_DIR": os.fspath(state_dir)}
    endpoint = find_daemon(daemon if isinstance(daemon, str) and daemon else None, env)
    secret, source = find_token(token, env)
    if not secret:
        raise TokenError(f"no sshpoold token ({source}): pass token=..., or set SSHPOOL_TOKEN")
    return endpoint, secret


class DaemonRunner:
    """Runs commands on one channel of a sshpoold, through ``client`` (its HTTP pool and its one
    translation of errors). The channel belongs to the daemon and stays up; ``aclose()`` closes
    the client only when the runner owns it (a client's ``channel()`` shares its pool instead)."""

    def __init__(
        self, alias: str, client: RestClient, *, command_timeout: Timeout = UNSET, owns_client: bool = True
    ) -> None:
        self.alias = alias
        self.client = client
        self.command_timeout = command_timeout
        self.owns_client = owns_client

    def __repr__(self) -> str:
        return f"<DaemonRunner {self.alias} at {self.url}>"

    @property
    def url(self) -> str:
        return self.client.url

    async def info(self) -> dict[str, Any]:
        """The channel's info (``GET /channels/<alias>``); UnknownAliasError when it has none."""
        return await self.client.info(self.alias)

    async def resolve(self) -> None:
        """Take the alias as the daemon spells it (``WEB1`` is ``web1``); UnknownAliasError when
        the daemon has no such channel."""
        known = str((await self.info()).get("dsn") or "")
        self.alias = known.partition("://")[0] if "://" in known else self.alias

    async def run(
        self,
        command: str,
        *,
        input: StdinSource | None = None,
        timeout: Timeout = UNSET,
        env: Mapping[str, str] | None = None,
        pty: bool = False,
        on_output: OutputCallback | None = None,
    ) -> Result:
        if timeout is UNSET:
            timeout = self.command_timeout
        wire = _wire_timeout(timeout)
        if is_streamed(input):
            return await self._stream_input(command, input, wire, env, pty, on_output)
        assert input is None or isinstance(input, (str, bytes, bytearray, memoryview))
        input = bytes(input) if isinstance(input, (bytearray, memoryview)) else input
        body = command_body(command, input=input, timeout=wire, env=env, pty=pty)
        # The daemon stops the command at its deadline and answers; the margin covers the answer.
        # With no limit there is no deadline to wait for: the answer comes when the command ends.
        http_timeout = httpx.Timeout(http_deadline(wire), connect=10.0)
        if on_output is not None:
            return await self._stream(command, body, http_timeout, on_output)
        with self.client.errors.mapping(http_timeout.read):
            try:
                r = await self.client.http.post(self.client.channel_path(self.alias), json=body, timeout=http_timeout)
            except httpx.TimeoutException as exc:
                return self._no_answer(command, exc)
        await self.client.errors.check(r, self.alias)
        return Result.from_dict(r.json(), alias=self.alias, command=command)

    async def _stream_input(
        self,
        command: str,
        input: StdinSource | None,
        seconds: CommandTimeout,
        env: Mapping[str, str] | None,
        pty: bool,
        on_output: OutputCallback | None,
    ) -> Result:
        """stdin from a file or an iterator goes as the request body, streamed both ways."""
        events = self.client.stream(
            self.alias, command, input=input, timeout=seconds, env=dict(env) if env else None, pty=pty
        )
        async with contextlib.aclosing(events):
            async for event in events:
                if isinstance(event, Result):
                    return event
                if on_output is not None:
                    on_output(*event)
        raise AssertionError("the stream always ends with a Result")  # pragma: no cover

    async def _stream(
        self, command: str, body: dict[str, Any], http_timeout: httpx.Timeout, on_output: OutputCallback
    ) -> Result:
        """Live output to ``on_output``. An answer that stops coming once the command may have
        started is a lost link's Result, with the output that arrived."""
        out = {"stdout": bytearray(), "stderr": bytearray()}
        last: dict[str, Any] | None = None
        headers = {"Accept": "application/x-ndjson, application/json"}
        path = self.client.channel_path(self.alias)
        with self.client.errors.mapping(http_timeout.read):
            try:
                async with self.client.http.stream("POST", path, json=body, headers=headers, timeout=http_timeout) as r:
                    await self.client.errors.check(r, self.alias)
                    async for item in ndjson_docs(r.aiter_bytes()):
                        if "stream" in item:
                            stream, data = chunk_of(item)
                            out[stream] += data
                            on_output(stream, data)
                        else:
                            last = item
            except httpx.HTTPError as exc:
                if isinstance(exc, httpx.TimeoutException) or any(out.values()) or last is not None:
                    return self._no_answer(command, exc, bytes(out["stdout"]), bytes(out["stderr"]))
                raise
        if last is None:
            return self._no_answer(command, None, bytes(out["stdout"]), bytes(out["stderr"]))
        outcome = outcome_of(last, self.alias, command)
        if isinstance(outcome, SSHPoolError):  # refused before it started, as a direct connection raises
            raise outcome
        return replace(outcome, **texts_of(out["stdout"], out["stderr"]))

    def _no_answer(self, command: str, exc: Exception | None, stdout: bytes = b"", stderr: bytes = b"") -> Result:
        """The command may have started and the daemon's answer never came: like a lost link."""
        why = f" ({type(exc).__name__})" if exc is not None else ""
        return Result.from_bytes(
            stdout,
            stderr,
            error="link_lost",
            exception=f"no answer from sshpoold at {self.url}{why}; the command may still be running "
            f"on {self.alias}; not retried",
            alias=self.alias,
            command=command,
        )

    async def put_file(
        self, local: Path, remote: str, *, recursive: bool = False, progress: Progress | None = None
    ) -> int:
        return await self.client.put_file(self.alias, local, remote, recursive=recursive, progress=progress)

    async def get_file(
        self, remote: str, local: Path, *, recursive: bool = False, progress: Progress | None = None
    ) -> int:
        return await self.client.get_file(self.alias, remote, local, recursive=recursive, progress=progress)

    async def aclose(self) -> None:
        if self.owns_client:
            await self.client.aclose()


def _wire_timeout(timeout: Timeout) -> CommandTimeout:
    """The library's timeout as the REST API takes it: seconds as they are, None (no limit) as
    ``"none"``, and UNSET (the default) as nothing, which leaves it to the daemon's --command-timeout."""
    if timeout is None:
        return NO_LIMIT
    if isinstance(timeout, (int, float)) and not isinstance(timeout, bool):
        return float(timeout)
    return None


class AsyncDaemonClient(RestClient):
    """:class:`sshpool.client.AsyncDaemonClient` whose channels are also connections: manage
    them (``start``, ``status``, ``stop``...) and work on one with every helper of
    :class:`~sshpool.connection.helpers.AsyncConnection`, all on this client's HTTP pool."""

    async def channel(self, alias: str) -> AsyncConnection:
        """The daemon's channel ``alias`` as a connection (UnknownAliasError when it has none).
        Closing the connection leaves this client open, and the channel up."""
        runner = DaemonRunner(alias, self, owns_client=False)
        await runner.resolve()
        return AsyncConnection(runner, name=runner.alias)


async def open_daemon_connection(
    target: str,
    *,
    daemon: bool | str = True,
    token: str | None = None,
    user: str | None = None,
    port: int | None = None,
    password: str | None = None,
    interactive: bool = False,
    state_dir: str | os.PathLike[str] | None = None,
    password_prompt: PasswordPrompt | None = None,
    **settings: Any,
) -> AsyncConnection:
    """An :class:`AsyncConnection` on a daemon's channel. ``target`` is the channel's alias, or
    a DSN: a channel the daemon does not have yet is started from it (and stopped again if it
    cannot connect), one it has is used when it points at the same place."""
    if not isinstance(target, str) or not target.strip():
        raise ValueError("connect() needs the alias of a daemon's channel, or a DSN to start one")
    endpoint, secret = locate(daemon, token, state_dir)
    timeout = settings.get("command_timeout", UNSET)
    if "://" in target:
        dsn = make_dsn(target, user=user, port=port, password=password)
        runner = DaemonRunner(dsn.alias, AsyncDaemonClient(endpoint, secret), command_timeout=timeout)
        await _ensure_channel(runner, dsn, float(settings.get("connect_timeout") or Settings.connect_timeout))
    else:
        given = [name for name, v in (("user", user), ("port", port), ("password", password)) if v is not None]
        if given:
            raise TypeError(
                f"{', '.join(given)} belong to the channel's DSN on the daemon; pass a DSN as the target "
                "to start a channel, or leave them out to use the daemon's channel as it is"
            )
        runner = DaemonRunner(target.strip(), AsyncDaemonClient(endpoint, secret), command_timeout=timeout)
        try:
            await runner.resolve()
        except BaseException:
            await runner.aclose()
            raise
    return AsyncConnection(runner, name=runner.alias, interactive=interactive, password_prompt=password_prompt)


async def _ensure_channel(runner: DaemonRunner, dsn: DSN, wait: float) -> None:
    """Start ``dsn`` on the daemon unless a channel with its alias already points there."""
    client = runner.client
    try:
        try:
            started = await client.start(dsn.to_text(reveal_password=True), wait=wait)
        except AliasInUseError:
            info = await runner.info()
            same = info.get("host") == dsn.host and all(
                info.get(k) == v for k, v in (("user", dsn.user), ("port", dsn.port)) if v is not None
            )
            if not same:
                raise AliasInUseError(
                    f"the daemon's channel {dsn.alias!r} points at {info.get('user')}@{info.get('host')}:"
                    f"{info.get('port')}, not at {dsn.display()}; pick another alias or stop that channel",
                    alias=dsn.alias,
                ) from None
            return
        if not started["connected"]:  # kept by the daemon, still retrying: say why, and take it back
            info = await runner.info()
            await client.stop(dsn.alias)
            raise error_from_code(
                str(info.get("last_error_code") or "channel_unavailable"),
                str(info.get("last_error") or started["message"]),
                alias=dsn.alias,
            )
    except BaseException:
        await runner.aclose()
        raise
