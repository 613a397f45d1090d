"""Fault injection for the reliability suite: a TCP fault proxy, signals to sshd processes, and
network namespaces with iptables for partitions that must look real.

Everything here is started by the test that uses it and stopped by pid or by the exact name it
created. Traffic stays on loopback, or inside namespaces that have no default route (asserted
before any packet is sent), so nothing a fault does can leave the machine.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import secrets
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

# ----------------------------------------------------------------------------- the TCP proxy


@dataclass(eq=False)
class _Pair:
    client: asyncio.StreamWriter
    upstream: asyncio.StreamWriter | None = None
    upstream_port: int | None = None
    tasks: list[asyncio.Task[None]] = field(default_factory=list)


class FaultProxy:
    """A TCP proxy on 127.0.0.1 between sshpool and sshd, in its own thread and event loop.

    Faults, switchable at any time from the test thread:

    * ``stall(True)``: forward nothing in either direction but keep every byte: a silent
      partition (TCP keeps retransmitting); ``stall(False)`` delivers what was held, as a link
      that comes back inside the keepalive window does.
    * ``reset_all()``: RST every open connection on both sides: a link reset.
    * ``mode = "refuse"``: new connections are reset at once (a host whose sshd is gone).
    * ``mode = "hang"``: new connections are accepted and never answered (TCP up, no SSH banner).
    * ``delay`` seconds per chunk and ``rate_bps`` bytes per second: a slow link.
    """

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.mode = "pass"
        self.delay = 0.0
        self.rate_bps: float | None = None
        self.accepted = 0
        self._pairs: set[_Pair] = set()
        self._flowing: asyncio.Event | None = None
        self._loop = asyncio.new_event_loop()
        self._server: asyncio.Server | None = None
        ready = threading.Event()
        self._thread = threading.Thread(target=self._serve, args=(ready,), name="fault-proxy", daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError("the fault proxy did not start within 10 s")
        assert self._server is not None
        self.port = int(self._server.sockets[0].getsockname()[1])

    # -- thread side

    def _serve(self, ready: threading.Event) -> None:
        asyncio.set_event_loop(self._loop)

        async def start() -> None:
            self._flowing = asyncio.Event()
            self._flowing.set()
            self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
            ready.set()

        self._loop.run_until_complete(start())
        try:
            self._loop.run_forever()
        finally:
            self._loop.run_until_complete(self._loop.shutdown_asyncgens())
            self._loop.close()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.accepted += 1
        pair = _Pair(writer)
        if self.mode == "refuse":
            _rst(writer)
            return
        self._pairs.add(pair)
        if self.mode == "hang":
            return  # held open, never answered, until reset_all() or close()
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            self._pairs.discard(pair)
            _rst(writer)
            return
        if pair not in self._pairs:  # cut (reset_all, close) while the upstream connect was under way
            _rst(up_writer)
            return
        pair.upstream = up_writer
        pair.upstream_port = int(up_writer.get_extra_info("sockname")[1])
        pair.tasks = [
            asyncio.create_task(self._pump(reader, up_writer, pair)),
            asyncio.create_task(self._pump(up_reader, writer, pair)),
        ]

    async def _pump(self, src: asyncio.StreamReader, dst: asyncio.StreamWriter, pair: _Pair) -> None:
        assert self._flowing is not None
        try:
            while True:
                data = await src.read(16384)
                if not data:
                    break
                await self._flowing.wait()
                if self.delay:
                    await asyncio.sleep(self.delay)
                if self.rate_bps:
                    await asyncio.sleep(len(data) / self.rate_bps)
                await self._flowing.wait()
                dst.write(data)
                await dst.drain()
        except (OSError, asyncio.CancelledError):
            pass
        finally:
            self._drop(pair, rst=False)

    def _drop(self, pair: _Pair, *, rst: bool) -> None:
        if pair not in self._pairs:
            return
        self._pairs.discard(pair)
        for w in (pair.client, pair.upstream):
            if w is None:
                continue
            if rst:
                _rst(w)
            else:
                with contextlib.suppress(Exception):
                    w.close()
        for t in pair.tasks:
            t.cancel()

    def _call(self, fn: Callable[[], Any]) -> Any:
        async def run() -> Any:
            return fn()

        return asyncio.run_coroutine_threadsafe(run(), self._loop).result(10)

    # -- test side

    def stall(self, on: bool) -> None:
        assert self._flowing is not None
        flowing = self._flowing
        self._call(flowing.clear if on else flowing.set)

    def reset_all(self) -> int:
        """RST every connection now; returns how many there were."""

        def cut() -> int:
            pairs = list(self._pairs)
            for p in pairs:
                self._drop(p, rst=True)
            return len(pairs)

        return int(self._call(cut))

    @property
    def open_connections(self) -> int:
        return int(self._call(lambda: len(self._pairs)))

    def upstream_ports(self) -> list[int]:
        """sshd-facing ports of the open connections (to find the sshd process serving each)."""
        return list(self._call(lambda: [p.upstream_port for p in self._pairs if p.upstream_port]))

    def close(self) -> None:
        if self._loop.is_closed() or not self._thread.is_alive():
            return

        def shut() -> None:
            assert self._flowing is not None
            self._flowing.set()
            if self._server is not None:
                self._server.close()
            for p in list(self._pairs):
                self._drop(p, rst=True)

        with contextlib.suppress(Exception):
            self._call(shut)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    def __enter__(self) -> FaultProxy:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _rst(writer: asyncio.StreamWriter) -> None:
    """Close with SO_LINGER 0: the peer gets a RST, not a FIN."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    with contextlib.suppress(Exception):
        writer.transport.abort()


