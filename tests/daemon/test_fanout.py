"""Fan-out and PATCH against a real daemon: 100 channels in one request, failures in place."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from sshpool.daemon.store import SQLiteStore
from tests.support.daemon import Daemon, daemon_running

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def daemon(tmp_path: Path, sshd: Any, test_user: Any, ssh_home: Any) -> Iterator[Daemon]:
    yield from daemon_running(tmp_path)


def dsn(alias: str, sshd: Any, user: Any, password: str | None = None) -> str:
    pw = f":{password}" if password else ""
    return f"{alias}://{user.name}{pw}@{sshd.host}:{sshd.port}"


def test_fan_out_to_100_channels_with_failing_and_stopped_ones(daemon: Daemon, sshd: Any, test_user: Any) -> None:
    good = [f"node{i:03d}" for i in range(90)]
    failing = [f"node{i:03d}" for i in range(90, 95)]
    stopped = [f"node{i:03d}" for i in range(95, 100)]

    async def setup() -> None:
        async with daemon.async_client(limits=httpx.Limits(max_connections=40)) as c:
            answers = await asyncio.gather(
                *(c.post("/channels", content=dsn(a, sshd, test_user)) for a in good + stopped),
                *(c.post("/channels", json={"dsn": f"{a}://x@127.0.0.1:1", "wait": 1}) for a in failing),
            )
            assert sorted(r.status_code for r in answers) == [200] * 95 + [202] * 5
            for a in stopped:
                assert (await c.delete(f"/channels/{a}")).text == "OK"

    asyncio.run(setup())
    t0 = time.monotonic()
    r = daemon.post("/run", json={"command": "echo $((6*7))", "channels": good + failing + stopped, "timeout": 10})
    elapsed = time.monotonic() - t0
    print(f"fan-out to 100 channels: {elapsed:.3f} s")
    d = r.json()
    assert r.status_code == 200 and len(d) == 100
    assert {d[a]["stdout"] for a in good} == {"42\n"}
    assert {d[a]["error"] for a in failing} == {"channel_unavailable"}
    assert {d[a]["error"] for a in stopped} == {"unknown_alias"}
    everyone = daemon.post("/run", json={"command": "true", "channels": "node*"}).json()
    assert len(everyone) == 95


def test_fan_out_streams_lines_tagged_with_their_alias(daemon: Daemon, sshd: Any, test_user: Any) -> None:
    for a in ("s1", "s2"):
        daemon.post("/channels", content=dsn(a, sshd, test_user))
    with (
        daemon.client() as c,
        c.stream(
            "POST",
            "/run",
            json={"command": "echo one; sleep 0.2; echo two", "channels": ["s1", "s2"]},
            headers={"Accept": "application/x-ndjson"},
        ) as r,
    ):
        lines = [json.loads(line) for line in r.iter_lines()]
    chunks = [x for x in lines if "stream" in x]
    assert {(x["alias"], x["data"]) for x in chunks} >= {("s1", "one\n"), ("s2", "one\n")}
    assert {x["alias"] for x in lines if "result" in x} == {"s1", "s2"}
    assert lines[-1]["results"]["s1"]["exit_code"] == 0


def test_patch_changes_the_password_and_keeps_start_time(daemon: Daemon, sshd: Any, test_user: Any) -> None:
    daemon.post("/channels", content=dsn("p", sshd, test_user, "old+pass"))
    before = daemon.get("/channels/p").json()
    r = daemon.request("PATCH", "/channels/p", data={"dsn": dsn("p", sshd, test_user, test_user.password)})
    assert (r.status_code, r.text) == (200, "OK")
    after = daemon.get("/channels/p").json()
    assert after["start_time"] == before["start_time"] and after["state"] == "up"
    stored = SQLiteStore(daemon.state_dir).load()
    assert [(s.dsn.alias, s.dsn.password) for s in stored] == [("p", test_user.password)]
    assert daemon.run("p", "echo new")["stdout"] == "new\n"


def test_the_state_dir_holds_no_password_in_clear(daemon: Daemon, sshd: Any, test_user: Any) -> None:
    daemon.post("/channels", data={"dsn": dsn("s", sshd, test_user, "Clear+Text+Never")})
    for path in Path(daemon.state_dir).iterdir():
        assert b"Clear+Text+Never" not in path.read_bytes(), path.name
        assert b"Clear%2BText" not in path.read_bytes(), path.name
