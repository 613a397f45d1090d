"""The command path over one persistent channel, against a real OpenSSH sshd, as a non-root user."""

from __future__ import annotations

import asyncio
import statistics
import subprocess
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from sshpool import (
    AliasInUseError,
    ChannelUnavailableError,
    CommandTimeoutError,
    Pool,
    UnknownAliasError,
)


@pytest.fixture
async def pool(tmp_path: Path, ssh_home: Any) -> AsyncIterator[Pool]:
    async with Pool(state_dir=tmp_path / "state", connect_timeout=5, command_timeout=30) as p:
        yield p


def dsn(alias: str, sshd: Any, user: Any) -> str:
    return f"{alias}://{user.name}@{sshd.host}:{sshd.port}"


@pytest.fixture
async def chan(pool: Pool, sshd: Any, test_user: Any) -> str:
    info = await pool.start(dsn("t", sshd, test_user))
    assert info.state == "up", info.last_error
    return "t"


async def remote_pids(pool: Pool, alias: str, pattern: str) -> list[str]:
    # pgrep -f would match this very shell: list the user's own live processes by exact name instead
    # (a killed process can linger as a zombie where PID 1 does not reap orphans, as in containers).
    r = await pool.run(alias, f'pgrep -u "$(id -u)" --runstates D,R,S,T -x {pattern} || true')
    return r.stdout.split()


async def test_start_reports_the_seed_fields(pool: Pool, sshd: Any, test_user: Any) -> None:
    info = await pool.start(dsn("Local", sshd, test_user))
    d = info.to_dict()
    assert d["user"] == test_user.name and d["pass"] is None and d["port"] == sshd.port
    assert d["is_alive"] is True and d["state"] == "up" and isinstance(d["start_time"], float)
    assert repr(pool) == "<Pool 1 channel: 1 up | 0 commands running>"


async def test_exit_codes_stdout_and_stderr_come_back_apart(pool: Pool, chan: str) -> None:
    r = await pool.run(chan, "echo out; echo err >&2; exit 7")
    assert (r.stdout, r.stderr, r.exit_code, r.error) == ("out\n", "err\n", 7, None)


async def test_a_signal_death_is_reported_as_such(pool: Pool, chan: str) -> None:
    r = await pool.run(chan, "kill -KILL $$")
    assert r.signal == "KILL" and r.exit_code is None and r.error == "signal"


async def test_stdin_is_closed_so_prompts_never_hang(pool: Pool, chan: str) -> None:
    r = await asyncio.wait_for(pool.run(chan, "read x; echo got:$x; cat"), 10)
    assert r.stdout == "got:\n" and r.exit_code == 0


async def test_input_is_fed_and_closed(pool: Pool, chan: str) -> None:
    r = await pool.run(chan, "wc -c", input=b"x" * 1_000_000)
    assert r.stdout.strip() == "1000000"


async def test_env_is_exported(pool: Pool, chan: str) -> None:
    r = await pool.run(chan, 'printf %s "$GREETING"', env={"GREETING": "hello 'world'"})
    assert r.stdout == "hello 'world'"


async def test_binary_output_is_byte_exact_and_does_not_disturb_neighbours(pool: Pool, chan: str) -> None:
    payload = bytes(range(256)) * 4096
    neighbour = asyncio.create_task(pool.run(chan, "sleep 0.3; echo fine"))
    r = await pool.run(chan, "head -c 1048576 /dev/urandom > ~/rand; cat ~/rand; printf '\\377'")
    bad = await pool.run(chan, "printf 'caf\\351'")
    assert (await neighbour).stdout == "fine\n"
    assert r.stdout_total == 1048577 and len(r.stdout_bytes or b"") == 1048577
    assert bad.stdout == "caf\ufffd" and bad.stdout_bytes == b"caf\xe9"
    local = await pool.run(chan, "cat", input=payload)
    assert local.stdout_bytes == payload


async def test_fifty_megabytes_on_both_streams_do_not_deadlock(pool: Pool, chan: str) -> None:
    r = await asyncio.wait_for(pool.run(chan, "head -c 50000000 /dev/zero; head -c 50000000 /dev/zero >&2"), 60)
    assert (r.stdout_total, r.stderr_total, r.truncated, r.exit_code) == (50_000_000, 50_000_000, False, 0)


