"""The ``shell`` mode: commands run on warm remote shells instead of a fresh SSH session each.

An ``exec`` command pays an sshd session, a fork of the login shell and its start-up files every
time; a warm shell pays them once and then runs each command as a subshell (see
:mod:`sshpool.core.modes.shellframe` for what the remote side does). Each warm shell runs one command at a
time and holds one session slot of its connection. A shell is retired, never reused, after
anything that could leave it in doubt: a timeout or cancel (its processes are stopped, as in
``exec`` mode), a command that left processes behind (they may hold its output pipes; the command
then ends when they let go, exactly like ``exec`` mode), a death, or stray output.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
import uuid
from collections.abc import Callable, Coroutine
from typing import Any

import asyncssh

from sshpool.commands import kill_marked, with_env
from sshpool.core.modes.exec import NotStarted, OutputBudget, OutputCallback, _release, _Sink, lost_during
from sshpool.core.modes.shellframe import EndLine, driver, frame, new_token, parse_end, stop_script
from sshpool.defaults import MODES
from sshpool.result import Result

__all__ = ["MODES", "WarmShell", "WarmShells", "check_mode", "wants_shell"]

log = logging.getLogger("sshpool")


def check_mode(mode: str) -> str:
    """``mode`` unchanged when valid, else a ValueError saying what is allowed."""
    if mode not in MODES:
        raise ValueError(f"unknown mode {mode!r}: use 'exec' (a session per command) or 'shell' (warm shells)")
    return mode


def wants_shell(mode: str, input: object, pty: bool) -> bool:
    """Commands with input or a pty always take the ``exec`` path: a warm shell gives ``/dev/null``."""
    return mode == "shell" and input is None and not pty


class _Stream:
    """One output stream of a warm shell for one command: bytes before the token go to the sink;
    bytes that cannot be the start of the token are passed on at once, so output streams live and
    a token split across packets is still found."""

    __slots__ = ("cb", "done", "hold", "line", "name", "need_line", "sink", "tail", "token")

    def __init__(self, name: str, token: bytes, sink: _Sink, cb: OutputCallback | None, need_line: bool) -> None:
        self.name = name
        self.token = token
        self.sink = sink
        self.cb = cb
        self.need_line = need_line
        self.hold = b""
        self.line: bytes | None = None  # what follows the token on its line, once complete
        self.done = False
        self.tail = False  # after the token: output of processes the command left behind

    def feed(self, data: bytes) -> bytes:
        """Take ``data``; returns bytes that came after the end line (there should be none)."""
        if self.tail:
            self._emit(data)
            return b""
        if self.done:
            return data
        buf = self.hold + data
        if self.line is None:
            at = buf.find(self.token)
            if at < 0:
                cut = max(0, len(buf) - len(self.token) + 1)
                self._emit(buf[:cut])
                self.hold = buf[cut:]
                return b""
            self._emit(buf[:at])
            buf = buf[at + len(self.token) :]
            self.line = b""
        rest = self.line + buf
        nl = rest.find(b"\n")
        if nl < 0:
            self.line, self.hold = rest, b""
            return b""
        self.line, self.hold, self.done = rest[:nl], b"", True
        return rest[nl + 1 :]

    def flush(self) -> None:
        """End of stream: whatever was held back is output after all."""
        if not self.done:
            self._emit(self.hold)
            self.hold = b""

    def _emit(self, data: bytes) -> None:
        if data:
            self.sink.add(data)
            if self.cb is not None:
                self.cb(self.name, data)


class _Job:
    """One command on a warm shell: its two streams and a future set when both ended."""

    def __init__(self, token: str, out: _Sink, err: _Sink, cb: OutputCallback | None, ready: bool = False) -> None:
        t = token.encode()
        self.ready = ready  # the start-up line (``token pid``), not a command's end line
        self.out = _Stream("stdout", t, out, cb, True)
        self.err = _Stream("stderr", t, err, cb, True)
        self.end: EndLine | None = None
        self.stray = 0
        self.finished: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def feed(self, stream: _Stream, data: bytes) -> None:
        self.stray += len(stream.feed(data))
        if self.end is None and self.out.done and self.err.done and self.out.line is not None:
            try:
                self.end = EndLine(0, False, False) if self.ready else parse_end(self.out.line)
            except ValueError:
                self.stray += 1
                self.end = EndLine(0, False, False)
            if self.end.leftovers:
                self.out.tail = self.err.tail = True
            else:
                self._finish()

    def closed(self) -> None:
        self.out.flush()
        self.err.flush()
        self._finish()

    def _finish(self) -> None:
        if not self.finished.done():
            self.finished.set_result(None)


class _ShellSession(asyncssh.SSHClientSession[bytes]):
    """Routes a warm shell's output to the command running on it, without a task per stream."""

    def __init__(self) -> None:
        self.job: _Job | None = None
        self.chan: asyncssh.SSHClientChannel[bytes] | None = None
        self.stray = 0
        self.lost: Exception | None = None
        self.closed = False

    def connection_made(self, chan: asyncssh.SSHClientChannel[bytes]) -> None:
        self.chan = chan

    def data_received(self, data: bytes, datatype: asyncssh.DataType) -> None:
        job = self.job
        if job is None:
            self.stray += len(data)
            return
        had_end = job.end is not None
        job.feed(job.err if datatype == asyncssh.EXTENDED_DATA_STDERR else job.out, data)
        if not had_end and job.end is not None and job.end.leftovers:
            # processes the command started may hold the pipes: end the shell, so that the streams
            # end when they let go, exactly when an exec-mode session would
            with contextlib.suppress(Exception):
                if self.chan is not None:
                    self.chan.write_eof()

    def eof_received(self) -> bool:
        if self.job is not None:
            self.job.closed()
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.lost = exc
        if self.job is not None:
            self.job.closed()


