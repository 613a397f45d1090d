"""The sync Connection: each helper one call through :mod:`sshpool.bridge` into its async twin,
so it works from many threads at once and from code that already runs an event loop."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from sshpool.bridge import call, track
from sshpool.connection import AsFrame, AsyncConnection, OutputCallback, OutputFile, PasswordPrompt
from sshpool.defaults import UNSET, Timeout
from sshpool.inputs import StdinSource
from sshpool.result import Result
from sshpool.runners.connect import open_connection

if TYPE_CHECKING:
    import pandas


from sshpool.sync.files import ChunkIterator, Exec, StdinFile

__all__ = ["Connection", "connect"]


class Connection:
    """A sync connection (``sshpool.connect()`` or :meth:`DaemonClient.channel`): the poseidon
    helpers, usable from any thread. ``with sshpool.connect(...) as conn:`` closes at the end."""

    def __init__(self, aconn: AsyncConnection) -> None:
        self._async = aconn
        track(aconn)

    def __repr__(self) -> str:
        return f"<Connection {self._async.name} cwd={self._async.cwd!r}>"

    @property
    def async_connection(self) -> AsyncConnection:
        return self._async

    @property
    def name(self) -> str:
        return self._async.name

    @property
    def cwd(self) -> str:
        return self._async.cwd

    @property
    def interactive(self) -> bool:
        return self._async.interactive

    def run(
        self,
        command: str,
        *,
        input: StdinSource | None = None,
        timeout: Timeout = UNSET,
        env: Mapping[str, str] | None = None,
        pty: bool = False,
        on_output: OutputCallback | None = None,
        retry: int = 0,
        label: str | None = None,
    ) -> Result:
        """The full Result; ``on_output(stream, data)`` is called as output arrives (in the loop
        thread: keep it quick, and do not call this connection from it). ``label`` is what an
        interactive connection prints instead of the command (to keep a secret off the console)."""
        return call(
            self._async.run,
            command,
            input=input,
            timeout=timeout,
            env=env,
            pty=pty,
            on_output=on_output,
            retry=retry,
            label=label,
        )

    def wait(
        self,
        command: str,
        raise_on_error: bool = True,
        *,
        check_stderr: bool = True,
        timeout: Timeout = UNSET,
        input: StdinSource | None = None,
        env: Mapping[str, str] | None = None,
        pty: bool = False,
        retry: int = 0,
    ) -> str:
        return call(
            self._async.wait,
            command,
            raise_on_error,
            check_stderr=check_stderr,
            timeout=timeout,
            input=input,
            env=env,
            pty=pty,
            retry=retry,
        )

    def stream(
        self,
        command: str,
        *,
        input: StdinSource | None = None,
        timeout: Timeout = UNSET,
        env: Mapping[str, str] | None = None,
    ) -> ChunkIterator:
        """``for chunk in conn.stream(cmd)``: output as it arrives; ``.result`` after the loop.
        Leaving early (``close()`` or ``with``) stops the command."""
        return ChunkIterator(self._async.stream(command, input=input, timeout=timeout, env=env))

    def exec_command(
        self, command: str, *, input: StdinSource | None = None, timeout: Timeout = UNSET
    ) -> tuple[StdinFile, OutputFile, OutputFile]:
        """The classic ``(stdin, stdout, stderr)``: what is written to stdin (after ``input``, when
        given) is sent when stdout or stderr is first read, or stdin is closed."""
        session = Exec(lambda data: self.run(command, input=data, timeout=timeout), input)
        return StdinFile(session), OutputFile(session.result, "stdout"), OutputFile(session.result, "stderr")

    def chdir(self, path: str, relative: bool = True) -> str:
        """Later commands run in ``path``; one that cannot be entered raises at the next command
        (see :meth:`AsyncConnection.chdir`)."""
        return self._async.chdir(path, relative)

    def cd(self, path: str) -> contextlib.AbstractContextManager[str]:
        return self._async.cd(path)

    def nohup(self, command: str, *, log: str | None = None) -> int:
        return call(self._async.nohup, command, log=log)

    def apt(
        self, pkgs: str | list[str], raise_on_error: bool = False, *, update: bool = False, timeout: Timeout = UNSET
    ) -> str:
        return call(self._async.apt, pkgs, raise_on_error, update=update, timeout=timeout)

    def git(
        self,
        username: str,
        repo: str,
        alias: str | None = None,
        token: str | None = None,
        *,
        base_url: str = "https://github.com",
        timeout: Timeout = UNSET,
    ) -> str:
        return call(self._async.git, username, repo, alias, token, base_url=base_url, timeout=timeout)

    def pip(self, pkgs: str | list[str], *, timeout: Timeout = UNSET) -> str:
        return call(self._async.pip, pkgs, timeout=timeout)

    def pip_freeze(self) -> str:
        return call(self._async.pip_freeze)

    def pip_r(self, path: str, *, timeout: Timeout = UNSET) -> str:
        return call(self._async.pip_r, path, timeout=timeout)

    def ps(
        self,
        args: str | None = None,
        options: str = "",
        all: bool = True,
        verbose: bool = True,
        as_frame: AsFrame = "auto",
    ) -> pandas.DataFrame | list[dict[str, Any]]:
        return call(self._async.ps, args, options, all, verbose, as_frame)

    def top(self, as_frame: AsFrame = "auto") -> pandas.DataFrame | list[dict[str, Any]]:
        return call(self._async.top, as_frame)

    def sudo(
        self,
        command: str,
        *,
        password: str | None = None,
        raise_on_error: bool = True,
        check_stderr: bool = True,
        timeout: Timeout = UNSET,
    ) -> str:
        return call(
            self._async.sudo,
            command,
            password=password,
            raise_on_error=raise_on_error,
            check_stderr=check_stderr,
            timeout=timeout,
        )

    def whoami(self) -> tuple[int, str]:
        return call(self._async.whoami)

    def put(self, local: str | os.PathLike[str], remote: str, *, recursive: bool = False) -> int:
        """Upload a file, or with ``recursive=True`` a directory tree (as ``scp -r``)."""
        return call(self._async.put, local, remote, recursive=recursive)

    def get(self, remote: str, local: str | os.PathLike[str], *, recursive: bool = False) -> int:
        """Download a file, or with ``recursive=True`` a directory tree (as ``scp -r``)."""
        return call(self._async.get, remote, local, recursive=recursive)

    def close(self) -> None:
        """Close the link (idempotent); the next command reconnects."""
        call(self._async.aclose)

    def __enter__(self) -> Connection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def connect(
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
    daemon: bool | str | None = None,
    token: str | None = None,
    **settings: Any,
) -> Connection:
    """Connect to ``target`` (a DSN, ``[user@]host[:port]`` or an ssh_config Host alias) and
    return a :class:`Connection`; connect errors (authentication, host key, unreachable) are
    raised here. ``settings`` are Settings tunables, e.g. ``command_timeout=60``.

    ``daemon=True`` (or the daemon's URL) uses a channel of sshpoold instead: ``target`` is its
    alias (or a DSN to start it), and every helper works the same way through the daemon."""
    aconn = call(
        open_connection,
        target,
        user=user,
        port=port,
        password=password,
        interactive=interactive,
        host_key_policy=host_key_policy,
        forward_agent=forward_agent,
        state_dir=state_dir,
        password_prompt=password_prompt,
        daemon=daemon,
        token=token,
        **settings,
    )
    return Connection(aconn)
