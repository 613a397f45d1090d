"""``sshpool.connect()`` and its async twin: targets, errors, threads, a running event loop
(Jupyter's situation), streaming, closing and opt-in retries."""

from __future__ import annotations

import asyncio
import inspect
import re
import subprocess
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

import sshpool.sync
from sshpool import AuthenticationError, ChannelUnavailableError, LinkLostError, Pool
from sshpool.connection import AliasRunner, AsyncConnection, Chunk
from sshpool.dsn import make_dsn
from sshpool.runners.connect import open_connection
from tests.support.library import dsn_for, trusted

pytestmark = pytest.mark.timeout(90)


def test_sixteen_threads_times_fifty_waits_on_one_connection(make_connection: Callable[..., Any]) -> None:
    conn = make_connection()

    def worker(n: int) -> list[bool]:
        return [conn.wait(f"echo {n}-{i}") == f"{n}-{i}\n" for i in range(50)]

    started = time.monotonic()
    with ThreadPoolExecutor(16) as pool:
        results = [ok for batch in pool.map(worker, range(16)) for ok in batch]
    elapsed = time.monotonic() - started
    assert len(results) == 800 and all(results)
    print(f"800 wait() calls from 16 threads in {elapsed:.2f} s")


def test_a_sync_call_inside_a_running_event_loop_returns(make_connection: Callable[..., Any]) -> None:
    conn = make_connection()

    async def notebook_cell() -> str:
        # Jupyter runs cells inside its own loop; asyncio.run() would refuse here.
        return str(conn.wait("echo from a cell"))

    assert asyncio.run(asyncio.wait_for(notebook_cell(), 20)) == "from a cell\n"


def test_connect_takes_a_dsn_a_host_or_an_ssh_config_alias(
    ssh_home: Any, sshd: Any, test_user: Any, tmp_path: Path
) -> None:
    ssh_home.add_host_block("libhost", HostName="127.0.0.1", Port=str(sshd.port), User=test_user.name)
    state = tmp_path / "state"
    targets = [
        (dsn_for(sshd, test_user), {}),
        (f"{test_user.name}@127.0.0.1:{sshd.port}", {}),
        ("127.0.0.1", {"user": test_user.name, "port": sshd.port}),
        ("libhost", {}),
    ]
    for target, kwargs in targets:
        with sshpool.sync.connect(target, state_dir=state, connect_timeout=5, **kwargs) as conn:
            assert conn.wait("whoami") == f"{test_user.name}\n", target


def test_make_dsn_names_the_alias_after_the_host_and_lets_keywords_win() -> None:
    dsn = make_dsn("deploy@web-1.example.com:2222", port=22, password="p@ss")
    assert (dsn.alias, dsn.user, dsn.host, dsn.port, dsn.password) == (
        "web-1.example.com",
        "deploy",
        "web-1.example.com",
        22,
        "p@ss",
    )
    assert make_dsn("[::1]:22").host == "::1"
    with pytest.raises(ValueError, match="port"):
        make_dsn("h", port=70000)
    with pytest.raises(ValueError, match="needs a target"):
        make_dsn("")


def test_connect_errors_are_raised_at_connect_and_name_the_problem(
    ssh_home: Any, sshd: Any, test_user: Any, tmp_path: Path
) -> None:
    started = time.monotonic()
    with pytest.raises(AuthenticationError, match=re.escape("nobody-here@127.0.0.1")):
        sshpool.sync.connect(f"nobody-here@127.0.0.1:{sshd.port}", state_dir=tmp_path, connect_timeout=5)
    with pytest.raises(ChannelUnavailableError, match="cannot connect"):
        sshpool.sync.connect("127.0.0.1", port=1, state_dir=tmp_path, connect_timeout=2)
    with pytest.raises(TypeError, match=r"unknown setting.*bogus"):
        sshpool.sync.connect("127.0.0.1", bogus=1)
    assert time.monotonic() - started < 15


