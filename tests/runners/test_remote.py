"""``sshpool.connect(alias, daemon=True)``: the library on a channel of a real sshpoold —
finding the daemon, naming a channel by alias or starting one from a DSN, the errors a direct
connection would raise, live output, terminals, binary stdin and many threads at once."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

import sshpool
import sshpool.sync
from sshpool import (
    AliasInUseError,
    ChannelUnavailableError,
    DaemonUnavailableError,
    TokenError,
    UnknownAliasError,
)
from sshpool.connection import Chunk
from sshpool.runners.connect import open_connection
from sshpool.runners.remote import DaemonRunner
from tests.support.daemon import Daemon, clean_env, daemon_running, start_daemon
from tests.support.library import dsn_for

pytestmark = pytest.mark.timeout(90)


@pytest.fixture(name="daemon")
def daemon_fixture(tmp_path: Path, sshd: Any, test_user: Any, ssh_home: Any) -> Iterator[Daemon]:
    yield from daemon_running(tmp_path)


@pytest.fixture
def web(daemon: Daemon, sshd: Any, test_user: Any) -> Daemon:
    """The daemon with the channel ``web`` up on the test sshd."""
    assert daemon.post("/channels", content=dsn_for(sshd, test_user, "web")).text == "OK"
    return daemon


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_the_daemon_and_its_token_are_found_from_the_state_dir(web: Daemon, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SSHPOOL_URL", raising=False)
    monkeypatch.delenv("SSHPOOL_TOKEN", raising=False)
    monkeypatch.setenv("SSHPOOL_STATE_DIR", str(web.state_dir))  # daemon.json and token live there
    with sshpool.connect("WEB", daemon=True) as conn:  # aliases compare case-insensitively
        assert isinstance(conn.async_connection.runner, DaemonRunner)
        assert conn.async_connection.name == "web"
        assert conn.wait("echo through the daemon") == "through the daemon\n"
    monkeypatch.setenv("SSHPOOL_URL", web.url)
    monkeypatch.setenv("SSHPOOL_TOKEN", web.token)
    monkeypatch.setenv("SSHPOOL_STATE_DIR", "/nonexistent")
    with sshpool.connect("web", daemon=True) as conn:
        assert conn.wait("echo from the environment") == "from the environment\n"


def test_errors_are_the_classes_a_direct_connection_raises(web: Daemon) -> None:
    with pytest.raises(UnknownAliasError, match=r"nosuch.*known channels: web") as unknown:
        sshpool.connect("nosuch", daemon=web.url, token=web.token)
    assert isinstance(unknown.value, KeyError)
    with pytest.raises(TokenError, match="token"):
        sshpool.connect("web", daemon=web.url, token="wrong-token")
    with pytest.raises(DaemonUnavailableError, match="not running") as down:
        sshpool.connect("web", daemon=f"http://127.0.0.1:{closed_port()}", token=web.token)
    assert isinstance(down.value, ConnectionError)
    with pytest.raises(TypeError, match="belong to the channel's DSN"):
        sshpool.connect("web", daemon=web.url, token=web.token, user="root")
    with pytest.raises(TypeError, match="set on sshpoold"):
        sshpool.connect("web", daemon=web.url, token=web.token, forward_agent=True)
    with pytest.raises(TypeError, match="daemon=True"):
        sshpool.connect("web", token=web.token)


def test_a_dsn_starts_the_channel_or_uses_the_one_that_points_there(daemon: Daemon, sshd: Any, test_user: Any) -> None:
    target = dsn_for(sshd, test_user, "fresh")
    with sshpool.connect(target, daemon=daemon.url, token=daemon.token) as conn:
        assert conn.wait("echo started") == "started\n"
    assert daemon.get("/channels/fresh").json()["state"] == "up"  # closing leaves the daemon's channel up
    with sshpool.connect(target, daemon=daemon.url, token=daemon.token) as again:
        assert again.wait("echo reused") == "reused\n"
    elsewhere = f"fresh://{test_user.name}@127.0.0.2:{sshd.port}"
    with pytest.raises(AliasInUseError, match="points at"):
        sshpool.connect(elsewhere, daemon=daemon.url, token=daemon.token)
    dead = f"dead://{test_user.name}@127.0.0.1:{closed_port()}"
    with pytest.raises(ChannelUnavailableError):
        sshpool.connect(dead, daemon=daemon.url, token=daemon.token, connect_timeout=2)
    assert daemon.get("/channels/dead").status_code == 404  # not left behind, retrying


def test_output_streams_live_through_the_daemon(web: Daemon) -> None:
    conn = sshpool.connect("web", daemon=web.url, token=web.token)
    seen: list[tuple[float, str, bytes]] = []
    lock = threading.Lock()

    def on_output(stream: str, data: bytes) -> None:
        with lock:
            seen.append((time.monotonic(), stream, data))

    result = conn.run("echo a; sleep 0.4; printf '\\377' >&2; exit 4", on_output=on_output)
    assert (result.stdout, result.stderr_bytes, result.exit_code) == ("a\n", b"\xff", 4)
    assert [(s, d) for _, s, d in seen] == [("stdout", b"a\n"), ("stderr", b"\xff")]
    assert seen[1][0] - seen[0][0] > 0.3  # the first piece came before the command ended
    conn.close()


async def test_the_async_twin_streams_and_stops_through_the_daemon(web: Daemon) -> None:
    async with await open_connection("web", daemon=web.url, token=web.token) as conn:
        stream = conn.stream("echo first; sleep 0.4; echo second >&2")
        chunks = [chunk async for chunk in stream]
        assert chunks == [Chunk("stdout", b"first\n"), Chunk("stderr", b"second\n")]
        assert stream.result is not None and stream.result.exit_code == 0
        async with conn.stream("sleep 30; echo never") as early:
            pass  # leaving the block hangs up, and the daemon stops the command
        assert early.result is None
        deadline = time.monotonic() + 10
        while "sleep 30; echo never" in await conn.wait("ps -eo args") and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        assert "sleep 30; echo never" not in await conn.wait("ps -eo args")


def test_terminals_binary_stdin_and_environment_go_through(web: Daemon) -> None:
    conn = sshpool.connect("web", daemon=web.url, token=web.token)
    assert conn.wait("tty", pty=True).startswith("/dev/pts/")
    assert conn.run("tty").exit_code != 0
    blob = bytes(range(256))
    assert conn.run("cat", input=blob).stdout_bytes == blob
    assert conn.wait('printf %s "$X"', env={"X": "it's set"}) == "it's set"
    conn.close()


def test_sixteen_threads_times_fifty_waits_through_the_daemon(web: Daemon) -> None:
    conn = sshpool.connect("web", daemon=web.url, token=web.token)

    def worker(n: int) -> list[bool]:
        return [conn.wait(f"echo {n}-{i}") == f"{n}-{i}\n" for i in range(50)]

    started = time.monotonic()
    with ThreadPoolExecutor(16) as pool:
        results = [ok for batch in pool.map(worker, range(16)) for ok in batch]
    elapsed = time.monotonic() - started
    assert len(results) == 800 and all(results)
    print(f"800 wait() calls from 16 threads through sshpoold in {elapsed:.2f} s")
    conn.close()


def test_a_missing_local_file_and_a_local_directory_say_so(web: Daemon, tmp_path: Path) -> None:
    conn = sshpool.connect("web", daemon=web.url, token=web.token)
    with pytest.raises(FileNotFoundError):
        conn.put(tmp_path / "nothing-here", "x")
    with pytest.raises(IsADirectoryError, match="pass recursive=True"):
        conn.put(tmp_path, "x")
    with pytest.raises(IsADirectoryError, match="pass recursive=True"):
        conn.get("/tmp", tmp_path / "y")
    with pytest.raises(PermissionError, match="sshpool-denied"):
        conn.put(__file__, "/root/sshpool-denied")
    conn.close()


def test_timeout_none_means_no_limit_through_the_daemon_as_it_does_directly(
    tmp_path: Path, sshd: Any, test_user: Any, ssh_home: Any
) -> None:
    """``conn.run(cmd, timeout=None)`` on a daemon whose --command-timeout is 1 s: the 1.6 s command
    ends on its own, with live output or streamed stdin too; without ``timeout=`` it is cut at 1 s;
    ``command_timeout=None`` at connect lifts it for every command."""
    d = start_daemon(tmp_path, "--command-timeout", "1")
    try:
        assert d.post("/channels", content=dsn_for(sshd, test_user, "web")).text == "OK"
        slow = "sleep 1.6; echo done"
        seen: list[bytes] = []
        with sshpool.connect("web", daemon=d.url, token=d.token) as conn, ThreadPoolExecutor(4) as pool:
            default = pool.submit(conn.run, slow)
            unlimited = pool.submit(conn.run, slow, timeout=None)
            live = pool.submit(conn.run, slow, timeout=None, on_output=lambda _, data: seen.append(data))
            fed = pool.submit(conn.run, f"cat; {slow}", timeout=None, input=iter([b"in "]))
            assert default.result().timed_out is True
            assert (unlimited.result().stdout, unlimited.result().timed_out) == ("done\n", False)
            assert live.result().stdout == "done\n" and seen == [b"done\n"]
            assert fed.result().stdout == "in done\n"
        with sshpool.connect("web", daemon=d.url, token=d.token, command_timeout=None) as lifted:
            assert lifted.wait(slow) == "done\n"
    finally:
        d.stop()


def test_not_running_through_the_library_names_the_state_dir_as_sshpoolctl_does(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """daemon=True looks for the daemon where sshpoolctl does, and says as much when it is not there."""
    with socket.socket() as probe:
        if probe.connect_ex(("127.0.0.1", 8877)) == 0:
            pytest.skip("something listens on 127.0.0.1:8877, the address tried by default")
    down = "the daemon is not running on 127.0.0.1:8877 — start it with `sshpoold`"
    fix = "for a daemon with another --state-dir, set SSHPOOL_STATE_DIR to it, or SSHPOOL_URL"
    missing, empty = tmp_path / "nowhere", tmp_path / "empty"
    empty.mkdir()
    monkeypatch.delenv("SSHPOOL_URL", raising=False)
    monkeypatch.setenv("SSHPOOL_STATE_DIR", str(missing))
    with pytest.raises(DaemonUnavailableError) as from_env:
        sshpool.sync.connect("web1", daemon=True, token="t0ken")
    assert str(from_env.value) == f"{down} (the state dir {missing} does not exist; {fix})"
    with pytest.raises(DaemonUnavailableError) as from_argument:
        sshpool.sync.connect("web1", daemon=True, token="t0ken", state_dir=empty)
    assert str(from_argument.value) == f"{down} ({empty} holds no daemon.json; {fix})"
    ctl = subprocess.run(
        [str(Path(sys.executable).with_name("sshpoolctl")), "status"],
        env={**clean_env(), "SSHPOOL_STATE_DIR": str(empty), "SSHPOOL_TOKEN": "t0ken"},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert ctl.stderr == f"sshpoolctl: {from_argument.value}\n"
