"""The poseidon helpers (run, wait, chdir, nohup, apt, git, pip, ps, top, sudo, put/get) over
any :class:`~sshpool.connection.runner.Runner`.

Helpers build their shell text in :mod:`sshpool.commands`; nothing here knows about asyncssh,
HTTP or threads.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
import os
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sshpool.commands import (
    TOP_COMMAND,
    apt_install,
    git_clone,
    git_url,
    in_directory,
    join_path,
    nohup,
    packages,
    pip_freeze,
    pip_install,
    pip_requirements,
    ps_command,
    sudo_command,
)
from sshpool.connection.frames import AsFrame, as_table
from sshpool.connection.runner import ClosableRunner, PasswordPrompt, Runner, ask_password
from sshpool.connection.streams import LivePrinter, OutputCallback, OutputFile, OutputStream
from sshpool.connection.sudo import redact, sudo_refused_password, sudo_wants_password
from sshpool.connection.transfer import download, files_of, progress_for, remote_path, upload
from sshpool.connection.workdir import directory_error, may_be_directory_error
from sshpool.defaults import UNSET, Timeout
from sshpool.errors import AuthenticationError, ChannelUnavailableError, CommandFailedError
from sshpool.inputs import StdinSource, is_streamed
from sshpool.result import Result
from sshpool.tables import parse_ps

if TYPE_CHECKING:
    import pandas

__all__ = ["AsyncConnection"]

log = logging.getLogger("sshpool")

_URL_USERINFO = re.compile(r"://[^/@]+@")


class AsyncConnection:
    """The helpers over one runner. ``cwd`` starts at ``~``; ``chdir`` changes it for every later
    command (each command runs in a fresh shell, so a remote ``cd`` would not last)."""

    def __init__(
        self,
        runner: Runner,
        *,
        name: str = "remote",
        interactive: bool = False,
        password_prompt: PasswordPrompt | None = None,
    ) -> None:
        self.runner = runner
        self.name = name
        self.interactive = interactive
        self.cwd = "~"
        self._prompt = password_prompt or ask_password
        self._identity: tuple[int, str] | None = None
        self._sudo_password: str | None = None

    def __repr__(self) -> str:
        return f"<AsyncConnection {self.name} cwd={self.cwd!r}{' interactive' if self.interactive else ''}>"

    async def run(
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
        """Run ``command`` in ``cwd``. ``env`` is exported in the command text (visible in ``ps``:
        not for secrets). ``retry=N`` re-runs an *idempotent* command up to N times when its link
        was lost or the channel was unavailable; without it nothing is ever run twice. ``input``
        may be a binary file or an iterator of bytes, streamed at any size: a stream is read once,
        so it cannot go with ``retry``. ``label`` is what ``interactive=True`` prints instead of the
        command. A ``cwd`` that cannot be entered raises (see :meth:`chdir`): the command did not run."""
        if retry and is_streamed(input):
            raise ValueError("retry= needs input that can be sent again: bytes or str, not a file or an iterator")
        cwd = self.cwd
        full = in_directory(cwd, command)
        callback = on_output
        if self.interactive:
            print(f"[{self.name}] $ {label or command}", flush=True)
            printer = LivePrinter()
            if on_output is None:
                callback = printer
            else:
                user_cb = on_output

                def callback(stream: str, data: bytes) -> None:
                    printer(stream, data)
                    user_cb(stream, data)

        for attempt in range(retry + 1):
            last = attempt == retry
            try:
                result = await self.runner.run(full, input=input, timeout=timeout, env=env, pty=pty, on_output=callback)
            except AuthenticationError:
                raise
            except ChannelUnavailableError as exc:
                if last:
                    raise
                log.warning("%s: %s; retrying (%d of %d)", self.name, exc, attempt + 1, retry)
                await asyncio.sleep(min(0.2 * 2**attempt, 2.0))
                continue
            if result.error == "link_lost" and not last:
                log.warning(
                    "%s: link lost during %r; re-running it as retry=%d allows (it may have run already)",
                    self.name,
                    label or command,
                    retry,
                )
                continue
            if may_be_directory_error(result, cwd) and (problem := await directory_error(self.runner, cwd, self.name)):
                raise problem
            return result
        raise AssertionError("unreachable")

    async def wait(
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
        """Run ``command`` and return its stdout. Raises CommandFailedError (a ValueError) on a
        non-zero exit and, unless ``check_stderr=False``, when anything was written to stderr
        (the classic rule). A timeout, a lost link or a stopped channel always raise."""
        result = await self.run(command, input=input, timeout=timeout, env=env, pty=pty, retry=retry)
        return self._judge(result, raise_on_error, check_stderr)

    @staticmethod
    def _judge(result: Result, raise_on_error: bool, check_stderr: bool) -> str:
        if result.error in ("timeout", "link_lost", "channel_stopped"):
            result.check()
        if raise_on_error:
            result.check(check_stderr=check_stderr)
        return result.stdout

    def stream(
        self,
        command: str,
        *,
        input: StdinSource | None = None,
        timeout: Timeout = UNSET,
        env: Mapping[str, str] | None = None,
    ) -> OutputStream:
        """``async for chunk in conn.stream(cmd)``; the Result is ``.result`` after the loop."""
        return OutputStream(lambda cb: self.run(command, input=input, timeout=timeout, env=env, on_output=cb))

    async def exec_command(
        self, command: str, *, input: StdinSource | None = None, timeout: Timeout = UNSET
    ) -> tuple[io.BytesIO, OutputFile, OutputFile]:
        """The classic ``(stdin, stdout, stderr)``; here the command runs at once with ``input``
        (the sync Connection's version sends what is written to stdin)."""
        result = await self.run(command, input=input, timeout=timeout)
        stdin = io.BytesIO()
        stdin.close()
        return stdin, OutputFile(lambda: result, "stdout"), OutputFile(lambda: result, "stderr")

    def chdir(self, path: str, relative: bool = True) -> str:
        """Change the directory later commands run in: relative paths append (``..`` is
        normalised), absolute ones replace; ``relative=False`` starts again from ``~``.

        As in the classic API, the path is kept here and every later command starts with a
        ``cd`` into it: ``chdir`` sends nothing, so it stays a plain call (also on the async
        connection, and inside ``with conn.cd(...)``) and never waits on the network. A directory
        that cannot be entered is told at the first command: it raises FileNotFoundError,
        NotADirectoryError or PermissionError naming the directory, as ``os.chdir`` would, and the
        command does not run (never a shell's ``cd: ...`` message in a Result)."""
        if not path:
            raise ValueError("chdir needs a path")
        self.cwd = join_path(self.cwd if relative else "~", path)
        return self.cwd

    @contextlib.contextmanager
    def cd(self, path: str) -> Iterator[str]:
        """``with conn.cd(path):`` — the directory reverts when the block ends."""
        before = self.cwd
        try:
            yield self.chdir(path)
        finally:
            self.cwd = before

    async def nohup(self, command: str, *, log: str | None = None) -> int:
        """Start ``command`` detached from the session (it survives ``close()``), appending its
        output to ``log`` (default ``nohup.out`` in the current directory); returns its PID."""
        text = await self.wait(nohup(command, log or "nohup.out"), check_stderr=False)
        lines = text.strip().splitlines()
        try:
            return int(lines[-1])
        except (IndexError, ValueError):
            raise CommandFailedError(f"nohup on {self.name} printed no PID (got {text!r})") from None

    async def ps(
        self,
        args: str | None = None,
        options: str = "",
        all: bool = True,
        verbose: bool = True,
        as_frame: AsFrame = "auto",
    ) -> pandas.DataFrame | list[dict[str, Any]]:
        """``ps -Af`` by default (``-`` + args + ``A`` if all + ``f`` if verbose, then options):
        one column per header name, numbers typed, the full command line last."""
        text = await self.wait(ps_command(args, options, all, verbose), check_stderr=False)
        return as_table(parse_ps(text), as_frame)

    async def top(self, as_frame: AsFrame = "auto") -> pandas.DataFrame | list[dict[str, Any]]:
        """``ps -Ao %cpu,%mem,user,comm`` sorted by %CPU, highest first."""
        table = parse_ps(await self.wait(TOP_COMMAND, check_stderr=False))
        if "%CPU" in table.columns:
            table = table.sorted_by("%CPU")
        return as_table(table, as_frame)

    async def whoami(self) -> tuple[int, str]:
        """The remote uid and user name (asked once per connection)."""
        if self._identity is None:
            r = await self.run("id -u; id -un")
            uid, _, user = self._judge(r, True, check_stderr=False).strip().partition("\n")
            self._identity = (int(uid), user.strip())
        return self._identity

    async def _sudo(self, command: str, password: str | None, timeout: Timeout) -> Result:
        uid, user = await self.whoami()
        if uid == 0:
            return await self.run(command, timeout=timeout, label=command)
        label = f"sudo {command}"
        pw = password if password is not None else self._sudo_password
        if pw is None:
            r = await self.run(sudo_command(command, with_password=False), timeout=timeout, label=label)
            if not sudo_wants_password(r):
                return r
            if not self.interactive:
                raise CommandFailedError(
                    f"sudo on {self.name} needs {user}'s password: pass password=..., connect with "
                    "interactive=True to be asked, or allow the command without one (NOPASSWD in sudoers)",
                    result=r,
                )
            pw = await self._prompt(f"[sudo] password for {user} on {self.name}: ")
        if "\n" in pw:
            raise ValueError("a sudo password cannot contain a newline")
        r = await self.run(sudo_command(command, with_password=True), input=pw + "\n", timeout=timeout, label=label)
        r = redact(r, pw)
        if sudo_refused_password(r):
            if pw == self._sudo_password:
                self._sudo_password = None
            raise CommandFailedError(
                f"sudo on {self.name} refused the password for {user} (wrong password?); the command did not run",
                result=r,
            )
        if password is None and self.interactive:
            self._sudo_password = pw  # asked once per connection, kept in memory only
        return r

    async def sudo(
        self,
        command: str,
        *,
        password: str | None = None,
        raise_on_error: bool = True,
        check_stderr: bool = True,
        timeout: Timeout = UNSET,
    ) -> str:
        """Run ``command`` as root and return its stdout. A password goes over stdin
        (``sudo -S``), never on a command line; without one ``sudo -n`` is used, and
        ``interactive=True`` asks for it locally when sudo needs it."""
        r = await self._sudo(command, password, timeout)
        return self._judge(r, raise_on_error, check_stderr)

    async def apt(
        self, pkgs: str | list[str], raise_on_error: bool = False, *, update: bool = False, timeout: Timeout = UNSET
    ) -> str:
        """``apt-get install -y`` (``DEBIAN_FRONTEND=noninteractive``; through ``sudo -n`` when
        not root). As in the classic API, failures are returned, not raised, unless ``raise_on_error``."""
        command = apt_install(packages(pkgs), root=True, update=update)
        try:
            r = await self._sudo(command, None, timeout)
        except CommandFailedError as exc:  # sudo wanted a password nobody gave
            if raise_on_error or exc.result is None:
                raise
            r = exc.result
        if not raise_on_error and (r.exit_code not in (0, None) or r.signal):
            # The classic API returns failures: say so, or a failed install passes unseen.
            tail = "\n".join(r.stderr.strip().splitlines()[-5:])
            log.warning("%s: apt-get failed: %s%s", self.name, r.describe(), f"\n{tail}" if tail else "")
        return self._judge(r, raise_on_error, check_stderr=False)

    async def pip(self, pkgs: str | list[str], *, timeout: Timeout = UNSET) -> str:
        """``pip install -U ...`` with the remote PATH's pip; a failure raises with pip's whole
        message (PEP 668's explanation included) and what to do next."""
        return await self._pip(pip_install(packages(pkgs)), timeout)

    async def _pip(self, command: str, timeout: Timeout) -> str:
        try:
            return await self.wait(command, check_stderr=False, timeout=timeout)
        except CommandFailedError as exc:
            r = exc.result
            if r is None or r.error is not None:
                raise
            message = f"pip failed on {self.name} (exit {r.exit_code}):\n{r.stderr.strip()[-4000:]}"
            if "externally-managed-environment" in r.stderr:
                message += (
                    "\n\nThis host's Python belongs to the OS (PEP 668). Install into a virtual environment "
                    "(conn.wait('python3 -m venv ~/venv'), then conn.chdir and call ~/venv/bin/pip), use pipx "
                    "for applications, or pass '--break-system-packages' with the names if you accept the risk."
                )
            raise CommandFailedError(message, result=r) from None

    async def pip_freeze(self) -> str:
        return await self.wait(pip_freeze(), check_stderr=False)

    async def pip_r(self, path: str, *, timeout: Timeout = UNSET) -> str:
        """``pip install -r PATH``; PATH is on the remote host (relative to ``cwd``)."""
        return await self._pip(pip_requirements(path), timeout)

    async def git(
        self,
        username: str,
        repo: str,
        alias: str | None = None,
        token: str | None = None,
        *,
        base_url: str = "https://github.com",
        timeout: Timeout = UNSET,
    ) -> str:
        """Clone ``<base_url>/<username>/<repo>.git`` into ``alias`` (default: the repo name).
        The token (argument, else ``GITHUB_TOKEN``; anonymous without one) reaches git through
        the command's stdin and a one-shot credential helper: never an argv, ``.git/config`` or
        the output."""
        token = token if token is not None else os.environ.get("GITHUB_TOKEN") or None
        if token is not None and ("\n" in token or "\r" in token):
            raise ValueError("the git token contains a line break")
        url = git_url(username, repo, base_url)
        r = await self.run(
            git_clone(url, alias, with_token=token is not None),
            input=(token + "\n") if token is not None else None,
            timeout=timeout,
            label=f"git clone {_URL_USERINFO.sub('://****@', url)}" + (f" {alias}" if alias else ""),
        )
        return self._judge(redact(r, token), True, check_stderr=False)

    async def put(self, local: str | os.PathLike[str], remote: str, *, recursive: bool = False) -> int:
        """Upload a local file, or with ``recursive=True`` a directory tree as ``scp -r`` does
        (files, subdirectories and their modes; links followed; an existing remote directory
        receives the tree under its name): returns the bytes sent. A relative ``remote`` is in
        ``cwd``. A directory without ``recursive=True`` is an IsADirectoryError."""
        progress = progress_for(self.name, self.interactive)
        where = remote_path(self.cwd, remote)
        return await upload(files_of(self.runner), Path(local), where, recursive=recursive, progress=progress)

    async def get(self, remote: str, local: str | os.PathLike[str], *, recursive: bool = False) -> int:
        """Download a remote file, or with ``recursive=True`` a directory tree (as :meth:`put`);
        returns the bytes received. An existing local directory receives the copy."""
        progress = progress_for(self.name, self.interactive)
        where = remote_path(self.cwd, remote)
        return await download(
            files_of(self.runner), where, Path(local), recursive=recursive, progress=progress, name=self.name
        )

    async def aclose(self) -> None:
        """Close the link (idempotent); the next command reconnects. Detached (``nohup``)
        processes keep running."""
        if isinstance(self.runner, ClosableRunner):
            await self.runner.aclose()

    async def __aenter__(self) -> AsyncConnection:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()
