"""R7-R12, R18, R19: what comes through the link — storms of reconnects, more commands than sshd
has session slots, commands that hang, wait for input, flood or print binary — and many clients
at once. Real sshpoold, real sshd; each test prints its figure; every wait has a deadline.
"""

from __future__ import annotations

import asyncio
import base64
import concurrent.futures
import hashlib
import os
import statistics
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from sshpool import Pool
from sshpool.daemon.app import create_app
from tests.support.daemon import Daemon, start_daemon
from tests.support.faults import open_fds, pct, proxy_for, remote_sessions, rss_kib, user_processes, wait_until

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def d(tmp_path_factory: pytest.TempPathFactory, sshd: Any, test_user: Any, client_home: Any) -> Iterator[Daemon]:
    """One daemon for the scenarios that only add channels of their own (output capped at 1 MiB)."""
    daemon = start_daemon(tmp_path_factory.mktemp("load"), "--output-limit", "1048576")
    try:
        yield daemon
    finally:
        daemon.stop()


@pytest.fixture
def own(tmp_path: Path, sshd: Any, test_user: Any, ssh_home: Any) -> Iterator[Daemon]:
    """A daemon of the test's own, for scenarios that break things or measure the whole process."""
    daemon = start_daemon(tmp_path, "--max-sessions", "4", "--max-connections", "1")
    try:
        yield daemon
    finally:
        daemon.stop()


def add(d: Daemon, alias: str, user: str, port: int) -> None:
    r = d.post("/channels", content=f"{alias}://{user}@127.0.0.1:{port}", timeout=30)
    assert r.status_code == 200 or "already in use" in r.text, r.text


def storm(d: Daemon, sshd: Any, ssh_home: Any, user: Any, channels: int) -> None:
    with proxy_for(sshd, ssh_home) as proxy, concurrent.futures.ThreadPoolExecutor(8) as ex:
        list(ex.map(lambda i: add(d, f"s{i}", user.name, proxy.port), range(channels)))
        drops_before = sshd.log_text().count("past MaxStartups")
        before = {a: c["connected_since"] for a, c in d.get("/channels").json().items()}
        cut = time.monotonic()
        assert proxy.reset_all() >= channels

        def all_up() -> bool:
            # every channel lost its link and is up on a new one (some are back before others notice)
            now = d.get("/channels").json()
            return all(c["state"] == "up" and c["connected_since"] != before[a] for a, c in now.items())

        wait_until(all_up, 30, step=0.1)
        took = time.monotonic() - cut
        drops = sshd.log_text().count("past MaxStartups") - drops_before
        outs = list(ex.map(lambda i: d.run(f"s{i}", "echo ok")["stdout"], range(channels)))
    print(
        f"R7 reconnect storm: {channels} channels all up {took:.2f} s after the reset; "
        f"handshakes dropped by MaxStartups {drops}"
    )
    assert outs == ["ok\n"] * channels


def test_r7_reconnect_storm_brings_every_channel_back(own: Daemon, sshd: Any, ssh_home: Any, test_user: Any) -> None:
    storm(own, sshd, ssh_home, test_user, channels=20)


@pytest.mark.chaos
def test_r7_reconnect_storm_fifty_channels(own: Daemon, sshd: Any, ssh_home: Any, test_user: Any) -> None:
    storm(own, sshd, ssh_home, test_user, channels=50)


async def hammer(url: str, headers: dict[str, str], alias: str, n: int, concurrency: int) -> list[httpx.Response]:
    sem = asyncio.Semaphore(concurrency)
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=60) as c:

        async def one(i: int) -> httpx.Response:
            async with sem:
                return await c.post(f"/channels/{alias}", json={"command": f"echo {i}"})

        return list(await asyncio.gather(*(one(i) for i in range(n))))


def test_r8_more_commands_than_session_slots_queue_and_all_succeed(
    tmp_path: Path, make_sshd: Any, ssh_home: Any, test_user: Any
) -> None:
    slots(tmp_path, make_sshd, test_user, max_sessions=2, commands=150)


@pytest.mark.chaos
@pytest.mark.parametrize("max_sessions", [10, 2])
def test_r8_five_hundred_commands(
    tmp_path: Path, make_sshd: Any, ssh_home: Any, test_user: Any, max_sessions: int
) -> None:
    slots(tmp_path, make_sshd, test_user, max_sessions=max_sessions, commands=500)


