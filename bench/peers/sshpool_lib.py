"""sshpool as a library: the async ``Pool`` (warm channels on one event loop) and the sync
``sshpool.connect()`` face, whose every call crosses a thread portal into that loop."""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

import sshpool

from ..config import Target
from ..procs import cut_connections
from .common import ECHO, ECHO_OUT, Tally, burst_result, footprint, output_command, own_usage

MiB = 1024 * 1024


def _out(r: sshpool.Result) -> bytes:
    return r.stdout_bytes if r.stdout_bytes is not None else r.stdout.encode()


class SshpoolLib:
    name = "sshpool-lib"

    def __init__(self, target: Target) -> None:
        self.t = target
        self.loop = asyncio.new_event_loop()
        self.pool: sshpool.Pool | None = None

    def _do(self, coro: Any) -> Any:
        return self.loop.run_until_complete(coro)

    def _new_pool(self) -> sshpool.Pool:
        return sshpool.Pool(state_dir=f"{self.t.scratch}/lib-state", output_limit=256 * MiB)

    async def _up(self, alias: str) -> None:
        assert self.pool is not None
        info = await self.pool.start(self.t.dsn(alias), wait=30)
        if info.state != "up":
            raise RuntimeError(f"channel {alias} did not come up: {info.last_error}")

    def setup(self) -> None:
        async def go() -> None:
            self.pool = self._new_pool()
            await self._up("lat")

        self._do(go())

    def close(self) -> None:
        if self.pool is not None:
            self._do(self.pool.aclose())
        self.loop.close()

    def latency(self, n: int, command: str = ECHO) -> dict[str, Any]:
        async def go() -> Tally:
            assert self.pool is not None
            channel = self.pool.get("lat")
            tally = Tally()
            for _ in range(n):
                started = time.perf_counter()
                r = await channel.run(command)
                tally.check(started, _out(r), r.exit_code, ECHO_OUT)
            return tally

        result: Tally = self._do(go())
        return result.as_dict()

    def first(self, n: int) -> dict[str, Any]:
        """The first command on a channel just started (its connect warms the link up)."""

        async def go() -> Tally:
            assert self.pool is not None
            tally = Tally()
            for i in range(n):
                alias = f"first{i}"
                await self._up(alias)
                started = time.perf_counter()
                r = await self.pool.run(alias, ECHO)
                tally.check(started, _out(r), r.exit_code, ECHO_OUT)
                await self.pool.stop(alias)
            return tally

        result: Tally = self._do(go())
        return result.as_dict()

    def throughput(self, callers: int, channels: int, total: int) -> dict[str, Any]:
        async def go() -> dict[str, Any]:
            assert self.pool is not None
            aliases = [f"tp{channels}x{i}" for i in range(channels)]
            for alias in aliases:
                if alias not in self.pool:
                    await self._up(alias)
            chans = [self.pool.get(a) for a in aliases]
            tally = Tally()
            left = [total]
            ok = [0]

            async def caller(i: int) -> None:
                channel = chans[i % channels]
                while left[0] > 0:
                    left[0] -= 1
                    try:
                        r = await channel.run(ECHO)
                    except sshpool.SSHPoolError as exc:
                        tally.fail(exc)
                        continue
                    if r.exit_code == 0 and _out(r) == ECHO_OUT:
                        ok[0] += 1
                    else:
                        tally.fail(r.exception or f"exit {r.exit_code}")

            started = time.perf_counter()
            await asyncio.gather(*(caller(i) for i in range(callers)))
            return burst_result(time.perf_counter() - started, ok[0], tally)

        result: dict[str, Any] = self._do(go())
        return result

    def footprint(self, n: int) -> dict[str, Any]:
        async def go() -> dict[str, Any]:
            assert self.pool is not None
            before = own_usage()
            infos = await self.pool.start_many([self.t.dsn(f"idle{i}") for i in range(n)], wait=60)
            down = [i.alias for i in infos if i.state != "up"]
            after = own_usage()
            for i in range(n):
                await self.pool.stop(f"idle{i}")
            return {**footprint(n, before, after), "failed": len(down)}

        result: dict[str, Any] = self._do(go())
        return result

    def output(self, size: int) -> dict[str, Any]:
        async def go() -> dict[str, Any]:
            assert self.pool is not None
            started = time.perf_counter()
            r = await self.pool.run("lat", output_command(size))
            elapsed = time.perf_counter() - started
            got = len(_out(r))
            return {"seconds": elapsed, "bytes": got, "failed": int(got != size or r.exit_code != 0)}

        result: dict[str, Any] = self._do(go())
        return result

    def recovery(self) -> dict[str, Any]:
        """Kill the channel's sshd processes; time until a command succeeds again."""

        async def go() -> dict[str, Any]:
            assert self.pool is not None
            channel = self.pool.get("lat")
            ports = set(channel.local_ports())
            cut_connections(self.t.port, ports)
            started = time.perf_counter()
            attempts = 0
            while time.perf_counter() - started < 30:
                attempts += 1
                with contextlib.suppress(sshpool.SSHPoolError):
                    r = await channel.run(ECHO)
                    if r.exit_code == 0 and _out(r) == ECHO_OUT:
                        return {"seconds": time.perf_counter() - started, "attempts": attempts}
                await asyncio.sleep(0.001)
            return {"seconds": None, "attempts": attempts, "failed": 1}

        result: dict[str, Any] = self._do(go())
        return result


class SshpoolSync:
    """``sshpool.connect()``: the face most scripts use, one thread hop per call."""

    name = "sshpool-sync"

    def __init__(self, target: Target) -> None:
        self.t = target
        self.conn: sshpool.Connection | None = None

    def setup(self) -> None:
        self.conn = sshpool.connect(self.t.dsn("sync"), state_dir=f"{self.t.scratch}/sync-state")

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()

    def latency(self, n: int, command: str = ECHO) -> dict[str, Any]:
        assert self.conn is not None
        tally = Tally()
        for _ in range(n):
            started = time.perf_counter()
            r = self.conn.run(command)
            tally.check(started, _out(r), r.exit_code, ECHO_OUT)
        return tally.as_dict()


PEERS = {"sshpool-lib": SshpoolLib, "sshpool-sync": SshpoolSync}
