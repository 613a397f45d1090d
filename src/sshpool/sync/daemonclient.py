"""The sync DaemonClient: sshpoold's verbs from Python, each one call through :mod:`sshpool.bridge`
into :class:`sshpool.AsyncDaemonClient`."""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any, BinaryIO, Literal, overload

from sshpool.bridge import call, iterate, track
from sshpool.errors import SSHPoolError
from sshpool.groups import Group
from sshpool.inputs import StdinSource
from sshpool.result import Result
from sshpool.runners.remote import AsyncDaemonClient
from sshpool.trees import Progress

if TYPE_CHECKING:
    from sshpool.client.discovery import DaemonEndpoint
    from sshpool.client.fanout import Grouped, Halt
    from sshpool.client.wire import CommandTimeout, Done, Output  # annotations only: sync sits beside the client

from sshpool.sync.connection import Connection

__all__ = ["DaemonClient"]


class DaemonClient:
    """:class:`sshpool.AsyncDaemonClient`, blocking: sshpoold's channels managed from Python, and
    each one a :class:`Connection` (:meth:`channel`); ``with`` closes the HTTP pool at the end."""

    def __init__(
        self,
        url: str | DaemonEndpoint | None = None,
        token: str | None = None,
        *,
        timeout: float = 30.0,
        client_id: str | None = None,
    ) -> None:
        self.aclient = AsyncDaemonClient(url, token, timeout=timeout, client_id=client_id)
        track(self.aclient)

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

    def status(self) -> dict[str, dict[str, Any]]:
        return call(self.aclient.status)

    def info(self, alias: str) -> dict[str, Any]:
        return call(self.aclient.info, alias)

    def start(self, dsn: str, *, wait: float | None = None, tags: Sequence[str] | None = None) -> dict[str, Any]:
        return call(self.aclient.start, dsn, wait=wait, tags=tags)

    def update(self, alias: str, dsn: str | None = None, *, tags: Sequence[str] | None = None) -> dict[str, Any]:
        return call(self.aclient.update, alias, dsn, tags=tags)

    def import_channels(
        self,
        source: str,
        *,
        path: str | None = None,
        inventory: Any = None,
        tag: str | None = None,
        replace: bool = False,
        with_passwords: bool = False,
    ) -> dict[str, Any]:
        return call(
            self.aclient.import_channels,
            source,
            path=path,
            inventory=inventory,
            tag=tag,
            replace=replace,
            with_passwords=with_passwords,
        )

    def stop(self, alias: str) -> None:
        call(self.aclient.stop, alias)

    def accept_host_key(self, alias: str) -> str:
        return call(self.aclient.accept_host_key, alias)

    def health(self) -> dict[str, Any]:
        return call(self.aclient.health)

    def put_file(
        self,
        alias: str,
        local: str | os.PathLike[str],
        remote: str,
        *,
        recursive: bool = False,
        progress: Progress | None = None,
    ) -> int:
        return call(self.aclient.put_file, alias, local, remote, recursive=recursive, progress=progress)

    def get_file(
        self,
        alias: str,
        remote: str,
        local: str | os.PathLike[str] | BinaryIO,
        *,
        recursive: bool = False,
        progress: Progress | None = None,
    ) -> int:
        return call(self.aclient.get_file, alias, remote, local, recursive=recursive, progress=progress)

    def run(
        self,
        alias: str,
        command: str,
        *,
        input: StdinSource | None = None,
        timeout: CommandTimeout = None,
        env: dict[str, str] | None = None,
        mode: str | None = None,
    ) -> Result:
        return call(self.aclient.run, alias, command, input=input, timeout=timeout, env=env, mode=mode)

    def stream(
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
    ) -> Iterator[tuple[str, bytes] | Result]:
        """Closing the iterator early closes the request (and the daemon stops the command)."""
        return iterate(
            self.aclient.stream(alias, command, input=input, timeout=timeout, env=env, mode=mode, pty=pty, keep=keep)
        )

    @overload
    def run_many(
        self,
        command: str,
        channels: str | list[str] = ...,
        *,
        input: bytes | str | None = ...,
        timeout: CommandTimeout = ...,
        env: dict[str, str] | None = ...,
        mode: str | None = ...,
        parallel: int | None = ...,
        halt: Halt | None = ...,
        group: Literal[False] = ...,
    ) -> dict[str, Result | SSHPoolError]: ...

    @overload
    def run_many(
        self,
        command: str,
        channels: str | list[str] = ...,
        *,
        input: bytes | str | None = ...,
        timeout: CommandTimeout = ...,
        env: dict[str, str] | None = ...,
        mode: str | None = ...,
        parallel: int | None = ...,
        halt: Halt | None = ...,
        group: Literal[True],
    ) -> list[Group[Result | SSHPoolError]]: ...

    def run_many(
        self,
        command: str,
        channels: str | list[str] = "*",
        *,
        input: bytes | str | None = None,
        timeout: CommandTimeout = None,
        env: dict[str, str] | None = None,
        mode: str | None = None,
        parallel: int | None = None,
        halt: Halt | None = None,
        group: bool = False,
    ) -> dict[str, Result | SSHPoolError] | list[Group[Result | SSHPoolError]]:
        fields: dict[str, Any] = {"input": input, "timeout": timeout, "env": env, "mode": mode}
        fields.update(parallel=parallel, halt=halt)

        async def fan_out() -> dict[str, Result | SSHPoolError] | list[Group[Result | SSHPoolError]]:
            if group:  # one call per overload: the answer's type follows ``group``
                return await self.aclient.run_many(command, channels, **fields, group=True)
            return await self.aclient.run_many(command, channels, **fields, group=False)

        return call(fan_out)

    def stream_many(
        self,
        command: str,
        channels: str | list[str] = "*",
        *,
        input: bytes | str | None = None,
        timeout: CommandTimeout = None,
        env: dict[str, str] | None = None,
        mode: str | None = None,
        parallel: int | None = None,
        halt: Halt | None = None,
        group: bool = False,
    ) -> Iterator[Output | Done | Grouped]:
        fields: dict[str, Any] = {"input": input, "timeout": timeout, "env": env, "mode": mode}
        return iterate(self.aclient.stream_many(command, channels, parallel=parallel, halt=halt, group=group, **fields))

    def channel(self, alias: str) -> Connection:
        """The daemon's channel ``alias`` as a :class:`Connection` on this client's HTTP pool."""
        return Connection(call(self.aclient.channel, alias))
