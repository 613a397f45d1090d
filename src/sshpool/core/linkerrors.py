"""What asyncssh and the socket raise when a link fails, and its translation into sshpool's errors.

Two tuples, because two questions are asked. :data:`LINK_ERRORS` answers "did talking to the host
fail?" (opening a session, a warm-up, a sweep, SFTP); it includes every OSError, TimeoutError
among them. :data:`STREAM_ERRORS` answers "did the link go away under a running command?" while
its streams are read or its stdin written: only connection-level OSErrors count there, so that
the failure of a local stdin source (a file error, an OSError too) is never taken for the link's.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

import asyncssh

from sshpool.errors import ChannelUnavailableError

__all__ = ["LINK_ERRORS", "STREAM_ERRORS", "unavailable"]

LINK_ERRORS: tuple[type[Exception], ...] = (asyncssh.Error, OSError)
STREAM_ERRORS: tuple[type[Exception], ...] = (asyncssh.Error, ConnectionError)


@contextlib.contextmanager
def unavailable(
    alias: str | None, say: Callable[[Exception], str], *, cleanup: Callable[[], None] | None = None
) -> Iterator[None]:
    """Inside the block, :data:`LINK_ERRORS` become a ChannelUnavailableError saying
    ``say(exc)``: what the block was opening never started. ``cleanup`` runs first."""
    try:
        yield
    except LINK_ERRORS as exc:
        if cleanup is not None:
            cleanup()
        raise ChannelUnavailableError(say(exc), alias=alias) from None
