"""The daemon-backed library: ``AsyncDaemonClient(url, token).channel(alias)``, the connection that
``sshpool.connect(alias, daemon=True)`` wraps, running its commands through sshpoold's REST API
on the library's own HTTP client (httpx). Read against the lean REST client on the same daemon,
it shows what the library's face costs on top of the HTTP request itself.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import sshpool
from sshpool.connection import AsyncConnection
from sshpool.runners.remote import AsyncDaemonClient

from ..config import Target
from .common import ECHO, ECHO_OUT, Tally, burst_result
from .sshpool_rest import SshpooldRest


class SshpoolDaemonLib(SshpooldRest):
    name = "sshpool-daemon-lib"
    prefix = "d-"

    def __init__(self, target: Target) -> None:
        super().__init__(target)
        self.loop = asyncio.new_event_loop()
        self.client = AsyncDaemonClient(target.daemon_url, target.daemon_token)
        self.conns: dict[str, AsyncConnection] = {}

    def _do(self, coro: Any) -> Any:
        return self.loop.run_until_complete(coro)

    async def _conn(self, alias: str) -> AsyncConnection:
        if alias not in self.conns:
            self.conns[alias] = await self.client.channel(self.prefix + alias)
        return self.conns[alias]

    def setup(self) -> None:
        self._start("lib")
        self._do(self._conn("lib"))

    def close(self) -> None:
        self._do(self.client.aclose())
        self.loop.close()
        super().close()

    def latency(self, n: int, command: str = ECHO) -> dict[str, Any]:
        """``wait`` (stdout, raising on a failure) one after another on a warm channel."""

        async def go() -> Tally:
            conn = await self._conn("lib")
            tally = Tally()
            for _ in range(n):
                started = time.perf_counter()
                try:
                    out = await conn.wait(command)
                except (sshpool.SSHPoolError, ValueError) as exc:
                    tally.fail(exc)
                    continue
                tally.check(started, out, 0, ECHO_OUT)
            return tally

        result: Tally = self._do(go())
        return result.as_dict()

    def throughput(self, callers: int, channels: int, total: int) -> dict[str, Any]:
        aliases = [f"tp{channels}x{i}" for i in range(channels)]
        for alias in aliases:
            if self.http.get(f"/channels/{self.prefix}{alias}").status_code != 200:
                self._start(alias)

        async def go() -> dict[str, Any]:
            conns = [await self._conn(a) for a in aliases]
            tally = Tally()
            left = [total]
            ok = [0]

            async def caller(i: int) -> None:
                conn = conns[i % channels]
                while left[0] > 0:
                    left[0] -= 1
                    try:
                        r = await conn.run(ECHO)
                    except sshpool.SSHPoolError as exc:
                        tally.fail(exc)
                        continue
                    if r.exit_code == 0 and r.stdout == "hi\n":
                        ok[0] += 1
                    else:
                        tally.fail(r.exception or f"exit {r.exit_code}")

            started = time.perf_counter()
            await asyncio.gather(*(caller(i) for i in range(callers)))
            return burst_result(time.perf_counter() - started, ok[0], tally)

        result: dict[str, Any] = self._do(go())
        return result


PEERS = {"sshpool-daemon-lib": SshpoolDaemonLib}
