"""R13: bad input never gets a 5xx, always names what was wrong, and never changes state.

A hypothesis fuzz of the DSN parser, then of request bodies (raw, form, JSON; random bytes, huge,
deeply nested, non-UTF-8) against a real sshpoold limited by ``--allow-hosts`` to loopback, with
the channel list compared before and after every rejected request.
"""

from __future__ import annotations

import json
import string
import subprocess
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sshpool.dsn import DSN
from sshpool.errors import DSNError
from tests.support.daemon import Daemon, start_daemon

pytestmark = pytest.mark.timeout(180)

JSON = {"Accept": "application/json"}
MARK = "Pw9x"  # every fuzzed password starts with it, so it can be searched for


# ----------------------------------------------------------------------------- the DSN parser

dsn_chars = st.characters(codec="utf-8", exclude_categories=("Cs",))
pieces = st.sampled_from(["://", "@", ":", "[", "]", "%", "%2", "%zz", "/", " ", "\x00", "\n", "::1", "65536", "0"])
fragments = st.lists(st.one_of(st.text(dsn_chars, max_size=6), pieces), max_size=10).map("".join)


@settings(max_examples=400, deadline=None)
@given(alias=fragments, user=fragments, password=fragments, host=fragments, port=fragments)
def test_r13_the_dsn_parser_accepts_or_explains_and_never_echoes_a_password(
    alias: str, user: str, password: str, host: str, port: str
) -> None:
    secret = MARK + password.replace("@", "")
    text = f"{alias}://{user}:{secret}@{host}:{port}"
    try:
        dsn = DSN.parse(text)
    except DSNError as exc:
        message = str(exc)
        assert "expected alias://" in message or "port" in message or "alias" in message, message
        assert secret not in message and MARK not in message, message
        return
    # Accepted: the text round-trips, and nothing but to_text(reveal_password=True) shows the password.
    assert DSN.parse(dsn.to_text(reveal_password=True)) == dsn
    for shown in (repr(dsn), str(dsn), dsn.display()):
        assert MARK not in shown, shown


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=80) | st.text(max_size=80))
def test_r13_any_text_or_bytes_is_a_dsn_or_a_dsn_error(raw: bytes | str) -> None:
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
    try:
        DSN.parse(text)
    except DSNError:
        pass


# ----------------------------------------------------------------------------- the daemon


@pytest.fixture(scope="module")
def d(tmp_path_factory: pytest.TempPathFactory, sshd: Any, test_user: Any, client_home: Any) -> Iterator[Daemon]:
    """One daemon with one channel, ``web``: every case here leaves it as it found it."""
    daemon = start_daemon(tmp_path_factory.mktemp("badinput"))
    try:
        r = daemon.post("/channels", content=f"web://{test_user.name}@127.0.0.1:{sshd.port}")
        assert r.status_code == 200, r.text
        yield daemon
    finally:
        daemon.stop()


def snapshot(c: httpx.Client) -> dict[str, Any]:
    return {a: (i["user"], i["host"], i["port"], i["start_time"]) for a, i in c.get("/channels").json().items()}


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)
command_docs = st.dictionaries(
    st.sampled_from(["command", "timeout", "input", "env", "raw", "wait", "dsn", "x"]), json_values, max_size=5
)
some_dsns = st.builds(
    "f{}://u:{}@{}:{}".format,
    st.integers(0, 999),
    st.text(string.ascii_letters, min_size=1, max_size=8),
    st.sampled_from(
        ["127.0.0.1", "127.3.4.5", "10.0.0.1", "8.8.8.8", "example.invalid", "[::1]", "[fe80::1]", "localhost"]
    ),
    st.integers(1, 65535),
)
bodies = st.one_of(
    some_dsns.map(lambda t: ("raw", t.encode())),
    some_dsns.map(lambda t: ("json", json.dumps({"dsn": t, "wait": 0}).encode())),
    st.binary(max_size=200).map(lambda b: ("raw", b)),
    st.text(max_size=100).map(lambda t: ("form", t)),
    command_docs.map(lambda doc: ("json", json.dumps(doc).encode())),
    json_values.map(lambda v: ("json", json.dumps(v).encode())),
    st.integers(1, 50).map(lambda n: ("json", b"[" * n * 1000 + b"]" * n * 1000)),
    st.binary(min_size=1, max_size=50).map(lambda b: ("json", b"\xff\xfe" + b)),
)
routes = st.sampled_from(
    [
        ("POST", "/channels"),
        ("POST", "/channels/web"),
        ("PATCH", "/channels/web"),
        ("POST", "/run"),
        ("POST", "/channels/nope"),
        ("POST", "/channels/%00"),
        ("GET", "/channels/..%2f"),
        ("DELETE", "/channels/ghost"),
    ]
)

