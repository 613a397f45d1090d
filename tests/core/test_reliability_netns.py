"""R2 (partitions that look real), R21 (slow link) and R22 (lossy link) with network namespaces.

The daemon runs in a client namespace and sshd in a server namespace, joined by one veth pair;
neither namespace has a default route (asserted before any traffic), and the daemon is driven
over its Unix socket, a file reachable from the root namespace without any network traffic.
"""

from __future__ import annotations

import concurrent.futures
import statistics
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.daemon import clean_env
from tests.support.faults import NetnsPair, NetnsSSHD, SocketDaemon, pct, user_processes, wait_until

pytestmark = pytest.mark.timeout(180)


class World:
    """Namespaces, an sshd in the server one, a daemon in the client one, a channel ``n``."""

    def __init__(self, pair: NetnsPair, sshd: NetnsSSHD, daemon: SocketDaemon, client: httpx.Client, user: str) -> None:
        self.pair, self.sshd, self.daemon, self.c, self.user = pair, sshd, daemon, client, user

    def info(self) -> dict[str, Any]:
        info: dict[str, Any] = self.c.get("/channels/n").json()
        return info

    def run(self, command: str, **fields: Any) -> dict[str, Any]:
        r = self.c.post("/channels/n", json={"command": command, **fields})
        assert r.status_code == 200, r.text
        body: dict[str, Any] = r.json()
        return body

    def first_success(self, within: float) -> float:
        t0 = time.monotonic()
        while time.monotonic() - t0 < within:
            r = self.c.post("/channels/n", json={"command": "echo back", "timeout": 5})
            if r.status_code == 200 and r.json().get("stdout") == "back\n":
                return time.monotonic() - t0
            time.sleep(0.05)
        raise AssertionError(f"no success within {within} s: {self.info()}")


def make_world(tmp_path: Path, make_sshd: Any, ssh_home: Any, user: Any, *daemon_args: str) -> Iterator[World]:
    pair = NetnsPair()
    server = None
    daemon = None
    try:
        server = NetnsSSHD(pair, make_sshd(), ssh_home)
        args = ("--allow-hosts", f"{pair.srv_addr}/32", *daemon_args)
        daemon = SocketDaemon(pair, tmp_path, *args, env=clean_env())
        with daemon.client() as c:
            r = c.post("/channels", content=f"n://{user.name}@{pair.srv_addr}:22")
            assert r.status_code == 200, r.text
            yield World(pair, server, daemon, c, user.name)
    finally:
        if daemon is not None:
            daemon.stop()
        if server is not None:
            server.stop()
        pair.remove()


@pytest.fixture
def world(tmp_path: Path, make_sshd: Any, ssh_home: Any, test_user: Any) -> Iterator[World]:
    yield from make_world(tmp_path, make_sshd, ssh_home, test_user)


def partition(w: World, how: str, cut: bool) -> None:
    if how == "veth down":
        w.pair.link(not cut)
    else:
        w.pair.iptables("-A" if cut else "-D", "OUTPUT", "-d", w.pair.srv_addr, "-j", "DROP")


def test_r2_veth_down_is_detected_within_the_keepalive_window(world: World) -> None:
    cuts(world, ("veth down",))


@pytest.mark.chaos
def test_r2_veth_down_and_iptables_drop_full_size(world: World) -> None:
    cuts(world, ("veth down", "iptables DROP") * 5)


def cuts(w: World, kinds: tuple[str, ...]) -> None:
    window = 1 * (3 + 1)
    figures = []
    with concurrent.futures.ThreadPoolExecutor(1) as ex:
        for i, how in enumerate(kinds):
            tag = f"4{i:03d}.5"  # a fresh command each time: the cut ones may still run
            fut = ex.submit(w.c.post, "/channels/n", json={"command": f"echo started; sleep {tag}"})
            wait_until(lambda tag=tag: bool(user_processes(w.user, f"sleep {tag}")), 10)  # it started
            time.sleep(0.2)
            t0 = time.monotonic()
            partition(w, how, cut=True)
            try:
                r = fut.result(timeout=window + 6).json()
            finally:
                detected = time.monotonic() - t0
                partition(w, how, cut=False)
            assert r["error"] == "link_lost" and "may still be running" in r["exception"], r
            recovered = w.first_success(15)
            figures.append(f"{how}: detected {detected:.2f} s (window {window} s), back {recovered:.2f} s after repair")
            assert detected < window + 3
    print("R2 netns: " + "; ".join(figures) + "; hangs 0")