def test_a_connect_error_is_raised_to_the_caller_and_not_logged_as_well(
    ssh_home: Any, sshd: Any, test_user: Any, tmp_path: Path
) -> None:
    """A script that handles the error itself prints nothing it did not print: the failure is the
    exception's, with the words the daemon uses ("Connection refused"), and the log has it at DEBUG."""
    import sys

    from tests.support.daemon import clean_env, free_port

    script = f"""
import logging, sshpool
logging.basicConfig(level=logging.WARNING)
for target in ("127.0.0.1:{free_port()}", "nobody-here@127.0.0.1:{sshd.port}"):
    try:
        sshpool.connect(target, state_dir={str(tmp_path)!r}, connect_timeout=5)
    except sshpool.SSHPoolError as exc:
        print(type(exc).__name__, exc)
"""
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, env=clean_env())
    lines = out.stdout.splitlines()
    assert (out.returncode, out.stderr) == (0, ""), out.stderr
    assert lines[0].startswith("ChannelUnavailableError cannot connect to ") and lines[0].endswith(
        ": Connection refused"
    )
    assert lines[1].startswith("AuthenticationError authentication failed for nobody-here@127.0.0.1")
    debug = subprocess.run(
        [sys.executable, "-c", script.replace("WARNING", "DEBUG")],
        capture_output=True,
        text=True,
        timeout=60,
        env=clean_env(),
    )
    assert "DEBUG:sshpool:failed to connect to " in debug.stderr


def test_an_unknown_host_key_tells_a_library_user_what_a_library_user_does(
    make_sshd: Any, ssh_home: Any, test_user: Any, tmp_path: Path
) -> None:
    """Not `sshpoolctl hostkey accept 127.0.0.1`: no channel of a daemon is involved."""
    server = make_sshd(add_known_host=False)
    target = f"{test_user.name}@127.0.0.1:{server.port}"
    state = tmp_path / "state"
    with pytest.raises(sshpool.HostKeyError) as refused:
        sshpool.sync.connect(target, state_dir=state, connect_timeout=5)
    text = str(refused.value)
    assert refused.value.code == "host_key_unknown" and "SHA256:" in text
    assert 'connect with host_key_policy="accept-new"' in text and f"ssh-keyscan -p {server.port}" in text
    assert "sshpoolctl" not in text and "accept_host_key" not in text
    with sshpool.sync.connect(target, state_dir=state, connect_timeout=5, host_key_policy="accept-new") as conn:
        assert conn.wait("echo recorded") == "recorded\n"
    server.regenerate_host_key()
    with pytest.raises(sshpool.HostKeyError) as changed:
        sshpool.sync.connect(target, state_dir=state, connect_timeout=5, host_key_policy="accept-new")
    text = str(changed.value)
    assert changed.value.code == "host_key_changed" and "sshpoolctl" not in text
    assert f"ssh-keygen -R '[127.0.0.1]:{server.port}' -f {state / 'known_hosts'}" in text
    assert 'connect again with host_key_policy="accept-new"' in text


def test_interactive_login_asks_for_the_password_when_keys_fail(
    make_sshd: Any, ssh_home: Any, test_user: Any, tmp_path: Path
) -> None:
    server = trusted(make_sshd(extra={"PubkeyAuthentication": "no"}))
    asked: list[str] = []

    async def prompt(text: str) -> str:
        asked.append(text)
        return str(test_user.password)

    with sshpool.sync.connect(
        dsn_for(server, test_user), interactive=True, password_prompt=prompt, state_dir=tmp_path, connect_timeout=5
    ) as conn:
        assert conn.wait("whoami") == f"{test_user.name}\n"
    assert asked == [f"{test_user.name}@{server.host}'s password: "]


