"""A link that dies is noticed, reported honestly and rebuilt without the user's help."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from sshpool import LinkLostError, Pool


@pytest.fixture
async def pool(tmp_path: Path, ssh_home: Any) -> AsyncIterator[Pool]:
    async with Pool(
        state_dir=tmp_path / "state",
        connect_timeout=3,
        keepalive_interval=1,
        keepalive_count_max=3,
        backoff_initial=0.2,
        backoff_max=2,
    ) as p:
        yield p


async def up(pool: Pool, alias: str, sshd: Any, user: Any) -> None:
    info = await pool.start(f"{alias}://{user.name}@{sshd.host}:{sshd.port}")
    assert info.state == "up", info.last_error


async def wait_state(pool: Pool, alias: str, state: str, within: float) -> float:
    t0 = time.monotonic()
    while pool.get(alias).state != state:
        if time.monotonic() - t0 > within:
            raise AssertionError(f"{alias} still {pool.get(alias).state} after {within} s")
        await asyncio.sleep(0.02)
    return time.monotonic() - t0


def serving_pids(sshd: Any, pool: Pool, alias: str) -> list[int]:
    pids: list[int] = []
    for port in pool.get(alias).local_ports():
        pids += sshd.session_pids(port)
    assert pids, "no sshd process found for the channel's connection"
    return pids


async def test_in_flight_command_gets_link_lost_at_once_and_channel_recovers(
    pool: Pool, sshd: Any, test_user: Any
) -> None:
    await up(pool, "r", sshd, test_user)
    running = asyncio.create_task(pool.run("r", "echo before; sleep 20.07"))
    await asyncio.sleep(0.5)
    cut = time.monotonic()
    for pid in serving_pids(sshd, pool, "r"):
        os.kill(pid, signal.SIGKILL)
    r = await asyncio.wait_for(running, 5)
    detected = time.monotonic() - cut
    assert r.error == "link_lost" and r.exit_code is None
    assert "may still be running on 127.0.0.1; not retried" in (r.exception or "")
    with pytest.raises(LinkLostError):
        r.check()
    assert detected < 1.0
    t = time.monotonic()
    while True:
        try:
            ok = await pool.run("r", "echo back", timeout=5)
            if ok.ok:
                break
        except ConnectionError:
            await asyncio.sleep(0.05)
        assert time.monotonic() - t < 10
    recovery = time.monotonic() - cut
    # The host kept the lost command running (no terminal, so no SIGHUP): the channel stops it.
    probe = 'pgrep -u "$(id -u)" --runstates D,R,S,T -f "sleep 20[.]07" || true'
    while (await pool.run("r", probe)).stdout.strip():
        assert time.monotonic() - cut < 10, "the lost command is still running on the host"
        await asyncio.sleep(0.05)
    swept = time.monotonic() - cut
    print(
        f"link_lost after {detected * 1000:.0f} ms; first success {recovery:.2f} s after the cut; "
        f"the lost command stopped {swept:.2f} s after the cut"
    )
    assert pool.get("r").reconnects == 1


async def test_hung_peer_is_detected_within_the_keepalive_window(pool: Pool, sshd: Any, test_user: Any) -> None:
    await up(pool, "h", sshd, test_user)
    pids = serving_pids(sshd, pool, "h")
    running = asyncio.create_task(pool.run("h", "sleep 30"))
    await asyncio.sleep(0.3)
    t0 = time.monotonic()
    for pid in pids:
        os.kill(pid, signal.SIGSTOP)
    try:
        r = await asyncio.wait_for(running, 10)
        detected = time.monotonic() - t0
    finally:
        for pid in pids:
            os.kill(pid, signal.SIGCONT)
            os.kill(pid, signal.SIGKILL)
    print(f"hung peer detected after {detected:.2f} s (window 1 s x 3)")
    assert r.error == "link_lost" and detected <= 4.5
    await wait_state(pool, "h", "up", 10)
    assert (await pool.run("h", "echo ok")).stdout == "ok\n"


async def test_sshd_restart_is_survived(pool: Pool, make_sshd: Any, test_user: Any) -> None:
    server = make_sshd()
    await up(pool, "s", server, test_user)
    server.stop()
    await wait_state(pool, "s", "reconnecting", 5)
    t0 = time.monotonic()
    server.restart()
    took = await wait_state(pool, "s", "up", 10)
    print(f"channel up {took:.2f} s after sshd came back (backoff max 2 s)")
    assert (await pool.run("s", "echo again")).stdout == "again\n"
    assert time.monotonic() - t0 < 2 + 3


async def test_command_during_outage_fails_fast_as_unavailable(pool: Pool, make_sshd: Any, test_user: Any) -> None:
    server = make_sshd()
    await up(pool, "o", server, test_user)
    server.stop()
    await wait_state(pool, "o", "reconnecting", 5)
    await asyncio.sleep(0.5)  # let a reconnect attempt fail
    t0 = time.monotonic()
    with pytest.raises(ConnectionError, match="not started"):
        await pool.run("o", "true", timeout=10)
    assert time.monotonic() - t0 < 1.0
    info = pool.get("o").info()
    assert info.state == "reconnecting" and info.last_error and info.connected_since is None


async def test_auth_failures_are_not_hammered(tmp_path: Path, ssh_home: Any, sshd: Any) -> None:
    seen = len(sshd.log_text())  # the server is shared: count this test's attempts only
    async with Pool(state_dir=tmp_path, backoff_initial=0.1, backoff_max=30, connect_timeout=3) as p:
        info = await p.start(f"bad://nosuchuser:wrong@{sshd.host}:{sshd.port}")
        assert info.state == "failed" and info.last_error_code == "auth_failed"
        assert "authentication failed for nosuchuser@127.0.0.1" in (info.last_error or "")
        assert "wrong" not in (info.last_error or "")
        await asyncio.sleep(1.5)
        from sshpool import AuthenticationError

        with pytest.raises(AuthenticationError):
            await p.run("bad", "true")
        log = sshd.log_text()[seen:]
        assert log.count("nosuchuser") <= 6  # one attempt, not a tight loop
