"""R14, R15: the daemon itself stops — politely (SIGTERM with commands in flight) or not
(SIGKILL in the middle of adds and deletes) — and comes back with exactly what it acknowledged.
"""

from __future__ import annotations

import asyncio
import random
import sqlite3
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from sshpool.daemon.store import SQLiteStore
from tests.support.daemon import Daemon, start_daemon
from tests.support.faults import user_processes, wait_until

pytestmark = pytest.mark.timeout(150)


def test_r14_sigterm_with_commands_in_flight_then_everything_comes_back(
    tmp_path: Path, sshd: Any, test_user: Any, ssh_home: Any
) -> None:
    d = start_daemon(tmp_path)
    aliases = [f"g{i}" for i in range(5)]
    for a in aliases:
        assert d.post("/channels", content=f"{a}://{test_user.name}@127.0.0.1:{sshd.port}").status_code == 200

    async def in_flight() -> list[dict[str, Any]]:
        async with d.async_client(timeout=30) as c:
            tasks = [asyncio.create_task(c.post(f"/channels/{a}", content="sleep 4141")) for a in aliases]
            await asyncio.sleep(0.5)
            d.proc.send_signal(15)
            return [(await asyncio.wait_for(t, 20)).json() for t in tasks]

    t0 = time.monotonic()
    answers = asyncio.run(in_flight())
    assert d.proc.wait(20) == 0
    stopped_in = time.monotonic() - t0
    assert [a["error"] for a in answers] == ["channel_stopped"] * 5, answers
    assert all("shutting down" in a["exception"] for a in answers)
    leftovers = len(user_processes(test_user.name, "sleep 414[1]"))
    d2 = d.restart()
    try:
        t1 = time.monotonic()
        wait_until(lambda: all(c["state"] == "up" for c in d2.get("/channels").json().values()), 15)
        all_up = time.monotonic() - t1
        restored = sorted(d2.get("/channels").json())
        outs = [d2.run(a, "echo back")["stdout"] for a in aliases]
    finally:
        d2.stop()
    print(
        f"R14 SIGTERM with 5 in flight: stopped in {stopped_in:.2f} s, leftover remote processes {leftovers}; "
        f"restart: {len(restored)}/5 channels restored, all up {all_up:.2f} s after readiness"
    )
    assert leftovers == 0
    assert restored == aliases and outs == ["back\n"] * 5


async def kill_during_request(d: Daemon, victim: str, present: bool, after: float) -> bool:
    """Send an add or delete of ``victim`` and SIGKILL the daemon ``after`` seconds later;
    True when the request was acknowledged before the kill."""
    async with d.async_client(timeout=10) as c:
        body = {"dsn": f"{victim}://nobody@127.0.0.1:1", "wait": 0}
        request = asyncio.ensure_future(c.delete(f"/channels/{victim}") if present else c.post("/channels", json=body))
        await asyncio.sleep(after)
        d.kill()
        (answer,) = await asyncio.gather(request, return_exceptions=True)
    return not isinstance(answer, BaseException) and answer.status_code < 300


def churn(tmp_path: Path, kills: int, ops_between: tuple[int, int]) -> None:
    """Adds and deletes of ten aliases, with a SIGKILL after a random number of operations,
    sometimes while a request is in flight. Afterwards every acknowledged operation must hold."""
    rng = random.Random(8)
    d = start_daemon(tmp_path)
    present: set[str] = set()
    ops = corrupt = lost = 0
    try:
        for _ in range(kills):
            unknown: str | None = None
            for _ in range(rng.randint(*ops_between)):
                alias = f"c{rng.randrange(10)}"
                try:
                    if alias in present:
                        r = d.delete(f"/channels/{alias}", timeout=10)
                        assert r.status_code == 200, r.text
                        present.discard(alias)
                    else:
                        r = d.post("/channels", json={"dsn": f"{alias}://nobody@127.0.0.1:1", "wait": 0}, timeout=10)
                        assert r.status_code in (200, 202), r.text
                        present.add(alias)
                    ops += 1
                except httpx.HTTPError:
                    unknown = alias
                    break
            # The kill lands at a random point, possibly in the middle of the next request.
            victim = f"c{rng.randrange(10)}"
            acknowledged = asyncio.run(kill_during_request(d, victim, victim in present, rng.uniform(0, 0.01)))
            if acknowledged:
                (present.discard if victim in present else present.add)(victim)
            else:
                unknown = victim
            try:
                stored = {c.dsn.alias for c in SQLiteStore(d.state_dir).load()}
            except (sqlite3.Error, ValueError):
                corrupt += 1
                raise
            d = d.restart()
            listed = set(d.get("/channels").json())
            check = {f"c{i}" for i in range(10)} - {unknown}
            lost += len((listed ^ present) & check) + len((stored ^ present) & check)
            if unknown is not None:
                (present.add if unknown in listed else present.discard)(unknown)
    finally:
        if d.alive():
            d.stop()
    print(
        f"R15 {kills} SIGKILLs during {ops} adds/deletes: corrupt state files {corrupt}, "
        f"acknowledged operations lost {lost}"
    )
    assert (corrupt, lost) == (0, 0)


def test_r15_sigkill_during_config_churn_loses_no_acknowledged_operation(tmp_path: Path, ssh_home: Any) -> None:
    churn(tmp_path, kills=2, ops_between=(3, 12))


@pytest.mark.chaos
def test_r15_two_hundred_cycles(tmp_path: Path, ssh_home: Any) -> None:
    churn(tmp_path, kills=20, ops_between=(5, 15))
