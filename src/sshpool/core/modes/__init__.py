"""How a channel runs one command: the seam between the channel and its two run modes.

A channel hands a :class:`RunMode` one open connection and one :class:`Command`; the mode gives
back a Result once the command was started, or raises :class:`~sshpool.core.modes.base.NotStarted`
when it never was (then the channel may run it on another connection). ``exec`` (``modes.exec``)
opens a new SSH session per command; ``shell`` (``modes.shell``) keeps warm shells and reuses them.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from sshpool.defaults import MODES
from sshpool.result import OutputCallback

if TYPE_CHECKING:
    import asyncssh

    from sshpool.core.modes.base import OutputBudget
    from sshpool.inputs import Stdin
    from sshpool.result import Result

__all__ = ["Command", "OutputCallback", "RunMode", "check_mode", "wants_shell"]


@dataclass(frozen=True)
class Command:
    """One command as a run mode gets it: what to run, and where its output and loose ends go.

    ``deadline`` is a ``loop.time()`` value (None: no limit). ``marker`` tags the command's
    processes, so that they can be found and stopped; ``unstopped`` gets it when they could not
    be (the link was gone), for a sweep once the channel has reconnected. Output past
    ``output_limit`` bytes per stream, or past the pool's ``budget``, is counted, not kept.
    """

    text: str
    output_limit: int
    marker: str = field(default_factory=lambda: os.urandom(16).hex())
    input: Stdin | None = None
    deadline: float | None = None
    env: dict[str, str] | None = None
    pty: bool = False
    on_output: OutputCallback | None = None
    #: False: the output went to ``on_output`` and is not kept (a stream's answer never sends it
    #: again); the Result has the totals and ``truncated`` says whether it passed ``output_limit``.
    keep_output: bool = True
    budget: OutputBudget | None = None
    alias: str | None = None
    host: str = "the host"
    unstopped: Callable[[str], None] | None = None


class RunMode(Protocol):
    """A way to run a command on an open connection."""

    async def run(self, conn: asyncssh.SSHClientConnection, command: Command) -> Result:
        """A Result whenever the command was started; NotStarted when it never was."""
        ...


def check_mode(mode: str) -> str:
    """``mode`` unchanged when valid, else a ValueError saying what is allowed."""
    if mode not in MODES:
        raise ValueError(f"unknown mode {mode!r}: use 'exec' (a session per command) or 'shell' (warm shells)")
    return mode


def wants_shell(mode: str, input: object, pty: bool) -> bool:
    """Commands with input or a pty always take the ``exec`` path: a warm shell gives ``/dev/null``."""
    return mode == "shell" and input is None and not pty
