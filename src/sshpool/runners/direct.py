"""A direct connection: one channel in a private :class:`~sshpool.core.pool.Pool`, as a Runner.

``open_connection()`` accepts what a user types: a DSN, a host (``[user@]host[:port]``) or an
``~/.ssh/config`` Host alias. Closing stops the channel; the next command starts it again.
"""

from __future__ import annotations

import asyncio
import errno
import os
import stat
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any

import asyncssh

from sshpool.connection import AsyncConnection, OutputCallback, PasswordPrompt, ask_password
from sshpool.core.channel import Channel
from sshpool.core.hostkeys import KeyAdvice
from sshpool.core.pool import Pool
from sshpool.core.sftptree import SFTPRemote
from sshpool.defaults import UNSET, Timeout
from sshpool.dsn import DSN, make_dsn
from sshpool.errors import AuthenticationError, ChannelUnavailableError, error_from_code
from sshpool.inputs import StdinSource
from sshpool.result import Result
from sshpool.trees import Progress, get_tree, put_tree

__all__ = ["HOST_KEY_ADVICE", "DirectRunner", "open_direct_connection", "sftp_os_error"]

#: A refused key of a direct connection: it was never made, so there is no channel to accept a key
#: on; connecting again with accept-new records the key (once the login succeeds).
HOST_KEY_ADVICE = KeyAdvice(accept=None, policy='host_key_policy="accept-new"')


class DirectRunner:
    """Runs commands on one channel of a private pool, starting it on first use."""

    def __init__(self, pool: Pool, dsn: DSN, *, forward_agent: bool = False) -> None:
        self.pool = pool
        self.dsn = dsn
        self.forward_agent = forward_agent
        self._lock = asyncio.Lock()

    def __repr__(self) -> str:
        state = self.pool.get(self.dsn.alias).state if self.dsn.alias in self.pool else "closed"
        return f"<DirectRunner {self.dsn.display()} {state}>"

    async def channel(self) -> Channel:
        """The channel, connected; raises the connect error (auth, host key, unreachable)."""
        if self.dsn.alias in self.pool:
            return self.pool.get(self.dsn.alias)
        async with self._lock:
            if self.dsn.alias not in self.pool:
                wait = self.pool.settings.connect_timeout + 2
                info = await self.pool.start(
                    self.dsn, wait=wait, forward_agent=self.forward_agent, failures_raised=True
                )
                if info.state != "up":
                    await self.pool.stop(self.dsn.alias)
                    raise error_from_code(
                        info.last_error_code or "channel_unavailable",
                        info.last_error or f"could not connect to {self.dsn.display()} in {wait:g} s",
                        alias=self.dsn.alias,
                    )
            return self.pool.get(self.dsn.alias)

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
        channel = await self.channel()
        return await channel.run(
            command, input=input, timeout=timeout, env=dict(env) if env else None, pty=pty, on_output=on_output
        )

    async def put_file(
        self, local: Path, remote: str, *, recursive: bool = False, progress: Progress | None = None
    ) -> int:
        async def put(sftp: asyncssh.SFTPClient) -> int:
            if recursive:
                return await put_tree(SFTPRemote(sftp), local, remote, progress)
            await sftp.put(str(local), remote)
            return int((await sftp.stat(remote)).size or 0)

        return await self._transfer(put, f"upload {local} to {remote}")

    async def get_file(
        self, remote: str, local: Path, *, recursive: bool = False, progress: Progress | None = None
    ) -> int:
        async def get(sftp: asyncssh.SFTPClient) -> int:
            if recursive:
                return await get_tree(SFTPRemote(sftp), remote, local, progress)
            attrs = await sftp.stat(remote)
            if stat.S_ISDIR(attrs.permissions or 0):
                raise IsADirectoryError(errno.EISDIR, f"cannot download {remote}: it is a directory", remote)
            await sftp.get(remote, str(local))
            return int(attrs.size or 0)

        return await self._transfer(get, f"download {remote} to {local}")

    async def _transfer(self, move: Callable[[asyncssh.SFTPClient], Awaitable[int]], what: str) -> int:
        """File errors (no such file, permission) come out as OSError subclasses; only a failure
        to open the SFTP session is a ChannelUnavailableError."""
        channel = await self.channel()
        async with channel.sftp() as sftp:
            try:
                return await move(sftp)
            except (asyncssh.SFTPError, OSError) as exc:
                raise sftp_os_error(exc, what) from None

    async def aclose(self) -> None:
        async with self._lock:
            if self.dsn.alias in self.pool:
                await self.pool.stop(self.dsn.alias)


async def open_direct_connection(
    target: str,
    *,
    user: str | None = None,
    port: int | None = None,
    password: str | None = None,
    interactive: bool = False,
    host_key_policy: str | None = None,
    forward_agent: bool = False,
    state_dir: str | os.PathLike[str] | None = None,
    password_prompt: PasswordPrompt | None = None,
    **settings: Any,
) -> AsyncConnection:
    """An :class:`AsyncConnection` on a channel of its own private Pool, connected before it is
    returned (connect errors are raised here); an interactive one asks for a refused password."""
    dsn = make_dsn(target, user=user, port=port, password=password)
    pool = Pool(
        state_dir=os.fspath(state_dir) if state_dir is not None else None,
        host_key_policy=host_key_policy,
        host_key_advice=HOST_KEY_ADVICE,
        **settings,
    )
    runner = DirectRunner(pool, dsn, forward_agent=forward_agent)
    conn = AsyncConnection(runner, name=dsn.alias, interactive=interactive, password_prompt=password_prompt)
    try:
        try:
            await runner.channel()
        except AuthenticationError:
            if not interactive or dsn.password is not None:
                raise
            who = f"{dsn.user}@{dsn.host}" if dsn.user else dsn.host
            ask = password_prompt or ask_password
            runner.dsn = dsn.with_(password=await ask(f"{who}'s password: "))
            await runner.channel()
    except (ChannelUnavailableError, asyncio.CancelledError):
        await pool.aclose()
        raise
    return conn


def sftp_os_error(exc: BaseException, what: str) -> OSError:
    """An SFTP failure as the OSError a local file operation would raise."""
    if isinstance(exc, OSError):
        return exc
    reason = getattr(exc, "reason", "") or str(exc)
    if isinstance(exc, asyncssh.SFTPNoSuchFile):
        return FileNotFoundError(errno.ENOENT, f"cannot {what}: {reason}")
    if isinstance(exc, asyncssh.SFTPPermissionDenied):
        return PermissionError(errno.EACCES, f"cannot {what}: {reason}")
    return OSError(errno.EIO, f"cannot {what}: {reason}")
