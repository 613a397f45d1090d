"""Running one command in its own SSH session on an open connection (the ``exec`` mode).

The traps this module exists for: stdin must get EOF unless input is given (else a prompt hangs
forever); both streams are drained together (else large output deadlocks); output is bytes
(asyncssh's utf-8 decoding tears down the whole connection on one bad byte); a lost link shows
up as a normal end with no exit status; and a timed-out remote command keeps running unless it is
signalled, which sshd refuses for root, so a marker finds its processes instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable

import asyncssh

from sshpool.commands import kill_marked, with_env, with_marker
from sshpool.core.background import Background
from sshpool.core.linkerrors import STREAM_ERRORS
from sshpool.core.modes import Command, OutputCallback
from sshpool.core.modes.base import Sink, open_session, release, shape_result
from sshpool.inputs import Stdin
from sshpool.result import Result

__all__ = ["ExecMode", "stop_remote"]

log = logging.getLogger("sshpool")

_CHUNK = 1 << 20


class ExecMode:
    """A new SSH session per command. Stopping a timed-out or cancelled command goes on in
    ``background``, after the answer."""

    def __init__(self, background: Background) -> None:
        self.background = background

    async def run(self, conn: asyncssh.SSHClientConnection, command: Command) -> Result:
        """Run ``command`` once. Returns a Result whenever the session opened; raises NotStarted
        if it did not."""
        full = with_marker(with_env(command.text, command.env), command.marker)
        start = time.monotonic()
        data = command.input
        proc = await open_session(
            lambda: conn.create_process(
                full,
                encoding=None,
                stdin=asyncssh.PIPE if data is not None else asyncssh.DEVNULL,
                term_type="xterm" if command.pty else None,
            ),
            conn,
            maybe_started=True,
        )
        out = Sink(command.output_limit, command.budget, keep=command.keep_output)
        err = Sink(command.output_limit, command.budget, keep=command.keep_output)
        timed_out = False
        lost: str | None = None

        async def body() -> None:
            # stdin is fed beside the output and given up once the command has ended: a command that
            # never reads it (``uptime`` with an idle pipe for stdin) ends as it does under ssh.
            feeder = None if data is None else asyncio.ensure_future(_feed(proc, data))
            try:
                await asyncio.gather(
                    _drain(proc.stdout, out, "stdout", command.on_output),
                    _drain(proc.stderr, err, "stderr", command.on_output),
                )
                await proc.wait_closed()
            finally:
                if feeder is not None and not feeder.done():
                    feeder.cancel()
                    await asyncio.wait([feeder])

        try:
            if command.deadline is None:
                await body()
            else:
                async with asyncio.timeout_at(command.deadline):
                    await body()
        except TimeoutError:
            timed_out = True
            self.background.spawn(stop_remote(conn, proc, command.marker, command.unstopped))
        except asyncio.CancelledError:
            self.background.spawn(stop_remote(conn, proc, command.marker, command.unstopped))
            release(command.budget, out, err)
            raise
        except STREAM_ERRORS as exc:
            lost = str(exc) or type(exc).__name__
        duration = time.monotonic() - start
        release(command.budget, out, err)
        status = proc.exit_status
        signal = proc.exit_signal
        if status is None or lost is not None or (status == -1 and conn.is_closed()):
            status = None  # the link went: no exit status to tell
        return shape_result(
            command,
            out,
            err,
            duration,
            timed_out=timed_out,
            signal=signal[0] if signal is not None else None,
            exit_code=status,
            lost=lost,
        )


async def stop_remote(
    conn: asyncssh.SSHClientConnection,
    proc: asyncssh.SSHClientProcess[bytes],
    marker: str,
    unstopped: Callable[[str], None] | None = None,
) -> None:
    """TERM by signal request (instant for non-root), then the marker sweep over a fresh session,
    which also reaches root sessions and children the command left behind. When the link is gone,
    ``unstopped`` gets the marker, for a sweep once the channel has reconnected."""
    with contextlib.suppress(Exception):
        proc.send_signal("TERM")
    try:
        async with asyncio.timeout(5):
            await conn.run(kill_marked(marker), stdin=asyncssh.DEVNULL, encoding=None)
    except Exception as exc:  # the link may be gone: nothing more can be done over it
        log.debug("stopping a remote command failed: %s", exc)
        if unstopped is not None:
            unstopped(marker)
    finally:
        proc.close()


async def _drain(reader: asyncssh.SSHReader[bytes], sink: Sink, name: str, cb: OutputCallback | None) -> None:
    while True:
        data = await reader.read(_CHUNK)
        if not data:
            return
        sink.add(data)
        if cb is not None:
            cb(name, data)


async def _feed(proc: asyncssh.SSHClientProcess[bytes], data: Stdin) -> None:
    """Write stdin as the SSH window allows (``drain`` after each chunk), then EOF. A stream is
    pulled one chunk at a time, so memory stays at a chunk whatever its size."""
    try:
        if isinstance(data, bytes):
            proc.stdin.write(data)
            await proc.stdin.drain()
        else:
            try:
                async for chunk in data:
                    proc.stdin.write(chunk)
                    await proc.stdin.drain()
            except STREAM_ERRORS:
                raise
            except Exception as exc:  # the source failed (a file error, a client gone): EOF, and say so
                log.warning("stdin source failed after part of its data: %s", exc)
            finally:
                aclose = getattr(data, "aclose", None)
                if aclose is not None:
                    with contextlib.suppress(Exception):
                        await aclose()
        proc.stdin.write_eof()
    except STREAM_ERRORS:
        pass  # the command exited without reading all of its input: its exit status tells
