"""Commands lost with their link, stopped once the channel can reach the host again.

A command answered ``link_lost`` may still be running: the host kept it going when the link died
(as sshd does without a terminal), and nobody is waiting for it now. Its marker is remembered and
its processes are stopped over a live connection of the channel, at once if one is up, else once
the channel has reconnected.
"""

from __future__ import annotations

import asyncio
import logging

import asyncssh

from sshpool.commands import kill_marked
from sshpool.core.background import Background
from sshpool.core.linkerrors import LINK_ERRORS
from sshpool.core.slots import Owner, Slots

__all__ = ["MAX_ORPHANS", "Orphans"]

log = logging.getLogger("sshpool")

#: Lost commands remembered for the sweep after a reconnect (a flapping link cannot grow it forever).
MAX_ORPHANS = 1000


class Orphans:
    """The markers of one channel's (``owner``'s) lost commands, stopped over a live link of
    ``slots``; a sweep gets ``timeout`` seconds."""

    def __init__(self, owner: Owner, slots: Slots, *, timeout: float, background: Background) -> None:
        self.owner = owner
        self._slots = slots
        self._timeout = timeout
        self._background = background
        self.markers: list[str] = []

    def lost(self, marker: str) -> None:
        """A command whose link died before it ended or could be stopped: stop it now if another
        connection of the channel is up, else once the channel has reconnected."""
        if len(self.markers) < MAX_ORPHANS:
            self.markers.append(marker)
        self.sweep()

    def sweep(self) -> None:
        """Stop what the remembered commands left running, on a live connection of the channel;
        markers it could not reach wait for the next sweep."""
        conn = self._slots.live()
        if not self.markers or conn is None or self.owner.state != "up":
            return
        markers, self.markers = self.markers, []
        self._background.spawn(self._stop(conn, markers))

    async def _stop(self, conn: asyncssh.SSHClientConnection, markers: list[str]) -> None:
        script = "; ".join(f"( {kill_marked(m)} )" for m in markers)
        try:
            async with asyncio.timeout(self._timeout):
                await conn.run(script, stdin=asyncssh.DEVNULL, encoding=None)
            log.info("stopped what %d lost command(s) left running on %s", len(markers), self.owner.host)
        except LINK_ERRORS as exc:
            log.info("could not stop the commands lost with the link to %s yet: %s", self.owner.host, exc)
            self.markers = (markers + self.markers)[:MAX_ORPHANS]
            if self.owner.state != "stopped":  # a busy or flapping link: try again shortly
                asyncio.get_running_loop().call_later(1.0, self.sweep)

    def __repr__(self) -> str:
        return f"<Orphans {len(self.markers)} waiting>"
