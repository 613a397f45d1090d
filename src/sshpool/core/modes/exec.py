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
import random
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

import asyncssh

from sshpool.commands import kill_marked, with_env, with_marker
from sshpool.inputs import Stdin
from sshpool.result import Result

__all__ = ["NotStarted", "OutputBudget", "OutputCallback", "execute"]

log = logging.getLogger("sshpool")

OutputCallback = Callable[[str, bytes], None]
_CHUNK = 1 << 20
_OPEN_RETRIES = 5


class NotStarted(Exception):
    """The session never opened: the command did not run, so running it elsewhere is safe.
    ``maybe_started``: the link died while the session was being opened, after the request may
    have reached the host; its marker is swept once the channel is back, in case it did."""

    def __init__(self, message: str, *, maybe_started: bool = False) -> None:
        super().__init__(message)
        self.maybe_started = maybe_started


class OutputBudget:
    """Bytes of output held at once across all commands of a pool; past it output is counted only."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.used = 0

    def take(self, n: int) -> int:
        granted = max(0, min(n, self.limit - self.used))
        self.used += granted
        return granted

    def give(self, n: int) -> None:
        self.used = max(0, self.used - n)


@dataclass
class _Sink:
    limit: int
    budget: OutputBudget | None
    chunks: list[bytes] = field(default_factory=list)
    size: int = 0
    total: int = 0
    truncated: bool = False

    def add(self, data: bytes) -> None:
        self.total += len(data)
        room = self.limit - self.size
        if room <= 0:
            self.truncated = True
            return
        piece = data[:room]
        if self.budget is not None:
            granted = self.budget.take(len(piece))
            piece = piece[:granted]
        if len(piece) < len(data):
            self.truncated = True
        if piece:
            self.chunks.append(piece)
            self.size += len(piece)

    def data(self) -> bytes:
        """What was kept, joined once (a growing bytearray copies 100 MB several times over)."""
        return b"".join(self.chunks)


async def _drain(reader: asyncssh.SSHReader[bytes], sink: _Sink, name: str, cb: OutputCallback | None) -> None:
    while True:
        data = await reader.read(_CHUNK)
        if not data:
            return
        sink.add(data)
        if cb is not None:
            cb(name, data)


async def _open(
    conn: asyncssh.SSHClientConnection, command: str, has_input: bool, pty: bool
) -> asyncssh.SSHClientProcess[bytes]:
    delay = 0.01
    for attempt in range(_OPEN_RETRIES + 1):
        try:
            return await conn.create_process(
                command,
                encoding=None,
                stdin=asyncssh.PIPE if has_input else asyncssh.DEVNULL,
                term_type="xterm" if pty else None,
            )
        except asyncssh.ChannelOpenError as exc:
            # sshd frees session slots late; "open failed" means the command never started.
            if attempt == _OPEN_RETRIES or conn.is_closed():
                raise NotStarted(f"session refused: {exc.reason}") from None
            await asyncio.sleep(delay * random.uniform(0.5, 1.0))
            delay = min(delay * 3, 0.5)
        except (asyncssh.DisconnectError, OSError, asyncssh.Error) as exc:
            raise NotStarted(f"link closed before the command started: {exc}", maybe_started=True) from None
    raise AssertionError("unreachable")


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


async def execute(
    conn: asyncssh.SSHClientConnection,
    command: str,
    *,
    input: Stdin | None = None,
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
    """Run ``command`` once. Returns a Result whenever the session opened; raises NotStarted if
    it did not. ``deadline`` is a ``loop.time()`` value (None: no limit). ``marker`` tags the
    command's processes (a fresh one when not given), so that they can be found and stopped."""
    marker = marker or uuid.uuid4().hex
    full = with_marker(with_env(command, env), marker)
    loop = asyncio.get_running_loop()
    start = time.monotonic()
    proc = await _open(conn, full, input is not None, pty)
    out = _Sink(output_limit, budget)
    err = _Sink(output_limit, budget)
    timed_out = False
    lost: str | None = None

    async def body() -> None:
        # stdin is fed beside the output and given up once the command has ended: a command that
        # never reads it (``uptime`` with an idle pipe for stdin) ends as it does under ssh.
        feeder = None if input is None else asyncio.ensure_future(_feed(proc, input))
        try:
            await asyncio.gather(
                _drain(proc.stdout, out, "stdout", on_output),
                _drain(proc.stderr, err, "stderr", on_output),
            )
            await proc.wait_closed()
        finally:
            if feeder is not None and not feeder.done():
                feeder.cancel()
                await asyncio.wait([feeder])

    def stop_in_background() -> None:
        task = loop.create_task(stop_remote(conn, proc, marker, unstopped))
        if background is not None:
            background.add(task)
            task.add_done_callback(background.discard)

    try:
        if deadline is None:
            await body()
        else:
            async with asyncio.timeout_at(deadline):
                await body()
    except TimeoutError:
        timed_out = True
        stop_in_background()
    except asyncio.CancelledError:
        stop_in_background()
        _release(budget, out, err)
        raise
    except (asyncssh.DisconnectError, asyncssh.ChannelOpenError, BrokenPipeError, ConnectionError) as exc:
        lost = str(exc) or type(exc).__name__
    duration = time.monotonic() - start
    _release(budget, out, err)
    fields: dict[str, object] = dict(
        truncated=out.truncated or err.truncated,
        stdout_total=out.total,
        stderr_total=err.total,
        duration=duration,
        alias=alias,
        command=command,
    )
    if timed_out:
        limit = f"{duration:.1f} s"
        return Result.from_bytes(
            out.data(),
            err.data(),
            timed_out=True,
            error="timeout",
            exception=f"command timed out after {limit} on {host}; it was stopped (TERM, then KILL)",
            **fields,
        )
    status = proc.exit_status
    signal = proc.exit_signal
    if signal is not None:
        name = signal[0]
        return Result.from_bytes(
            out.data(),
            err.data(),
            signal=name,
            error="signal",
            exception=f"command killed by signal {name} on {host}",
            **fields,
        )
    if status is None or lost is not None or (status == -1 and conn.is_closed()):
        why = f" ({lost})" if lost else ""
        return Result.from_bytes(
            out.data(),
            err.data(),
            error="link_lost",
            exception=lost_during(host, why),
            **fields,
        )
    return Result.from_bytes(out.data(), err.data(), exit_code=status, **fields)


def lost_during(host: str, why: str) -> str:
    """The words of a ``link_lost`` answer, in both run modes."""
    return (
        f"link to {host} lost during the command{why}; it may still be running on {host}; not retried "
        "(the channel stops it once it has reconnected)"
    )


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
            except (BrokenPipeError, ConnectionError, asyncssh.Error):
                raise
            except Exception as exc:  # the source failed (a file error, a client gone): EOF, and say so
                log.warning("stdin source failed after part of its data: %s", exc)
            finally:
                aclose = getattr(data, "aclose", None)
                if aclose is not None:
                    with contextlib.suppress(Exception):
                        await aclose()
        proc.stdin.write_eof()
    except (BrokenPipeError, ConnectionError, asyncssh.Error):
        pass  # the command exited without reading all of its input: its exit status tells


def _release(budget: OutputBudget | None, *sinks: _Sink) -> None:
    if budget is not None:
        for s in sinks:
            budget.give(s.size)