# What counts as a request that changed nothing: every 4xx. A DSN that happens to be valid and
# on loopback is a legitimate add (2xx); it is removed again so the next case starts equal.


def test_r13_fuzzed_requests_never_get_a_5xx_and_rejections_change_nothing(d: Daemon) -> None:
    counts = {"cases": 0, "5xx": 0, "diffs": 0, "accepted": 0}
    unnamed: list[str] = []
    with d.client(timeout=20) as c:
        base = snapshot(c)

        @settings(max_examples=250, deadline=None, suppress_health_check=list(HealthCheck))
        @given(route=routes, body=bodies, as_json=st.booleans())
        def one(route: tuple[str, str], body: tuple[str, bytes | str], as_json: bool) -> None:
            method, path = route
            kind, payload = body
            headers = dict(JSON) if as_json else {}
            if kind == "json":
                headers["Content-Type"] = "application/json"
                r = c.request(method, path, content=payload, headers=headers)
            elif kind == "form":
                field = "dsn" if path == "/channels" or method == "PATCH" else "command"
                r = c.request(method, path, data={field: payload}, headers=headers)
            else:
                r = c.request(method, path, content=payload, headers=headers)
            counts["cases"] += 1
            if r.status_code >= 500 and r.status_code != 503:
                counts["5xx"] += 1
                raise AssertionError(f"{method} {path} {body!r} -> {r.status_code} {r.text}")
            if 400 <= r.status_code < 500:
                now = snapshot(c)
                if now != base:
                    counts["diffs"] += 1
                    raise AssertionError(f"{method} {path} {body!r} -> {r.status_code} changed {base} -> {now}")
                if as_json and r.status_code not in (401, 404, 405) and len(r.json()["detail"]) < 15:
                    unnamed.append(r.text)
            elif r.status_code < 300 and method in ("POST", "PATCH") and path == "/channels":
                counts["accepted"] += 1
                for alias in set(snapshot(c)) - set(base):
                    c.delete(f"/channels/{alias}")
            if method == "PATCH" and r.status_code < 300:
                # A valid PATCH of web is an update; put the channel back as it was.
                c.request("PATCH", "/channels/web", content=_web_dsn(d))

        one()
        foreign = _foreign_connections(d.pid)
    print(
        f"R13 fuzz: {counts['cases']} requests, {counts['5xx']} 5xx, {counts['diffs']} state diffs, "
        f"{counts['accepted']} valid adds; non-loopback connections {len(foreign)}"
    )
    assert not unnamed, unnamed[:3]
    assert not foreign, foreign


def _web_dsn(d: Daemon) -> str:
    info = d.get("/channels/web").json()
    return f"web://{info['user']}@{info['host']}:{info['port']}"


def _foreign_connections(pid: int) -> list[str]:
    out = subprocess.run(["ss", "-Htanp"], capture_output=True, text=True, timeout=30, check=True).stdout
    mine = [line for line in out.splitlines() if f"pid={pid}," in line and not line.startswith("LISTEN")]
    return [
        line for line in mine if not all(p.startswith(("127.", "[::1]", "[::ffff:127.")) for p in line.split()[3:5])
    ]


