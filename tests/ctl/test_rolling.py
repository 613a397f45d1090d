"""``sshpoolctl run --parallel N --halt first_failure|K --group`` over the twelve-host fleet: the
lines it prints, the summary naming failed and skipped hosts, the exit status, clush -b style
groups; the same from the lean front door (which hands these flags to the full CLI) and the shell."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.ctl.test_lean import loaded
from tests.ctl.test_oneshot import CTL, ctl, env_for
from tests.support.daemon import Daemon
from tests.support.fleet import Fleet
from tests.support.readme import console_examples
from tests.support.tagged import NUMBERED, numbered_daemon

pytestmark = pytest.mark.timeout(120)

ALIASES = list(NUMBERED)
OCTET = "set -- $SSH_CONNECTION; octet=${3##*.};"


@pytest.fixture
def fleet_daemon(tmp_path: Path, fleet: Fleet, ssh_home: Any) -> Iterator[Daemon]:
    yield from numbered_daemon(tmp_path, fleet)


HALTED = (
    "sshpoolctl: 1 of 12 channels failed: web03; 9 skipped, not started: "
    "web04, web05, web06, web07, web08, web09, web10, web11, web12"
)


def test_a_rolling_run_stops_at_the_first_failure_and_names_failed_and_skipped_hosts(fleet_daemon: Daemon) -> None:
    r = ctl(
        fleet_daemon,
        "run",
        "--parallel",
        "1",
        "--halt",
        "first_failure",
        "web*",
        OCTET,
        "echo $octet; [ $octet -lt 4 ] || exit 3",
    )
    assert r.returncode == 3
    assert r.stdout == "web01: 2\nweb02: 3\nweb03: 4\n"
    assert r.stderr.splitlines() == ["web03: [exit 3]", HALTED]
    k = ctl(fleet_daemon, "run", "--parallel", "2", "--halt", "12", "web*", "exit 1")
    assert k.returncode == 1 and k.stderr.splitlines()[-1].startswith("sshpoolctl: 12 of 12 channels failed: web01")


GROUPED = """\
---------------
web[01,04,07,10] (4)
---------------
2
---------------
web[02,05,08,11] (4)
---------------
0
---------------
web[03,06,09] (3)
---------------
1
---------------
web12 (1)
---------------
1
"""


def test_group_prints_each_answer_once_under_its_folded_hosts(fleet_daemon: Daemon) -> None:
    r = ctl(fleet_daemon, "run", "--group", "web*", OCTET, "echo $(( octet % 3 )); [ $octet -ne 13 ] || exit 3")
    assert (r.returncode, r.stdout) == (3, GROUPED)
    assert r.stderr.splitlines() == ["[exit 3]", "sshpoolctl: 1 of 12 channels failed: web12"]
    halted = ctl(fleet_daemon, "run", "--group", "--parallel", "1", "--halt", "1", "web*", OCTET, "[ $octet -lt 4 ]")
    assert halted.returncode == 1
    assert halted.stdout == (
        "---------------\nweb[04-12] (9)\n---------------\n"
        "---------------\nweb[01-02] (2)\n---------------\n"
        "---------------\nweb03 (1)\n---------------\n"
    )
    assert halted.stderr.splitlines() == [
        "[skipped] not started: 1 failure (web03) reached halt=first_failure",
        "[exit 1]",
        HALTED,
    ]


def test_group_with_json_gives_the_groups(fleet_daemon: Daemon) -> None:
    r = ctl(fleet_daemon, "--json", "run", "--group", "web*", OCTET, "echo $(( octet / 5 ))")
    groups = json.loads(r.stdout)["groups"]
    assert r.returncode == 0
    assert [(g["folded"], g["aliases"][0], g["result"]["stdout"]) for g in groups] == [
        ("web[04-08]", "web04", "1\n"),
        ("web[09-12]", "web09", "2\n"),
        ("web[01-03]", "web01", "0\n"),
    ]
    assert "alias" not in groups[0]["result"]


def test_the_lean_front_door_hands_the_rolling_flags_to_the_full_cli(fleet_daemon: Daemon) -> None:
    rolled, names = loaded(fleet_daemon, "run", "--parallel", "1", "web01,web02", "echo", "hi")
    assert (rolled.returncode, rolled.stdout) == (0, b"web01: hi\nweb02: hi\n") and "sshpool.ctl.cli" in names
    one, names = loaded(fleet_daemon, "run", "--group", "web01", "echo", "hi")
    assert (one.returncode, one.stdout) == (0, b"---------------\nweb01 (1)\n---------------\nhi\n")
    assert "sshpool.ctl.cli" in names
    equals, _ = loaded(fleet_daemon, "run", "--halt=first_failure", "web01", "exit", "4")
    assert (equals.returncode, equals.stderr.decode().splitlines()[-2:]) == (
        4,
        ["web01: [exit 4]", "sshpoolctl: 1 of 1 channels failed: web01"],
    )


def test_the_shell_run_takes_the_same_flags(fleet_daemon: Daemon) -> None:
    script = f"run --parallel 1 --halt first_failure web* {OCTET} echo $octet; [ $octet -lt 4 ] || exit 3\n"
    r = ctl(fleet_daemon, stdin=script)
    assert (r.returncode, r.stdout) == (3, "web01: 2\nweb02: 3\nweb03: 4\n")
    assert r.stderr.splitlines() == ["web03: [exit 3]", HALTED]


@pytest.mark.parametrize(
    ("flags", "words"),
    [
        (["--parallel", "0"], "invalid number of channels '0': give a whole number, 1 or more"),
        (["--parallel", "x"], "invalid number of channels 'x'"),
        (["--halt", "sometimes"], "invalid halt 'sometimes': give first_failure, or a whole number of failures"),
        (["--halt", "0"], "invalid halt '0'"),
    ],
)
def test_bad_rolling_flags_exit_255_saying_what_they_take(fleet_daemon: Daemon, flags: list[str], words: str) -> None:
    r = ctl(fleet_daemon, "run", *flags, "web*", "true")
    assert r.returncode == 255 and words in r.stderr, r.stderr


def test_the_readmes_fleet_examples_run_as_written(fleet_daemon: Daemon) -> None:
    examples = console_examples("### Rolling runs", "### Grouped output")
    assert [c.split()[0] for c, _ in examples] == ["sshpoolctl", "curl", "sshpoolctl", "curl"]
    run_examples(fleet_daemon, examples)


def run_examples(daemon: Daemon, examples: list[tuple[str, list[str]]]) -> None:
    """Each example as a user types it (bash, sshpoolctl on PATH, the token in SSHPOOL_TOKEN, curl
    at the daemon's address): stdout and stderr as the README shows them."""
    env = {**env_for(daemon), "SSHPOOL_TOKEN": daemon.token}
    env["PATH"] = f"{Path(CTL).parent}:{env.get('PATH', '')}"
    for command, expected in examples:
        cmd = command.replace("http://127.0.0.1:8877", daemon.url.rstrip("/"))
        run = subprocess.run(
            ["bash", "-c", cmd + " 2>&1"], capture_output=True, text=True, env=env, timeout=60, check=False
        )
        assert run.stdout.splitlines() == expected, (command, run.stdout)