class WarmShell:
    """One long-lived session running the login shell, fed one command at a time."""

    def __init__(
        self, conn: asyncssh.SSHClientConnection, chan: asyncssh.SSHClientChannel[bytes], session: _ShellSession
    ) -> None:
        self.conn = conn
        self.chan = chan
        self.session = session
        self.pid = 0
        self.dead = False
        self.commands = 0

    @classmethod
    async def start(cls, conn: asyncssh.SSHClientConnection, timeout: float) -> WarmShell:
        """Open the session and wait until start-up files have run; their output is dropped.
        Raises NotStarted on any failure: no command has been given to it yet."""
        token = new_token()
        chan, session = await _open_session(conn, driver(token))
        shell = cls(conn, chan, session)
        ok = False
        try:
            job = session.job = _Job(token, _Sink(0, None), _Sink(0, None), None, ready=True)
            async with asyncio.timeout(timeout):
                await job.finished
            session.job = None
            if job.end is None or job.stray or not job.out.line or not job.out.line.strip().isdigit():
                raise NotStarted(f"the login shell did not start a warm shell (exit status {chan.get_exit_status()})")
            shell.pid = int(job.out.line)
            ok = True
            return shell
        except TimeoutError:
            raise NotStarted(f"the login shell's start-up files did not finish within {timeout:g} s") from None
        finally:
            if not ok:
                chan.close()

    @property
    def usable(self) -> bool:
        return not (self.dead or self.session.closed or self.session.stray or self.conn.is_closed())

    def retire(self) -> None:
        """Let the shell end: EOF on its stdin ends its read loop."""
        if not self.dead:
            self.dead = True
            with contextlib.suppress(Exception):
                self.chan.write_eof()

    def close(self) -> None:
        self.dead = True
        self.chan.close()

    async def _unsent(self) -> None:
        """The command was not sent: retire this shell, let the link's loss be handled (so the
        retry does not pick the same link again), and say so."""
        self.dead = True
        self.session.job = None
        self.chan.close()
        with contextlib.suppress(Exception):
            async with asyncio.timeout(1):
                await self.conn.wait_closed()
        raise NotStarted("the link closed before the command was sent")

    async def stop(self, marker: str, unstopped: Callable[[str], None] | None = None) -> None:
        """After a timeout or cancel: stop the command's processes and the shell itself over a
        fresh session (signal requests are refused for root; the marker reaches every child).
        When the link is gone, ``unstopped`` gets the marker, for a sweep after the reconnect."""
        self.dead = True
        try:
            async with asyncio.timeout(5):
                await self.conn.run(stop_script(self.pid, kill_marked(marker)), stdin=asyncssh.DEVNULL, encoding=None)
        except Exception as exc:  # the link may be gone: nothing more can be done over it
            log.debug("stopping a warm shell failed: %s", exc)
            if unstopped is not None:
                unstopped(marker)
        finally:
            self.chan.close()

    async def run(self, command: str, marker: str, out: _Sink, err: _Sink, on_output: OutputCallback | None) -> _Job:
        """Run one command; returns its job once both streams ended (``end`` None: the shell died).
        Raises NotStarted when the link was already gone as the command was written: it never left."""
        token = new_token()
        data = frame(command, token, marker)
        job = _Job(token, out, err, on_output)
        sent = False
        if not self.session.closed and _link_takes_writes(self.conn):
            self.session.job = job
            with contextlib.suppress(asyncssh.Error, BrokenPipeError, ConnectionError, OSError):
                self.chan.write(data)
                sent = _link_takes_writes(self.conn)
        if not sent:
            await self._unsent()
        self.commands += 1
        if self.session.closed:
            job.closed()
        await job.finished
        if job.end is None or job.end.leftovers:
            self.retire()
            if job.end is not None:  # processes left behind held the pipes until now
                self.chan.close()
        if job.stray:
            log.warning("retiring a warm shell: %d bytes of output after the end of a command", job.stray)
            self.close()
        self.session.job = None
        if job.end is None:
            self.dead = True
            with contextlib.suppress(Exception):
                async with asyncio.timeout(5):
                    await self.chan.wait_closed()
        return job


