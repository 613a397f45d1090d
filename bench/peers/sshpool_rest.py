"""sshpool through its daemon: ``sshpoold`` REST with a lean keep-alive HTTP client, in exec and
in warm-shell mode (the one-shot contenders, a process per command, are in ``oneshot``).

The daemon's own CPU counts as the client's here: it is the process that does the SSH work.
"""

from __future__ import annotations

import asyncio
import http.client
import time
from typing import Any

import httpx

from ..config import Target
from ..procs import cut_connections, fd_count, local_ports_of, rss_bytes
from .common import ECHO, ECHO_OUT, Tally, burst_result, footprint, output_command, timed_loop
from .rest_client import AsyncClient, Client


def start_channel(target: Target, dsn: str) -> None:
    """``POST /channels`` with ``dsn``; raises with the daemon's answer when it is not 200."""
    r = httpx.post(
        target.daemon_url + "/channels",
        content=dsn,
        headers={"Authorization": f"Bearer {target.daemon_token}"},
        timeout=120,
    )
    if r.status_code != 200:
        raise RuntimeError(f"POST /channels {dsn}: {r.status_code} {r.text[:300]}")


class SshpooldRest:
    name = "sshpoold-rest"
    #: Fields every command request carries, and the prefix of this contender's channels.
    fields: dict[str, Any] = {}
    prefix = ""

    def __init__(self, target: Target) -> None:
        self.t = target
        self.http = httpx.Client(base_url=target.daemon_url, headers=self._headers(), timeout=600)
        self.api = Client(target.daemon_url, target.daemon_token)
        self.fan: list[str] = []
        self.rec_ports: set[int] = set()

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.t.daemon_token}"}

    def extra_pids(self) -> list[int]:
        return [self.t.daemon_pid]

    def _start(self, alias: str) -> None:
        start_channel(self.t, self.t.dsn(self.prefix + alias))

    def setup(self) -> None:
        self._start("rest")

    def close(self) -> None:
        self.api.close()
        self.http.close()

    def _run(self, alias: str, command: str) -> tuple[bytes, int | None]:
        status, body = self.api.post_json(f"/channels/{self.prefix}{alias}", {"command": command, **self.fields})
        if status != 200:
            raise RuntimeError(f"{status} {str(body)[:200]}")
        return body["stdout"].encode(), body.get("exit_code")

    def latency(self, n: int, command: str = ECHO) -> dict[str, Any]:
        return timed_loop(n, lambda: self._run("rest", command)).as_dict()

    def throughput(self, callers: int, channels: int, total: int) -> dict[str, Any]:
        aliases = [f"tp{channels}x{i}" for i in range(channels)]
        for alias in aliases:
            if self.http.get(f"/channels/{self.prefix}{alias}").status_code != 200:
                self._start(alias)

        async def go() -> dict[str, Any]:
            clients = [AsyncClient(self.t.daemon_url, self.t.daemon_token) for _ in range(callers)]
            tally = Tally()
            left = [total]
            ok = [0]

            async def caller(i: int) -> None:
                alias = aliases[i % channels]
                client = clients[i]
                while left[0] > 0:
                    left[0] -= 1
                    try:
                        status, body = await client.post_json(
                            f"/channels/{self.prefix}{alias}", {"command": ECHO, **self.fields}
                        )
                    except (OSError, ValueError, asyncio.IncompleteReadError) as exc:
                        tally.fail(exc)
                        continue
                    if status == 200 and body.get("exit_code") == 0 and body["stdout"] == "hi\n":
                        ok[0] += 1
                    else:
                        tally.fail(f"{status} {str(body)[:200]}")

            try:
                started = time.perf_counter()
                await asyncio.gather(*(caller(i) for i in range(callers)))
                return burst_result(time.perf_counter() - started, ok[0], tally)
            finally:
                for c in clients:
                    await c.aclose()

        return asyncio.run(go())

    def fanout_setup(self, n: int) -> dict[str, Any]:
        """Add ``n`` channels through the API; answers the daemon's memory and descriptors per channel."""
        pid = self.t.daemon_pid
        before = (rss_bytes(pid), fd_count(pid))
        self.fan = [f"f{i:03d}" for i in range(n)]

        async def go() -> list[str]:
            sem = asyncio.Semaphore(16)
            async with httpx.AsyncClient(base_url=self.t.daemon_url, headers=self._headers(), timeout=120) as client:

                async def one(alias: str) -> str | None:
                    async with sem:
                        r = await client.post("/channels", content=self.t.dsn(alias))
                        return None if r.status_code == 200 else f"{alias}: {r.status_code} {r.text[:200]}"

                return [e for e in await asyncio.gather(*(one(a) for a in self.fan)) if e]

        errors = asyncio.run(go())
        time.sleep(0.5)  # let the last warm-ups settle before reading memory
        return {**footprint(n, before, (rss_bytes(pid), fd_count(pid))), "failed": len(errors), "errors": errors[:3]}

    def fanout(self, n: int) -> dict[str, Any]:
        started = time.perf_counter()
        status, body = self.api.post_json("/run", {"command": ECHO, "channels": self.fan[:n]})
        elapsed = time.perf_counter() - started
        if status != 200:
            return {"seconds": elapsed, "failed": n, "errors": [f"{status} {str(body)[:200]}"]}
        bad = [a for a in self.fan[:n] if body.get(a, {}).get("stdout") != "hi\n"]
        return {"seconds": elapsed, "failed": len(bad), "errors": [str(body.get(a))[:200] for a in bad[:3]]}

    def output(self, size: int) -> dict[str, Any]:
        started = time.perf_counter()
        out, code = self._run("rest", output_command(size))
        elapsed = time.perf_counter() - started
        return {"seconds": elapsed, "bytes": len(out), "failed": int(len(out) != size or code != 0)}

    def recovery(self) -> dict[str, Any]:
        """Kill the sshd processes of channel ``rec``; time until a command on it succeeds again."""
        if not self.rec_ports:
            before = local_ports_of(self.t.daemon_pid, self.t.port)
            self._start("rec")
            self.rec_ports = local_ports_of(self.t.daemon_pid, self.t.port) - before
        if not self.rec_ports:
            return {"seconds": None, "failed": 1, "errors": ["could not find the connection of channel rec"]}
        others = local_ports_of(self.t.daemon_pid, self.t.port) - self.rec_ports
        cut_connections(self.t.port, self.rec_ports)
        started = time.perf_counter()
        attempts = 0
        seconds: float | None = None
        while time.perf_counter() - started < 30:
            attempts += 1
            try:
                out, code = self._run("rec", ECHO)
                if code == 0 and out == ECHO_OUT:
                    seconds = time.perf_counter() - started
                    break
            except (RuntimeError, OSError, http.client.HTTPException):
                self.api.close()  # a fresh HTTP connection for the next try
                time.sleep(0.001)
        # The channel reconnected from a new local port: remember it for the next round.
        self.rec_ports = local_ports_of(self.t.daemon_pid, self.t.port) - others
        return {"seconds": seconds, "attempts": attempts, "failed": int(seconds is None)}


class SshpooldRestFast(SshpooldRest):
    """The same daemon and client, each command asking for a warm shell (``"mode": "shell"``)."""

    name = "sshpoold-rest-fast"
    fields = {"mode": "shell"}
    prefix = "s-"


PEERS = {"sshpoold-rest": SshpooldRest, "sshpoold-rest-fast": SshpooldRestFast}
