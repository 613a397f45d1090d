"""What the helpers run on: the Runner protocol, and the adapter that makes one alias of a pool
(or of the daemon's client) a Runner.

A direct SSH channel and a daemon's channel both satisfy ``Runner``, so every helper of
:class:`~sshpool.connection.helpers.AsyncConnection` works, and is tested, both ways.
"""

from __future__ import annotations

import asyncio
import getpass
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from sshpool.connection.streams import OutputCallback
from sshpool.defaults import UNSET, Timeout
from sshpool.inputs import StdinSource
from sshpool.result import Result
from sshpool.trees import Progress

__all__ = ["AliasRunner", "ClosableRunner", "FileRunner", "PasswordPrompt", "Runner", "RunsByAlias", "ask_password"]

PasswordPrompt = Callable[[str], Awaitable[str]]


class Runner(Protocol):
    """What the helpers need: run one command, return its Result (raise only if it never started)."""

    async def run(
        self,
        command: str,
        *,
        input: StdinSource | None = None,
        timeout: Timeout = UNSET,
        env: Mapping[str, str] | None = None,
        pty: bool = False,
        on_output: OutputCallback | None = None,
    ) -> Result: ...


@runtime_checkable
class FileRunner(Protocol):
    """A runner that also moves files (SFTP directly, ``/files`` through the daemon), and with
    ``recursive=True`` directory trees by the rules of :mod:`sshpool.trees` (``progress`` hears
    of each file)."""

    async def put_file(
        self, local: Path, remote: str, *, recursive: bool = False, progress: Progress | None = None
    ) -> int: ...

    async def get_file(
        self, remote: str, local: Path, *, recursive: bool = False, progress: Progress | None = None
    ) -> int: ...


@runtime_checkable
class ClosableRunner(Protocol):
    async def aclose(self) -> None: ...


async def ask_password(prompt: str) -> str:
    """The default password prompt: the terminal's, without echo (in a thread: it blocks)."""
    return await asyncio.to_thread(getpass.getpass, prompt)


class RunsByAlias(Protocol):
    """Anything that runs commands on named channels: a Pool, or the daemon's client."""

    async def run(self, alias: str, command: str, **kwargs: Any) -> Result: ...


class AliasRunner:
    """The Runner for one alias of a :class:`RunsByAlias` (``Pool`` or the daemon's client), so the
    helpers work on a channel of your own pool and on a daemon's channel alike. File transfer
    goes through the target's ``put_file(alias, local, remote)`` / ``get_file(...)`` if it has them."""

    def __init__(self, target: RunsByAlias, alias: str) -> None:
        self.target = target
        self.alias = alias

    def __repr__(self) -> str:
        return f"<AliasRunner {self.alias} on {type(self.target).__name__}>"

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
        kwargs: dict[str, Any] = {"input": input, "timeout": timeout, "env": dict(env) if env else None}
        if pty:
            kwargs["pty"] = True
        if on_output is not None:
            kwargs["on_output"] = on_output
        return await self.target.run(self.alias, command, **kwargs)

    async def put_file(
        self, local: Path, remote: str, *, recursive: bool = False, progress: Progress | None = None
    ) -> int:
        move = getattr(self.target, "put_file", None)
        if move is None:
            raise TypeError(f"{type(self.target).__name__} cannot transfer files")
        more = {"recursive": True, "progress": progress} if recursive else {}
        return int(await move(self.alias, local, remote, **more))

    async def get_file(
        self, remote: str, local: Path, *, recursive: bool = False, progress: Progress | None = None
    ) -> int:
        move = getattr(self.target, "get_file", None)
        if move is None:
            raise TypeError(f"{type(self.target).__name__} cannot transfer files")
        more = {"recursive": True, "progress": progress} if recursive else {}
        return int(await move(self.alias, remote, local, **more))