def proxied_known_hosts_line(sshd: Any, port: int) -> str:
    """The sshd's host key under the proxy's address, for ``known_hosts``."""
    _, kind, blob = sshd.known_hosts_line.split()[:3]
    return f"[127.0.0.1]:{port} {kind} {blob}"


@contextlib.contextmanager
def proxy_for(sshd: Any, ssh_home: Any) -> Iterator[FaultProxy]:
    """A proxy in front of ``sshd`` whose address the client already trusts."""
    proxy = FaultProxy(sshd.host, sshd.port)
    try:
        ssh_home.trust(proxied_known_hosts_line(sshd, proxy.port))
        yield proxy
    finally:
        proxy.close()


# ----------------------------------------------------------------------------- processes


def tcp_peers(pid: int, remote_port: int) -> list[int]:
    """Local ports of ``pid``'s established TCP connections to ``remote_port``."""
    out = subprocess.run(
        ["ss", "-Htnp", "state", "established", f"( dport = :{remote_port} )"],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    ).stdout
    ports = []
    for line in out.splitlines():
        if f"pid={pid}," in line:
            local = line.split()[2]
            ports.append(int(local.rsplit(":", 1)[1]))
    return ports


def daemon_session_pids(sshd: Any, daemon_pid: int) -> list[int]:
    """The sshd processes serving the daemon's connections to ``sshd``."""
    pids: list[int] = []
    for port in tcp_peers(daemon_pid, sshd.port):
        pids += sshd.session_pids(port)
    return sorted(set(pids))


def signal_pids(pids: list[int], sig: signal.Signals) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)


@contextlib.contextmanager
def stopped(pids: list[int]) -> Iterator[None]:
    """SIGSTOP ``pids`` (a hung peer) for the duration of the block, SIGCONT after, always."""
    signal_pids(pids, signal.SIGSTOP)
    try:
        yield
    finally:
        signal_pids(pids, signal.SIGCONT)


def user_processes(user: str, pattern: str) -> list[int]:
    """Pids of ``user``'s processes whose command line matches ``pattern`` (pgrep -f)."""
    # Zombies are not running: where PID 1 does not reap (containers), killed ones linger as such.
    argv = ["pgrep", "-u", user, "--runstates", "D,R,S,T", "-f", pattern]
    r = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    return [int(p) for p in r.stdout.split()]


def remote_sessions(user: str) -> int:
    """``user``'s processes that are not sshd: the commands and shells of open sessions."""
    out = subprocess.run(["ps", "-u", user, "-o", "comm="], capture_output=True, text=True, timeout=30).stdout
    return sum(1 for name in out.split() if name != "sshd")


