"""Tags and selectors from sshpoolctl over the tagged twelve-host fleet: ``run @web+prod`` runs on
exactly those hosts (each says who it is), ``status`` lists and filters by tag, ``tag`` shows and
sets a channel's tags, ``start --tags`` gives them at start, and completion offers the tags in use."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sshpool.ctl.statusview import status_table
from tests.ctl.test_oneshot import CTL, ctl, env_for
from tests.ctl.test_rolling import run_examples
from tests.support.daemon import Daemon
from tests.support.fleet import Fleet
from tests.support.readme import console_examples
from tests.support.tagged import HOSTS, TAGS, WHERE, numbered_daemon, tagged_daemon

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def tagged(tmp_path: Path, fleet: Fleet, ssh_home: Any) -> Iterator[Daemon]:
    yield from tagged_daemon(tmp_path, fleet)


def hosts_in(stdout: str) -> dict[str, str]:
    """``alias: $SSH_CONNECTION`` lines as alias -> the address that answered."""
    found = {}
    for line in stdout.splitlines():
        alias, _, rest = line.partition(":")
        found[alias.strip()] = rest.split()[2]
    return found


def test_run_on_a_tag_selector_runs_on_exactly_the_hosts_carrying_the_tags(tagged: Daemon) -> None:
    r = ctl(tagged, "run", "@web+prod", WHERE)
    assert r.returncode == 0, r.stderr
    assert hosts_in(r.stdout) == {a: HOSTS[a] for a in ("web01", "web02", "web03")}
    mixed = ctl(tagged, "run", "@db+staging,cache01", WHERE)
    assert hosts_in(mixed.stdout) == {a: HOSTS[a] for a in ("db03", "db04", "cache01")}
    rolled = ctl(tagged, "run", "--parallel", "1", "--halt", "first_failure", "@canary,@cache", "exit 2")
    assert rolled.returncode == 2
    assert rolled.stderr.splitlines()[-1] == (
        "sshpoolctl: 1 of 3 channels failed: web06; 2 skipped, not started: cache01, cache02"
    )


def test_a_selector_that_selects_nothing_or_cannot_be_read_is_a_clear_error(tagged: Daemon) -> None:
    none = ctl(tagged, "run", "@db+canary", "true")
    assert none.returncode == 255 and none.stdout == ""
    assert "no channel carries '@db+canary'; the tags in use: cache, canary, db, prod, staging, web" in none.stderr
    bad = ctl(tagged, "run", "@we b", "true")
    assert bad.returncode == 255 and "bad selector term '@we b'" in bad.stderr
    assert "a term is an alias (web1), a glob (web*), @tag or @tag1+tag2" in bad.stderr
    status = ctl(tagged, "status", "@nope")
    assert status.returncode == 255 and "no channel carries '@nope'" in status.stderr


def test_status_shows_the_tags_and_takes_a_selector(tagged: Daemon) -> None:
    r = ctl(tagged, "status", "@db")
    assert r.returncode == 0, r.stderr
    rows = [line.split("\t") for line in r.stdout.splitlines()]
    assert [row[0] for row in rows] == ["db01", "db02", "db03", "db04"]
    assert [row[-1] for row in rows] == ["tags=db,prod", "tags=db,prod", "tags=db,staging", "tags=DB,staging"]
    doc = json.loads(ctl(tagged, "status", "--json", "@canary,cache*").stdout)
    assert {a: info["tags"] for a, info in doc.items()} == {a: list(TAGS[a]) for a in ("web06", "cache01", "cache02")}
    one = json.loads(ctl(tagged, "status", "--json", "web06").stdout)
    assert one["tags"] == ["Web", "staging", "canary"]


def test_status_at_a_terminal_has_a_tags_column_only_when_a_channel_has_tags() -> None:
    info = {"user": "deploy", "pass": None, "host": "10.0.0.5", "port": 22, "state": "up", "start_time": 100.0}
    tagged = status_table({"web1": {**info, "tags": ["web", "prod"]}, "db1": info}, now=160.0)
    assert tagged == [
        "ALIAS  USER:PASS@HOST:PORT      STATE    UPTIME  TAGS",
        "db1    deploy:None@10.0.0.5:22  running  1m00s",
        "web1   deploy:None@10.0.0.5:22  running  1m00s   web,prod",
    ]
    assert status_table({"db1": info}, now=160.0)[0] == "ALIAS  USER:PASS@HOST:PORT      STATE    UPTIME"


def test_tag_shows_and_sets_a_channels_tags_on_its_open_link(tagged: Daemon) -> None:
    pid = tagged.run("web06", "echo $PPID")["stdout"]
    assert ctl(tagged, "tag", "web06").stdout == "web06\tWeb,staging,canary\n"
    r = ctl(tagged, "tag", "web06", "web,prod,Prod")
    assert (r.returncode, r.stdout) == (0, "web06\tweb,prod\n"), r.stderr
    assert sorted(hosts_in(ctl(tagged, "run", "@web+prod", WHERE).stdout)) == ["web01", "web02", "web03", "web06"]
    assert tagged.run("web06", "echo $PPID")["stdout"] == pid  # the same link: nothing reconnected
    cleared = ctl(tagged, "--json", "tag", "web06", "")
    assert json.loads(cleared.stdout) == {"alias": "web06", "tags": []}
    bad = ctl(tagged, "tag", "web06", "a b")
    assert bad.returncode == 255 and "invalid tag 'a b'" in bad.stderr
    assert ctl(tagged, "tag", "web06").stdout == "web06\t\n"
    unknown = ctl(tagged, "tag", "nope", "x")
    assert unknown.returncode == 255 and "nope" in unknown.stderr


def test_start_takes_tags_beside_the_dsns_own(tagged: Daemon, fleet: Fleet) -> None:
    dsn = fleet.dsn("extra1", fleet.hosts[0], ["db"])
    r = ctl(tagged, "start", "--tags", "web,canary", dsn)
    assert (r.returncode, r.stdout) == (0, "OK\n"), r.stderr
    assert ctl(tagged, "tag", "extra1").stdout == "extra1\tdb,web,canary\n"
    assert sorted(hosts_in(ctl(tagged, "run", "@canary", WHERE).stdout)) == ["extra1", "web06"]


def test_the_shell_runs_on_selectors_and_filters_status(tagged: Daemon) -> None:
    r = ctl(tagged, stdin=f"run @cache {WHERE}\nstatus @db+prod\n")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert hosts_in("\n".join(lines[:2])) == {a: HOSTS[a] for a in ("cache01", "cache02")}
    assert [line.split("\t")[0] for line in lines[2:]] == ["db01", "db02"]


def test_completion_offers_the_aliases_and_the_tags_in_use(tagged: Daemon) -> None:
    words = ctl(tagged, "--complete-selectors").stdout.split()
    assert words == [*TAGS, "@cache", "@canary", "@db", "@prod", "@staging", "@web"]
    assert ctl(tagged, "--complete-aliases").stdout.split() == list(TAGS)
    script = ctl(None, "--print-completion", "bash").stdout
    env = {**env_for(tagged), "PATH": f"{Path(CTL).parent}:{env_for(tagged).get('PATH', '')}"}

    def bash(*typed: str) -> list[str]:
        line = " ".join(typed)
        probe = (
            script
            + f'\nCOMP_WORDS=(sshpoolctl {line}); COMP_CWORD={len(typed)}; _sshpoolctl; echo "${{COMPREPLY[@]}}"\n'
        )
        r = subprocess.run(["bash", "-c", probe], capture_output=True, text=True, env=env, timeout=30, check=False)
        return r.stdout.split()

    assert bash("run", "@") == ["@cache", "@canary", "@db", "@prod", "@staging", "@web"]
    assert bash("status", "@s") == ["@staging"]
    assert bash("run", "--parallel", "2", "db") == ["db01", "db02", "db03", "db04"]
    assert bash("tag", "web0") == ["web01", "web02", "web03", "web04", "web05", "web06"]
    assert bash("stop", "@") == []


def test_the_readmes_tags_examples_run_as_written(tmp_path: Path, fleet: Fleet, ssh_home: Any) -> None:
    examples = console_examples("### Tags and selectors")
    assert [c.split()[0] for c, _ in examples] == [
        "for",
        "sshpoolctl",
        "sshpoolctl",
        "sshpoolctl",
        "curl",
        "curl",
        "sshpoolctl",
    ]
    for daemon in numbered_daemon(tmp_path, fleet):
        run_examples(daemon, examples)