def test_a_refused_password_with_a_lone_percent_says_how_a_dsn_encodes_one(
    make_sshd: Any, ssh_home: Any, test_user: Any, tmp_path: Path
) -> None:
    """`p%ZZ` is not an escape, so it is used as typed (SPEC); when the login then fails, the user
    learns why that may be and how to write it, without the password being shown."""
    server = trusted(make_sshd(extra={"PubkeyAuthentication": "no"}))
    target = f"pct://{test_user.name}:Wr0ng%ZZpw@{server.host}:{server.port}"
    with pytest.raises(AuthenticationError) as refused:
        sshpool.sync.connect(target, state_dir=tmp_path, connect_timeout=5)
    text = str(refused.value)
    assert "the password holds a '%' that starts no %XX escape, so it was used as typed" in text
    assert "a '%' itself is written %25, and @ : / ? # are percent-encoded (%40 %3A %2F %3F %23)" in text
    assert "Wr0ng" not in text and "ZZpw" not in text
    with pytest.raises(AuthenticationError) as plain:
        sshpool.sync.connect(target.replace("%ZZ", "%25ZZ%2F"), state_dir=tmp_path, connect_timeout=5)
    assert "%XX" in str(plain.value)  # decoded, it still holds a lone '%': the note stays, harmless
    with pytest.raises(AuthenticationError) as no_percent:
        sshpool.sync.connect(target.replace("%ZZ", "%2F"), state_dir=tmp_path, connect_timeout=5)
    assert "%XX" not in str(no_percent.value) and "check the user" in str(no_percent.value)


def test_close_is_idempotent_and_the_next_command_reconnects(make_connection: Callable[..., Any]) -> None:
    conn = make_connection()
    first = conn.wait("echo $PPID")
    conn.close()
    conn.close()
    assert conn.wait("echo $PPID") != first  # a new SSH connection, so a new sshd process
    with conn as same:
        assert same.wait("echo ok") == "ok\n"


def test_retry_reruns_an_idempotent_command_after_a_lost_link(
    make_connection: Callable[..., Any], workdir: Path
) -> None:
    conn = make_connection()
    # The first run kills its own SSH connection (its sshd process); the second finds the flag.
    once = f"if [ ! -e {workdir}/flag ]; then touch {workdir}/flag; kill -9 $PPID; sleep 5; fi; echo done"
    with pytest.raises(LinkLostError, match="may still be running"):
        conn.wait(once)
    (workdir / "flag").unlink()
    assert conn.wait(once, retry=1) == "done\n"


def test_run_returns_the_full_result_and_streams_to_a_callback(make_connection: Callable[..., Any]) -> None:
    conn = make_connection()
    seen: list[tuple[str, bytes]] = []
    lock = threading.Lock()

    def on_output(stream: str, data: bytes) -> None:
        with lock:
            seen.append((stream, data))

    result = conn.run("echo a; echo b >&2; exit 4", on_output=on_output)
    assert (result.stdout, result.stderr, result.exit_code) == ("a\n", "b\n", 4)
    assert sorted(seen) == [("stderr", b"b\n"), ("stdout", b"a\n")]
    assert conn.run("printf '\\377'").stdout_bytes == b"\xff"


async def test_the_async_twin_streams_chunks_as_they_arrive(
    ssh_home: Any, sshd: Any, test_user: Any, tmp_path: Path
) -> None:
    async with await open_connection(dsn_for(sshd, test_user), state_dir=tmp_path, connect_timeout=5) as conn:
        assert isinstance(conn, AsyncConnection)
        stamps: list[tuple[float, Chunk]] = []
        stream = conn.stream("echo first; sleep 0.4; echo second >&2")
        async for chunk in stream:
            stamps.append((time.monotonic(), chunk))
        assert [c for _, c in stamps] == [Chunk("stdout", b"first\n"), Chunk("stderr", b"second\n")]
        assert stamps[1][0] - stamps[0][0] > 0.3  # the first chunk came before the command ended
        assert stream.result is not None and stream.result.exit_code == 0
        assert await conn.wait("echo async") == "async\n"
        _, out, _ = await conn.exec_command("cat", input=b"piped")
        assert out.read() == b"piped"
        async with conn.stream("sleep 30; echo never") as early:
            pass  # leaving the block stops the command
        assert early.result is None


def test_pty_gives_the_command_a_terminal(make_connection: Callable[..., Any]) -> None:
    conn = make_connection()
    assert conn.wait("tty", pty=True).startswith("/dev/pts/")
    assert conn.run("tty").exit_code != 0  # no terminal unless asked


