"""Tags and selectors through a real sshpoold and the twelve-host fleet: ``/run`` hits exactly the
channels a selector names (each host says who it is), tags come from the DSN and the JSON body,
PATCH changes them on the open link, and they survive a restart."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sshpool.daemon.store import SQLiteStore
from tests.support.daemon import Daemon, daemon_running, free_port, start_daemon
from tests.support.fleet import Fleet
from tests.support.tagged import HOSTS, TAGS, WHERE, add_fleet, answered, tagged_daemon

pytestmark = pytest.mark.timeout(120)
JSON = {"Accept": "application/json"}


@pytest.fixture(scope="module")
def tagged(tmp_path_factory: pytest.TempPathFactory, fleet: Fleet, client_home: Any) -> Iterator[Daemon]:
    """The tagged fleet, shared by the tests that only read it."""
    yield from tagged_daemon(tmp_path_factory.mktemp("tagged"), fleet)


@pytest.fixture
def daemon(tmp_path: Path, fleet: Fleet, ssh_home: Any) -> Iterator[Daemon]:
    yield from daemon_running(tmp_path)


def run_on(daemon: Daemon, channels: Any) -> dict[str, Any]:
    r = daemon.post("/run", json={"command": WHERE, "channels": channels})
    assert r.status_code == 200, r.text
    doc: dict[str, Any] = r.json()
    return doc


@pytest.mark.parametrize(
    ("channels", "hit"),
    [
        ("@web", ["web01", "web02", "web03", "web04", "web05", "web06"]),
        ("@web+prod", ["web01", "web02", "web03"]),
        ("@PROD+Web", ["web01", "web02", "web03"]),
        ("@db+staging", ["db03", "db04"]),
        ("@canary", ["web06"]),
        ("@cache, @db+prod", ["cache01", "cache02", "db01", "db02"]),
        ("web06,@db+staging,db*", ["web06", "db03", "db04", "db01", "db02"]),
        (["@staging", "cache02", "web04"], ["db03", "db04", "web04", "web05", "web06", "cache02"]),
    ],
)
def test_run_on_a_selector_runs_on_exactly_the_channels_it_names(
    tagged: Daemon, fleet: Fleet, channels: Any, hit: list[str]
) -> None:
    results = run_on(tagged, channels)
    assert list(results) == hit
    assert answered(fleet, results) == {a: HOSTS[a] for a in hit}


def test_the_live_stream_of_a_tag_selector_carries_the_same_channels(tagged: Daemon, fleet: Fleet) -> None:
    body = {"command": WHERE, "channels": "@web+staging"}
    with tagged.client() as c, c.stream("POST", "/run", json=body, headers={"Accept": "application/x-ndjson"}) as r:
        lines = [json.loads(line) for line in r.iter_lines()]
    assert sorted(x["alias"] for x in lines if "result" in x) == ["web04", "web05", "web06"]
    assert {x["alias"]: fleet.where(x["data"]) for x in lines if "stream" in x} == {
        a: HOSTS[a] for a in ("web04", "web05", "web06")
    }


def test_a_tag_no_channel_carries_is_a_404_naming_the_selector(tagged: Daemon) -> None:
    r = tagged.post("/run", json={"command": "true", "channels": "web01,@web+db"}, headers=JSON)
    assert r.status_code == 404 and r.json()["code"] == "unknown_alias"
    assert r.json()["detail"] == "no channel carries '@web+db'; the tags in use: cache, canary, db, prod, staging, web"


@pytest.mark.parametrize("term", ["@", "@web+", "@we b", "@a+@b", "!web01"])
def test_a_selector_term_of_no_known_form_is_a_400_naming_it_and_the_forms(tagged: Daemon, term: str) -> None:
    r = tagged.post("/run", json={"command": "true", "channels": ["web01", term]}, headers=JSON)
    assert r.status_code == 400 and r.json()["code"] == "bad_request"
    detail = r.json()["detail"]
    assert detail.startswith(f"bad selector term {term!r}: ")
    assert detail.endswith("a term is an alias (web1), a glob (web*), @tag or @tag1+tag2")


def test_the_channel_info_shows_the_tags_as_typed(tagged: Daemon) -> None:
    listed = tagged.get("/channels").json()
    assert {a: tuple(i["tags"]) for a, i in listed.items()} == TAGS


def test_start_adds_the_tags_field_to_the_dsn_tags_once_each(daemon: Daemon, fleet: Fleet) -> None:
    r = daemon.post("/channels", json={"dsn": fleet.dsn("w1", fleet.hosts[0], ["web"]), "tags": ["WEB", "prod"]})
    assert r.text == "OK"
    info = daemon.get("/channels/w1").json()
    assert info["tags"] == ["web", "prod"] and info["dsn"].startswith("w1://")
    again = daemon.post("/channels", json={"dsn": fleet.dsn("w1", fleet.hosts[0], ["web", "prod"])})
    assert again.text == "OK"  # the same channel: the tags are part of what it is


@pytest.mark.parametrize(
    ("tags", "words"),
    [
        (["web", "we b"], "field 'tags': invalid tag 'we b': use 1-64 letters, digits, '_', '.' or '-'"),
        (["a+b"], "field 'tags': invalid tag 'a+b'"),
        ("web,prod", 'field \'tags\': tags must be a list of names, e.g. ["web", "prod"]'),
        ([7], "field 'tags': a tag must be text, not int"),
    ],
)
def test_a_bad_tag_is_a_400_naming_it_and_starts_nothing(daemon: Daemon, fleet: Fleet, tags: Any, words: str) -> None:
    body = {"dsn": fleet.dsn("w1", fleet.hosts[0]), "tags": tags}
    r = daemon.post("/channels", json=body, headers=JSON)
    assert r.status_code == 400 and r.json()["detail"].startswith(words)
    assert daemon.get("/channels").json() == {}


def session_pid(daemon: Daemon, alias: str) -> str:
    """The sshd process that serves the channel's connection: the command shell's parent."""
    return str(daemon.run(alias, "echo $PPID")["stdout"]).strip()


def test_patch_with_tags_alone_changes_only_the_tags_on_the_same_link(daemon: Daemon, fleet: Fleet) -> None:
    daemon.post("/channels", content=fleet.dsn("w1", fleet.hosts[0], ["web"]))
    before, pid = daemon.get("/channels/w1").json(), session_pid(daemon, "w1")
    r = daemon.request("PATCH", "/channels/w1", json={"tags": ["web", "prod", "Prod"]})
    assert (r.status_code, r.text, r.headers["location"]) == (200, "OK", "/channels/w1")
    after = daemon.get("/channels/w1").json()
    assert after["tags"] == ["web", "prod"]
    assert (after["start_time"], after["connected_since"]) == (before["start_time"], before["connected_since"])
    assert session_pid(daemon, "w1") == pid
    assert list(run_on(daemon, "@prod")) == ["w1"]
    audit = [json.loads(line) for line in (daemon.state_dir / "audit.log").read_text().splitlines()]
    assert [(x["alias"], x["tags"]) for x in audit if x["event"] == "tags"] == [("w1", ["web", "prod"])]
    cleared = daemon.request("PATCH", "/channels/w1", json={"tags": []})
    assert cleared.text == "OK" and daemon.get("/channels/w1").json()["tags"] == []
    assert session_pid(daemon, "w1") == pid


def test_patch_with_a_dsn_and_tags_puts_both_in_place(daemon: Daemon, fleet: Fleet) -> None:
    daemon.post("/channels", content=fleet.dsn("w1", fleet.hosts[0], ["web"]))
    r = daemon.request("PATCH", "/channels/w1", json={"dsn": fleet.dsn("w1", fleet.hosts[1], ["db"]), "tags": ["x"]})
    assert r.text == "OK"
    assert daemon.get("/channels/w1").json()["tags"] == ["db", "x"]
    assert fleet.where(daemon.run("w1", WHERE)["stdout"]) == fleet.hosts[1]


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"tags": ["ok", "we b"]}, "field 'tags': invalid tag 'we b'"),
        ({"tags": None}, "field 'tags': tags must be a list of names"),
        ({"tags": [], "wait": 1}, "unknown field 'wait' beside 'tags'"),
    ],
)
def test_a_bad_tags_patch_is_a_400_and_changes_nothing(daemon: Daemon, fleet: Fleet, body: Any, words: str) -> None:
    daemon.post("/channels", content=fleet.dsn("w1", fleet.hosts[0], ["web"]))
    r = daemon.request("PATCH", "/channels/w1", json=body, headers=JSON)
    assert r.status_code == 400 and r.json()["detail"].startswith(words)
    assert daemon.get("/channels/w1").json()["tags"] == ["web"]
    gone = daemon.request("PATCH", "/channels/nope", json={"tags": ["x"]}, headers=JSON)
    assert gone.status_code == 404 and gone.json()["code"] == "unknown_alias"


def test_tags_survive_a_daemon_restart(tmp_path: Path, fleet: Fleet, ssh_home: Any) -> None:
    first = start_daemon(tmp_path)
    try:
        add_fleet(first, fleet)
        first.request("PATCH", "/channels/web01", json={"tags": ["web", "canary"]})
    finally:
        assert first.stop() == 0
    stored = {s.dsn.alias: s.dsn.tags for s in SQLiteStore(first.state_dir).load()}
    assert stored == {**TAGS, "web01": ("web", "canary")}
    second = first.restart()
    try:
        for alias in TAGS:
            second.wait_state(alias)
        assert {a: tuple(i["tags"]) for a, i in second.get("/channels").json().items()} == stored
        assert list(run_on(second, "@canary")) == ["web01", "web06"]
    finally:
        second.stop()


def test_tags_alone_on_a_channel_that_is_down_answer_ok_and_leave_it_retrying(daemon: Daemon, fleet: Fleet) -> None:
    kept = daemon.post("/channels", content=f"down1://{fleet.user.name}@127.0.0.1:{free_port()}")
    assert kept.status_code == 202  # nothing listens there: kept, and retried
    r = daemon.request("PATCH", "/channels/down1", json={"tags": ["web"]})
    assert (r.status_code, r.text) == (200, "OK")
    info = daemon.get("/channels/down1").json()
    assert info["tags"] == ["web"] and info["state"] != "up"
