"""The one module that knows threads: sync callers cross into the package's event loop here.

One background thread runs one event loop that owns every SSH link and every daemon client, so a
sync object can be used from many threads at once, and from code that already runs an event loop
(Jupyter), where ``asyncio.run`` would refuse. It imports nothing from sshpool, so anything
above it can call through it (``sshpool.sync.Connection`` and ``sshpool.sync.DaemonClient`` do)
without an import cycle.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import queue
import threading
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable, Generator
from typing import ParamSpec, Protocol, TypeVar

import anyio
from anyio.from_thread import BlockingPortal

__all__ = ["call", "iterate", "portal", "track"]

T = TypeVar("T")
P = ParamSpec("P")

_EXIT_GRACE = 5.0  # seconds the exit handler gives open connections to close

_lock = threading.Lock()
_portal: BlockingPortal | None = None
_thread: threading.Thread | None = None


class Closable(Protocol):
    async def aclose(self) -> None: ...


_live: weakref.WeakSet[Closable] = weakref.WeakSet()


def portal() -> BlockingPortal:
    """The process's one portal, started on first use in a daemon thread named ``sshpool-loop``."""
    global _portal, _thread
    with _lock:
        if _portal is None:
            ready: queue.Queue[BlockingPortal | BaseException] = queue.Queue(maxsize=1)

            def main() -> None:
                async def serve() -> None:
                    async with BlockingPortal() as p:
                        ready.put(p)
                        await p.sleep_until_stopped()

                try:
                    anyio.run(serve, backend="asyncio")
                except BaseException as exc:  # reported to the caller that started the loop
                    ready.put(exc)

            _thread = threading.Thread(target=main, name="sshpool-loop", daemon=True)
            _thread.start()
            got = ready.get(timeout=30)
            if isinstance(got, BaseException):
                raise RuntimeError(f"the sshpool event loop did not start: {got}") from got
            _portal = got
            atexit.register(_shutdown)
        return _portal


def call(fn: Callable[P, Awaitable[T]], /, *args: P.args, **kwargs: P.kwargs) -> T:
    """Run ``fn(*args, **kwargs)`` in the loop thread and return its result (typed as ``fn``'s)."""
    return portal().call(functools.partial(fn, *args, **kwargs))


def iterate(agen: AsyncIterator[T]) -> Generator[T, None, None]:
    """Blocking iteration over an async iterator that lives in the loop thread; closing the
    iterator early closes ``agen`` there (so a request or a command is not left open)."""
    try:
        while True:
            try:
                yield call(agen.__anext__)
            except StopAsyncIteration:
                return
    finally:
        aclose = getattr(agen, "aclose", None)
        if aclose is not None:
            with contextlib.suppress(Exception):
                call(aclose)


def track(obj: Closable) -> None:
    """Close ``obj`` (weakly held) when the process exits, before the loop stops."""
    _live.add(obj)


def _shutdown() -> None:
    """At exit: close every tracked object, then stop the loop (bounded: exit never hangs)."""
    global _portal
    p = _portal
    if p is None:
        return

    async def close_all() -> None:
        with anyio.move_on_after(_EXIT_GRACE):
            for obj in list(_live):
                with contextlib.suppress(Exception):
                    await obj.aclose()

    with contextlib.suppress(Exception):
        p.call(close_all)
        p.call(p.stop)
    if _thread is not None:
        _thread.join(timeout=_EXIT_GRACE)
    _portal = None
