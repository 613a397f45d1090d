"""Interactive terminals over warm channels: ``POST /tickets`` and ``WS /channels/<alias>/terminal``
against a real sshpoold and the test sshd, with a real WebSocket client (websockets)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed
from websockets.typing import Origin

from sshpool.daemon.terminals import Tickets
from tests.support.daemon import Daemon, daemon_running
from tests.support.readme import console_examples

pytestmark = pytest.mark.timeout(90)
#: The end of the login shell's prompt: bash drops what is typed before it has printed one.
PROMPT = b"$ "


@pytest.fixture
def daemon(tmp_path: Path, sshd: Any, test_user: Any, ssh_home: Any) -> Iterator[Daemon]:
    for d in daemon_running(tmp_path, "--max-terminals", "21"):
        for alias in ("web", "other"):
            r = d.post("/channels", content=f"{alias}://{test_user.name}@{sshd.host}:{sshd.port}")
            assert r.status_code == 200, r.text
        yield d


def ws_url(d: Daemon, alias: str, **query: str) -> str:
    q = "&".join(f"{k}={v}" for k, v in query.items())
    return d.url.replace("http://", "ws://") + f"channels/{alias}/terminal" + (f"?{q}" if q else "")


def ticket(d: Daemon, alias: str) -> str:
    r = d.post("/tickets", json={"alias": alias})
    assert r.status_code == 200, r.text
    return str(r.json()["ticket"])


async def read_until(ws: ClientConnection, wanted: bytes, within: float = 10) -> bytes:
    """Terminal bytes until ``wanted`` shows up (the control messages are not output)."""
    seen = b""
    async with asyncio.timeout(within):
        while wanted not in seen:
            message = await ws.recv()
            if isinstance(message, bytes):
                seen += message
    return seen


async def end_of(ws: ClientConnection) -> dict[str, Any]:
    async with asyncio.timeout(10):
        while True:
            message = await ws.recv()
            if isinstance(message, str):
                end: dict[str, Any] = json.loads(message)
                return end


async def refusal(url: str, **kwargs: Any) -> tuple[int, str]:
    async with connect(url, **kwargs) as ws:
        with pytest.raises(ConnectionClosed):
            await asyncio.wait_for(ws.recv(), 10)
        assert ws.close_code is not None
        return ws.close_code, ws.close_reason or ""


async def test_a_ticket_opens_a_terminal_where_typing_runs_commands_and_exit_ends_it(daemon: Daemon) -> None:
    async with connect(ws_url(daemon, "web", ticket=ticket(daemon, "web"), cols="100", rows="30")) as ws:
        await read_until(ws, PROMPT)
        await ws.send(b"echo $((6*7)); stty size\r")
        seen = await read_until(ws, b"30 100")
        assert b"42" in seen
        await ws.send(json.dumps({"type": "resize", "cols": 132, "rows": 43}))
        await ws.send(b"stty size\r")
        await read_until(ws, b"43 132")
        for odd in ("[1]", "not json", "7", '{"type": "resize", "cols": 0, "rows": 5}', '{"type": "resize"}'):
            await ws.send(odd)  # a control not understood is ignored: the terminal goes on as it was
        await ws.send(b"stty size\r")
        await read_until(ws, b"43 132")
        await ws.send(b"exit 3\r")
        assert await end_of(ws) == {"type": "exit", "exit_code": 3, "signal": None, "link_lost": False}
        with pytest.raises(ConnectionClosed):
            await asyncio.wait_for(ws.recv(), 10)
        assert ws.close_code == 1000
    audit = [json.loads(line) for line in (daemon.state_dir / "audit.log").read_text().splitlines()]
    lines = [a for a in audit if a["event"] == "terminal"]
    assert [a["state"] for a in lines] == ["open", "closed"] and lines[1]["duration"] > 0
    assert not any("6*7" in json.dumps(a) for a in audit), "keystrokes are never audited"


async def test_a_command_runs_in_a_pty_and_its_bytes_come_back_exactly(daemon: Daemon) -> None:
    command = "printf 'a\\377b\\000c'; test -t 0 && echo TTY"
    url = ws_url(daemon, "web", ticket=ticket(daemon, "web"), command=command.replace(" ", "%20").replace("&", "%26"))
    async with connect(url) as ws:
        seen = await read_until(ws, b"TTY")
        assert b"a\xffb\x00c" in seen
        assert (await end_of(ws))["exit_code"] == 0


async def test_a_ticket_works_once_for_its_alias_only_and_expires(daemon: Daemon) -> None:
    t = ticket(daemon, "web")
    assert await refusal(ws_url(daemon, "other", ticket=t)) == (
        4401,
        "the ticket is unknown, used, expired or for another alias: POST /tickets",
    )
    assert (await refusal(ws_url(daemon, "web", ticket=t)))[0] == 4401, "spent on the wrong alias"
    t = ticket(daemon, "web")
    async with connect(ws_url(daemon, "web", ticket=t)) as ws:
        await read_until(ws, PROMPT)
        await ws.send(b"exit\r")
        await end_of(ws)
    assert (await refusal(ws_url(daemon, "web", ticket=t)))[0] == 4401, "used once already"
    assert (await refusal(ws_url(daemon, "web")))[0] == 4401, "neither a ticket nor the token"
    assert (await refusal(ws_url(daemon, "web", ticket="made-up")))[0] == 4401
    r = daemon.post("/tickets", json={"alias": "nope"})
    assert r.status_code == 404
    r = daemon.post("/tickets", content=b"web", headers={"Accept": "application/json"})
    assert r.status_code == 400 and '{"alias": "<alias>"}' in r.json()["detail"]
    r = daemon.post("/tickets", json={"alias": "web"}, headers={"Authorization": "Bearer wrong"})
    assert r.status_code == 401
    answer = daemon.post("/tickets", json={"alias": "WEB"}).json()
    left = (datetime.fromisoformat(answer["expires"]) - datetime.now(UTC)).total_seconds()
    assert answer["alias"] == "web" and 28 <= left <= 31, answer
    for text in (daemon.log_text(), (daemon.state_dir / "audit.log").read_text()):
        assert t not in text and answer["ticket"] not in text, "a ticket is a secret"


def test_a_ticket_is_refused_once_its_time_is_up() -> None:
    tickets = Tickets(seconds=0.2)
    early, _ = tickets.issue("web")
    late, _ = tickets.issue("web")
    assert tickets.redeem(early, "WEB")  # aliases compare without regard to case
    time.sleep(0.3)
    assert not tickets.redeem(late, "web")


async def test_a_page_of_another_origin_is_refused_and_the_bearer_token_works_without_a_ticket(
    daemon: Daemon,
) -> None:
    host = daemon.url.split("//")[1].rstrip("/")
    code, reason = await refusal(
        ws_url(daemon, "web", ticket=ticket(daemon, "web")), origin=Origin("http://evil.example")
    )
    assert code == 4403 and "evil.example" in reason
    headers = {"Authorization": f"Bearer {daemon.token}"}
    async with connect(ws_url(daemon, "web"), additional_headers=headers, origin=Origin(f"http://{host}")) as ws:
        await read_until(ws, PROMPT)
        await ws.send(b"exit 0\r")
        assert (await end_of(ws))["exit_code"] == 0
    assert (await refusal(ws_url(daemon, "nope"), additional_headers=headers))[0] == 4404
    assert (await refusal(ws_url(daemon, "web", cols="0"), additional_headers=headers))[0] == 4400


async def test_twenty_terminals_at_once_and_one_past_the_cap_is_refused(daemon: Daemon) -> None:
    headers = {"Authorization": f"Bearer {daemon.token}"}
    terminals = [await connect(ws_url(daemon, "web"), additional_headers=headers) for _ in range(21)]
    try:
        for i, ws in enumerate(terminals):
            await read_until(ws, PROMPT, within=20)
            await ws.send(f"echo term-$((100+{i}))\r".encode())
        for i, ws in enumerate(terminals):
            await read_until(ws, f"term-{100 + i}".encode(), within=20)
        code, reason = await refusal(ws_url(daemon, "web"), additional_headers=headers)
        assert code == 4429 and "--max-terminals" in reason
    finally:
        for ws in terminals:
            await ws.close()
    await asyncio.sleep(0.5)
    async with connect(ws_url(daemon, "web"), additional_headers=headers) as ws:  # room again
        await read_until(ws, PROMPT)
        await ws.send(b"exit\r")
        await end_of(ws)


async def test_a_link_cut_under_a_terminal_ends_it_with_a_reason_and_the_channel_comes_back(
    daemon: Daemon, sshd: Any
) -> None:
    headers = {"Authorization": f"Bearer {daemon.token}"}
    async with connect(ws_url(daemon, "web"), additional_headers=headers) as ws:
        await read_until(ws, PROMPT)
        await ws.send(b"echo ready\r")
        await read_until(ws, b"ready")
        for pid in sshd.session_pids():
            with contextlib.suppress(ProcessLookupError):  # gone with its parent already
                os.kill(pid, signal.SIGKILL)
        end = await end_of(ws)
        assert end["link_lost"] is True
        with pytest.raises(ConnectionClosed):
            await asyncio.wait_for(ws.recv(), 10)
        assert ws.close_code == 1011 and "lost" in (ws.close_reason or "")
    deadline = time.monotonic() + 20
    while daemon.get("/channels/web").json()["state"] != "up" and time.monotonic() < deadline:
        await asyncio.sleep(0.2)
    assert daemon.run("web", "echo back")["stdout"] == "back\n"


def test_the_readmes_ticket_example_runs_as_written_and_answers_in_its_shape(daemon: Daemon) -> None:
    examples = dict(console_examples("### Terminals: `sshpoolctl ssh`"))
    command = next(c for c in examples if c.startswith("curl"))
    env = {**os.environ, "SSHPOOL_TOKEN": daemon.token}
    run = subprocess.run(
        ["sh", "-c", command.replace("http://127.0.0.1:8877/", daemon.url).replace("web1", "web")],
        capture_output=True, text=True, env=env, timeout=30, check=True,
    )  # fmt: skip
    shown = json.loads(examples[command][0])
    answer = json.loads(run.stdout)
    assert set(answer) == set(shown) and answer["alias"] == "web"
    datetime.fromisoformat(answer["expires"])


def test_a_channels_recent_audit_lines_are_its_own_oldest_first_and_never_hold_a_secret(daemon: Daemon) -> None:
    for i in range(3):
        daemon.run("web", f"echo web-{i}")
    daemon.run("other", "echo elsewhere")
    t = ticket(daemon, "web")
    r = daemon.get("/channels/WEB/audit", params={"limit": "3"})
    assert r.status_code == 200, r.text
    answer = r.json()
    assert answer["alias"] == "web"
    assert [(a["event"], a.get("command")) for a in answer["lines"]] == [
        ("run", "echo web-1"), ("run", "echo web-2"), ("ticket", None),
    ]  # fmt: skip
    assert all(a["alias"] == "web" for a in daemon.get("/channels/web/audit").json()["lines"])
    assert t not in r.text
    for bad in ("0", "501", "x", "-1"):
        refused = daemon.get("/channels/web/audit", params={"limit": bad}, headers={"Accept": "application/json"})
        assert refused.status_code == 400 and "limit must be a whole number" in refused.json()["detail"]
    assert daemon.get("/channels/nope/audit").status_code == 404