def _link_takes_writes(conn: asyncssh.SSHClientConnection) -> bool:
    """Whether bytes written to ``conn`` now can reach the host. Once the socket has refused a
    write, or its loss is known but not yet handled, asyncssh drops writes silently, so a command
    written then never left: it is safe to run it elsewhere (exec mode learns the same from its
    session open)."""
    transport = getattr(conn, "_transport", None)  # asyncssh keeps it there until the loss is handled
    return transport is not None and not transport.is_closing()


async def _open_session(
    conn: asyncssh.SSHClientConnection, command: str
) -> tuple[asyncssh.SSHClientChannel[bytes], _ShellSession]:
    """Open a session; an open refusal (sshd frees slots late) is retried briefly, as in exec mode."""
    delay = 0.01
    for attempt in range(6):
        try:
            chan, session = await conn.create_session(_ShellSession, command, encoding=None)
            assert isinstance(session, _ShellSession)
            return chan, session
        except asyncssh.ChannelOpenError as exc:
            if attempt == 5 or conn.is_closed():
                raise NotStarted(f"session refused: {exc.reason}") from None
            await asyncio.sleep(delay * random.uniform(0.5, 1.0))
            delay = min(delay * 3, 0.5)
        except (OSError, asyncssh.Error) as exc:
            raise NotStarted(f"link closed before the command started: {exc}") from None
    raise AssertionError("unreachable")