async def test_output_cap_keeps_the_head_and_counts_the_rest(
    tmp_path: Path, ssh_home: Any, sshd: Any, test_user: Any
) -> None:
    async with Pool(state_dir=tmp_path, output_limit=1_000_000) as p:
        await p.start(dsn("c", sshd, test_user))
        r = await p.run("c", "head -c 200000000 /dev/zero; echo done >&2")
        assert r.truncated and r.stdout_total == 200_000_000 and len(r.stdout_bytes or b"") == 1_000_000
        assert r.exit_code == 0 and r.stderr == "done\n"
        assert p.budget.used == 0


async def test_timeout_stops_the_remote_process(pool: Pool, chan: str) -> None:
    t0 = time.monotonic()
    r = await pool.run(chan, "echo started; sleep 3600; echo never", timeout=1)
    took = time.monotonic() - t0
    assert r.timed_out and r.error == "timeout" and r.stdout == "started\n" and 0.9 < took < 1.5
    with pytest.raises(CommandTimeoutError):
        r.check()
    await asyncio.sleep(1.0)
    assert await remote_pids(pool, chan, "sleep") == []


async def test_timeout_also_stops_children_left_behind(pool: Pool, chan: str) -> None:
    r = await pool.run(chan, "sleep 3600 & sleep 3600; wait", timeout=0.5)
    assert r.timed_out
    await asyncio.sleep(1.0)
    assert await remote_pids(pool, chan, "sleep") == []


async def test_timeout_as_root_uses_the_marker_fallback(tmp_path: Path, ssh_home: Any, sshd: Any) -> None:
    async with Pool(state_dir=tmp_path) as p:
        info = await p.start(f"root://root@{sshd.host}:{sshd.port}")
        assert info.state == "up", info.last_error
        token = f"{time.time_ns()}"
        r = await p.run("root", f"sleep 36{token[-2:]}1", timeout=0.5)
        assert r.timed_out
        await asyncio.sleep(1.2)
        left = await p.run("root", f"pgrep -f '^sleep 36{token[-2:]}1$' || true")
        assert left.stdout.strip() == ""


async def test_two_hundred_concurrent_commands_on_one_channel(pool: Pool, chan: str) -> None:
    results = await asyncio.wait_for(asyncio.gather(*(pool.run(chan, f"sleep 0.05; echo {i}") for i in range(200))), 60)
    assert [r.stdout for r in results] == [f"{i}\n" for i in range(200)]
    assert pool.get(chan).info().connections <= pool.settings.max_connections


async def test_two_hundred_concurrent_commands_with_max_sessions_two(
    tmp_path: Path, ssh_home: Any, make_sshd: Any, test_user: Any
) -> None:
    server = make_sshd(max_sessions=2)
    async with Pool(state_dir=tmp_path) as p:
        info = await p.start(dsn("m2", server, test_user))
        assert info.state == "up", info.last_error
        results = await asyncio.wait_for(asyncio.gather(*(p.run("m2", f"echo {i}") for i in range(200))), 90)
        assert [r.stdout for r in results] == [f"{i}\n" for i in range(200)]


async def test_extra_connections_of_a_burst_close_once_it_is_long_over(
    tmp_path: Path, ssh_home: Any, sshd: Any, test_user: Any
) -> None:
    async with Pool(state_dir=tmp_path, max_sessions=2, max_connections=3, idle_connection_timeout=0.5) as p:
        assert (await p.start(dsn("burst", sshd, test_user))).state == "up"
        channel = p.get("burst")
        results = await asyncio.wait_for(asyncio.gather(*(p.run("burst", "sleep 0.3") for _ in range(12))), 30)
        assert all(r.exit_code == 0 for r in results)
        assert channel.info().connections == 3  # the burst opened the extras
        deadline = time.monotonic() + 5
        while channel.info().connections > 1 and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        assert channel.info().connections == 1
        assert channel.info().state == "up" and (await p.run("burst", "echo still")).stdout == "still\n"


