"""paramiko (``exec_command`` on a kept client) and Fabric (``Connection.run``), each as it
comes and with TCP_NODELAY set on its socket: their default leaves Nagle on, which stalls each
command ~40 ms, and a comparison against that alone would be a strawman."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import fabric
import paramiko

from ..config import Target
from ..procs import cut_connections
from .common import ECHO, ECHO_OUT, Tally, burst_result, footprint, output_command, own_usage, timed_loop

SESSIONS = 8
CONNECTIONS = 4


def _nodelay(transport: paramiko.Transport | None) -> None:
    if transport is not None:
        transport.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class Paramiko:
    name = "paramiko"
    nodelay = False

    def __init__(self, target: Target) -> None:
        self.t = target
        self.client: paramiko.SSHClient | None = None
        self.groups: dict[int, list[list[paramiko.SSHClient]]] = {}

    def _connect(self) -> paramiko.SSHClient:
        client = paramiko.SSHClient()
        client.load_host_keys(self.t.known_hosts)
        client.set_missing_host_key_policy(paramiko.RejectPolicy())
        client.connect(
            self.t.host,
            port=self.t.port,
            username=self.t.user,
            key_filename=self.t.key,
            look_for_keys=False,
            allow_agent=False,
            timeout=15,
        )
        if self.nodelay:
            _nodelay(client.get_transport())
        self._exec(client, "true")
        return client

    @staticmethod
    def _exec(client: paramiko.SSHClient, command: str) -> tuple[bytes, int]:
        stdin, stdout, stderr = client.exec_command(command, timeout=600)
        stdin.close()
        out = stdout.read()
        stderr.read()
        return out, stdout.channel.recv_exit_status()

    def setup(self) -> None:
        self.client = self._connect()

    def close(self) -> None:
        clients = [c for g in self.groups.values() for ch in g for c in ch]
        if self.client is not None:
            clients.append(self.client)
        for c in clients:
            c.close()

    def latency(self, n: int, command: str = ECHO) -> dict[str, Any]:
        client = self.client
        assert client is not None
        return timed_loop(n, lambda: self._exec(client, command)).as_dict()

    def throughput(self, callers: int, channels: int, total: int) -> dict[str, Any]:
        """Threads, one per caller; each channel is 4 clients x 8 sessions, as sshpool's cap."""
        if channels not in self.groups:
            self.groups[channels] = [[self._connect() for _ in range(CONNECTIONS)] for _ in range(channels)]
        slots: list[list[tuple[paramiko.SSHClient, threading.BoundedSemaphore]]] = [
            [(c, threading.BoundedSemaphore(SESSIONS)) for c in conns] for conns in self.groups[channels]
        ]
        lock = threading.Lock()
        tally = Tally()
        state = {"left": total, "ok": 0, "turn": 0}

        def caller(i: int) -> None:
            mine = slots[i % channels]
            while True:
                with lock:
                    if state["left"] <= 0:
                        return
                    state["left"] -= 1
                    state["turn"] += 1
                    client, sem = mine[state["turn"] % len(mine)]
                with sem:
                    try:
                        out, code = self._exec(client, ECHO)
                    except Exception as exc:
                        with lock:
                            tally.fail(exc)
                        continue
                with lock:
                    if code == 0 and out == ECHO_OUT:
                        state["ok"] += 1
                    else:
                        tally.fail(f"exit {code}")

        started = time.perf_counter()
        with ThreadPoolExecutor(callers) as pool:
            list(pool.map(caller, range(callers)))
        return burst_result(time.perf_counter() - started, state["ok"], tally)

    def footprint(self, n: int) -> dict[str, Any]:
        before = own_usage()
        clients = [self._connect() for _ in range(n)]
        after = own_usage()
        for c in clients:
            c.close()
        return footprint(n, before, after)

    def output(self, size: int) -> dict[str, Any]:
        assert self.client is not None
        started = time.perf_counter()
        out, code = self._exec(self.client, output_command(size))
        elapsed = time.perf_counter() - started
        return {"seconds": elapsed, "bytes": len(out), "failed": int(len(out) != size or code != 0)}

    def recovery(self) -> dict[str, Any]:
        """Kill the client's sshd; the caller's next command notices, reconnects and runs."""
        assert self.client is not None
        transport = self.client.get_transport()
        assert transport is not None
        port = int(transport.sock.getsockname()[1])
        cut_connections(self.t.port, {port})
        started = time.perf_counter()
        attempts = 0
        while time.perf_counter() - started < 30:
            attempts += 1
            try:
                out, code = self._exec(self.client, ECHO)
                if code == 0 and out == ECHO_OUT:
                    return {"seconds": time.perf_counter() - started, "attempts": attempts}
            except Exception:  # paramiko raises SSHException, EOFError, OSError...
                self.client.close()
                with contextlib.suppress(Exception):
                    self.client = self._connect()
        return {"seconds": None, "attempts": attempts, "failed": 1}


class ParamikoNodelay(Paramiko):
    name = "paramiko-nodelay"
    nodelay = True


class _Connection(fabric.Connection):  # type: ignore[misc]
    """Fabric keys group results by (user, host, port): a hundred links to one host would
    collapse into one result. Identity keeps each link apart."""

    __hash__ = object.__hash__

    def __eq__(self, other: object) -> bool:
        return self is other


class Fabric:
    name = "fabric"
    nodelay = False

    def __init__(self, target: Target) -> None:
        self.t = target
        self.conn: fabric.Connection | None = None
        self.group: fabric.ThreadingGroup | None = None

    def _connection(self) -> fabric.Connection:
        return _Connection(
            self.t.host,
            user=self.t.user,
            port=self.t.port,
            connect_timeout=15,
            connect_kwargs={"key_filename": self.t.key, "look_for_keys": False, "allow_agent": False},
        )

    def _open(self, conn: fabric.Connection) -> None:
        conn.open()
        if self.nodelay:
            _nodelay(conn.client.get_transport())
        conn.run("true", hide=True, in_stream=False)

    def setup(self) -> None:
        self.conn = self._connection()
        self._open(self.conn)

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
        if self.group is not None:
            self.group.close()

    def latency(self, n: int, command: str = ECHO) -> dict[str, Any]:
        conn = self.conn
        assert conn is not None

        def one() -> tuple[str, int]:
            r = conn.run(command, hide=True, in_stream=False, warn=True)
            return r.stdout, r.exited

        return timed_loop(n, one).as_dict()

    def fanout_setup(self, n: int) -> dict[str, Any]:
        conns = [self._connection() for _ in range(n)]
        with ThreadPoolExecutor(16) as pool:
            list(pool.map(self._open, conns))
        self.group = fabric.ThreadingGroup.from_connections(conns)
        return {"n": n}

    def fanout(self, n: int) -> dict[str, Any]:
        assert self.group is not None
        group = self.group if n == len(self.group) else fabric.ThreadingGroup.from_connections(self.group[:n])
        started = time.perf_counter()
        try:
            results = group.run(ECHO, hide=True, in_stream=False, warn=True)
        except fabric.exceptions.GroupException as exc:
            results = exc.result
        elapsed = time.perf_counter() - started
        bad = [r for r in results.values() if isinstance(r, BaseException) or r.stdout != "hi\n"]
        return {"seconds": elapsed, "failed": len(bad) + (n - len(results)), "errors": [str(b)[:200] for b in bad[:3]]}


class FabricNodelay(Fabric):
    name = "fabric-nodelay"
    nodelay = True


PEERS = {"paramiko": Paramiko, "paramiko-nodelay": ParamikoNodelay, "fabric": Fabric, "fabric-nodelay": FabricNodelay}
