"""What both run modes share: the session open with its retries, output sinks under a budget,
and the shapes of a Result.

Both modes answer alike: the same Result fields, the same words for a timeout, a signal and a
lost link, whichever mode ran the command.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TypeVar

import asyncssh

from sshpool.core.linkerrors import LINK_ERRORS
from sshpool.core.modes import Command
from sshpool.result import Result

__all__ = ["NotStarted", "OutputBudget", "Sink", "lost_during", "open_session", "release", "shape_result"]

T = TypeVar("T")

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
class Sink:
    """One output stream of one command: up to ``limit`` bytes kept (within the budget), all counted."""

    limit: int
    budget: OutputBudget | None
    chunks: list[bytes] = field(default_factory=list)
    size: int = 0
    total: int = 0
    truncated: bool = False
    #: False: count only (the caller streams the output on): nothing held, no budget taken.
    keep: bool = True

    def add(self, data: bytes) -> None:
        self.total += len(data)
        if not self.keep:
            self.truncated = self.total > self.limit
            return
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


def release(budget: OutputBudget | None, *sinks: Sink) -> None:
    """Give the bytes the sinks hold back to the budget (the Result has its own copy)."""
    if budget is not None:
        for s in sinks:
            budget.give(s.size)


async def open_session(
    opener: Callable[[], Awaitable[T]], conn: asyncssh.SSHClientConnection, *, maybe_started: bool
) -> T:
    """``opener()``, with an open refusal retried briefly: sshd frees session slots late, and
    "open failed" means the command never started. Any other failure is NotStarted too;
    ``maybe_started`` says whether the request that died with the link carried the command."""
    delay = 0.01
    for attempt in range(_OPEN_RETRIES + 1):
        try:
            return await opener()
        except asyncssh.ChannelOpenError as exc:
            if attempt == _OPEN_RETRIES or conn.is_closed():
                raise NotStarted(f"session refused: {exc.reason}") from None
            await asyncio.sleep(delay * random.uniform(0.5, 1.0))
            delay = min(delay * 3, 0.5)
        except LINK_ERRORS as exc:
            raise NotStarted(f"link closed before the command started: {exc}", maybe_started=maybe_started) from None
    raise AssertionError("unreachable")


def shape_result(
    command: Command,
    out: Sink,
    err: Sink,
    duration: float,
    *,
    timed_out: bool = False,
    signal: str | None = None,
    exit_code: int | None = None,
    lost: str | None = None,
) -> Result:
    """The Result of a started command, first match wins: timed out, killed by ``signal``,
    exited with ``exit_code``; with none of them the link was lost (``lost``: why, if known)."""
    fields: dict[str, object] = dict(
        truncated=out.truncated or err.truncated,
        stdout_total=out.total,
        stderr_total=err.total,
        duration=duration,
        alias=command.alias,
        command=command.text,
    )
    host = command.host
    if timed_out:
        return Result.from_bytes(
            out.data(),
            err.data(),
            timed_out=True,
            error="timeout",
            exception=f"command timed out after {duration:.1f} s on {host}; it was stopped (TERM, then KILL)",
            **fields,
        )
    if signal is not None:
        return Result.from_bytes(
            out.data(),
            err.data(),
            signal=signal,
            error="signal",
            exception=f"command killed by signal {signal} on {host}",
            **fields,
        )
    if exit_code is not None:
        return Result.from_bytes(out.data(), err.data(), exit_code=exit_code, **fields)
    why = f" ({lost})" if lost is not None else ""
    return Result.from_bytes(out.data(), err.data(), error="link_lost", exception=lost_during(host, why), **fields)


def lost_during(host: str, why: str) -> str:
    """The words of a ``link_lost`` answer, in both run modes."""
    return (
        f"link to {host} lost during the command{why}; it may still be running on {host}; not retried "
        "(the channel stops it once it has reconnected)"
    )
