"""R1-R6 against a real sshpoold and a real sshd: the link breaks, hangs, blips, goes away, never
says hello, or stops letting us in. Each test prints its figure; every call has an outer deadline,
so a hang fails the test instead of blocking the run.

Faults come from a TCP proxy between the daemon and sshd (tests/support/faults.py) and from
signals to the sshd process serving the daemon's connection. Daemon settings: keepalive 1 s x 3,
connect timeout 3 s, backoff 0.2 s doubling to 2 s.
"""

from __future__ import annotations

import concurrent.futures
import secrets
import signal
import statistics
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.daemon import Daemon, start_daemon
from tests.support.faults import (
    FaultProxy,
    daemon_session_pids,
    proxy_for,
    signal_pids,
    stopped,
    user_processes,
    wait_until,
)

pytestmark = pytest.mark.timeout(120)

KEEPALIVE_WINDOW = 1 * (3 + 1)  # interval x (count + 1), the daemon's test settings
JSON = {"Accept": "application/json"}


@pytest.fixture
def pool_daemon(tmp_path: Path, sshd: Any, test_user: Any, ssh_home: Any) -> Iterator[Daemon]:
    d = start_daemon(tmp_path)
    try:
        yield d
    finally:
        d.stop()


@pytest.fixture
def proxy(sshd: Any, ssh_home: Any) -> Iterator[FaultProxy]:
    with proxy_for(sshd, ssh_home) as p:
        yield p


def add(d: Daemon, alias: str, user: Any, port: int, password: str | None = None, host: str = "127.0.0.1") -> None:
    auth = f"{user.name}:{password}" if password else user.name
    r = d.post("/channels", content=f"{alias}://{auth}@{host}:{port}", timeout=30)
    assert r.status_code == 200, r.text


def run_async(pool: concurrent.futures.Executor, d: Daemon, alias: str, command: str, **fields: Any) -> Any:
    """Start a command in the background; the future gives (seconds, response)."""

    def call() -> tuple[float, httpx.Response]:
        t0 = time.monotonic()
        r = d.post(f"/channels/{alias}", json={"command": command, **fields}, timeout=60)
        return time.monotonic() - t0, r

    return pool.submit(call)