class WarmShells:
    """Idle warm shells per connection, and the ``shell``-mode counterpart of :func:`execute`."""

    def __init__(self, startup_timeout: float) -> None:
        self.startup_timeout = startup_timeout
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

    async def execute(
        self,
        conn: asyncssh.SSHClientConnection,
        command: str,
        *,
        input: object = None,
        deadline: float | None = None,
        env: dict[str, str] | None = None,
        output_limit: int,
        budget: OutputBudget | None = None,
        on_output: OutputCallback | None = None,
        pty: bool = False,
        alias: str | None = None,
        host: str = "the host",
        background: set[asyncio.Task[None]] | None = None,
        marker: str | None = None,
        unstopped: Callable[[str], None] | None = None,
    ) -> Result:
        """Run ``command`` on a warm shell of ``conn`` (started if none is idle). Same contract as
        :func:`sshpool.core.modes.exec.execute`: a Result once the command was given to a shell,
        NotStarted if it never was."""
        del input, pty  # routed to exec by wants_shell()
        loop = asyncio.get_running_loop()
        start = time.monotonic()
        text = with_env(command, env)
        if "\x00" in text:
            raise ValueError("a command cannot contain a NUL character")
        shell = self._take(conn)
        if shell is None:
            limit = self.startup_timeout
            if deadline is not None:
                limit = max(0.001, min(limit, deadline - loop.time()))
            shell = await WarmShell.start(conn, limit)
            self.started += 1
        marker = marker or uuid.uuid4().hex
        out = _Sink(output_limit, budget)
        err = _Sink(output_limit, budget)

        def in_background(work: Callable[[], Coroutine[Any, Any, None]]) -> None:
            task = loop.create_task(work())
            if background is not None:
                background.add(task)
                task.add_done_callback(background.discard)

        timed_out = False
        job: _Job | None = None
        try:
            if deadline is None:
                job = await shell.run(text, marker, out, err, on_output)
            else:
                async with asyncio.timeout_at(deadline):
                    job = await shell.run(text, marker, out, err, on_output)
        except TimeoutError:
            timed_out = True
            shell.dead = True  # never handed out again, even before the stop below has run
            in_background(lambda: shell.stop(marker, unstopped))
        except asyncio.CancelledError:
            shell.dead = True
            in_background(lambda: shell.stop(marker, unstopped))
            _release(budget, out, err)
            raise
        except NotStarted:
            self.retired += 1
            _release(budget, out, err)
            raise
        self._give(shell)
        duration = time.monotonic() - start
        _release(budget, out, err)
        return _result(shell, job, timed_out, out, err, duration, alias, command, host)


def _result(
    shell: WarmShell,
    job: _Job | None,
    timed_out: bool,
    out: _Sink,
    err: _Sink,
    duration: float,
    alias: str | None,
    command: str,
    host: str,
) -> Result:
    """The same Result shapes as exec mode."""
    fields: dict[str, object] = dict(
        truncated=out.truncated or err.truncated,
        stdout_total=out.total,
        stderr_total=err.total,
        duration=duration,
        alias=alias,
        command=command,
    )
    so, se = out.data(), err.data()
    if timed_out or job is None:
        return Result.from_bytes(
            so,
            se,
            timed_out=True,
            error="timeout",
            exception=f"command timed out after {duration:.1f} s on {host}; it was stopped (TERM, then KILL)",
            **fields,
        )
    end = job.end
    died = shell.chan.get_exit_signal() if end is None else None
    signal: str | None = None
    if end is not None and end.signalled:
        signal = _signal_name(end.status - 128)
    elif died is not None and shell.session.lost is None:
        signal = died[0]
    if signal is not None:
        return Result.from_bytes(
            so, se, signal=signal, error="signal", exception=f"command killed by signal {signal} on {host}", **fields
        )
    if end is None:
        status = shell.chan.get_exit_status()
        if shell.session.lost is None and status is not None and status >= 0 and not shell.conn.is_closed():
            return Result.from_bytes(so, se, exit_code=status, **fields)
        lost = shell.session.lost
        why = f" ({lost})" if lost else ""
        return Result.from_bytes(
            so,
            se,
            error="link_lost",
            exception=lost_during(host, why),
            **fields,
        )
    return Result.from_bytes(so, se, exit_code=end.status, **fields)


def _signal_name(number: int) -> str:
    import signal as _signal

    try:
        return _signal.Signals(number).name.removeprefix("SIG")
    except ValueError:
        return str(number)