def slots(tmp_path: Path, make_sshd: Any, test_user: Any, max_sessions: int, commands: int) -> None:
    server = make_sshd(max_sessions=max_sessions)
    daemon = start_daemon(tmp_path, "--max-sessions", "12", "--max-connections", "1")
    try:
        add(daemon, "slots", test_user.name, server.port)
        t0 = time.monotonic()
        answers = asyncio.run(hammer(daemon.url, daemon.headers, "slots", commands, 50))
        took = time.monotonic() - t0
        ok = sum(1 for i, r in enumerate(answers) if r.status_code == 200 and r.json()["stdout"] == f"{i}\n")
        refused = server.log_text().count("open failed") + daemon.log_text().count("session refused")
        print(
            f"R8 MaxSessions {max_sessions}, 12 per connection asked, 50 concurrent: {ok}/{commands} ok, "
            f"{commands / took:.0f} cmd/s; refusals seen in logs {refused}"
        )
        assert ok == commands, {r.text for r in answers if r.status_code != 200 or "error" in r.json()}
    finally:
        daemon.stop()


def remote_sleepers(user: str, tag: str) -> list[int]:
    return user_processes(user, f"sleep {tag}")


def test_r9_a_hung_command_times_out_on_time_and_leaves_nothing_running(d: Daemon, sshd: Any, test_user: Any) -> None:
    add(d, "u", test_user.name, sshd.port)
    add(d, "root", "root", sshd.port)
    figures = []
    for alias, who, tag in (("u", test_user.name, "3617"), ("root", "root", "3618")):
        t0 = time.monotonic()
        body = d.post(f"/channels/{alias}", json={"command": f"echo going; sleep {tag}", "timeout": 2}, timeout=10)
        took = time.monotonic() - t0
        r = body.json()
        assert (r["error"], r["timed_out"], r["stdout"]) == ("timeout", True, "going\n"), r
        gone = wait_until(lambda who=who, tag=tag: not remote_sleepers(who, tag), 3)
        figures.append(f"{alias}: answered at {took:.2f} s, remote process gone {gone:.2f} s later")
        assert 1.8 <= took <= 3.0
        assert gone < 1.0 + 0.5
    print("R9 timeout=2: " + "; ".join(figures))


def test_r10_commands_that_wait_for_input_get_eof_and_never_block(d: Daemon, sshd: Any, test_user: Any) -> None:
    add(d, "in", test_user.name, sshd.port)
    cases = {
        "cat": "cat; echo eof",
        "read x": "read x; echo eof $?",
        "password prompt": "printf 'Password: ' >&2; read -r pw; echo eof $?",
        "ssh-style prompt": "stty -echo 2>/dev/null; read -r pw < /dev/stdin; echo eof",
    }
    times = {}
    for name, command in cases.items():
        t0 = time.monotonic()
        r = d.post("/channels/in", json={"command": command, "timeout": 5}, timeout=10).json()
        times[name] = time.monotonic() - t0
        assert r.get("error") is None and r["stdout"].startswith("eof"), (name, r)
    # Input that is given is fed, then closed.
    r = d.post("/channels/in", json={"command": "read -r pw; echo got $pw", "input": "s3cret\n"}, timeout=10).json()
    assert r["stdout"] == "got s3cret\n"
    print("R10 prompts answered in " + ", ".join(f"{k} {v * 1000:.0f} ms" for k, v in times.items()) + "; hangs 0")
    assert max(times.values()) < 2


def flood(d: Daemon, size: str) -> None:
    rss0 = rss_kib(d.pid)
    t0 = time.monotonic()
    r = d.post(
        "/channels/big",
        json={"command": f"head -c {size} /dev/zero; head -c {size} /dev/zero >&2; echo done >&2"},
        timeout=120,
    ).json()
    took = time.monotonic() - t0
    peak = rss_kib(d.pid)
    total = r["stdout_total"]
    print(
        f"R11 {size} on each stream: {took:.2f} s, truncated {r['truncated']}, stdout_total {total}, "
        f"daemon peak RSS {rss0 // 1024} -> {peak // 1024} MiB"
    )
    assert r["truncated"] is True and r["exit_code"] == 0
    assert len(r["stdout"]) == 1048576 and total == int(size.rstrip("M")) * 1048576
    assert (peak - rss0) < 200 * 1024  # bounded: the cap, not the output, sets the memory
    assert d.run("big", "echo healthy")["stdout"] == "healthy\n"