def first_success_after(d: Daemon, alias: str, within: float) -> float:
    """Seconds until a command on ``alias`` succeeds (requests that are refused are retried)."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < within:
        r = d.post(f"/channels/{alias}", json={"command": "echo back", "timeout": 5}, timeout=10)
        if r.status_code == 200 and r.json().get("stdout") == "back\n":
            return time.monotonic() - t0
        time.sleep(0.05)
    raise AssertionError(f"no successful command on {alias} within {within} s: {d.get('/channels/' + alias).text}")


def assert_link_lost(r: httpx.Response) -> None:
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["error"] == "link_lost", body
    assert "may still be running on 127.0.0.1" in body["exception"] and "not retried" in body["exception"], body


def r1_cuts(d: Daemon, sshd: Any, proxy: FaultProxy, alias: str, cuts: int, user: str) -> None:
    detection: dict[str, list[float]] = {"proxy RST": [], "sshd SIGKILL": []}
    recovery: dict[str, list[float]] = {"proxy RST": [], "sshd SIGKILL": []}
    with concurrent.futures.ThreadPoolExecutor(2) as ex:
        for i in range(cuts):
            how = "proxy RST" if i % 2 == 0 else "sshd SIGKILL"
            tag = f"3{i:03d}.5"  # a fresh command each time: the cut ones may still run
            fut = run_async(ex, d, alias, f"echo started; sleep {tag}")
            wait_until(lambda tag=tag: bool(user_processes(user, f"sleep {tag}")), 10)  # it started
            time.sleep(0.1)
            cut = time.monotonic()
            if how == "proxy RST":
                assert proxy.reset_all() >= 1
            else:
                pids = [pid for port in proxy.upstream_ports() for pid in sshd.session_pids(port)]
                assert pids
                signal_pids(pids, signal.SIGKILL)
            _, r = fut.result(timeout=10)
            detection[how].append(time.monotonic() - cut)
            assert_link_lost(r)
            assert r.json()["stdout"] == "started\n"  # what came back before the cut is kept
            recovery[how].append(time.monotonic() - cut + first_success_after(d, alias, 15))
            signal_pids(user_processes(user, f"sleep {tag}"), signal.SIGKILL)
    for how in detection:
        det, rec = detection[how], recovery[how]
        print(
            f"R1 {how}: {len(det)} cuts, detection p50 {statistics.median(det):.3f} s max {max(det):.3f} s; "
            f"recovery (cut -> first success) p50 {statistics.median(rec):.3f} s max {max(rec):.3f} s"
        )
        assert max(det) < 1.0 + 1.0  # promised: within 1 s; a loaded CI machine gets a second more


def test_r1_link_reset_mid_command_is_link_lost_at_once_and_the_channel_recovers(
    pool_daemon: Daemon, sshd: Any, proxy: FaultProxy, test_user: Any
) -> None:
    add(pool_daemon, "r1", test_user, proxy.port)
    r1_cuts(pool_daemon, sshd, proxy, "r1", cuts=4, user=test_user.name)
    assert pool_daemon.get("/channels/r1").json()["state"] == "up"


@pytest.mark.chaos
def test_r1_twenty_cuts_full_size(pool_daemon: Daemon, sshd: Any, proxy: FaultProxy, test_user: Any) -> None:
    add(pool_daemon, "r1", test_user, proxy.port)
    r1_cuts(pool_daemon, sshd, proxy, "r1", cuts=40, user=test_user.name)


def test_r2_hung_peer_and_silent_partition_are_detected_within_the_keepalive_window(
    pool_daemon: Daemon, sshd: Any, proxy: FaultProxy, test_user: Any
) -> None:
    d = pool_daemon
    add(d, "hung", test_user, sshd.port)
    add(d, "silent", test_user, proxy.port)
    hangs = 0
    figures = []
    with concurrent.futures.ThreadPoolExecutor(2) as ex:
        # A hung peer: the sshd process serving the channel is stopped (SIGSTOP).
        pids = daemon_session_pids(sshd, d.pid)
        assert pids
        fut_hung = run_async(ex, d, "hung", "sleep 30.2")
        wait_until(lambda: bool(user_processes(test_user.name, "sleep 30[.]2")), 10)
        # A silent partition: the proxy holds every byte in both directions.
        fut_silent = run_async(ex, d, "silent", "sleep 30.3")
        wait_until(lambda: bool(user_processes(test_user.name, "sleep 30[.]3")), 10)
        with stopped(pids):
            t0 = time.monotonic()
            proxy.stall(True)
            for name, fut in (("sshd SIGSTOP", fut_hung), ("proxy blackhole", fut_silent)):
                try:
                    _, r = fut.result(timeout=KEEPALIVE_WINDOW + 6)
                except concurrent.futures.TimeoutError:
                    hangs += 1
                    continue
                figures.append((name, time.monotonic() - t0))
                assert_link_lost(r)
            proxy.stall(False)
        proxy.reset_all()
    signal_pids(user_processes(test_user.name, "sleep 30[.][23]"), signal.SIGKILL)  # the cut ones
    for name, seconds in figures:
        print(f"R2 {name}: detected in {seconds:.2f} s (window {KEEPALIVE_WINDOW} s); hangs {hangs}")
    assert hangs == 0
    assert all(s < KEEPALIVE_WINDOW + 3 for _, s in figures), figures
    for alias in ("hung", "silent"):
        print(f"R2 {alias}: recovered in {first_success_after(d, alias, 20):.2f} s after detection")


def test_r3_a_blip_shorter_than_the_keepalive_window_costs_nothing(
    pool_daemon: Daemon, proxy: FaultProxy, test_user: Any
) -> None:
    d = pool_daemon
    add(d, "blip", test_user, proxy.port)
    since = d.get("/channels/blip").json()["connected_since"]
    mark = f"r3-{secrets.token_hex(4)}"
    with concurrent.futures.ThreadPoolExecutor(4) as ex:
        futs = [run_async(ex, d, "blip", f"sleep 0.5; echo run >> ~/{mark}; echo ok") for _ in range(3)]
        time.sleep(0.2)
        proxy.stall(True)
        time.sleep(1.5)
        proxy.stall(False)
        results = [f.result(timeout=20)[1] for f in futs]
    ok = sum(1 for r in results if r.status_code == 200 and r.json().get("stdout") == "ok\n")
    info = d.get("/channels/blip").json()
    runs = d.run("blip", f"wc -l < ~/{mark}; rm -f ~/{mark}")["stdout"].strip()
    print(f"R3 1.5 s blip: {ok}/3 succeeded, reconnects {0 if info['connected_since'] == since else 1}, runs {runs}")
    assert ok == 3, [r.text for r in results]
    assert info["connected_since"] == since and info["state"] == "up"
    assert runs == "3"  # each command ran exactly once


def r4_outage(d: Daemon, proxy: FaultProxy, alias: str, outage: float) -> None:
    proxy.mode = "refuse"
    proxy.reset_all()
    d.wait_state(alias, "reconnecting", timeout=5)
    attempts0 = proxy.accepted
    t0 = time.monotonic()
    slowest = 0.0
    answers = []
    while time.monotonic() - t0 < outage:
        t = time.monotonic()
        r = d.post(f"/channels/{alias}", json={"command": "echo hi"}, headers=JSON, timeout=10)
        slowest = max(slowest, time.monotonic() - t)
        answers.append(r)
        time.sleep(0.25)
    attempts = proxy.accepted - attempts0
    proxy.mode = "pass"
    up_at = time.monotonic()
    back = time.monotonic() - up_at + first_success_after(d, alias, 2 + 5)
    codes = {(r.status_code, r.headers.get("x-sshpool-error")) for r in answers}
    print(
        f"R4 {outage:g} s outage: {len(answers)} requests answered in at most {slowest:.3f} s with {codes}; "
        f"{attempts} reconnect attempts; host up -> channel up {back:.2f} s"
    )
    assert codes == {(503, "channel_unavailable")}, [r.text for r in answers]
    assert all(r.headers.get("retry-after") for r in answers)
    assert "the command was not started" in answers[-1].json()["detail"]
    assert slowest < 1.0  # they fail fast; nothing queues for the whole outage
    assert 2 <= attempts <= outage / 0.2 + 2  # backoff, not a tight loop
    assert back < 2 + 1 + 1.5  # backoff cap + 1 s, plus a generous margin for a busy machine


def test_r4_host_down_requests_fail_fast_and_the_channel_returns(
    pool_daemon: Daemon, proxy: FaultProxy, test_user: Any
) -> None:
    add(pool_daemon, "down", test_user, proxy.port)
    r4_outage(pool_daemon, proxy, "down", outage=5)


@pytest.mark.chaos
def test_r4_host_down_thirty_seconds(pool_daemon: Daemon, proxy: FaultProxy, test_user: Any) -> None:
    add(pool_daemon, "down", test_user, proxy.port)
    r4_outage(pool_daemon, proxy, "down", outage=30)


def test_r5_tcp_accepted_but_no_banner_ends_at_the_connect_timeout(
    pool_daemon: Daemon, make_sshd: Any, proxy: FaultProxy, test_user: Any
) -> None:
    d = pool_daemon
    proxy.mode = "hang"
    frozen = make_sshd()
    assert frozen.proc is not None
    durations = {}
    with stopped([frozen.proc.pid]), concurrent.futures.ThreadPoolExecutor(2) as ex:
        futs = {
            "proxy accept_hang": ex.submit(
                d.post, "/channels", content=f"nb1://{test_user.name}@127.0.0.1:{proxy.port}"
            ),
            "listener SIGSTOP": ex.submit(
                d.post, "/channels", content=f"nb2://{test_user.name}@127.0.0.1:{frozen.port}"
            ),
        }
        t0 = time.monotonic()
        for name, fut in futs.items():
            r = fut.result(timeout=20)
            durations[name] = time.monotonic() - t0
            assert r.status_code == 202, r.text
            assert "no SSH banner" in r.text and "timed out after 3 s" in r.text, r.text
        for alias in ("nb1", "nb2"):
            info = d.get(f"/channels/{alias}").json()
            assert info["state"] == "connecting" and "no SSH banner" in info["last_error"], info
    print("R5 connect attempt with no banner: " + ", ".join(f"{k} {v:.2f} s" for k, v in durations.items()))
    assert max(durations.values()) < 3 + 3
    # Once the host answers again the channel comes up by itself.
    proxy.mode = "pass"
    proxy.reset_all()
    d.wait_state("nb1", "up", timeout=10)


def test_r6_auth_that_starts_failing_is_named_and_not_hammered(
    pool_daemon: Daemon, make_sshd: Any, test_user: Any
) -> None:
    d = pool_daemon
    server = make_sshd()
    add(d, "auth", test_user, server.port)
    server.authorized.write_text("")  # the key is removed from authorized_keys
    signal_pids(daemon_session_pids(server, d.pid), signal.SIGKILL)
    d.wait_state("auth", "failed", timeout=10)
    before = server.log_text().count("Connection closed by authenticating user")
    time.sleep(4)
    attempts = server.log_text().count("Connection closed by authenticating user") - before
    r = d.post("/channels/auth", json={"command": "true"}, headers=JSON, timeout=10)
    print(f"R6 auth failing: {attempts * 15} attempts per minute; answer {r.status_code} {r.json()['code']}")
    assert r.status_code == 503 and r.json()["code"] == "auth_failed", r.text
    detail = r.json()["detail"]
    assert f"{test_user.name}@127.0.0.1:{server.port}" in detail and "public key" in detail, detail
    assert "the command was not started" in detail
    assert attempts <= 3  # one try per backoff cap (2 s here), not a loop
    # The key comes back: a wake-up (a PATCH with the same DSN) brings the channel up at once.
    server.authorized.write_text(Path(str(server.client_key) + ".pub").read_text())
    r = d.request("PATCH", "/channels/auth", content=f"auth://{test_user.name}@127.0.0.1:{server.port}", timeout=30)
    assert r.status_code == 200, r.text
    assert d.run("auth", "echo in")["stdout"] == "in\n"


def test_r6_a_wrong_password_is_auth_failed_and_never_printed(
    pool_daemon: Daemon, make_sshd: Any, test_user: Any
) -> None:
    d = pool_daemon
    server = make_sshd(authorized_keys=[])
    secret = "Wr0ng-" + secrets.token_hex(6)
    r = d.post("/channels", content=f"pw://{test_user.name}:{secret}@127.0.0.1:{server.port}", timeout=30)
    assert r.status_code == 202 and "authentication failed" in r.text and "by password" in r.text, r.text
    time.sleep(2.5)
    attempts = server.log_text().count(f"Failed password for {test_user.name}")
    answer = d.post("/channels/pw", json={"command": "true"}, headers=JSON, timeout=10)
    assert answer.json()["code"] == "auth_failed"
    print(f"R6 wrong password: {attempts} attempts in ~2.5 s")
    assert attempts <= 3
    everything = r.text + answer.text + d.get("/channels").text + d.log_text() + server.log_text()
    assert secret not in everything
