"""The REST client against a real sshpoold and sshd: it finds the daemon and its token by itself,
runs, streams and fans out, and raises the same error classes a direct connection raises."""

from __future__ import annotations

import asyncio
import inspect
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest

import sshpool
from sshpool import DaemonClient
from sshpool.client import NO_LIMIT, AsyncDaemonClient, Done, Output
from sshpool.client.wire import http_deadline, http_timeout
from sshpool.errors import (
    AliasInUseError,
    DaemonUnavailableError,
    DSNError,
    HostKeyError,
    RequestTooLargeError,
    SSHPoolError,
    TokenError,
    UnknownAliasError,
)
from sshpool.result import Result
from tests.support.daemon import Daemon, free_port, start_daemon

pytestmark = pytest.mark.timeout(90)


def dsn(alias: str, sshd: Any, user: Any) -> str:
    return f"{alias}://{user.name}@{sshd.host}:{sshd.port}"


def test_a_client_finds_the_daemon_and_its_token_in_the_state_dir(
    daemon: Daemon, sshd: Any, test_user: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SSHPOOL_STATE_DIR", str(daemon.state_dir))
    monkeypatch.delenv("SSHPOOL_URL", raising=False)
    monkeypatch.delenv("SSHPOOL_TOKEN", raising=False)
    with DaemonClient() as client:
        assert client.url == daemon.url.rstrip("/")
        assert daemon.token not in repr(client)
        started = client.start(dsn("web1", sshd, test_user))
        assert started == {"alias": "web1", "connected": True, "status": 200, "message": "OK"}
        result = client.run("web1", "echo hello world; whoami")
        assert result.stdout == f"hello world\n{test_user.name}\n"
        assert result.ok and result.alias == "web1"
        streamed = list(client.stream("web1", "echo a; echo b >&2"))
        assert streamed[:-1] in ([("stdout", b"a\n"), ("stderr", b"b\n")], [("stderr", b"b\n"), ("stdout", b"a\n")])
        assert isinstance(streamed[-1], Result) and streamed[-1].stdout == "a\n"
        assert client.status()["web1"]["state"] == "up"
        assert client.info("WEB1")["user"] == test_user.name
        client.stop("web1")
        assert client.status() == {}
        assert client.health()["ready"] is True


async def test_run_sends_stdin_and_env_and_keeps_failures_as_results(daemon: Daemon, sshd: Any, test_user: Any) -> None:
    async with AsyncDaemonClient(daemon.url, daemon.token) as client:
        await client.start(dsn("web1", sshd, test_user))
        echoed = await client.run(
            "web1", 'cat; printf %s "$GREETING"', input=b"\x00\xffbytes\n", env={"GREETING": "hi"}
        )
        assert echoed.stdout_bytes == b"\x00\xffbytes\nhi"
        failed = await client.run("web1", "echo oops >&2; exit 3")
        assert (failed.exit_code, failed.stderr, failed.ok) == (3, "oops\n", False)
        slow = await client.run("web1", "echo started; sleep 30", timeout=1)
        assert slow.timed_out and slow.error == "timeout" and slow.stdout == "started\n"


async def test_stream_yields_output_as_it_comes_then_the_result(daemon: Daemon, sshd: Any, test_user: Any) -> None:
    async with AsyncDaemonClient(daemon.url, daemon.token) as client:
        await client.start(dsn("web1", sshd, test_user))
        events: list[tuple[str, bytes] | Result] = []
        async for event in client.stream("web1", "echo one; sleep 0.3; echo two >&2; exit 4"):
            events.append(event)
        chunks = [e for e in events if isinstance(e, tuple)]
        assert b"".join(d for s, d in chunks if s == "stdout") == b"one\n"
        assert b"".join(d for s, d in chunks if s == "stderr") == b"two\n"
        last = events[-1]
        assert isinstance(last, Result)
        assert (last.exit_code, last.stdout, last.stderr) == (4, "one\n", "two\n")


async def test_fan_out_returns_results_and_errors_by_alias(daemon: Daemon, sshd: Any, test_user: Any) -> None:
    async with AsyncDaemonClient(daemon.url, daemon.token) as client:
        for alias in ("web1", "web2", "db1"):
            await client.start(dsn(alias, sshd, test_user))
        webs = await client.run_many("echo up", "web*")
        assert sorted(webs) == ["web1", "web2"]
        assert all(isinstance(r, Result) and r.stdout == "up\n" for r in webs.values())
        mixed = await client.run_many("true", ["db1", "nope"])
        assert isinstance(mixed["db1"], Result) and mixed["db1"].ok
        assert isinstance(mixed["nope"], UnknownAliasError)
        with pytest.raises(UnknownAliasError, match="no channel matches 'x\\*'"):
            await client.run_many("true", "x*")
        seen: list[Output | Done] = [e async for e in client.stream_many("echo $0-ok", "*")]
        done = {e.alias: e.outcome for e in seen if isinstance(e, Done)}
        assert sorted(done) == ["db1", "web1", "web2"]
        assert {a for e in seen if isinstance(e, Output) for a in [e.alias]} == {"db1", "web1", "web2"}
        assert all(isinstance(r, Result) and r.stdout.endswith("-ok\n") for r in done.values())


async def test_refusals_raise_the_classes_a_direct_connection_raises(daemon: Daemon, sshd: Any, test_user: Any) -> None:
    async with AsyncDaemonClient(daemon.url, daemon.token) as client:
        await client.start(dsn("web1", sshd, test_user))
        with pytest.raises(UnknownAliasError, match="unknown alias 'nope'; known channels: web1") as unknown:
            await client.run("nope", "true")
        assert isinstance(unknown.value, KeyError)
        with pytest.raises(DSNError, match="port"):
            await client.start("bad://u@127.0.0.1:99999")
        with pytest.raises(AliasInUseError, match="already in use"):
            await client.start(dsn("WEB1", sshd, test_user))
        with pytest.raises(RequestTooLargeError, match="--body-limit"):
            await client.run("web1", "cat", input="x" * (2 * 1024 * 1024))
        with pytest.raises(UnknownAliasError):
            await client.stop("nope")


async def test_a_wrong_token_is_refused_without_being_shown(daemon: Daemon) -> None:
    async with AsyncDaemonClient(daemon.url, "not-the-token-s3cret") as client:
        with pytest.raises(TokenError) as refused:
            await client.status()
        assert "refused the token" in str(refused.value)
        assert "s3cret" not in str(refused.value) and "s3cret" not in repr(client)
        assert isinstance(refused.value, PermissionError)


async def test_a_daemon_that_is_not_running_says_how_to_start_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("SSHPOOL_STATE_DIR", str(tmp_path))
    monkeypatch.delenv("SSHPOOL_URL", raising=False)
    async with AsyncDaemonClient() as default:
        if default.url == "http://127.0.0.1:8877":  # something may really listen on 8877; skip only that check
            with pytest.raises(DaemonUnavailableError) as gone:
                await default.status()
            if "not running" in str(gone.value):  # and why the state dir did not name another address
                assert str(gone.value) == (
                    f"the daemon is not running on 127.0.0.1:8877 — start it with `sshpoold` ({tmp_path} holds no "
                    "daemon.json; for a daemon with another --state-dir, set SSHPOOL_STATE_DIR to it, or SSHPOOL_URL)"
                )
    port = free_port()
    async with AsyncDaemonClient(f"http://127.0.0.1:{port}", "t") as client:
        with pytest.raises(DaemonUnavailableError) as refused:
            await client.run("web1", "true")
        assert str(refused.value) == f"the daemon is not running on 127.0.0.1:{port} — start it with `sshpoold`"
        assert isinstance(refused.value, ConnectionError) and isinstance(refused.value, SSHPoolError)


async def test_an_unknown_host_key_is_reported_then_accepted(daemon: Daemon, make_sshd: Any, test_user: Any) -> None:
    stranger = make_sshd(add_known_host=False)
    async with AsyncDaemonClient(daemon.url, daemon.token) as client:
        started = await client.start(dsn("new1", stranger, test_user), wait=5)
        assert started["connected"] is False and "host key" in started["message"]
        with pytest.raises(HostKeyError) as unknown:
            await client.run("new1", "true", timeout=3)
        assert unknown.value.code == "host_key_unknown"
        assert (unknown.value.fingerprint or "").startswith("SHA256:")
        fingerprint = await client.accept_host_key("new1")
        assert fingerprint.startswith("SHA256:")
        for _ in range(100):
            if (await client.info("new1"))["state"] == "up":
                break
            await asyncio.sleep(0.1)
        assert (await client.run("new1", "echo trusted")).stdout == "trusted\n"


def test_a_user_manages_the_daemons_channels_and_works_on_one_from_python(
    daemon: Daemon, sshd: Any, test_user: Any, tmp_path: Path
) -> None:
    workdir = f"story-{tmp_path.name}"
    note = tmp_path / "note.txt"
    note.write_bytes(b"hello from python\n")
    with sshpool.DaemonClient(daemon.url, daemon.token) as client:
        assert client.start(dsn("web", sshd, test_user))["connected"] is True
        assert client.status()["web"]["state"] == "up"
        with client.channel("WEB") as conn:
            assert isinstance(conn, sshpool.Connection)
            assert conn.async_connection.runner.client is client.aclient  # one HTTP pool for both
            assert conn.wait("echo hi") == "hi\n"
            conn.wait(f"mkdir -p {workdir}")
            assert conn.chdir(workdir) == f"~/{workdir}"
            assert conn.put(note, "note.txt") == len(b"hello from python\n")
            assert conn.wait('cat note.txt; [ "$PWD" = "$HOME/' + workdir + '" ] && echo here') == (
                "hello from python\nhere\n"
            )
            assert conn.get("note.txt", tmp_path / "back.txt") == len(b"hello from python\n")
            conn.wait(f"rm -r ~/{workdir}")
        assert (tmp_path / "back.txt").read_bytes() == note.read_bytes()
        assert client.info("web")["state"] == "up"  # closing the connection left the client and the channel
        with pytest.raises(UnknownAliasError):
            client.channel("nope")
        client.stop("web")
        assert client.status() == {}


async def test_an_async_user_manages_the_daemons_channels_and_works_on_one(
    daemon: Daemon, sshd: Any, test_user: Any, tmp_path: Path
) -> None:
    async with sshpool.AsyncDaemonClient(daemon.url, daemon.token) as client:
        await client.start(dsn("web", sshd, test_user))
        async with await client.channel("web") as conn:
            assert isinstance(conn, sshpool.AsyncConnection)
            with conn.cd("/tmp"):
                assert await conn.wait("pwd") == "/tmp\n"
            uid, name = await conn.whoami()
            assert name == test_user.name and uid > 0
            (tmp_path / "up.bin").write_bytes(b"\x00\xffbytes")
            await conn.put(tmp_path / "up.bin", f"up-{tmp_path.name}.bin")
            assert await conn.wait(f"od -An -tx1 up-{tmp_path.name}.bin; rm up-{tmp_path.name}.bin") == (
                " 00 ff 62 79 74 65 73\n"
            )
        assert not client.http.is_closed
        assert (await client.info("web"))["state"] == "up"
        await client.stop("web")
        with pytest.raises(UnknownAliasError):
            await client.channel("web")
        assert await client.status() == {}


async def test_requests_of_ones_own_on_the_clients_pool_get_the_same_errors(daemon: Daemon) -> None:
    async with AsyncDaemonClient(daemon.url, daemon.token) as client:
        with client.errors.mapping(client.timeout):
            resp = await client.http.get(client.channel_path("no such"))
        assert resp.request.url.raw_path == b"/channels/no%20such"
        with pytest.raises(UnknownAliasError):
            await client.errors.check(resp, "no such")
    port = free_port()
    async with AsyncDaemonClient(f"http://127.0.0.1:{port}", "t") as gone:
        with pytest.raises(DaemonUnavailableError, match="not running"), gone.errors.mapping(gone.timeout):
            await gone.http.get("/channels")


def twins() -> list[tuple[str, str]]:
    """(blocking name, async name) of every verb of the async client, and the constructor."""
    verbs = [
        name
        for name, fn in inspect.getmembers(sshpool.AsyncDaemonClient)
        if not name.startswith("_") and (inspect.iscoroutinefunction(fn) or inspect.isasyncgenfunction(fn))
    ]
    return [("__init__", "__init__")] + [("close" if name == "aclose" else name, name) for name in verbs]


@pytest.mark.parametrize(("blocking", "awaited"), twins())
def test_the_blocking_client_takes_what_its_async_twin_takes(blocking: str, awaited: str) -> None:
    def shape(fn: Any) -> list[tuple[str, Any, Any, Any]]:
        return [(p.name, p.kind, p.default, p.annotation) for p in inspect.signature(fn).parameters.values()]

    assert shape(getattr(sshpool.DaemonClient, blocking)) == shape(getattr(sshpool.AsyncDaemonClient, awaited))


def test_the_blocking_client_has_no_verb_its_async_twin_lacks() -> None:
    public = {
        n for n, fn in inspect.getmembers(sshpool.DaemonClient) if not n.startswith("_") and inspect.isfunction(fn)
    }
    assert public == {blocking for blocking, _ in twins()} - {"__init__"}
    assert {"status", "info", "start", "stop", "run", "stream", "put_file", "get_file", "channel"} <= public


async def test_no_limit_goes_as_none_and_its_answer_is_awaited_as_long_as_the_command_runs(
    tmp_path: Path, sshd: Any, test_user: Any, ssh_home: Any
) -> None:
    """A daemon whose --command-timeout is 1 s: ``timeout=NO_LIMIT`` lets a 1.6 s command finish,
    run, streamed or fanned out; None is still the daemon's default. The HTTP wait has no deadline
    then, yet a daemon that dies under the command is told at once."""
    assert (http_deadline(None), http_deadline(5.0), http_deadline(NO_LIMIT)) == (610.0, 15.0, None)
    unlimited = http_timeout(http_deadline(NO_LIMIT), 30.0)
    assert isinstance(unlimited, httpx.Timeout) and (unlimited.read, unlimited.connect) == (None, 30.0)
    d = start_daemon(tmp_path, "--command-timeout", "1")
    try:
        async with AsyncDaemonClient(d.url, d.token) as client:
            await client.start(dsn("web1", sshd, test_user))
            slow = "sleep 1.6; echo done"

            async def streamed() -> Result:
                return [e async for e in client.stream("web1", slow, timeout=NO_LIMIT)][-1]  # type: ignore[return-value]

            ran, live, fanned, default = await asyncio.gather(
                client.run("web1", slow, timeout=NO_LIMIT),
                streamed(),
                client.run_many(slow, "*", timeout=NO_LIMIT),
                client.run("web1", slow),
            )
            assert (ran.stdout, live.stdout, ran.timed_out, live.timed_out) == ("done\n", "done\n", False, False)
            assert isinstance(fanned["web1"], Result) and fanned["web1"].stdout == "done\n"
            assert default.timed_out is True
            running = asyncio.ensure_future(client.run("web1", "sleep 30.4", timeout=NO_LIMIT))
            await asyncio.sleep(0.5)
            d.kill()
            with pytest.raises(DaemonUnavailableError, match="the command may have run"):
                await asyncio.wait_for(running, 10)
    finally:
        d.kill()
        subprocess.run(["pkill", "-f", "sleep 30[.]4"], check=False)
