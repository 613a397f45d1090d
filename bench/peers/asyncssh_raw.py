"""asyncssh used directly: the floor an asyncssh-based design can reach, and the unit of every ratio.

Commands go through ``conn.run`` on kept connections, with stdin closed and bytes out (the same
care sshpool takes). Pools of connections are plain queues of session slots, with the same cap as
sshpool: 8 sessions per connection, 4 connections per channel.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

import asyncssh

from ..config import Target
from ..procs import cut_connections
from .common import ECHO, ECHO_OUT, Tally, burst_result, cipher_options, footprint, output_command, own_usage

SESSIONS = 8
CONNECTIONS = 4


class AsyncsshRaw:
    name = "asyncssh"

    def __init__(self, target: Target) -> None:
        self.t = target
        self.loop = asyncio.new_event_loop()
        self.conn: asyncssh.SSHClientConnection | None = None
        self.groups: dict[int, list[list[asyncssh.SSHClientConnection]]] = {}
        self.fan: list[asyncssh.SSHClientConnection] = []

    # ------------------------------------------------------------------ plumbing

    def _do(self, coro: Any) -> Any:
        return self.loop.run_until_complete(coro)

    async def _connect(self, warm: bool = True) -> asyncssh.SSHClientConnection:
        conn = await asyncssh.connect(
            self.t.host,
            port=self.t.port,
            username=self.t.user,
            client_keys=[self.t.key],
            known_hosts=self.t.known_hosts,
            agent_path=None,
            config=[],
            connect_timeout=15,
            **cipher_options(),
        )
        if warm:
            await conn.run("true", stdin=asyncssh.DEVNULL, encoding=None, timeout=30)
        return conn

    async def _run(self, conn: asyncssh.SSHClientConnection, command: str) -> asyncssh.SSHCompletedProcess:
        return await conn.run(command, stdin=asyncssh.DEVNULL, encoding=None, timeout=600)

    def setup(self) -> None:
        self.conn = self._do(self._connect())

    def close(self) -> None:
        async def shut() -> None:
            conns = [c for g in self.groups.values() for ch in g for c in ch] + self.fan
            if self.conn is not None:
                conns.append(self.conn)
            for c in conns:
                c.close()
            for c in conns:
                with contextlib.suppress(Exception):
                    async with asyncio.timeout(3):
                        await c.wait_closed()

        self._do(shut())
        self.loop.close()

    # ------------------------------------------------------------------ scenarios

    async def _one(self, slot: Any, command: str) -> tuple[bytes, int | None]:
        """One command on ``slot`` (here a connection): its stdout and exit status."""
        r = await self._run(slot, command)
        out = r.stdout if isinstance(r.stdout, bytes) else b""
        return out, r.exit_status

    def _latency_slot(self) -> Any:
        return self.conn

    def latency(self, n: int, command: str = ECHO) -> dict[str, Any]:
        async def go() -> Tally:
            slot = self._latency_slot()
            assert slot is not None
            tally = Tally()
            for _ in range(n):
                started = time.perf_counter()
                try:
                    out, status = await self._one(slot, command)
                except Exception as exc:
                    tally.fail(exc)
                    continue
                tally.check(started, out, status, ECHO_OUT)
            return tally

        result: Tally = self._do(go())
        return result.as_dict()

    def first(self, n: int) -> dict[str, Any]:
        """The first command on a just-opened connection (TCP_NODELAY is not on yet at sshd)."""

        async def go() -> Tally:
            tally = Tally()
            for _ in range(n):
                conn = await self._connect(warm=False)
                try:
                    started = time.perf_counter()
                    r = await self._run(conn, ECHO)
                    tally.check(started, r.stdout, r.exit_status, ECHO_OUT)
                finally:
                    conn.close()
                    await conn.wait_closed()
            return tally

        result: Tally = self._do(go())
        return result.as_dict()

    async def _slots(self, channels: int) -> list[list[Any]]:
        """Per channel, what a burst may use at once: each connection once per session slot."""
        if channels not in self.groups:
            self.groups[channels] = [
                list(await asyncio.gather(*(self._connect() for _ in range(CONNECTIONS)))) for _ in range(channels)
            ]
        return [[c for _ in range(SESSIONS) for c in conns] for conns in self.groups[channels]]

    def throughput(self, callers: int, channels: int, total: int) -> dict[str, Any]:
        async def go() -> dict[str, Any]:
            slots: list[asyncio.Queue[Any]] = []
            for group in await self._slots(channels):
                q: asyncio.Queue[Any] = asyncio.Queue()
                for slot in group:
                    q.put_nowait(slot)
                slots.append(q)
            tally = Tally()
            left = [total]
            ok = [0]

            async def caller(i: int) -> None:
                q = slots[i % channels]
                while left[0] > 0:
                    left[0] -= 1
                    slot = await q.get()
                    try:
                        out, status = await self._one(slot, ECHO)
                        if status == 0 and out == ECHO_OUT:
                            ok[0] += 1
                        else:
                            tally.fail(f"exit {status}")
                    except Exception as exc:
                        tally.fail(exc)
                    finally:
                        q.put_nowait(slot)

            started = time.perf_counter()
            await asyncio.gather(*(caller(i) for i in range(callers)))
            return burst_result(time.perf_counter() - started, ok[0], tally)

        result: dict[str, Any] = self._do(go())
        return result

    def fanout_setup(self, n: int) -> dict[str, Any]:
        """Open ``n`` warm connections (kept for ``fanout``); answers the memory they took."""

        async def go() -> dict[str, Any]:
            before = own_usage()
            sem = asyncio.Semaphore(16)

            async def one() -> asyncssh.SSHClientConnection:
                async with sem:
                    return await self._connect()

            self.fan = list(await asyncio.gather(*(one() for _ in range(n))))
            return footprint(n, before, own_usage())

        result: dict[str, Any] = self._do(go())
        return result

    def fanout(self, n: int) -> dict[str, Any]:
        async def go() -> dict[str, Any]:
            started = time.perf_counter()
            results = await asyncio.gather(*(self._run(c, ECHO) for c in self.fan[:n]), return_exceptions=True)
            elapsed = time.perf_counter() - started
            bad = [r for r in results if isinstance(r, BaseException) or r.stdout != ECHO_OUT]
            return {"seconds": elapsed, "failed": len(bad), "errors": [str(b)[:200] for b in bad[:3]]}

        result: dict[str, Any] = self._do(go())
        return result

    def footprint(self, n: int) -> dict[str, Any]:
        return self.fanout_setup(n)

    def output(self, size: int) -> dict[str, Any]:
        async def go() -> dict[str, Any]:
            assert self.conn is not None
            started = time.perf_counter()
            r = await self._run(self.conn, output_command(size))
            elapsed = time.perf_counter() - started
            got = len(r.stdout or b"")
            return {"seconds": elapsed, "bytes": got, "failed": int(got != size or r.exit_status != 0)}

        result: dict[str, Any] = self._do(go())
        return result

    def recovery(self) -> dict[str, Any]:
        """Kill the connection's sshd; the caller's next command notices, reconnects and runs."""

        async def go() -> dict[str, Any]:
            assert self.conn is not None
            port = int(self.conn.get_extra_info("sockname")[1])
            cut_connections(self.t.port, {port})
            started = time.perf_counter()
            attempts = 0
            while time.perf_counter() - started < 30:
                attempts += 1
                try:
                    r = await self._run(self.conn, ECHO)
                    if r.exit_status == 0 and r.stdout == ECHO_OUT:
                        return {"seconds": time.perf_counter() - started, "attempts": attempts}
                except (asyncssh.Error, OSError):
                    pass
                self.conn.close()
                try:
                    self.conn = await self._connect(warm=False)
                except (asyncssh.Error, OSError):
                    await asyncio.sleep(0.05)
            return {"seconds": None, "attempts": attempts, "failed": 1}

        result: dict[str, Any] = self._do(go())
        return result


PEERS = {"asyncssh": AsyncsshRaw}