def test_r11_huge_output_is_capped_counted_and_the_channel_stays_healthy(d: Daemon, sshd: Any, test_user: Any) -> None:
    add(d, "big", test_user.name, sshd.port)
    flood(d, "100M")


@pytest.mark.chaos
def test_r11_two_hundred_megabytes(d: Daemon, sshd: Any, test_user: Any) -> None:
    add(d, "big", test_user.name, sshd.port)
    flood(d, "200M")


def test_r12_binary_output_round_trips_byte_exact_next_to_a_neighbour(d: Daemon, sshd: Any, test_user: Any) -> None:
    add(d, "bin", test_user.name, sshd.port)
    blob = 'f=$(mktemp); head -c 1048576 /dev/urandom > "$f"; sha256sum < "$f" | cut -c1-64 >&2; cat "$f"; rm "$f"'
    with concurrent.futures.ThreadPoolExecutor(4) as ex:
        neighbours = [ex.submit(d.run, "bin", "sleep 1; echo fine") for _ in range(2)]
        lone = d.post("/channels/bin", json={"command": "printf '\\377'", "raw": True}, timeout=10).json()
        assert base64.b64decode(lone["stdout_b64"]) == b"\xff" and lone["exit_code"] == 0
        exact = 0
        for _ in range(5):
            r = d.post("/channels/bin", json={"command": blob, "raw": True}, timeout=30).json()
            data = base64.b64decode(r["stdout_b64"])
            exact += hashlib.sha256(data).hexdigest() == r["stderr"].strip() and len(data) == 1048576
        fine = sum(f.result(timeout=20)["stdout"] == "fine\n" for f in neighbours)
    print(f"R12 binary: {exact}/5 byte-exact 1 MiB round trips; neighbours {fine}/2 ok")
    assert (exact, fine) == (5, 2)
    assert d.get("/channels/bin").json()["state"] == "up"


async def timed(c: httpx.AsyncClient, alias: str, client: str) -> float:
    t0 = time.monotonic()
    r = await c.post(f"/channels/{alias}", content="echo b", headers={"X-SSHPool-Client": client})
    assert r.json()["stdout"] == "b\n", r.text
    return time.monotonic() - t0


def test_r18_a_busy_client_does_not_starve_another(own: Daemon, sshd: Any, test_user: Any) -> None:
    """Four session slots on x: were the queue first come first served, B would wait behind
    A's 46 queued commands (about 6 s); a per-client fair queue lets it in at the next turnover."""
    fairness(own, sshd, test_user, samples=12)


@pytest.mark.chaos
def test_r18_fairness_with_a_hundred_samples(own: Daemon, sshd: Any, test_user: Any) -> None:
    fairness(own, sshd, test_user, samples=100)


def fairness(d: Daemon, sshd: Any, test_user: Any, samples: int) -> None:
    add(d, "x", test_user.name, sshd.port)
    add(d, "y", test_user.name, sshd.port)

    async def scenario() -> tuple[list[float], list[float], list[float], list[float]]:
        async with d.async_client(timeout=60) as c:
            idle_x = [await timed(c, "x", "B") for _ in range(20)]
            idle_y = [await timed(c, "y", "B") for _ in range(20)]
            stop = asyncio.Event()

            async def keep_busy() -> None:
                while not stop.is_set():
                    await c.post("/channels/x", content="sleep 0.5", headers={"X-SSHPool-Client": "A"})

            busy = [asyncio.create_task(keep_busy()) for _ in range(50)]
            await asyncio.sleep(1.5)
            loaded_x, loaded_y = [], []
            for _ in range(samples):
                loaded_x.append(await timed(c, "x", "B"))
                loaded_y.append(await timed(c, "y", "B"))
            stop.set()
            for task in busy:  # A goes away: its queued commands are dropped, running ones stopped
                task.cancel()
            await asyncio.gather(*busy, return_exceptions=True)
            return idle_x, idle_y, loaded_x, loaded_y

    idle_x, idle_y, loaded_x, loaded_y = asyncio.run(scenario())
    ms = lambda v: f"p50 {statistics.median(v) * 1000:.1f} ms p99 {pct(v, 99) * 1000:.1f} ms"  # noqa: E731
    print(f"R18 B on x: idle {ms(idle_x)}, with A's 50 x sleep 0.5 in flight {ms(loaded_x)}")
    print(f"R18 B on y: idle {ms(idle_y)}, while A loads x {ms(loaded_y)}")
    # Targets: x <= 0.7 s (one slot turnover, against ~6 s for a global FIFO) and y <= 2 x idle
    # p99 + 20 ms. Asserted with room for a 2-core machine shared with other suites.
    assert pct(loaded_x, 99) <= 0.7 + 0.5
    assert pct(loaded_y, 99) <= 2 * pct(idle_y, 99) + 0.25