def session_processes(sshd: Any, client_ports: list[int]) -> list[str]:
    """Commands still running under the sshd sessions that serve ``client_ports`` (the sshd-side
    view of one client's connections): what would leak if a session were never closed."""
    from tests.support.sshd import descendants_of_many

    roots = {pid for port in client_ports for pid in sshd.session_pids(port)}
    left = []
    for pid in descendants_of_many(roots):
        try:
            comm = Path(f"/proc/{pid}/comm").read_text().strip()
        except OSError:
            continue
        if comm != "sshd":
            left.append(f"{pid} {comm}")
    return left


def rss_now_kib(pid: int) -> int:
    m = re.search(r"VmRSS:\s+(\d+) kB", Path(f"/proc/{pid}/status").read_text())
    return int(m.group(1)) if m else 0


def wait_until(check: Callable[[], bool], within: float, step: float = 0.05) -> float:
    """Poll ``check`` until true; returns the seconds it took; raises after ``within``."""
    t0 = time.monotonic()
    while not check():
        if time.monotonic() - t0 > within:
            raise AssertionError(f"condition not met within {within} s")
        time.sleep(step)
    return time.monotonic() - t0


def ps_args() -> str:
    """Every process's command line, as another user on the machine would see it."""
    return subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True, timeout=30, check=True).stdout


def rss_kib(pid: int) -> int:
    text = Path(f"/proc/{pid}/status").read_text()
    m = re.search(r"VmHWM:\s+(\d+) kB", text)
    return int(m.group(1)) if m else 0