async def test_three_hundred_channels_start_at_once(tmp_path: Path, ssh_home: Any, sshd: Any, test_user: Any) -> None:
    async with Pool(state_dir=tmp_path) as p:
        infos = await asyncio.wait_for(p.start_many([dsn(f"c{i}", sshd, test_user) for i in range(300)], wait=60), 90)
        assert [i.state for i in infos].count("up") == 300, {i.last_error for i in infos}
        assert repr(p).startswith("<Pool 300 channels: 300 up")


async def test_first_command_after_connect_is_as_fast_as_a_warm_one(pool: Pool, sshd: Any, test_user: Any) -> None:
    firsts, warms = [], []
    for i in range(5):
        await pool.start(dsn(f"w{i}", sshd, test_user))
        t = time.perf_counter()
        await pool.run(f"w{i}", "true")
        firsts.append(time.perf_counter() - t)
        for _ in range(5):
            t = time.perf_counter()
            await pool.run(f"w{i}", "true")
            warms.append(time.perf_counter() - t)
    first, warm = statistics.median(firsts) * 1000, statistics.median(warms) * 1000
    print(f"first command median {first:.1f} ms, warm {warm:.1f} ms")
    # Without the warm-up the first one pays ~45 ms of Nagle + delayed ACK.
    assert statistics.median(firsts) < statistics.median(warms) + 0.03


async def test_links_prefer_aes_gcm_where_the_cpu_has_aes_and_offer_every_default_cipher(pool: Pool, chan: str) -> None:
    from asyncssh.encryption import get_default_encryption_algs

    from sshpool.core.link import cipher_preference

    flags = Path("/proc/cpuinfo").read_text(errors="replace").split()
    offer = cipher_preference()
    cipher = pool.get(chan)._links[0].conn.get_extra_info("send_cipher")
    if "aes" in flags:
        assert offer is not None and offer[0].startswith("aes") and "-gcm@" in offer[0]
        assert sorted(offer) == sorted(a.decode() for a in get_default_encryption_algs())  # nothing dropped
        assert cipher == offer[0]
    else:
        assert offer is None and cipher == "chacha20-poly1305@openssh.com"


async def test_unknown_alias_and_duplicate_alias(pool: Pool, chan: str, sshd: Any, test_user: Any) -> None:
    with pytest.raises(UnknownAliasError) as info:
        await pool.run("nope", "true")
    assert "known channels: t" in str(info.value) and isinstance(info.value, KeyError)
    with pytest.raises(AliasInUseError):
        await pool.start(dsn("T", sshd, test_user))


async def test_stopping_a_channel_answers_its_running_commands(pool: Pool, chan: str) -> None:
    running = asyncio.create_task(pool.run(chan, "sleep 30"))
    await asyncio.sleep(0.3)
    await pool.stop(chan)
    r = await asyncio.wait_for(running, 10)
    assert r.error == "channel_stopped"
    with pytest.raises(UnknownAliasError):
        pool.get(chan)


async def test_nothing_listening_is_a_clear_unavailable_error(pool: Pool) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    info = await pool.start(f"down://nobody@127.0.0.1:{port}", wait=5)
    assert info.state == "connecting" and "cannot connect to nobody@127.0.0.1" in (info.last_error or "")
    with pytest.raises(ChannelUnavailableError, match="not started"):
        await pool.run("down", "true", timeout=2)


async def test_warm_latency_against_fresh_ssh(pool: Pool, chan: str, sshd: Any, test_user: Any, ssh_home: Any) -> None:
    from tests.support.sshd import ssh_command

    warm = []
    for _ in range(50):
        t = time.perf_counter()
        await pool.run(chan, "echo hi")
        warm.append(time.perf_counter() - t)
    fresh = []
    argv = ssh_command(sshd, test_user, ssh_home, "echo hi")
    for _ in range(5):
        t = time.perf_counter()
        subprocess.run(argv, check=True, capture_output=True, timeout=30)
        fresh.append(time.perf_counter() - t)
    w, f = statistics.median(warm) * 1000, statistics.median(fresh) * 1000
    print(f"echo hi: warm channel {w:.2f} ms median, fresh ssh {f:.1f} ms median ({f / w:.0f}x)")
    assert w < f
