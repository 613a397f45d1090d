"""One warm shell: a long-lived session running the login shell, and the routing of its output.

Each command is framed (see :mod:`sshpool.core.modes.shellframe`) so that its end shows as a token
line on both streams. :class:`ShellSession` feeds what arrives to the command running now, without
a task per stream; :class:`Stream` finds the token even when it is split across packets, and
passes on at once whatever cannot be part of it, so output streams live.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

import asyncssh

from sshpool.commands import kill_marked
from sshpool.core.linkerrors import LINK_ERRORS
from sshpool.core.modes import OutputCallback
from sshpool.core.modes.base import NotStarted, Sink, open_session
from sshpool.core.modes.shellframe import EndLine, driver, frame, new_token, parse_end, stop_script

__all__ = ["Job", "ShellSession", "Stream", "WarmShell"]

log = logging.getLogger("sshpool")


class Stream:
    """One output stream of a warm shell for one command: bytes before the token go to the sink;
    bytes that cannot be the start of the token are passed on at once, so output streams live and
    a token split across packets is still found."""

    __slots__ = ("cb", "done", "hold", "line", "name", "need_line", "sink", "tail", "token")

    def __init__(self, name: str, token: bytes, sink: Sink, cb: OutputCallback | None, need_line: bool) -> None:
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


class Job:
    """One command on a warm shell: its two streams and a future set when both ended."""

    def __init__(self, token: str, out: Sink, err: Sink, cb: OutputCallback | None, ready: bool = False) -> None:
        t = token.encode()
        self.ready = ready  # the start-up line (``token pid``), not a command's end line
        self.out = Stream("stdout", t, out, cb, True)
        self.err = Stream("stderr", t, err, cb, True)
        self.end: EndLine | None = None
        self.stray = 0
        self.finished: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def feed(self, stream: Stream, data: bytes) -> None:
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


class ShellSession(asyncssh.SSHClientSession[bytes]):
    """Routes a warm shell's output to the command running on it, without a task per stream."""

    def __init__(self) -> None:
        self.job: Job | None = None
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
        self, conn: asyncssh.SSHClientConnection, chan: asyncssh.SSHClientChannel[bytes], session: ShellSession
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
        chan, session = await open_session(lambda: _create(conn, driver(token)), conn, maybe_started=False)
        shell = cls(conn, chan, session)
        ok = False
        try:
            job = session.job = Job(token, Sink(0, None), Sink(0, None), None, ready=True)
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

    async def run(self, command: str, marker: str, out: Sink, err: Sink, on_output: OutputCallback | None) -> Job:
        """Run one command; returns its job once both streams ended (``end`` None: the shell died).
        Raises NotStarted when the link was already gone as the command was written: it never left."""
        token = new_token()
        data = frame(command, token, marker)
        job = Job(token, out, err, on_output)
        sent = False
        if not self.session.closed and _link_takes_writes(self.conn):
            self.session.job = job
            with contextlib.suppress(*LINK_ERRORS):
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


async def _create(
    conn: asyncssh.SSHClientConnection, command: str
) -> tuple[asyncssh.SSHClientChannel[bytes], ShellSession]:
    chan, session = await conn.create_session(ShellSession, command, encoding=None)
    assert isinstance(session, ShellSession)
    return chan, session