def open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def pct(values: list[float], q: float) -> float:
    """The q-th percentile (0-100) by nearest rank."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = max(0, min(len(ordered) - 1, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[k]


# ----------------------------------------------------------------------------- namespaces


def _in_ns(ns: str | None, *argv: str) -> None:
    full = list(argv) if ns is None else ["ip", "netns", "exec", ns, *argv]
    r = subprocess.run(full, timeout=30, capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"{' '.join(full)} failed: {r.stderr.strip()}")


def _ip(*args: str, ns: str | None = None) -> None:
    _in_ns(ns, "ip", *args)


class NetnsPair:
    """Two namespaces joined by one veth pair, neither with a default route: a client side
    (``cli``: the daemon) and a server side (``srv``: sshd). A partition is the veth going down
    or iptables in the client namespace; nothing routed can reach the outside world."""

    def __init__(self) -> None:
        tag = secrets.token_hex(3)
        self.cli = f"sptc{tag}"
        self.srv = f"spts{tag}"
        self.veth_cli = f"spc{tag}"
        self.veth_srv = f"sps{tag}"
        octet = 16 + secrets.randbelow(200)
        self.cli_addr = f"10.213.{octet}.1"
        self.srv_addr = f"10.213.{octet}.2"
        self.created: list[str] = []
        try:
            for ns in (self.cli, self.srv):
                _ip("netns", "add", ns)
                self.created.append(ns)
                _ip("link", "set", "lo", "up", ns=ns)
            _ip(
                "link",
                "add",
                self.veth_cli,
                "netns",
                self.cli,
                "type",
                "veth",
                "peer",
                "name",
                self.veth_srv,
                "netns",
                self.srv,
            )
            _ip("addr", "add", f"{self.cli_addr}/30", "dev", self.veth_cli, ns=self.cli)
            _ip("addr", "add", f"{self.srv_addr}/30", "dev", self.veth_srv, ns=self.srv)
            self.link(True)
            self.assert_no_default_route()
        except BaseException:
            self.remove()
            raise

    def assert_no_default_route(self) -> None:
        for ns in (self.cli, self.srv):
            routes = subprocess.run(
                ["ip", "netns", "exec", ns, "ip", "route", "show", "default"],
                capture_output=True,
                text=True,
                timeout=30,
                check=True,
            ).stdout
            assert not routes.strip(), f"namespace {ns} has a default route: {routes}"

    def link(self, up: bool) -> None:
        state = "up" if up else "down"
        _ip("link", "set", self.veth_cli, state, ns=self.cli)
        _ip("link", "set", self.veth_srv, state, ns=self.srv)

    def iptables(self, *rule: str) -> None:
        """An iptables command inside the client namespace (e.g. ``-A OUTPUT ... -j DROP``)."""
        _in_ns(self.cli, "iptables", *rule)

    def throttle(self, rate: str) -> None:
        """``tc tbf`` on the server side of the veth: what the server sends is capped at ``rate``."""
        _in_ns(
            self.srv,
            "tc",
            "qdisc",
            "replace",
            "dev",
            self.veth_srv,
            "root",
            "tbf",
            "rate",
            rate,
            "burst",
            "4kb",
            "latency",
            "400ms",
        )

    def unthrottle(self) -> None:
        _in_ns(self.srv, "tc", "qdisc", "del", "dev", self.veth_srv, "root")

    def popen(self, ns: str, argv: list[str], **kwargs: Any) -> subprocess.Popen[bytes]:
        return subprocess.Popen(["ip", "netns", "exec", ns, *argv], **kwargs)

    def remove(self) -> None:
        for ns in reversed(self.created):
            subprocess.run(["ip", "netns", "del", ns], check=False, timeout=30, capture_output=True)
        self.created.clear()


class NetnsSSHD:
    """An sshd inside the server namespace on ``srv_addr:22``, using the config of a server the
    harness made (its host key and authorized_keys), so the client trusts it as usual."""

    def __init__(self, pair: NetnsPair, server: Any, ssh_home: Any) -> None:
        self.pair = pair
        self.server = server
        self.host = pair.srv_addr
        self.port = 22
        self.log = server.dir / "sshd-netns.log"
        self.config = server.dir / "sshd_config.netns"
        lines = [ln for ln in server.config.read_text().splitlines() if not ln.startswith(("Port ", "ListenAddress "))]
        self.config.write_text("\n".join([*lines, "Port 22", f"ListenAddress {pair.srv_addr}"]) + "\n")
        self.proc = pair.popen(
            pair.srv,
            ["/usr/sbin/sshd", "-D", "-e", "-f", str(self.config), "-E", str(self.log)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        _, kind, blob = server.known_hosts_line.split()[:3]
        ssh_home.trust(f"{pair.srv_addr} {kind} {blob}")
        deadline = time.monotonic() + 10
        while "Server listening" not in (self.log.read_text(errors="replace") if self.log.exists() else ""):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"sshd in {pair.srv} did not start: {self.log.read_text(errors='replace')}")
            time.sleep(0.02)

    def stop(self) -> None:
        from tests.support.sshd import descendants

        kids = descendants(self.proc.pid)
        # ``ip netns exec`` execs sshd: the Popen pid is sshd itself.
        self.proc.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(5)
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)
        signal_pids(sorted(kids), signal.SIGKILL)


class SocketDaemon:
    """An ``sshpoold`` inside a namespace, driven over its Unix socket (a file, reachable from
    the root namespace without any network traffic)."""

    def __init__(self, pair: NetnsPair, tmp: Path, *args: str, env: dict[str, str]) -> None:
        from tests.support.daemon import TEST_ARGS

        self.sock = tmp / "sshpoold.sock"
        self.state_dir = tmp / "state"
        self.log_path = tmp / "sshpoold.log"
        argv = [
            str(Path(sys.executable).with_name("sshpoold")),
            "--socket",
            str(self.sock),
            "--state-dir",
            str(self.state_dir),
            *TEST_ARGS,
            *args,
        ]
        with open(self.log_path, "wb") as log:
            self.proc = pair.popen(
                pair.cli, argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env
            )
        deadline = time.monotonic() + 20
        while not (self.state_dir / "daemon.json").exists():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.proc.kill()
                raise RuntimeError(f"sshpoold in {pair.cli} did not start: {self.log_path.read_text()}")
            time.sleep(0.05)
        self.token = (self.state_dir / "token").read_text().strip()

    def client(self, timeout: float = 30) -> httpx.Client:
        return httpx.Client(
            transport=httpx.HTTPTransport(uds=str(self.sock)),
            base_url="http://sshpoold",
            headers={"Authorization": f"Bearer {self.token}"},
            timeout=timeout,
        )

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
