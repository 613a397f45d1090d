"""Rolling fan-out and grouped output on a real daemon over the twelve-host fleet: ``parallel`` and
``halt`` proved by what the hosts wrote (marker files, start and end stamps), ``group`` by the
groups of what each host printed."""

from __future__ import annotations

import itertools
import json
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.daemon import Daemon, daemon_running
from tests.support.fleet import Fleet

pytestmark = pytest.mark.timeout(120)

ALIASES = [f"web{n:02d}" for n in range(1, 13)]
#: The host's own address (the server field of $SSH_CONNECTION) and its last octet.
HOST = "set -- $SSH_CONNECTION; me=$3; octet=${me##*.}; "


@pytest.fixture
def fleet_daemon(tmp_path: Path, fleet: Fleet, ssh_home: Any) -> Iterator[Daemon]:
    """web01..web12 on 127.0.0.2..13, all up."""
    channels = [
        w for alias, host in zip(ALIASES, fleet.hosts, strict=True) for w in ("--channel", fleet.dsn(alias, host))
    ]
    yield from daemon_running(tmp_path, *channels, up=tuple(ALIASES))


@pytest.fixture
def shared() -> Iterator[Path]:
    """A directory every host (the test user) writes its markers into."""
    path = Path(tempfile.mkdtemp(prefix="sshpool-roll-"))
    path.chmod(0o777)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def markers(path: Path) -> dict[str, list[int]]:
    """Host address -> the stamps (ns) it wrote: start, then end."""
    return {p.name: [int(x) for x in p.read_text().split()] for p in path.iterdir()}


def most_at_once(stamps: dict[str, list[int]]) -> int:
    events = sorted((t, kind) for start, end in stamps.values() for t, kind in ((start, 1), (end, -1)))
    running = peak = 0
    for _, kind in events:  # an end sorts before a start at the same ns: -1 < 1
        running += kind
        peak = max(peak, running)
    return peak


def test_parallel_one_halting_at_the_first_failure_leaves_the_rest_untouched(
    fleet_daemon: Daemon, fleet: Fleet, shared: Path
) -> None:
    command = HOST + f"touch {shared}/$me; case $me in 127.0.0.4) echo broke >&2; exit 3;; esac; echo fine"
    r = fleet_daemon.post(
        "/run", json={"command": command, "channels": ALIASES, "parallel": 1, "halt": "first_failure"}
    )
    d = r.json()
    assert r.status_code == 200 and list(d) == ALIASES
    assert sorted(p.name for p in shared.iterdir()) == ["127.0.0.2", "127.0.0.3", "127.0.0.4"]
    assert [d[a]["exit_code"] for a in ALIASES[:3]] == [0, 0, 3] and d["web03"]["stderr"] == "broke\n"
    for alias in ALIASES[3:]:
        assert d[alias]["error"] == "skipped" and d[alias]["exit_code"] is None and d[alias]["stdout"] == ""
        assert d[alias]["exception"] == "not started: 1 failure (web03) reached halt=first_failure"


def test_halt_k_stops_after_k_failures_and_a_timeout_is_a_failure(
    fleet_daemon: Daemon, fleet: Fleet, shared: Path
) -> None:
    command = HOST + f"touch {shared}/$me; case $me in 127.0.0.3) exit 1;; 127.0.0.5) sleep 5;; esac"
    body = {"command": command, "channels": "web*", "parallel": 1, "halt": 2, "timeout": 1}
    d = fleet_daemon.post("/run", json=body).json()
    assert sorted(p.name for p in shared.iterdir()) == [f"127.0.0.{n}" for n in (2, 3, 4, 5)]
    assert (d["web01"]["exit_code"], d["web02"]["exit_code"], d["web03"]["exit_code"]) == (0, 1, 0)
    assert d["web04"]["error"] == "timeout"
    assert {d[a]["exception"] for a in ALIASES[4:]} == {"not started: 2 failures (web02, web04) reached halt=2"}


def test_parallel_n_never_runs_more_than_n_at_once_and_starts_in_alias_order(
    fleet_daemon: Daemon, fleet: Fleet, shared: Path
) -> None:
    command = HOST + f"date +%s%N > {shared}/$me; sleep 0.3; date +%s%N >> {shared}/$me"
    d = fleet_daemon.post("/run", json={"command": command, "channels": ALIASES, "parallel": 3}).json()
    assert [d[a]["exit_code"] for a in ALIASES] == [0] * 12
    stamps = markers(shared)
    assert len(stamps) == 12 and most_at_once(stamps) <= 3
    for p in shared.iterdir():
        p.unlink()
    d = fleet_daemon.post("/run", json={"command": command, "channels": ALIASES, "parallel": 1}).json()
    in_order = [markers(shared)[h] for h in fleet.hosts]
    assert all(after[0] >= before[1] for before, after in itertools.pairwise(in_order))


