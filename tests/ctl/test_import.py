"""``sshpoolctl import`` as a user types it, against a real daemon: the README's examples as
written (only the addresses and the user change), stdin, --json, and the refusals."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import sshpool
from tests.support.daemon import Daemon, clean_env, daemon_running
from tests.support.readme import blocks, section

pytestmark = pytest.mark.timeout(120)

CTL = str(Path(sys.executable).with_name("sshpoolctl"))


@pytest.fixture
def daemon(tmp_path: Path, sshd: Any, test_user: Any, ssh_home: Any) -> Iterator[Daemon]:
    yield from daemon_running(tmp_path)


def ctl(daemon: Daemon, cwd: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    src = str(Path(sshpool.__file__).resolve().parents[1])  # cwd is not the work tree: PYTHONPATH made whole
    env = clean_env({"TERM": "dumb", "SSHPOOL_STATE_DIR": str(daemon.state_dir), "PYTHONPATH": src})
    return subprocess.run([CTL, *args], input=stdin, capture_output=True, text=True, env=env, cwd=cwd, timeout=60)


def test_the_readme_import_examples_run_as_written(
    daemon: Daemon, ssh_home: Any, test_user: Any, tmp_path: Path
) -> None:
    text = section("### Import an inventory")

    def here(s: str) -> str:
        return s.replace("10.0.0.", "127.0.0.").replace("deploy", test_user.name)

    (config,) = blocks(text, "text")
    (inventory,) = blocks(text, "json")
    ssh_home.config.write_text(here(config))
    (tmp_path / "inventory.json").write_text(here(inventory))
    examples = [b for b in blocks(text, "console")]
    assert len(examples) == 2
    ran = 0
    for block in examples:
        for command, *expected in (chunk.splitlines() for chunk in ("\n" + block).split("\n$ ")[1:]):
            run = ctl(daemon, tmp_path, *command.split()[1:])
            assert run.returncode == 0, run.stderr
            assert run.stdout.splitlines() == [here(line) for line in expected], command
            ran += 1
    assert ran == 5
    assert daemon.get("/channels/db1").json()["pass"] == "****"
    assert "pw" not in (daemon.state_dir / "audit.log").read_text().replace(test_user.name, "")


def test_an_inventory_from_stdin_with_json_output(daemon: Daemon, tmp_path: Path) -> None:
    inventory = {"_meta": {"hostvars": {"h1": {"ansible_host": "127.0.0.3"}}}, "all": {"hosts": ["h1", "bad name"]}}
    run = ctl(daemon, tmp_path, "import", "ansible", "-", "--json", stdin=json.dumps(inventory))
    assert run.returncode == 0, run.stderr
    answer = json.loads(run.stdout)
    assert answer["added"] == [{"alias": "h1", "dsn": "h1://127.0.0.3"}]
    assert [s["host"] for s in answer["skipped"]] == ["bad name"] and "invalid alias" in answer["skipped"][0]["reason"]


@pytest.mark.parametrize(
    ("args", "stdin", "said"),
    [
        (("ansible",), "", "import ansible needs a FILE"),
        (("ansible", "/nowhere.json"), "", "cannot read /nowhere.json"),
        (("ansible", "-"), "all:\n  hosts: {}\n", "the ansible inventory is not JSON"),
        (("ssh-config", "--tag", "web"), "", "--tag goes with import digitalocean"),
        (("digitalocean", "--with-passwords"), "", "--with-passwords goes with import ansible"),
        (("nagios",), "", "invalid choice: 'nagios'"),
    ],
)
def test_a_bad_import_exits_255_saying_why(
    daemon: Daemon, tmp_path: Path, args: tuple[str, ...], stdin: str, said: str
) -> None:
    run = ctl(daemon, tmp_path, "import", *args, stdin=stdin)
    assert run.returncode == 255 and said in run.stderr, run.stderr
    assert run.stdout == ""