def lossy(w: World, loss: float, commands: int) -> None:
    for chain in ("INPUT", "OUTPUT"):
        w.pair.iptables(
            "-A", chain, "-p", "tcp", "-m", "statistic", "--mode", "random", "--probability", str(loss), "-j", "DROP"
        )
    latencies, ok = [], 0
    since = w.info()["connected_since"]
    try:
        for i in range(commands):
            t0 = time.monotonic()
            r = w.c.post("/channels/n", json={"command": f"echo {i}", "timeout": 20})
            latencies.append(time.monotonic() - t0)
            ok += r.status_code == 200 and r.json().get("stdout") == f"{i}\n"
    finally:
        for chain in ("INPUT", "OUTPUT"):
            w.pair.iptables("-F", chain)
    print(
        f"R22 {loss:.0%} loss: {ok}/{commands} ok, p50 {statistics.median(latencies) * 1000:.0f} ms "
        f"p99 {pct(latencies, 99) * 1000:.0f} ms; reconnects {int(w.info()['connected_since'] != since)}"
    )
    assert ok == commands


def slow(w: World, rate: str, size: int) -> None:
    since = w.info()["connected_since"]
    w.pair.throttle(rate)
    t0 = time.monotonic()
    r = w.c.post(
        "/channels/n", json={"command": f"head -c {size} /dev/urandom | base64 -w 76", "timeout": 300}, timeout=330
    )
    took = time.monotonic() - t0
    body = r.json()
    info = w.info()
    print(
        f"R21 {rate} cap: {body['stdout_total']} bytes in {took:.2f} s = {body['stdout_total'] / took / 1024:.1f} "
        f"KiB/s; spurious reconnects {0 if info['connected_since'] == since else 1}"
    )
    assert body.get("error") is None and body["exit_code"] == 0, body
    assert info["connected_since"] == since and info["state"] == "up"


@pytest.fixture
def slow_world(tmp_path: Path, make_sshd: Any, ssh_home: Any, test_user: Any, request: Any) -> Iterator[World]:
    interval, count = request.param
    yield from make_world(
        tmp_path,
        make_sshd,
        ssh_home,
        test_user,
        "--keepalive-interval",
        str(interval),
        "--keepalive-count-max",
        str(count),
    )


@pytest.mark.parametrize("slow_world", [(2, 3)], indirect=True)
def test_r21_r22_a_slow_then_lossy_link_completes_without_a_false_keepalive_alarm(slow_world: World) -> None:
    slow(slow_world, "64kbit", 12 * 1024)
    slow_world.pair.unthrottle()
    lossy(slow_world, 0.10, 30)


@pytest.mark.chaos
@pytest.mark.parametrize("slow_world", [(15, 3)], indirect=True)
def test_r21_slow_link_at_production_keepalive(slow_world: World) -> None:
    slow(slow_world, "256kbit", 1024 * 1024)


@pytest.mark.chaos
@pytest.mark.timeout(420)
@pytest.mark.parametrize("slow_world", [(15, 3)], indirect=True)
@pytest.mark.parametrize(("loss", "commands"), [(0.10, 200), (0.30, 100)])
def test_r22_lossy_link_full_size(slow_world: World, loss: float, commands: int) -> None:
    """At production keepalive settings, as R21: with 30 % loss each way, TCP's retransmission
    backoff alone outlasts the test settings' 1 s x 3 window now and then, which is a false alarm
    by construction, not the link failing (it failed 1 run in 2 that way). At 30 % a command takes
    0.2-5 s as TCP backs off (200 of them ran past 180 s once): 100 show the same, in time."""
    lossy(slow_world, loss, commands)
