"""A real ``sshpoold`` process on loopback against the test sshd: the user's story end to end."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import signal
import socket
import stat
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from sshpool.daemon.store import SQLiteStore
from tests.support.daemon import BIN, Daemon, daemon_json, daemon_running, start_daemon

pytestmark = pytest.mark.timeout(90)


@pytest.fixture
def daemon(tmp_path: Path, sshd: Any, test_user: Any, ssh_home: Any) -> Iterator[Daemon]:
    yield from daemon_running(tmp_path)


def dsn(alias: str, sshd: Any, user: Any, password: str | None = None) -> str:
    pw = f":{password}" if password else ""
    return f"{alias}://{user.name}{pw}@{sshd.host}:{sshd.port}"


def remote_count(d: Daemon, alias: str, pattern: str) -> int:
    """Processes of the test user whose command line matches ``pattern`` (a bracketed regex, so
    the pgrep itself never matches)."""
    r = d.run(alias, f"pgrep -c -f '{pattern}' || true")
    return int(r["stdout"].strip() or 0)


def test_the_seed_story_start_run_status_stop(daemon: Daemon, sshd: Any, test_user: Any) -> None:
    r = daemon.post("/channels", content=dsn("local", sshd, test_user))
    assert (r.status_code, r.text) == (200, "OK")
    out = daemon.post("/channels/local", content="echo hello world")
    assert out.json()["stdout"] == "hello world\n" and out.json()["exit_code"] == 0
    listing = daemon.get("/channels").json()
    info = listing["local"]
    assert (info["user"], info["pass"], info["host"], info["port"]) == (test_user.name, None, sshd.host, sshd.port)
    assert info["is_alive"] is True and time.time() - info["start_time"] < 30
    assert (daemon.delete("/channels/local").text, daemon.get("/channels").json()) == ("OK", {})
    log = daemon.log_text()
    seed_form = f"local://{test_user.name}:None@{sshd.host}:{sshd.port}"
    for verb in ("connecting to", "connected to", "closing"):
        assert f"{verb} {seed_form}" in log


def test_log_lines_have_the_seed_format_and_no_secrets(
    tmp_path: Path, sshd: Any, test_user: Any, ssh_home: Any
) -> None:
    import re

    secret = "Hush+Hush"
    config = tmp_path / "channels.conf"
    config.write_text(f"# web servers\n{dsn('pw', sshd, test_user, secret)}\n")
    d = start_daemon(
        tmp_path,
        "--config",
        str(config),
        "--channel",
        dsn("seed", sshd, test_user),
        "--channel",
        dsn("cli", sshd, test_user, secret),
    )
    try:
        d.wait_state("seed")
        d.post("/channels", data={"dsn": dsn("api", sshd, test_user, secret)})
    finally:
        assert d.stop() == 0
    lines = d.log_text().splitlines()
    stamp = re.compile(r"^\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}\] ")
    assert all(stamp.match(line) for line in lines), [x for x in lines if not stamp.match(x)]
    assert any(line.endswith(f"]  * Running on http://127.0.0.1:{d.port}/") for line in lines)
    text = d.log_text() + (d.state_dir / "audit.log").read_text()
    assert secret not in text and "Hush" not in text and d.token not in text
    assert "pw://" in text and ":****@" in text
    assert f"{config} holds passwords and other users may read it: chmod 600" in text
    assert "the password of channel cli is visible in ps when given with --channel; put the DSN in a --config" in text


def test_the_token_file_is_private_and_other_users_are_refused(daemon: Daemon, test_user: Any) -> None:
    token_file = daemon.state_dir / "token"
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(daemon.state_dir.stat().st_mode) == 0o700

    def as_other_user(*curl_args: str) -> str:
        r = subprocess.run(
            ["runuser", "-u", test_user.name, "--", "curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", *curl_args],
            capture_output=True,
            text=True,
            timeout=20,
        )
        return r.stdout

    assert as_other_user(daemon.url + "channels") == "401"
    assert as_other_user("-H", "Authorization: Bearer guess", daemon.url + "channels") == "401"
    assert as_other_user(daemon.url + "healthz") == "200"
    peek = subprocess.run(
        ["runuser", "-u", test_user.name, "--", "cat", str(token_file)], capture_output=True, timeout=20
    )
    assert peek.returncode != 0 and daemon.token.encode() not in peek.stdout


def test_channels_survive_kill_9_and_come_back(tmp_path: Path, sshd: Any, test_user: Any, ssh_home: Any) -> None:
    d = start_daemon(tmp_path, "--channel", dsn("flag", sshd, test_user))
    d.post("/channels", data={"dsn": dsn("added", sshd, test_user, "p+w")})
    d.post("/channels", content=dsn("gone", sshd, test_user))
    assert d.delete("/channels/gone").text == "OK"
    d.kill()
    stored = {s.dsn.alias: s.dsn.password for s in SQLiteStore(d.state_dir).load()}
    assert stored == {"flag": None, "added": "p+w"}
    d2 = d.restart()
    try:
        assert sorted(d2.get("/channels").json()) == ["added", "flag"]
        d2.wait_state("added")
        assert d2.run("flag", "echo back")["stdout"] == "back\n"
        assert daemon_json(d2.state_dir) == {"url": d2.url, "pid": d2.pid}
    finally:
        assert d2.stop() == 0
    assert not (d2.state_dir / "daemon.json").exists()


def test_channel_at_restart_updates_the_stored_one(tmp_path: Path, sshd: Any, test_user: Any, ssh_home: Any) -> None:
    d = start_daemon(tmp_path, "--channel", "moved://nobody@127.0.0.1:1")
    d.stop()
    d2 = d.restart("--channel", dsn("moved", sshd, test_user))
    try:
        d2.wait_state("moved")
        assert d2.get("/channels/moved").json()["port"] == sshd.port
    finally:
        d2.stop()


def test_a_client_that_goes_away_cancels_its_remote_command(daemon: Daemon, sshd: Any, test_user: Any) -> None:
    daemon.post("/channels", content=dsn("a", sshd, test_user))
    with pytest.raises(httpx.ReadTimeout), daemon.client(timeout=0.8) as c:
        c.post("/channels/a", content="sleep 4321")
    deadline = time.monotonic() + 5
    while remote_count(daemon, "a", "sleep 432[1]") and time.monotonic() < deadline:
        time.sleep(0.1)
    assert remote_count(daemon, "a", "sleep 432[1]") == 0
    assert "client went away" in daemon.log_text()


def test_a_streaming_client_that_goes_away_cancels_too(daemon: Daemon, sshd: Any, test_user: Any) -> None:
    daemon.post("/channels", content=dsn("a", sshd, test_user))
    with (
        daemon.client() as c,
        c.stream(
            "POST", "/channels/a", content="echo first; sleep 4322", headers={"Accept": "application/x-ndjson"}
        ) as r,
    ):
        first = json.loads(next(r.iter_lines()))
        assert first == {"stream": "stdout", "data": "first\n"}
    deadline = time.monotonic() + 5
    while remote_count(daemon, "a", "sleep 432[2]") and time.monotonic() < deadline:
        time.sleep(0.1)
    assert remote_count(daemon, "a", "sleep 432[2]") == 0


def test_a_slow_command_never_delays_other_channels(daemon: Daemon, sshd: Any, test_user: Any) -> None:
    for a in ("a", "b"):
        assert daemon.post("/channels", content=dsn(a, sshd, test_user)).text == "OK"

    async def scenario() -> tuple[float, list[int], float]:
        async with daemon.async_client(limits=httpx.Limits(max_connections=60)) as c:
            slow = asyncio.create_task(c.post("/channels/a", content="sleep 3"))
            await asyncio.sleep(0.2)
            t0 = time.monotonic()
            answers = await asyncio.gather(*(c.post("/channels/b", content=f"echo {i}") for i in range(50)))
            listing = await c.get("/channels")
            elapsed = time.monotonic() - t0
            assert listing.status_code == 200
            codes = [r.json()["exit_code"] for r in answers]
            slow_result = (await slow).json()
            return elapsed, codes, slow_result["duration"]

    elapsed, codes, slow_duration = asyncio.run(scenario())
    print(f"50 requests on b while a sleeps: {elapsed:.3f} s")
    assert codes == [0] * 50 and elapsed < 1.5 and slow_duration >= 2.9


def test_sigterm_lets_an_upload_in_flight_finish(tmp_path: Path, sshd: Any, test_user: Any, ssh_home: Any) -> None:
    d = start_daemon(tmp_path, "--channel", dsn("a", sshd, test_user), "--drain-timeout", "5")
    d.wait_state("a")
    piece = os.urandom(64 * 1024)
    name = f"drain-{os.getpid()}.bin"

    async def slowly() -> AsyncIterator[bytes]:
        for _ in range(16):  # 1 MiB over ~1.6 s
            yield piece
            await asyncio.sleep(0.1)

    async def scenario() -> httpx.Response:
        async with d.async_client() as c:
            upload = asyncio.create_task(
                c.put(
                    "/channels/a/files", params={"path": name}, content=slowly(), headers={"Content-Length": "1048576"}
                )
            )
            await asyncio.sleep(0.4)
            os.kill(d.pid, signal.SIGTERM)
            return await upload

    answer = asyncio.run(scenario())
    assert answer.status_code == 200 and answer.json()["size"] == 16 * len(piece), answer.text
    assert d.proc.wait(15) == 0
    probe = start_daemon(tmp_path / "probe", "--channel", dsn("p", sshd, test_user))
    try:
        probe.wait_state("p")
        assert probe.run("p", f"wc -c < {name}; rm -f {name}")["stdout"] == "1048576\n"
    finally:
        probe.stop()


def test_sigterm_lets_a_download_in_flight_finish(tmp_path: Path, sshd: Any, test_user: Any, ssh_home: Any) -> None:
    d = start_daemon(tmp_path, "--channel", dsn("a", sshd, test_user), "--drain-timeout", "8")
    d.wait_state("a")
    name = f"drain-get-{os.getpid()}.bin"
    size = 24 * 1024 * 1024  # more than loopback's socket buffers hold, so the daemon is mid-send
    made = d.run("a", f"head -c {size} /dev/urandom > {name} && sha256sum < {name} | cut -d' ' -f1")
    want = made["stdout"].strip()

    async def scenario() -> tuple[int, str, int]:
        got = hashlib.sha256()
        n = 0
        async with d.async_client() as c:
            async with c.stream("GET", "/channels/a/files", params={"path": name}) as r:
                async for piece in r.aiter_bytes(1024 * 1024):
                    if n == 0:
                        os.kill(d.pid, signal.SIGTERM)
                    got.update(piece)
                    n += len(piece)
                    await asyncio.sleep(0.05)  # a slow reader: ~1.2 s for the whole file
                return r.status_code, got.hexdigest(), n

    status, digest, n = asyncio.run(scenario())
    assert status == 200 and n == size and digest == want
    assert d.proc.wait(15) == 0
    probe = start_daemon(tmp_path / "probe", "--channel", dsn("p", sshd, test_user))
    try:
        probe.wait_state("p")
        probe.run("p", f"rm -f {name}")
    finally:
        probe.stop()


def test_sigterm_drains_five_commands_and_leaves_nothing_behind(
    tmp_path: Path, sshd: Any, test_user: Any, ssh_home: Any
) -> None:
    d = start_daemon(tmp_path, "--channel", dsn("a", sshd, test_user), "--drain-timeout", "1")
    d.wait_state("a")

    async def scenario() -> list[dict[str, Any]]:
        async with d.async_client() as c:
            quick = [asyncio.create_task(c.post("/channels/a", content="sleep 0.5; echo done")) for _ in range(2)]
            slow = [asyncio.create_task(c.post("/channels/a", content="sleep 4323")) for _ in range(3)]
            await asyncio.sleep(0.3)
            os.kill(d.pid, signal.SIGTERM)
            await asyncio.sleep(0.1)
            assert (await c.get("/readyz")).status_code == 503
            late = await c.post("/channels/a", content="true", headers={"Accept": "application/json"})
            assert late.status_code == 503 and late.json()["code"] == "shutting_down" and late.headers["Retry-After"]
            return [(await t).json() for t in quick + slow]

    results = asyncio.run(scenario())
    assert [r["stdout"] for r in results[:2]] == ["done\n", "done\n"]
    assert [r["error"] for r in results[2:]] == ["channel_stopped"] * 3
    assert "shutting down" in results[2]["exception"]
    assert d.proc.wait(15) == 0
    # Nothing of ours is left on the server: no sleep, no session of the daemon.
    probe = start_daemon(tmp_path / "probe", "--channel", dsn("p", sshd, test_user))
    try:
        probe.wait_state("p")
        assert remote_count(probe, "p", "sleep 432[3]") == 0
    finally:
        probe.stop()


def test_sighup_rereads_the_config_and_the_token(tmp_path: Path, sshd: Any, test_user: Any, ssh_home: Any) -> None:
    config = tmp_path / "pool.conf"
    config.write_text(dsn("one", sshd, test_user) + "\n")
    token_file = tmp_path / "token"
    token_file.write_text("first-token\n")
    d = start_daemon(tmp_path, "--config", str(config), "--token-file", str(token_file))
    try:
        assert d.token == "first-token" or d.token
        assert sorted(httpx.get(d.url + "channels", headers={"Authorization": "Bearer first-token"}).json()) == ["one"]
        config.write_text(f"# now two\n{dsn('two', sshd, test_user)}\n{dsn('three', sshd, test_user)}\n")
        token_file.write_text("second-token\n")
        os.kill(d.pid, signal.SIGHUP)
        headers = {"Authorization": "Bearer second-token"}
        deadline = time.monotonic() + 10
        names: list[str] = []
        while time.monotonic() < deadline:
            r = httpx.get(d.url + "channels", headers=headers)
            names = sorted(r.json()) if r.status_code == 200 else []
            if names == ["three", "two"]:
                break
            time.sleep(0.1)
        assert names == ["three", "two"]
        assert httpx.get(d.url + "channels", headers={"Authorization": "Bearer first-token"}).status_code == 401
    finally:
        d.stop()


def test_sd_notify_ready_and_stopping(tmp_path: Path, sshd: Any, ssh_home: Any) -> None:
    path = tmp_path / "notify.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(str(path))
        sock.settimeout(20)
        d = start_daemon(tmp_path, env={"NOTIFY_SOCKET": str(path)})
        ready = sock.recv(4096).decode()
        d.stop()
        stopping = sock.recv(4096).decode()
    assert ready.splitlines()[0] == "READY=1" and stopping == "STOPPING=1"


def test_a_unix_socket_daemon_needs_no_host_check(tmp_path: Path, ssh_home: Any) -> None:
    import sys

    sock_path = tmp_path / "s.sock"
    state = tmp_path / "state"
    proc = subprocess.Popen(
        [str(Path(sys.executable).with_name("sshpoold")), "--socket", str(sock_path), "--state-dir", str(state)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 15
        while not (state / "daemon.json").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert daemon_json(state) == {"socket": str(sock_path), "pid": proc.pid}
        assert stat.S_IMODE(sock_path.stat().st_mode) == 0o600
        token = (state / "token").read_text().strip()
        with httpx.Client(transport=httpx.HTTPTransport(uds=str(sock_path)), base_url="http://anything") as c:
            r = c.get("/channels", headers={"Authorization": f"Bearer {token}", "Host": "whatever.example"})
            assert (r.status_code, r.json()) == (200, {})
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(15) == 0


def test_every_status_code_over_the_wire(daemon: Daemon, sshd: Any, test_user: Any) -> None:
    ok = daemon.post("/channels", content=dsn("a", sshd, test_user))
    kept = daemon.post("/channels", json={"dsn": "down://x@127.0.0.1:1", "wait": 1})
    dup = daemon.post("/channels", content=dsn("A", sshd, test_user))
    bad = daemon.post("/channels", content="nonsense")
    far = daemon.post("/channels", content="far://10.9.8.7")
    unknown = daemon.post("/channels/zzz", content="true")
    big = daemon.post("/channels/a", content="x" * (1024 * 1024 + 1))
    unavailable = daemon.post("/channels/down", json={"command": "true", "timeout": 0.5})
    method = daemon.request("PUT", "/channels/a")
    anon = httpx.get(daemon.url + "channels")
    host = daemon.get("/channels", headers={"Host": "attacker.example"})
    got = [
        (r.status_code, r.text if r.status_code != 202 else r.text[:23])
        for r in (ok, kept, dup, bad, far, unknown, unavailable)
    ]
    assert got[0] == (200, "OK") and got[1] == (202, "added; not connected: c")
    assert [g[0] for g in got[2:]] == [409, 400, 403, 404, 503]
    assert (bad.text, unknown.text) == ("BAD REQUEST", "NOT FOUND")
    assert [big.status_code, method.status_code, anon.status_code, host.status_code] == [413, 405, 401, 400]
    assert unavailable.headers["Retry-After"] == "1"


def test_rest_latency_next_to_a_direct_channel(daemon: Daemon, sshd: Any, test_user: Any, tmp_path: Path) -> None:
    """Figures for the record (printed, not asserted as speed): `echo hi` through the daemon and
    through a direct Channel, measured in the same run."""
    import statistics

    from sshpool import Pool

    def summary(samples: list[float]) -> tuple[float, float]:
        samples = sorted(samples)
        return statistics.median(samples) * 1000, samples[int(len(samples) * 0.99) - 1] * 1000

    daemon.post("/channels", content=dsn("lat", sshd, test_user))
    rest: list[float] = []
    with daemon.client() as c:
        for _ in range(200):
            t0 = time.perf_counter()
            r = c.post("/channels/lat", content="echo hi")
            rest.append(time.perf_counter() - t0)
            assert r.json()["stdout"] == "hi\n"

    async def direct() -> list[float]:
        out = []
        async with Pool(state_dir=tmp_path / "direct") as pool:
            await pool.start(dsn("lat", sshd, test_user))
            for _ in range(200):
                t0 = time.perf_counter()
                res = await pool.run("lat", "echo hi")
                out.append(time.perf_counter() - t0)
                assert res.stdout == "hi\n"
        return out

    direct_samples = asyncio.run(direct())
    (rm, rp), (dm, dp) = summary(rest), summary(direct_samples)
    print(f"\necho hi, 200 runs: REST median {rm:.2f} ms p99 {rp:.2f} ms | direct median {dm:.2f} ms p99 {dp:.2f} ms")
    assert rm < 1000 and dm < 1000


def test_log_lines_and_the_audit_log_agree_on_the_time_in_any_time_zone(
    tmp_path: Path, sshd: Any, test_user: Any, ssh_home: Any
) -> None:
    """An operator east of UTC lines up the daemon's log with audit.log: both stamps are UTC."""
    d = start_daemon(tmp_path, env={"TZ": "IST-5:30"})
    try:
        assert d.post("/channels", content=dsn("tz", sshd, test_user)).status_code == 200
        d.wait_state("tz")
    finally:
        assert d.stop() == 0
    [line] = [
        x
        for x in d.log_text().splitlines()
        if x.endswith(f"] connecting to tz://{test_user.name}:None@{sshd.host}:{sshd.port}")
    ]
    logged = datetime.strptime(line[1:24], "%Y-%m-%d %H:%M:%S,%f").replace(tzinfo=UTC)
    [start] = [json.loads(x) for x in (d.state_dir / "audit.log").read_text().splitlines() if '"event": "start"' in x]
    audited = datetime.fromisoformat(start["time"])
    assert audited.utcoffset() == timedelta(0)
    assert abs((logged - audited).total_seconds()) < 30, (line, start["time"])
    usage = subprocess.run([str(BIN), "-h"], capture_output=True, text=True, timeout=20).stdout
    assert "Log lines are stamped in UTC, as the audit log is." in " ".join(usage.split())