def test_the_live_stream_keeps_its_shape_and_adds_the_skipped_channels(fleet_daemon: Daemon) -> None:
    command = HOST + "echo $octet; [ $octet -lt 4 ]"
    body = {"command": command, "channels": ALIASES, "parallel": 1, "halt": 1}
    with (
        fleet_daemon.client() as c,
        c.stream("POST", "/run", json=body, headers={"Accept": "application/x-ndjson"}) as r,
    ):
        lines = [json.loads(line) for line in r.iter_lines()]
    assert [(x["alias"], x["data"]) for x in lines if "stream" in x] == [
        ("web01", "2\n"),
        ("web02", "3\n"),
        ("web03", "4\n"),
    ]
    done = [x for x in lines if "result" in x]
    assert [x["alias"] for x in done] == ALIASES
    assert [x["result"].get("error") for x in done] == [None, None, None] + ["skipped"] * 9
    assert list(lines[-1]) == ["results"] and list(lines[-1]["results"]) == ALIASES


def test_group_answers_each_distinct_result_once_biggest_first(fleet_daemon: Daemon) -> None:
    command = HOST + "echo $(( octet % 3 )); [ $octet -ne 13 ] || exit 3"
    r = fleet_daemon.post("/run", json={"command": command, "channels": [*ALIASES, "ghost"], "group": True})
    d = r.json()
    assert r.status_code == 200 and list(d) == ["groups", "results"]
    shown = [(g["aliases"], g["folded"], g["result"]["stdout"], g["result"]["exit_code"]) for g in d["groups"]]
    assert shown == [
        (["web01", "web04", "web07", "web10"], "web[01,04,07,10]", "2\n", 0),
        (["web02", "web05", "web08", "web11"], "web[02,05,08,11]", "0\n", 0),
        (["web03", "web06", "web09"], "web[03,06,09]", "1\n", 0),
        (["web12"], "web12", "1\n", 3),
        (["ghost"], "ghost", "", None),
    ]
    assert d["groups"][-1]["result"]["error"] == "unknown_alias"
    assert list(d["results"]) == [*ALIASES, "ghost"] and "stdout" not in d["results"]["web01"]
    assert d["results"]["web12"]["exit_code"] == 3


def test_group_with_live_output_streams_per_alias_and_ends_with_the_groups(fleet_daemon: Daemon) -> None:
    body = {"command": HOST + "echo $(( octet / 5 ))", "channels": "web*", "group": True}
    with (
        fleet_daemon.client() as c,
        c.stream("POST", "/run", json=body, headers={"Accept": "application/x-ndjson"}) as r,
    ):
        lines = [json.loads(line) for line in r.iter_lines()]
    assert sorted(x["alias"] for x in lines if "stream" in x) == ALIASES
    assert sorted(x["alias"] for x in lines if "result" in x) == ALIASES
    last = lines[-1]
    assert [(g["folded"], g["result"]["stdout"]) for g in last["groups"]] == [
        ("web[04-08]", "1\n"),
        ("web[09-12]", "2\n"),
        ("web[01-03]", "0\n"),
    ]
    assert list(last["results"]) == ALIASES


@pytest.mark.parametrize(
    ("field", "value", "words"),
    [
        ("parallel", 0, "field 'parallel' must be a whole number of channels to run at once, 1 or more"),
        ("parallel", -1, "got -1"),
        ("parallel", "x", 'got "x"'),
        ("parallel", 1.5, "got 1.5"),
        ("parallel", True, "got true"),
        ("halt", "sometimes", "field 'halt' must be \"first_failure\" or a whole number of failures"),
        ("halt", 0, "got 0"),
        ("halt", False, "got false"),
        ("halt", [1], "got list"),
        ("group", "yes", "field 'group' must be true"),
        ("group", 1, "got 1"),
    ],
)
def test_bad_rolling_values_are_a_400_naming_the_field(
    fleet_daemon: Daemon, field: str, value: Any, words: str
) -> None:
    r = fleet_daemon.post(
        "/run", json={"command": "true", "channels": "*", field: value}, headers={"Accept": "application/json"}
    )
    assert r.status_code == 400 and r.json()["code"] == "bad_request" and words in r.json()["detail"], r.text


def test_without_the_new_fields_a_fan_out_answers_as_it_always_did(fleet_daemon: Daemon) -> None:
    d = fleet_daemon.post("/run", json={"command": "echo hi", "channels": "web*"}).json()
    assert list(d) == ALIASES and {d[a]["stdout"] for a in ALIASES} == {"hi\n"}
    explicit = fleet_daemon.post(
        "/run", json={"command": "echo hi", "channels": "web*", "parallel": None, "halt": None, "group": False}
    ).json()
    assert list(explicit) == ALIASES and {explicit[a]["exit_code"] for a in ALIASES} == {0}