def test_forward_agent_lends_the_local_agent_to_remote_commands(
    ssh_home: Any, sshd: Any, test_user: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sock = tmp_path / "agent.sock"
    agent = subprocess.Popen(["ssh-agent", "-D", "-a", str(sock)], stdout=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while not sock.exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        monkeypatch.setenv("SSH_AUTH_SOCK", str(sock))
        subprocess.run(["ssh-add", "-q", str(sshd.client_key)], check=True, timeout=10, capture_output=True)
        listed = subprocess.run(["ssh-add", "-l"], check=True, timeout=10, capture_output=True, text=True).stdout
        kwargs: dict[str, Any] = {"state_dir": tmp_path / "state", "connect_timeout": 5}
        with sshpool.sync.connect(dsn_for(sshd, test_user), forward_agent=True, **kwargs) as conn:
            assert conn.wait("ssh-add -l") == listed
        with sshpool.sync.connect(dsn_for(sshd, test_user), **kwargs) as conn:
            assert conn.run("ssh-add -l").exit_code == 2  # no agent without forwarding
    finally:
        agent.terminate()
        agent.wait(timeout=10)


def test_the_helpers_on_a_channel_of_your_own_pool(ssh_home: Any, sshd: Any, test_user: Any, tmp_path: Path) -> None:
    async def start() -> Pool:
        pool = Pool(state_dir=tmp_path / "state", connect_timeout=5, command_timeout=30)
        info = await pool.start(dsn_for(sshd, test_user, alias="mine"))
        assert info.state == "up", info.last_error
        return pool

    portal = sshpool.sync.portal()
    pool = portal.call(start)
    try:
        conn = sshpool.sync.Connection(AsyncConnection(AliasRunner(pool, "mine"), name="mine"))
        with conn.cd("/tmp"):
            assert conn.wait("pwd") == "/tmp\n"
        assert conn.wait('printf %s "$X"', env={"X": "it's set"}) == "it's set"
        assert conn.wait("tty", pty=True).startswith("/dev/pts/")
        with pytest.raises(TypeError, match="cannot transfer files"):
            conn.put(__file__, "x")
        assert "mine" in repr(conn.async_connection.runner)
    finally:
        portal.call(pool.aclose)


def test_the_sync_twin_streams_chunks_and_keeps_the_result(make_connection: Callable[..., Any]) -> None:
    conn = make_connection()
    with conn.stream("printf one; sleep 0.2; printf two >&2; exit 3") as chunks:
        got = list(chunks)
    assert b"".join(c.data for c in got if c.stream == "stdout") == b"one"
    assert b"".join(c.data for c in got if c.stream == "stderr") == b"two"
    assert chunks.result is not None and chunks.result.exit_code == 3


def test_leaving_a_sync_stream_early_stops_the_command(make_connection: Callable[..., Any], tmp_path: Path) -> None:
    conn = make_connection()
    with conn.stream("echo started; sleep 31.7; echo never") as chunks:
        first = next(chunks)
    assert first.data == b"started\n"
    assert chunks.result is None
    gone = "for i in $(seq 50); do pgrep -f 'slee[p] 31.7' >/dev/null || { echo gone; exit; }; sleep 0.1; done"
    assert conn.run(gone).stdout.strip() == "gone"


def test_exec_command_sends_input_then_what_is_written(make_connection: Callable[..., Any]) -> None:
    conn = make_connection()
    stdin, stdout, _ = conn.exec_command("cat", input=b"given ")
    stdin.write("written")
    stdin.close()
    assert stdout.read() == b"given written"


def test_the_sync_helpers_take_the_same_arguments_as_their_async_twins() -> None:
    def params(fn: Callable[..., Any]) -> list[tuple[str, Any, Any]]:
        sig = inspect.signature(fn)
        return [(p.name, p.kind, p.default) for p in sig.parameters.values()]

    def methods(cls: type) -> set[str]:
        return {n for n, v in vars(cls).items() if inspect.isfunction(v) and (not n.startswith("_") or n in dunders)}

    twins = {"close": "aclose", "__enter__": "__aenter__", "__exit__": "__aexit__"}
    dunders = {"__enter__", "__exit__", "__aenter__", "__aexit__"}
    assert {twins.get(n, n) for n in methods(sshpool.sync.Connection)} == methods(AsyncConnection)
    for name in sorted(methods(sshpool.sync.Connection)):
        mine = getattr(sshpool.sync.Connection, name)
        assert params(mine) == params(getattr(AsyncConnection, twins.get(name, name))), name
