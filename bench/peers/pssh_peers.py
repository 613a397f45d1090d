"""parallel-ssh (libssh2 under gevent): ``SSHClient.run_command`` on a kept client, as it comes
and with TCP_NODELAY, and ``ParallelSSHClient`` for fan-out. It checks no host key at all, which
saves it a little work that every other contender does."""

from __future__ import annotations

import socket
import time
from typing import Any

from pssh.clients import ParallelSSHClient, SSHClient

from ..config import Target
from .common import ECHO, output_command, timed_loop


def _nodelay(client: Any) -> None:
    client.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class Pssh:
    name = "pssh"
    nodelay = False

    def __init__(self, target: Target) -> None:
        self.t = target
        self.client: Any = None
        self.group: Any = None
        self.subgroups: dict[int, Any] = {}

    def _client(self) -> Any:
        client = SSHClient(
            self.t.host,
            user=self.t.user,
            port=self.t.port,
            pkey=self.t.key,
            allow_agent=False,
            num_retries=1,
            timeout=15,
        )
        if self.nodelay:
            _nodelay(client)
        return client

    def _run(self, command: str) -> tuple[str, int | None]:
        out = self.client.run_command(command)
        text = "".join(line + "\n" for line in out.stdout)
        self.client.wait_finished(out)
        return text, out.exit_code

    def setup(self) -> None:
        self.client = self._client()
        self._run("true")

    def close(self) -> None:
        if self.client is not None:
            self.client.disconnect()
        if self.group is not None:
            for c in list(self.group._host_clients.values()):
                c.disconnect()

    def latency(self, n: int, command: str = ECHO) -> dict[str, Any]:
        return timed_loop(n, lambda: self._run(command)).as_dict()

    def output(self, size: int) -> dict[str, Any]:
        started = time.perf_counter()
        out = self.client.run_command(output_command(size))
        got = sum(len(line) + 1 for line in out.stdout)  # lines come without their newline
        self.client.wait_finished(out)
        elapsed = time.perf_counter() - started
        return {"seconds": elapsed, "bytes": got, "failed": int(got != size or out.exit_code != 0)}

    def _group(self, n: int) -> Any:
        return ParallelSSHClient(
            [self.t.host] * n,
            user=self.t.user,
            port=self.t.port,
            pkey=self.t.key,
            allow_agent=False,
            num_retries=1,
            timeout=30,
            pool_size=n,
        )

    def _subgroup(self, n: int) -> Any:
        """A client for the first ``n`` hosts that shares the big group's open connections."""
        sub = self._group(n)
        sub._host_clients = {k: v for k, v in self.group._host_clients.items() if k[0] < n}
        self.subgroups[n] = sub
        return sub

    def fanout_setup(self, n: int) -> dict[str, Any]:
        self.group = self._group(n)
        self.subgroups[n] = self.group
        outputs = self.group.run_command("true", stop_on_errors=False)
        self.group.join(outputs)
        if self.nodelay:
            for c in self.group._host_clients.values():
                _nodelay(c)
        failed = sum(1 for o in outputs if o.exception is not None)
        return {"n": n, "failed": failed}

    def fanout(self, n: int) -> dict[str, Any]:
        group = self.subgroups.get(n) or self._subgroup(n)
        started = time.perf_counter()
        outputs = group.run_command(ECHO, stop_on_errors=False)
        group.join(outputs)
        bad = 0
        errors: list[str] = []
        for o in outputs:
            text = "".join(o.stdout or []) if o.exception is None else ""
            if o.exception is not None or text != "hi" or o.exit_code != 0:
                bad += 1
                if len(errors) < 3:
                    errors.append(str(o.exception or text)[:200])
        elapsed = time.perf_counter() - started
        return {"seconds": elapsed, "failed": bad, "errors": errors}


class PsshNodelay(Pssh):
    name = "pssh-nodelay"
    nodelay = True


PEERS = {"pssh": Pssh, "pssh-nodelay": PsshNodelay}
