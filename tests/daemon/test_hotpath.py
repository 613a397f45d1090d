"""The hot routes (run a command, fan-out) skip FastAPI's layers: a client cannot tell, because
every answer is the one FastAPI's own route gives, byte for byte, and the audit log and the
metrics count each request as before."""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import AsyncIterator
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from sshpool.core.pool import Pool
from sshpool.daemon.app import create_app
from sshpool.daemon.audit import AuditLog

TOKEN = "h" * 32
AUTH = {"Authorization": f"Bearer {TOKEN}"}
JSON = {**AUTH, "Accept": "application/json", "Content-Type": "application/json"}


@contextlib.asynccontextmanager
async def two_doors(tmp_path: Path, sshd: Any, user: Any) -> AsyncIterator[tuple[httpx.AsyncClient, httpx.AsyncClient]]:
    """One app with channel ``web`` up: a client through the app as sshpoold serves it (the hot
    routes), and one through FastAPI's own stack only (its routes for the same endpoints)."""
    audit = AuditLog(tmp_path / "audit.log")
    async with Pool(state_dir=tmp_path / "state", connect_timeout=3, body_limit=4096) as pool:
        app = create_app(pool, token=TOKEN, audit=audit)
        await pool.start(f"web://{user.name}@{sshd.host}:{sshd.port}")
        doors = [
            httpx.ASGITransport(app=app, client=("127.0.0.1", 40000)),
            httpx.ASGITransport(app=partial(FastAPI.__call__, app), client=("127.0.0.1", 40000)),
        ]
        async with (
            httpx.AsyncClient(transport=doors[0], base_url="http://127.0.0.1") as hot,
            httpx.AsyncClient(transport=doors[1], base_url="http://127.0.0.1") as routed,
        ):
            yield hot, routed
    audit.close()


def answer(r: httpx.Response) -> tuple[int, list[tuple[str, str]], str]:
    """Status, headers and body, with the run times (which differ per run) blanked."""
    body = re.sub(r'"duration": ?[0-9.e-]+', '"duration":0', r.text)
    headers = [(k, v) for k, v in r.headers.multi_items() if k != "content-length"]
    return r.status_code, headers, body


REQUESTS: list[tuple[str, str, dict[str, str], bytes | None]] = [
    ("POST", "/channels/web", JSON, b'{"command": "echo hi"}'),
    ("POST", "/channels/web", AUTH, b"echo plain"),
    ("POST", "/channels/web", {**AUTH, "Content-Type": "application/x-www-form-urlencoded"}, b"command=echo+form"),
    ("POST", "/channels/web", JSON, b'{"command": "cat; exit 3", "input": "stdin text"}'),
    ("POST", "/channels/web", JSON, b'{"command": "echo warm", "mode": "shell"}'),
    ("POST", "/channels/web", JSON, b'{"command": "printf \\"\\\\377\\"", "raw": true}'),
    ("POST", "/channels/web?command=wc+-c", {**AUTH, "Content-Type": "application/octet-stream"}, b"12345"),
    ("POST", "/channels/web", {**AUTH, "Accept": "application/x-ndjson"}, b"echo streamed"),
    ("POST", "/channels/nope", AUTH, b"echo hi"),
    ("POST", "/channels/nope", JSON, b'{"command": "echo hi"}'),
    ("POST", "/channels/web", JSON, b"{not json"),
    ("POST", "/channels/web", JSON, b'{"command": "echo", "colour": "red"}'),
    ("POST", "/channels/web", AUTH, b"x" * 5000),
    ("POST", "/channels/web", {"Accept": "application/json"}, b"echo hi"),
    ("POST", "/channels/web", {**AUTH, "Host": "elsewhere.example"}, b"echo hi"),
    ("POST", "/channels/web/", AUTH, b"echo hi"),
    ("POST", "/run", JSON, b'{"command": "echo fan", "channels": ["web", "gone"]}'),
    ("POST", "/run", JSON, b'{"command": "echo fan", "channels": "w*"}'),
    ("POST", "/run", JSON, b'{"command": "echo fan", "channels": "z*"}'),
    ("POST", "/run", JSON, b'{"command": "echo fan"}'),
    ("GET", "/run", JSON, None),
]


@pytest.mark.parametrize(("method", "path", "headers", "body"), REQUESTS)
async def test_a_command_request_is_answered_as_fastapis_route_answers_it(
    tmp_path: Path,
    sshd: Any,
    test_user: Any,
    ssh_home: Any,
    method: str,
    path: str,
    headers: dict[str, str],
    body: bytes,
) -> None:
    async with two_doors(tmp_path, sshd, test_user) as (hot, routed):
        given = {**headers, "X-Request-ID": "same-id"}
        fast = await hot.request(method, path, headers=given, content=body)
        slow = await routed.request(method, path, headers=given, content=body)
    assert answer(fast) == answer(slow)
    assert fast.headers["x-request-id"] == "same-id"


async def test_the_hot_routes_are_audited_and_counted(tmp_path: Path, sshd: Any, test_user: Any, ssh_home: Any) -> None:
    async with two_doors(tmp_path, sshd, test_user) as (hot, _):
        r = await hot.post("/channels/web", headers={**JSON, "X-SSHPool-Client": "ci"}, json={"command": "echo hi"})
        assert (r.status_code, r.json()["stdout"]) == (200, "hi\n")
        rid = r.headers["x-request-id"]
        assert re.fullmatch(r"[0-9a-f]{16}", rid)
        await hot.post("/run", headers=JSON, json={"command": "true", "channels": "*"})
        page = (await hot.get("/metrics", headers=AUTH)).text
    assert 'sshpool_http_requests_total{method="POST",status="200"} 2.0' in page
    assert 'sshpool_commands_total{outcome="ok"} 2.0' in page
    lines = [json.loads(line) for line in (tmp_path / "audit.log").read_text().splitlines()]
    runs = [(x["event"], x["alias"], x["command"], x["client"]) for x in lines]
    assert runs == [("run", "web", "echo hi", "ci"), ("run", "web", "true", "127.0.0.1")]
    assert lines[0]["request_id"] == rid
