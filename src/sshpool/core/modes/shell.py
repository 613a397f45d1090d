"""The ``shell`` mode: commands run on warm remote shells instead of a fresh SSH session each.

An ``exec`` command pays an sshd session, a fork of the login shell and its start-up files every
time; a warm shell pays them once and then runs each command as a subshell (see
:mod:`sshpool.core.modes.shellframe` for what the remote side does, :mod:`sshpool.core.modes.warm`
for one shell). Each warm shell runs one command at a time and holds one session slot of its
connection. A shell is retired, never reused, after anything that could leave it in doubt: a
timeout or cancel (its processes are stopped, as in ``exec`` mode), a command that left processes
behind (they may hold its output pipes; the command then ends when they let go, exactly like
``exec`` mode), a death, or stray output.
"""

from __future__ import annotations

import asyncio
import signal
import time

import asyncssh

from sshpool.commands import with_env
from sshpool.core.background import Background
from sshpool.core.modes import Command
from sshpool.core.modes.base import NotStarted, Sink, release, shape_result
from sshpool.core.modes.warm import Job, WarmShell
from sshpool.result import Result

__all__ = ["WarmShell", "WarmShells"]


class WarmShells:
    """Idle warm shells per connection: the ``shell``-mode :class:`~sshpool.core.modes.RunMode`.
    Stopping a timed-out or cancelled command goes on in ``background``, after the answer."""

    def __init__(self, startup_timeout: float, background: Background) -> None:
        self.startup_timeout = startup_timeout
        self.background = background
        self._idle: dict[asyncssh.SSHClientConnection, list[WarmShell]] = {}
        self.started = 0
        self.retired = 0

    def idle(self, conn: asyncssh.SSHClientConnection) -> int:
        return len(self._idle.get(conn, ()))

    def _take(self, conn: asyncssh.SSHClientConnection) -> WarmShell | None:
        for c in [c for c in self._idle if c.is_closed()]:
            for shell in self._idle.pop(c):
                shell.close()
        shells = self._idle.get(conn)
        while shells:
            shell = shells.pop()
            if shell.usable:
                return shell
            shell.close()
        return None

    def _give(self, shell: WarmShell) -> None:
        if shell.usable:
            self._idle.setdefault(shell.conn, []).append(shell)
        else:
            self.retired += 1
            shell.close()

    def trim(self, conn: asyncssh.SSHClientConnection, keep: int) -> None:
        """Close idle shells of ``conn`` beyond ``keep`` (their session slots are needed)."""
        shells = self._idle.get(conn, [])
        while len(shells) > max(0, keep):
            self.retired += 1
            shells.pop(0).close()

    def close_all(self) -> None:
        for shells in self._idle.values():
            for shell in shells:
                shell.close()
        self._idle.clear()

    async def run(self, conn: asyncssh.SSHClientConnection, command: Command) -> Result:
        """Run ``command`` on a warm shell of ``conn`` (started if none is idle). Same contract as
        exec mode: a Result once the command was given to a shell, NotStarted if it never was.
        Input and a pty never come here (see :func:`~sshpool.core.modes.wants_shell`)."""
        loop = asyncio.get_running_loop()
        start = time.monotonic()
        text = with_env(command.text, command.env)
        if "\x00" in text:
            raise ValueError("a command cannot contain a NUL character")
        shell = self._take(conn)
        if shell is None:
            limit = self.startup_timeout
            if command.deadline is not None:
                limit = max(0.001, min(limit, command.deadline - loop.time()))
            shell = await WarmShell.start(conn, limit)
            self.started += 1
        out = Sink(command.output_limit, command.budget, keep=command.keep_output)
        err = Sink(command.output_limit, command.budget, keep=command.keep_output)
        timed_out = False
        job: Job | None = None
        try:
            if command.deadline is None:
                job = await shell.run(text, command.marker, out, err, command.on_output)
            else:
                async with asyncio.timeout_at(command.deadline):
                    job = await shell.run(text, command.marker, out, err, command.on_output)
        except TimeoutError:
            timed_out = True
            shell.dead = True  # never handed out again, even before the stop below has run
            self.background.spawn(shell.stop(command.marker, command.unstopped))
        except asyncio.CancelledError:
            shell.dead = True
            self.background.spawn(shell.stop(command.marker, command.unstopped))
            release(command.budget, out, err)
            raise
        except NotStarted:
            self.retired += 1
            release(command.budget, out, err)
            raise
        self._give(shell)
        duration = time.monotonic() - start
        release(command.budget, out, err)
        if timed_out or job is None:
            return shape_result(command, out, err, duration, timed_out=True)
        return _ended(command, shell, job, out, err, duration)


def _ended(command: Command, shell: WarmShell, job: Job, out: Sink, err: Sink, duration: float) -> Result:
    """How a command that was not timed out ended: its end line, else how its shell ended."""
    end = job.end
    lost = shell.session.lost
    if end is not None:
        if end.signalled:
            return shape_result(command, out, err, duration, signal=_signal_name(end.status - 128))
        return shape_result(command, out, err, duration, exit_code=end.status)
    died = shell.chan.get_exit_signal()
    if died is not None and lost is None:
        return shape_result(command, out, err, duration, signal=died[0])
    status = shell.chan.get_exit_status()
    if lost is None and status is not None and status >= 0 and not shell.conn.is_closed():
        return shape_result(command, out, err, duration, exit_code=status)
    return shape_result(command, out, err, duration, lost=None if lost is None else str(lost))


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name.removeprefix("SIG")
    except ValueError:
        return str(number)