BAD_DSNS = [
    ("no-scheme-here", "missing alias"),
    ("web2://u@127.0.0.1:0", "port"),
    ("web2://u@127.0.0.1:70000", "port"),
    ("web2://u@[::1", "unclosed '['"),
    ("bad alias://u@127.0.0.1", "whitespace"),
    ("web2://u@10.1.2.3:22", "outside the networks"),
    ("web2://u@example.invalid", "outside the networks"),
    ("web://u@127.0.0.1:22", "already in use"),
    ("x" * 70 + "://u@127.0.0.1", "invalid alias"),
]


def test_r13_malformed_dsns_name_the_problem_and_change_nothing(d: Daemon) -> None:
    before = d.get("/channels").json()
    for dsn, words in BAD_DSNS:
        r = d.post("/channels", content=dsn, headers=JSON)
        assert 400 <= r.status_code < 500 and words in r.json()["detail"], (dsn, r.text)
        assert d.get("/channels").json().keys() == before.keys()
    assert d.get("/channels").json()["web"]["start_time"] == before["web"]["start_time"]


def test_r13_unknown_alias_lists_the_known_ones(d: Daemon) -> None:
    r = d.post("/channels/wbe", content="true", headers=JSON)
    assert r.status_code == 404 and r.json()["code"] == "unknown_alias"
    assert "'wbe'" in r.json()["detail"] and "web" in r.json()["detail"]


def test_r13_a_ten_megabyte_body_is_413_declared_or_streamed(d: Daemon) -> None:
    big = b"x" * (10 * 1024 * 1024)

    def chunks() -> Iterator[bytes]:
        for i in range(0, len(big), 65536):
            yield big[i : i + 65536]

    t0 = time.monotonic()
    declared = d.post("/channels/web", content=big, headers=JSON, timeout=30)
    streamed = d.post("/channels/web", content=chunks(), headers=JSON, timeout=30)
    took = time.monotonic() - t0
    for r in (declared, streamed):
        assert r.status_code == 413 and r.json()["code"] == "too_large", r.text
        assert "body-limit" in r.json()["detail"] or "limit" in r.json()["detail"]
    print(f"R13 10 MB bodies refused with 413 (declared and chunked) in {took:.2f} s")
    assert d.run("web", "echo still fine")["stdout"] == "still fine\n"


BAD_BODIES = [
    (b"\xff\xfe\xfd", None, "not UTF-8"),
    (b"{not json", "application/json", "not valid JSON"),
    (b"[" * 100000 + b"]" * 100000, "application/json", "JSON"),
    (b'"just a string"', "application/json", "must be an object"),
    (b'{"command": 42}', "application/json", "'command'"),
    (b'{"command": "true", "timeout": "soon"}', "application/json", "'timeout'"),
    (b'{"command": "true", "timeout": -1}', "application/json", "'timeout'"),
    (b'{"command": "true", "env": {"A B": "x"}}', "application/json", "'env'"),
    (b'{"command": "true", "env": ["x"]}', "application/json", "'env'"),
    (b'{"command": "true", "input": 7}', "application/json", "'input'"),
    (b'{"command": "true", "raw": "yes"}', "application/json", "'raw'"),
    (b'{"command": "true", "surprise": 1}', "application/json", "unknown field"),
    (b'{"command": "a\\u0000b"}', "application/json", "NUL"),
    (b"echo a\x00b", None, "NUL"),
    (b"", None, "empty command"),
]


def test_r13_bad_command_bodies_are_400_naming_the_field(d: Daemon) -> None:
    before = d.get("/channels/web").json()["commands_run"]
    for body, ctype, words in BAD_BODIES:
        headers = {**JSON, **({"Content-Type": ctype} if ctype else {})}
        r = d.post("/channels/web", content=body, headers=headers)
        assert r.status_code == 400 and words in r.json()["detail"], (body[:40], r.text)
    assert d.get("/channels/web").json()["commands_run"] == before
