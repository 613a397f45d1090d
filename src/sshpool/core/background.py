"""Tasks that run on their own, kept until they end.

The event loop holds tasks only weakly: a task nobody references can be collected half-way. A
:class:`Background` holds each task it spawns until the task ends, and lets its owner wait for
the rest at shutdown.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any

__all__ = ["Background"]


class Background:
    """A set of running tasks; each one leaves the set when it ends."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()

    def spawn(self, work: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        """Run ``work`` as a task of the running loop, held until it ends."""
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def __len__(self) -> int:
        return len(self._tasks)

    async def aclose(self, timeout: float | None = None) -> None:
        """Wait up to ``timeout`` seconds (None: no limit) for the tasks still running. They are
        not cancelled: each is short and bounded by its own timeout."""
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=timeout)

    def __repr__(self) -> str:
        return f"<Background {len(self._tasks)} running>"