async def many_clients(tmp_path: Path, sshd: Any, user: Any, clients: int, each: int) -> None:
    async with Pool(state_dir=tmp_path / "many", connect_timeout=3) as pool:
        app = create_app(pool, token="t" * 32)
        for i in range(5):
            await pool.start(f"c{i}://{user.name}@127.0.0.1:{sshd.port}")
        headers = {"Authorization": "Bearer " + "t" * 32}
        latencies: list[float] = []
        errors = 0

        async def client(k: int) -> None:
            nonlocal errors
            t = httpx.ASGITransport(app=app, client=("127.0.0.1", 41000 + k))
            async with httpx.AsyncClient(transport=t, base_url="http://127.0.0.1", headers=headers, timeout=60) as c:
                for j in range(each):
                    t0 = time.monotonic()
                    r = await c.post(f"/channels/c{(k + j) % 5}", content=f"echo {k}-{j}")
                    latencies.append(time.monotonic() - t0)
                    errors += r.status_code != 200 or r.json().get("stdout") != f"{k}-{j}\n"

        # A first round grows each channel to the connections its load needs; those are kept on
        # purpose. The baseline is taken after it, so what is compared is a second, equal round.
        await asyncio.wait_for(asyncio.gather(*(client(k) for k in range(clients))), 120)
        await asyncio.sleep(0.5)
        base_links = sum(c.connections for c in pool.status().values())
        base_fds, base_tasks = open_fds(os.getpid()), len(asyncio.all_tasks())
        base_sessions = await asyncio.to_thread(remote_sessions, user.name)
        latencies.clear()
        t0 = time.monotonic()
        await asyncio.wait_for(asyncio.gather(*(client(k) for k in range(clients))), 120)
        took = time.monotonic() - t0
        await asyncio.sleep(0.5)
        fds, tasks = open_fds(os.getpid()), len(asyncio.all_tasks())
        links = sum(c.connections for c in pool.status().values())
        sessions = await asyncio.to_thread(remote_sessions, user.name)
        print(
            f"R19 {clients} clients x {each} commands over 5 channels: {errors} errors, "
            f"{len(latencies) / took:.0f} cmd/s, p50 {statistics.median(latencies) * 1000:.1f} ms "
            f"p99 {pct(latencies, 99) * 1000:.1f} ms; fds {base_fds} -> {fds}, tasks {base_tasks} -> {tasks}, "
            f"remote sessions {base_sessions} -> {sessions}; SSH connections kept {base_links} -> {links}"
        )
        assert errors == 0
        # A channel keeps the extra connections a load needed (one fd and one watcher each):
        # what must not grow is anything per command.
        assert fds - links <= base_fds - base_links + 2
        assert tasks - links <= base_tasks - base_links  # one watcher task per connection
        assert sessions <= base_sessions


async def test_r19_many_clients_leave_nothing_behind(tmp_path: Path, sshd: Any, test_user: Any, ssh_home: Any) -> None:
    await many_clients(tmp_path, sshd, test_user, clients=40, each=10)


@pytest.mark.chaos
async def test_r19_a_hundred_clients(tmp_path: Path, sshd: Any, test_user: Any, ssh_home: Any) -> None:
    await many_clients(tmp_path, sshd, test_user, clients=100, each=20)
