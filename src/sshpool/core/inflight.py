"""The commands running on a channel, so that stopping the channel can end them cleanly.

A stop first gives them time to end (``drain``), then cancels them. A command cancelled by the
stop answers ``channel_stopped`` (its caller gets a Result); any other cancel goes through.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from typing import Any

__all__ = ["InFlight"]


class InFlight:
    """The tasks running commands now, and those of them a stop has cancelled."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()
        self._stopped: set[asyncio.Task[Any]] = set()

    def __len__(self) -> int:
        return len(self._tasks)

    @contextlib.contextmanager
    def track(self) -> Iterator[asyncio.Task[Any]]:
        """Count the current task in for the block; yields it."""
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            yield task
        finally:
            self._tasks.discard(task)
            self._stopped.discard(task)

    def stopped(self, task: asyncio.Task[Any]) -> bool:
        """Whether ``task`` was cancelled by :meth:`stop`; if so, the cancel is taken back."""
        if task not in self._stopped:
            return False
        task.uncancel()
        return True

    async def drain(self, timeout: float) -> None:
        """Wait up to ``timeout`` seconds for the commands to end by themselves."""
        if timeout > 0 and self._tasks:
            await asyncio.wait(list(self._tasks), timeout=timeout)

    async def stop(self, timeout: float) -> None:
        """Cancel every command, and wait up to ``timeout`` seconds for them to answer."""
        for task in list(self._tasks):
            self._stopped.add(task)
            task.cancel()
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=timeout)

    def __repr__(self) -> str:
        return f"<InFlight {len(self._tasks)} running>"
