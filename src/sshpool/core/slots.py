"""A channel's connections and their session slots.

sshd runs at most ``max_sessions`` sessions per connection. A command takes a slot on the least
busy connection; when every slot is taken it waits in a fair queue (round robin over clients),
and an extra connection is opened, up to ``max_connections``. An extra connection is closed once
it has been idle for ``idle_connection_timeout``; the primary one (the supervisor's) stays.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Protocol

import asyncssh

from sshpool.core.background import Background
from sshpool.defaults import Settings
from sshpool.errors import ChannelUnavailableError, SSHPoolError

__all__ = ["Link", "Owner", "Slots"]

log = logging.getLogger("sshpool")


class Owner(Protocol):
    """What the parts of a channel read of it, as it is now."""

    @property
    def alias(self) -> str: ...

    @property
    def state(self) -> str: ...

    @property
    def host(self) -> str: ...


class Link:
    """One open connection of a channel and how many of its session slots are taken."""

    __slots__ = ("active", "conn", "idle_since", "primary", "reaper", "watcher")

    def __init__(self, conn: asyncssh.SSHClientConnection, primary: bool) -> None:
        self.conn = conn
        self.primary = primary
        self.active = 0
        self.idle_since = time.monotonic()
        self.reaper: asyncio.TimerHandle | None = None
        self.watcher: asyncio.Task[None] | None = None


class Slots:
    """The links of one channel (``owner``) and the commands waiting for a slot on them.
    ``connect()`` opens a new connection (for an extra link); ``on_empty()`` is called when the
    last link closed while the channel was up."""

    def __init__(
        self,
        owner: Owner,
        settings: Settings,
        *,
        background: Background,
        connect: Callable[[], Awaitable[asyncssh.SSHClientConnection]],
        on_empty: Callable[[], None],
    ) -> None:
        self.owner = owner
        self.settings = settings
        self.links: list[Link] = []
        self._background = background
        self._connect = connect
        self._on_empty = on_empty
        self._opening_extra = 0
        self._waiters: collections.OrderedDict[str, collections.deque[asyncio.Future[Link]]] = collections.OrderedDict()

    @property
    def queued(self) -> int:
        return sum(1 for q in self._waiters.values() for f in q if not f.done())

    @property
    def running(self) -> int:
        return sum(link.active for link in self.links)

    def live(self) -> asyncssh.SSHClientConnection | None:
        """An open connection, if there is one."""
        return next((link.conn for link in self.links if not link.conn.is_closed()), None)

    def local_ports(self) -> list[int]:
        """Client-side TCP ports of the open connections."""
        ports = []
        for link in self.links:
            sockname = link.conn.get_extra_info("sockname")
            if sockname:
                ports.append(int(sockname[1]))
        return ports

    def add(self, link: Link) -> None:
        self.links.append(link)
        link.watcher = asyncio.get_running_loop().create_task(self._watch(link))
        self.grant()

    async def _watch(self, link: Link) -> None:
        await link.conn.wait_closed()
        if link in self.links:
            self.links.remove(link)
        if not self.links and self.owner.state == "up":
            self._on_empty()

    def free(self) -> Link | None:
        best: Link | None = None
        for link in self.links:
            if link.active < self.settings.max_sessions and not link.conn.is_closed():
                if best is None or link.active < best.active:
                    best = link
        return best

    def grant(self) -> None:
        """Hand free slots to waiters, one client at a time (round robin)."""
        while self._waiters:
            link = self.free()
            if link is None:
                return
            client, queue = next(iter(self._waiters.items()))
            while queue and queue[0].done():
                queue.popleft()
            if not queue:
                del self._waiters[client]
                continue
            fut = queue.popleft()
            self._waiters.move_to_end(client)
            if not queue:
                del self._waiters[client]
            link.active += 1
            fut.set_result(link)

    def fail_waiters(self, exc: SSHPoolError) -> None:
        for queue in self._waiters.values():
            for fut in queue:
                if not fut.done():
                    fut.set_exception(exc)
        self._waiters.clear()

    async def acquire(self, client: str, deadline: float | None) -> Link:
        """A slot on the least busy link, else a place in ``client``'s queue until ``deadline``
        (a ``loop.time()`` value, None: no limit)."""
        if not self._waiters:
            link = self.free()
            if link is not None:
                link.active += 1
                return link
        fut: asyncio.Future[Link] = asyncio.get_running_loop().create_future()
        self._waiters.setdefault(client, collections.deque()).append(fut)
        self._maybe_grow()
        try:
            if deadline is None:
                return await fut
            async with asyncio.timeout_at(deadline):
                return await fut
        except TimeoutError:
            raise ChannelUnavailableError(
                f"no free session on channel {self.owner.alias} ({self.owner.state}) before the deadline; "
                "the command was not started",
                alias=self.owner.alias,
            ) from None
        except BaseException:
            if fut.done() and not fut.cancelled() and fut.exception() is None:
                self.release(fut.result())
            else:
                fut.cancel()
            raise

    def release(self, link: Link) -> None:
        link.active -= 1
        self.grant()
        if link.active == 0 and not link.primary:
            link.idle_since = time.monotonic()
            if link.reaper is None:
                self._check_idle_later(link, self.settings.idle_connection_timeout)

    def _check_idle_later(self, link: Link, delay: float) -> None:
        link.reaper = asyncio.get_running_loop().call_later(delay, self._close_if_idle, link)

    def _close_if_idle(self, link: Link) -> None:
        """An extra connection opened for a burst is closed once the burst is long over, so an idle
        channel holds one connection (and one sshd process) again; a later burst opens new ones.
        One timer per link: it re-arms itself while the link keeps getting work."""
        link.reaper = None
        if link.active or link.primary or link not in self.links:
            return  # the next release arms a new timer
        idle = time.monotonic() - link.idle_since
        if idle < self.settings.idle_connection_timeout:
            self._check_idle_later(link, self.settings.idle_connection_timeout - idle)
            return
        self.links.remove(link)
        log.debug("closing an extra connection of %s, idle for %.0f s", self.owner.alias, idle)
        link.conn.close()

    def _maybe_grow(self) -> None:
        if (
            self.owner.state == "up"
            and self.links
            and self.free() is None
            and len(self.links) + self._opening_extra < self.settings.max_connections
        ):
            self._opening_extra += 1
            self._background.spawn(self._open_extra())

    async def _open_extra(self) -> None:
        try:
            conn = await self._connect()
        except SSHPoolError as exc:
            log.debug("extra connection for %s failed: %s", self.owner.alias, exc)
            return
        finally:
            self._opening_extra -= 1
        if self.owner.state != "up":
            conn.close()
            return
        self.add(Link(conn, primary=False))

    async def aclose(self) -> None:
        """Close every link and wait (a little) until each has closed."""
        for link in list(self.links):
            link.conn.close()
        for link in list(self.links):
            with contextlib.suppress(Exception):
                async with asyncio.timeout(2):
                    await link.conn.wait_closed()
            if link.watcher is not None:
                link.watcher.cancel()
        self.links.clear()

    def __repr__(self) -> str:
        return f"<Slots {self.owner.alias}: {len(self.links)} links, {self.running} running, {self.queued} queued>"
