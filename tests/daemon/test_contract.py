"""The REST contract, in process (httpx's ASGI transport) over a real Pool and the test sshd."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from sshpool import Pool
from sshpool.daemon.app import create_app
from sshpool.daemon.audit import AuditLog
from sshpool.daemon.store import SQLiteStore

TOKEN = "test-token-123"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
pytestmark = pytest.mark.timeout(60)


class Api:
    """The app, its pool and store, and a client that sends the token."""

    def __init__(self, pool: Pool, store: SQLiteStore, client: httpx.AsyncClient, app: Any, state_dir: Path) -> None:
        self.pool = pool
        self.store = store
        self.client = client
        self.app = app
        self.state_dir = state_dir

    async def snapshot(self) -> dict[str, Any]:
        r = await self.client.get("/channels")
        return {a: (i["host"], i["port"], i["user"]) for a, i in r.json().items()}


@contextlib.asynccontextmanager
async def serving(tmp_path: Path, command_timeout: float = 20) -> AsyncIterator[Api]:
    state = tmp_path / "state"
    state.mkdir()
    store = SQLiteStore(state)
    audit = AuditLog(state / "audit.log")
    async with Pool(
        state_dir=state,
        connect_timeout=3,
        backoff_initial=0.2,
        backoff_max=1,
        command_timeout=command_timeout,
        body_limit=4096,
    ) as pool:
        app = create_app(
            pool, token=TOKEN, allow_networks=["127.0.0.0/8", "::1"], store=store, audit=audit, fanout_limit=8
        )
        transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1", headers=AUTH) as client:
            yield Api(pool, store, client, app, state)
    store.close()
    audit.close()


@pytest.fixture
async def api(tmp_path: Path, sshd: Any, ssh_home: Any) -> AsyncIterator[Api]:
    async with serving(tmp_path) as served:
        yield served


def dsn(alias: str, sshd: Any, user: Any, password: str | None = None) -> str:
    pw = f":{password}" if password else ""
    return f"{alias}://{user.name}{pw}@{sshd.host}:{sshd.port}"


@pytest.fixture
async def web(api: Api, sshd: Any, test_user: Any) -> str:
    r = await api.client.post("/channels", content=dsn("web", sshd, test_user))
    assert (r.status_code, r.text) == (200, "OK")
    return "web"


# ----------------------------------------------------------------------------- bodies


async def test_a_dsn_is_accepted_as_raw_text_form_field_or_json(api: Api, sshd: Any, test_user: Any) -> None:
    c = api.client
    r1 = await c.post("/channels", content=dsn("raw", sshd, test_user).encode())
    r2 = await c.post("/channels", data={"dsn": dsn("form", sshd, test_user, "pa+ss")})
    r3 = await c.post("/channels", json={"dsn": dsn("js", sshd, test_user), "wait": 5})
    # curl -d 'a://u:p+w@h' sends a form content type without a dsn= key: the body is taken as is.
    r4 = await c.post(
        "/channels",
        content=dsn("curl", sshd, test_user, "p+w"),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    for r in (r1, r2, r3, r4):
        assert (r.status_code, r.text, r.headers["content-type"]) == (200, "OK", "text/plain; charset=utf-8")
    assert api.pool.get("form").dsn.password == "pa+ss"
    assert api.pool.get("curl").dsn.password == "p+w"
    stored = {s.dsn.alias: s.dsn.password for s in api.store.load()}
    assert stored == {"raw": None, "form": "pa+ss", "js": None, "curl": "p+w"}


async def test_a_command_is_accepted_in_all_three_encodings(api: Api, web: str) -> None:
    c = api.client
    raw = await c.post("/channels/web", content="echo a  b")
    form = await c.post("/channels/web", data={"command": "echo a+b"})
    js = await c.post("/channels/web", json={"command": "cat; echo $X", "input": "in\n", "env": {"X": "y z"}})
    formless = await c.post(
        "/channels/web", content="echo 1+1=2", headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert [r.json()["stdout"] for r in (raw, form, js, formless)] == ["a b\n", "a+b\n", "in\ny z\n", "1+1=2\n"]


async def test_the_result_shape_keeps_the_seed_fields_and_adds_ours(api: Api, web: str) -> None:
    r = await api.client.post("/channels/web", json={"command": "printf 'x\\377'; echo err >&2; exit 3", "raw": True})
    d = r.json()
    assert r.status_code == 200
    assert (d["stdout"], d["stderr"], d["exit_code"], d["signal"], d["timed_out"]) == (
        "x\ufffd",
        "err\n",
        3,
        None,
        False,
    )
    assert base64.b64decode(d["stdout_b64"]) == b"x\xff" and d["stdout_total"] == 2
    assert "error" not in d and d["duration"] > 0


async def test_a_timeout_comes_back_as_a_result_with_partial_output(api: Api, web: str) -> None:
    r = await api.client.post("/channels/web", json={"command": "echo started; sleep 30", "timeout": 0.5})
    d = r.json()
    assert r.status_code == 200 and d["error"] == "timeout" and d["timed_out"] is True
    assert d["stdout"] == "started\n" and d["exit_code"] is None and d["exception"]


async def test_a_timeout_of_none_means_no_limit_and_null_the_daemons_default(
    tmp_path: Path, sshd: Any, test_user: Any, ssh_home: Any
) -> None:
    """With --command-timeout 1, a 1.6 s command runs to its end when it says ``"timeout": "none"``
    (or ``"off"``; ``?timeout=none`` in the streamed form; on /run too), and is cut as before
    when it says nothing or null. 0 stays a 400, which now names the way to say no limit."""
    async with serving(tmp_path, command_timeout=1) as api:
        c = api.client
        assert (await c.post("/channels", content=dsn("web", sshd, test_user))).text == "OK"
        slow = "sleep 1.6; echo done"
        octets = {"Content-Type": "application/octet-stream"}
        lines = {"Accept": "application/x-ndjson"}
        answers = await asyncio.gather(
            c.post("/channels/web", json={"command": slow, "timeout": "none"}),
            c.post("/channels/web", json={"command": slow, "timeout": "off"}),
            c.post("/channels/web", params={"command": slow, "timeout": "none"}, content=b"", headers=octets),
            c.post("/channels/web", json={"command": slow, "timeout": "none"}, headers=lines),
            c.post("/run", json={"command": slow, "channels": "*", "timeout": "none"}),
            c.post("/channels/web", content=slow),
            c.post("/channels/web", json={"command": slow, "timeout": None}),
        )
        none, off, query, ndjson, fanout, default, null = answers
        assert [r.status_code for r in answers] == [200] * 7
        for r in (none, off, query):
            assert (r.json()["stdout"], r.json()["exit_code"], r.json()["timed_out"]) == ("done\n", 0, False)
        assert json.loads(ndjson.text.splitlines()[0]) == {"stream": "stdout", "data": "done\n"}
        assert fanout.json()["web"]["stdout"] == "done\n"
        assert default.json()["timed_out"] is True and null.json()["timed_out"] is True
        js = {"Accept": "application/json"}
        zero = await c.post("/channels/web", json={"command": "true", "timeout": 0}, headers=js)
        word = await c.post("/channels/web", json={"command": "true", "timeout": "forever"}, headers=js)
        zero_query = await c.post(
            "/channels/web", params={"command": "true", "timeout": "0"}, content=b"", headers={**octets, **js}
        )
        for r in (zero, word, zero_query):
            assert r.status_code == 400 and '"none" for no limit' in r.json()["detail"], r.text
        spec = (await c.get("/openapi.json")).json()
        body = spec["paths"]["/channels/{alias}"]["post"]["requestBody"]["content"]["application/json"]["schema"]
        assert {"type": "string", "enum": ["none", "off"]} in body["properties"]["timeout"]["anyOf"]


# ----------------------------------------------------------------------------- answers


async def test_errors_are_plain_text_unless_json_is_asked_for(api: Api) -> None:
    c = api.client
    plain = await c.get("/channels/nope")
    star = await c.get("/channels/nope", headers={"Accept": "*/*"})
    js = await c.get("/channels/nope", headers={"Accept": "application/json"})
    prob = await c.post("/channels", content="no-scheme", headers={"Accept": "application/problem+json"})
    assert (plain.status_code, plain.text, plain.headers["content-type"]) == (
        404,
        "NOT FOUND",
        "text/plain; charset=utf-8",
    )
    assert star.text == "NOT FOUND"
    assert js.status_code == 404 and js.headers["content-type"] == "application/problem+json"
    assert js.json() | {"detail": ""} == {
        "type": "about:blank",
        "title": "Not Found",
        "status": 404,
        "detail": "",
        "code": "unknown_alias",
        "alias": "nope",
    }
    assert "nope" in js.json()["detail"]
    assert prob.status_code == 400 and prob.json()["code"] == "bad_dsn" and "alias" in prob.json()["detail"]
    bad_plain = await c.post("/channels", content="no-scheme")
    assert (bad_plain.status_code, bad_plain.text) == (400, "BAD REQUEST")


async def test_plain_errors_end_their_line_and_the_seeds_bodies_stay_byte_for_byte(
    api: Api, web: str, sshd: Any, test_user: Any
) -> None:
    """``curl`` prints a plain error and the shell prompt follows on its own line; the bodies SPEC.md
    keeps for seed clients (``NOT FOUND``, ``BAD REQUEST``, ``OK``) are kept exactly, no newline."""
    c = api.client
    taken = await c.post("/channels", content=dsn("WEB", sshd, test_user))
    anon = await c.get("/channels", headers={"Authorization": ""})
    method = await c.put("/channels/web")
    assert [r.status_code for r in (taken, anon, method)] == [409, 401, 405]
    assert taken.text.startswith("alias 'web' is already in use by web://") and taken.text.count("\n") == 1
    assert anon.text.startswith("missing or wrong token") and anon.text.endswith("'token' file\n")
    assert method.text == "method PUT is not allowed on /channels/web\n"
    assert (await c.get("/channels/nope")).text == "NOT FOUND"
    assert (await c.post("/channels", content="no-scheme")).text == "BAD REQUEST"
    assert (await c.delete("/channels/web")).text == "OK"


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"content": b"{not json", "headers": {"Content-Type": "application/json"}}, "not valid JSON"),
        ({"json": ["echo"]}, "must be an object"),
        ({"content": b"[" * 3000, "headers": {"Content-Type": "application/json"}}, "not valid JSON"),
        ({"json": {"command": 5}}, "'command'"),
        ({"json": {"command": "true", "timeout": "soon"}}, "'timeout'"),
        ({"json": {"command": "true", "timeout": -1}}, "'timeout'"),
        ({"json": {"command": "true", "raw": "yes"}}, "'raw'"),
        ({"json": {"command": "true", "env": {"1X": "v"}}}, "'env'"),
        ({"json": {"command": "true", "timout": 3}}, "unknown field 'timout'"),
        ({"content": b"echo \xff\xfe"}, "not UTF-8"),
        ({"content": b""}, "empty command"),
    ],
)
async def test_bad_command_bodies_are_400_naming_the_field(
    api: Api, web: str, kwargs: dict[str, Any], words: str
) -> None:
    before = await api.snapshot()
    r = await api.client.post(
        "/channels/web", headers={"Accept": "application/json", **kwargs.pop("headers", {})}, **kwargs
    )
    assert r.status_code == 400, r.text
    assert r.json()["code"] == "bad_request" and words in r.json()["detail"]
    assert await api.snapshot() == before
    assert api.pool.get("web").commands_run == 0


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("x://127.0.0.1:99999", "port"),
        ("x://u@", "host"),
        ("://h", "alias"),
        ("bad alias://h", "alias"),
        ("x://h ost", "whitespace"),
        ("x://a:b:c", "IPv6"),
    ],
)
async def test_bad_dsns_are_400_and_change_nothing(api: Api, web: str, text: str, words: str) -> None:
    before = await api.snapshot()
    r = await api.client.post("/channels", json={"dsn": text}, headers={"Accept": "application/json"})
    assert r.status_code == 400 and r.json()["code"] == "bad_dsn" and words in r.json()["detail"]
    assert await api.snapshot() == before and len(api.store.load()) == 1


async def test_a_duplicate_alias_is_409_whatever_its_case(api: Api, web: str, sshd: Any, test_user: Any) -> None:
    r = await api.client.post("/channels", content=dsn("WEB", sshd, test_user), headers={"Accept": "application/json"})
    assert r.status_code == 409 and r.json()["code"] == "alias_in_use"
    assert list((await api.client.get("/channels")).json()) == ["web"]


async def test_hosts_outside_allow_hosts_are_403_and_never_dialled(api: Api) -> None:
    for text in ("far://10.1.2.3", "named://db.example.invalid", "v6://[2001:db8::1]:22"):
        r = await api.client.post("/channels", content=text, headers={"Accept": "application/json"})
        assert r.status_code == 403 and r.json()["code"] == "host_not_allowed", text
    assert (await api.client.get("/channels")).json() == {}


async def test_a_channel_that_cannot_connect_is_kept_with_202_and_commands_get_503(api: Api) -> None:
    r = await api.client.post("/channels", json={"dsn": "down://nobody@127.0.0.1:1", "wait": 2})
    assert r.status_code == 202
    assert r.text.startswith("added; not connected: ") and r.text.endswith("; retrying")
    run = await api.client.post(
        "/channels/down", json={"command": "true", "timeout": 1}, headers={"Accept": "application/json"}
    )
    assert run.status_code == 503 and run.headers["Retry-After"] and run.json()["code"] == "channel_unavailable"
    info = (await api.client.get("/channels/down")).json()
    assert info["is_alive"] is False and info["last_error"]


async def test_other_methods_are_405(api: Api) -> None:
    r = await api.client.put("/channels")
    assert r.status_code == 405 and "GET" in r.headers["allow"]


async def test_bodies_over_the_limit_are_413_counted_or_declared(api: Api, web: str) -> None:
    big = "echo " + "x" * 5000
    declared = await api.client.post("/channels/web", content=big)

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(10):
            yield b"x" * 1000

    chunked = await api.client.post("/channels/web", content=chunks(), headers={"Accept": "application/json"})
    assert declared.status_code == 413
    assert chunked.status_code == 413 and chunked.json()["code"] == "too_large"
    assert api.pool.get("web").commands_run == 0


# ----------------------------------------------------------------------------- security


async def test_everything_but_health_needs_the_token(api: Api) -> None:
    transport = api.client._transport
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as anon:
        for method, path in [("GET", "/channels"), ("GET", "/metrics"), ("POST", "/run"), ("GET", "/openapi.json")]:
            r = await anon.request(method, path)
            assert (r.status_code, r.headers["www-authenticate"]) == (401, 'Bearer realm="sshpoold"'), path
        wrong = await anon.get("/channels", headers={"Authorization": "Bearer nope", "Accept": "application/json"})
        assert wrong.status_code == 401 and wrong.json()["code"] == "unauthorized"
        for path in ("/healthz", "/readyz"):
            r = await anon.get(path)
            assert (r.status_code, r.content) == (200, b"")


async def test_a_foreign_host_header_is_refused(api: Api) -> None:
    c = api.client
    assert (await c.get("/channels", headers={"Host": "evil.example"})).status_code == 400
    for host in ("localhost:8877", "127.0.0.1", "[::1]:9"):
        assert (await c.get("/channels", headers={"Host": host})).status_code == 200, host


async def test_the_password_never_comes_back(api: Api, sshd: Any, test_user: Any) -> None:
    secret = "Sup3r+Secret"
    await api.client.post("/channels", data={"dsn": dsn("pw", sshd, test_user, secret)})
    listing = (await api.client.get("/channels")).text
    assert secret not in listing and '"pass":"****"' in listing
    dup = await api.client.post(
        "/channels", data={"dsn": dsn("pw", sshd, test_user, secret)}, headers={"Accept": "application/json"}
    )
    assert secret not in dup.text
    db = (api.state_dir / "state.db").read_bytes()
    assert secret.encode() not in db
    assert oct((api.state_dir / "state.db").stat().st_mode & 0o777) == "0o600"
    assert oct((api.state_dir / "state.key").stat().st_mode & 0o777) == "0o600"


# ----------------------------------------------------------------------------- verbs


async def test_delete_stops_forgets_and_then_404(api: Api, web: str) -> None:
    r = await api.client.delete("/channels/WEB")
    assert (r.status_code, r.text) == (200, "OK")
    assert (await api.client.get("/channels/web")).status_code == 404
    assert (await api.client.delete("/channels/web")).status_code == 404
    assert api.store.load() == []


async def test_delete_answers_running_commands_channel_stopped(api: Api, web: str) -> None:
    run = asyncio.create_task(api.client.post("/channels/web", content="sleep 20"))
    await asyncio.sleep(0.5)
    assert (await api.client.delete("/channels/web")).text == "OK"
    d = (await asyncio.wait_for(run, 10)).json()
    assert d["error"] == "channel_stopped" and d["exit_code"] is None


async def test_patch_replaces_the_dsn_and_keeps_start_time(api: Api, web: str, sshd: Any, test_user: Any) -> None:
    before = (await api.client.get("/channels/web")).json()
    r = await api.client.patch("/channels/web", json={"dsn": dsn("web", sshd, test_user, test_user.password)})
    assert (r.status_code, r.text) == (200, "OK")
    after = (await api.client.get("/channels/web")).json()
    assert after["start_time"] == before["start_time"] and after["pass"] == "****"
    assert api.store.load()[0].dsn.password == test_user.password
    assert (await api.client.post("/channels/web", content="echo still")).json()["stdout"] == "still\n"
    rename = await api.client.patch("/channels/web", content=dsn("other", sshd, test_user))
    assert rename.status_code == 400


async def test_an_unknown_host_key_is_accepted_through_the_api(api: Api, make_sshd: Any, test_user: Any) -> None:
    other = make_sshd(add_known_host=False)  # its host key is in no known_hosts file
    r = await api.client.post("/channels", json={"dsn": f"lh://{test_user.name}@{other.host}:{other.port}", "wait": 5})
    assert r.status_code == 202 and "host" in r.text.lower()
    info = (await api.client.get("/channels/lh")).json()
    assert info["last_error_code"] == "host_key_unknown"
    refused = await api.client.post("/channels/lh", content="true", headers={"Accept": "application/json"})
    assert refused.status_code == 503 and refused.json()["code"] == "host_key_unknown"
    accepted = await api.client.post("/channels/lh/hostkey")
    assert accepted.status_code == 200 and accepted.json()["fingerprint"].startswith("SHA256:")
    for _ in range(100):
        if (await api.client.get("/channels/lh")).json()["state"] == "up":
            break
        await asyncio.sleep(0.05)
    assert (await api.client.post("/channels/lh", content="echo ok")).json()["stdout"] == "ok\n"


# ----------------------------------------------------------------------------- beyond the seed


async def test_ndjson_streams_chunks_then_the_result(api: Api, web: str) -> None:
    # é is split across two writes: the incremental decoder must keep it whole.
    cmd = "printf 'a\\303'; sleep 0.2; printf '\\251b'; echo oops >&2; exit 4"
    r = await api.client.post("/channels/web", content=cmd, headers={"Accept": "application/x-ndjson"})
    assert r.headers["content-type"].startswith("application/x-ndjson")
    lines = [json.loads(line) for line in r.text.splitlines()]
    out = "".join(x["data"] for x in lines[:-1] if x["stream"] == "stdout")
    err = "".join(x["data"] for x in lines[:-1] if x["stream"] == "stderr")
    assert (out, err) == ("aéb", "oops\n") and "\ufffd" not in out
    assert lines[-1]["exit_code"] == 4 and "stdout" not in lines[-1]


async def test_ndjson_raw_output_is_byte_exact(api: Api, web: str) -> None:
    r = await api.client.post(
        "/channels/web",
        json={"command": "printf '\\377\\000z'", "raw": True},
        headers={"Accept": "application/x-ndjson"},
    )
    lines = [json.loads(line) for line in r.text.splitlines()]
    data = b"".join(base64.b64decode(x["data_b64"]) for x in lines[:-1])
    assert data == b"\xff\x00z" and lines[-1]["stdout_total"] == 3


async def test_fan_out_answers_per_alias_with_errors_in_place(api: Api, sshd: Any, test_user: Any) -> None:
    for a in ("n1", "n2", "n3"):
        await api.client.post("/channels", content=dsn(a, sshd, test_user))
    await api.client.post("/channels", json={"dsn": "dead://x@127.0.0.1:1", "wait": 1})
    r = await api.client.post("/run", json={"command": "echo $((1+1))", "channels": "*", "timeout": 3})
    d = r.json()
    assert sorted(d) == ["dead", "n1", "n2", "n3"]
    assert {a: d[a]["stdout"] for a in ("n1", "n2", "n3")} == dict.fromkeys(("n1", "n2", "n3"), "2\n")
    assert d["dead"]["error"] == "channel_unavailable"
    listed = (await api.client.post("/run", json={"command": "true", "channels": ["N1", "ghost"]})).json()
    assert listed["n1"]["exit_code"] == 0 and listed["ghost"]["error"] == "unknown_alias"
    glob = (await api.client.post("/run", json={"command": "true", "channels": "n[12]"})).json()
    assert sorted(glob) == ["n1", "n2"]
    none = await api.client.post(
        "/run", json={"command": "true", "channels": "db*"}, headers={"Accept": "application/json"}
    )
    assert none.status_code == 404 and "db*" in none.json()["detail"]
    stream = await api.client.post(
        "/run", json={"command": "echo hi", "channels": "n*"}, headers={"Accept": "application/x-ndjson"}
    )
    lines = [json.loads(line) for line in stream.text.splitlines()]
    assert sorted(x["alias"] for x in lines if x.get("stream") == "stdout") == ["n1", "n2", "n3"]
    assert sorted(lines[-1]["results"]) == ["n1", "n2", "n3"]


async def test_metrics_parse_and_carry_no_user_input(api: Api, web: str) -> None:
    from prometheus_client.parser import text_string_to_metric_families

    await api.client.post("/channels/web", content="echo secret-word; exit 2")
    await api.client.post("/channels/web", content="true")
    text = (await api.client.get("/metrics")).text
    families = {f.name: f for f in text_string_to_metric_families(text)}
    by_outcome = {
        s.labels["outcome"]: s.value for s in families["sshpool_commands"].samples if s.name.endswith("_total")
    }
    assert by_outcome == {"exit_nonzero": 1.0, "ok": 1.0}
    states = {s.labels["state"]: s.value for s in families["sshpool_channels"].samples}
    assert states["up"] == 1.0
    assert "sshpool_command_duration_seconds" in families and "sshpool_handshakes_in_flight" in families
    assert "secret-word" not in text


async def test_metrics_name_each_channel_so_one_down_channel_can_be_an_alert(api: Api, web: str) -> None:
    from prometheus_client.parser import text_string_to_metric_families

    await api.client.post("/channels/web", content="exit 4")
    text = (await api.client.get("/metrics")).text
    families = {f.name: f for f in text_string_to_metric_families(text)}
    assert {s.labels["alias"]: s.value for s in families["sshpool_channel_up"].samples}["web"] == 1.0
    states = {(s.labels["alias"], s.labels["state"]): s.value for s in families["sshpool_channel_state"].samples}
    assert states[("web", "up")] == 1.0
    outcomes = {
        (s.labels["alias"], s.labels["outcome"]): s.value
        for s in families["sshpool_channel_commands"].samples
        if s.name.endswith("_total")
    }
    assert outcomes[("web", "exit_nonzero")] >= 1.0
    assert "sshpool_channel_reconnects" in families and "sshpool_channel_commands_running" in families
    assert "_created" not in text, "the _created twins double the series"


async def test_audit_lines_say_who_ran_what_but_not_the_output(api: Api, sshd: Any, test_user: Any) -> None:
    await api.client.post("/channels", data={"dsn": dsn("au", sshd, test_user, "hush+hush")})
    r = await api.client.post(
        "/channels/au",
        content="echo printed-output; exit 5",
        headers={"X-SSHPool-Client": "ci-7", "X-Request-ID": "req-1"},
    )
    assert r.headers["x-request-id"] == "req-1"
    await api.client.delete("/channels/au")
    text = (api.state_dir / "audit.log").read_text()
    lines = [json.loads(line) for line in text.splitlines()]
    run = next(x for x in lines if x["event"] == "run")
    assert run["command"] == "echo printed-output; exit 5" and run["exit_code"] == 5
    assert (run["client"], run["request_id"], run["alias"]) == ("ci-7", "req-1", "au")
    assert [x["event"] for x in lines] == ["start", "run", "stop"]
    assert "printed-output\n" not in text and "hush" not in text and TOKEN not in text


async def test_openapi_and_docs_are_served_without_a_cdn(api: Api) -> None:
    spec = (await api.client.get("/openapi.json")).json()
    assert {"/channels", "/channels/{alias}", "/run", "/healthz"} <= set(spec["paths"])
    async with httpx.AsyncClient(transport=api.client._transport, base_url="http://127.0.0.1") as anon:
        page = await anon.get("/docs")
        assert page.status_code == 200 and "/static/swagger-ui-bundle.js" in page.text
        assert "https://" not in page.text and "cdn" not in page.text.lower()
        js = await anon.get("/static/swagger-ui-bundle.js")
        assert js.status_code == 200 and len(js.content) > 100_000
        assert (await anon.get("/static/api.py")).status_code == 404
        assert (await anon.get("/static/missing.js")).status_code == 404


async def test_docs_group_the_endpoints_by_tag_and_summaries_are_whole_sentences(api: Api) -> None:
    """/docs shows channels, runs, files, health and metrics, not one ``default`` group; a summary
    is a whole sentence (the file ones ended "... A shutdown"), the rest of the docstring below it."""
    spec = (await api.client.get("/openapi.json")).json()
    assert [t["name"] for t in spec["tags"]] == ["channels", "runs", "files", "terminals", "health", "metrics"]
    assert all(t["description"] for t in spec["tags"])
    ops = {op["operationId"]: op for path in spec["paths"].values() for op in path.values()}
    grouped = {tag: sorted(i for i, op in ops.items() if op["tags"] == [tag]) for tag in ("runs", "files", "health")}
    assert grouped == {
        "runs": ["fanOut", "runCommand"],
        "files": ["chmodFile", "getFile", "listDir", "makeDir", "putFile"],
        "health": ["healthz", "readyz"],
    }
    assert all(len(op["tags"]) == 1 and op["tags"][0] != "default" for op in ops.values())
    assert ops["putFile"]["summary"] == "Upload a file to the channel's host (the body, streamed; --file-limit)."
    assert ops["getFile"]["summary"] == "Download a file from the channel's host (streamed)."
    assert "A shutdown waits for it" in " ".join(ops["putFile"]["description"].split())
    assert all(op["summary"].endswith(".") and "\n" not in op["summary"] for op in ops.values())


async def test_readyz_is_503_while_draining_and_new_commands_get_shutting_down(api: Api, web: str) -> None:
    api.app.state.api.draining = True
    assert (await api.client.get("/readyz")).status_code == 503
    r = await api.client.post("/channels/web", content="true", headers={"Accept": "application/json"})
    assert r.status_code == 503 and r.json()["code"] == "shutting_down" and r.headers["Retry-After"]


async def test_a_busy_client_does_not_make_another_wait_behind_its_whole_queue(
    tmp_path: Path, sshd: Any, test_user: Any, ssh_home: Any
) -> None:
    async with Pool(state_dir=tmp_path / "fair", max_sessions=1, max_connections=1, connect_timeout=3) as pool:
        app = create_app(pool, token=TOKEN)
        transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 40001))
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1", headers=AUTH) as c:
            assert (await c.post("/channels", content=dsn("one", sshd, test_user))).text == "OK"
            busy = [
                asyncio.create_task(c.post("/channels/one", content="sleep 0.3", headers={"X-SSHPool-Client": "A"}))
                for _ in range(6)
            ]
            await asyncio.sleep(0.1)
            t0 = asyncio.get_running_loop().time()
            other = await c.post("/channels/one", content="echo B", headers={"X-SSHPool-Client": "B"})
            waited = asyncio.get_running_loop().time() - t0
            assert other.json()["stdout"] == "B\n"
            # Round robin: B runs after A's current command and at most one more, not after all six.
            assert waited < 1.0, waited
            await asyncio.gather(*busy)


async def test_a_command_running_during_patch_finishes_on_the_old_link(
    api: Api, web: str, sshd: Any, test_user: Any
) -> None:
    running = asyncio.create_task(api.client.post("/channels/web", content="sleep 0.8; echo finished"))
    await asyncio.sleep(0.3)
    r = await api.client.patch("/channels/web", content=dsn("web", sshd, test_user, test_user.password))
    assert r.text == "OK"
    d = (await asyncio.wait_for(running, 10)).json()
    assert (d["stdout"], d["exit_code"], d.get("error")) == ("finished\n", 0, None)
