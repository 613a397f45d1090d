"""The run mode is chosen where a user chooses things: the DSN (``?mode=shell``), the REST body
(``"mode"``), ``sshpoolctl run --mode``; the channel's info shows it and /metrics counts both ways."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sshpool import DSN, DSNError
from tests.support.daemon import Daemon, clean_env, daemon_running

pytestmark = pytest.mark.timeout(120)

CTL = str(Path(sys.executable).with_name("sshpoolctl"))


def test_the_dsn_carries_the_mode_and_nothing_else_of_its_query() -> None:
    dsn = DSN.parse("web1://deploy:s3cret@10.0.0.5:22/ignored?x=1&mode=shell#frag")
    assert (dsn.mode, dsn.host, dsn.port) == ("shell", "10.0.0.5", 22)
    assert str(dsn) == "web1://deploy:****@10.0.0.5:22?mode=shell"
    assert DSN.parse(dsn.to_text(reveal_password=True)) == dsn
    assert DSN.parse("web1://10.0.0.5?x=1").mode is None
    with pytest.raises(DSNError, match=r"invalid mode 'fast' in the DSN: use \?mode=exec or \?mode=shell"):
        DSN.parse("web1://10.0.0.5?mode=fast")


def by_mode(daemon: Daemon) -> dict[str, float]:
    text = daemon.get("/metrics").text
    return {m: float(v) for m, v in re.findall(r'^sshpool_commands_by_mode_total\{mode="(\w+)"\} (\S+)$', text, re.M)}


@pytest.fixture
def two_modes(tmp_path: Path, sshd: Any, test_user: Any, ssh_home: Any) -> Iterator[Daemon]:
    where = f"{test_user.name}@{sshd.host}:{sshd.port}"
    channels = ("--channel", f"fast://{where}?mode=shell", "--channel", f"plain://{where}")
    yield from daemon_running(tmp_path, *channels, up=("fast", "plain"))


def test_the_channel_info_shows_its_mode_and_survives_a_restart(two_modes: Daemon) -> None:
    assert two_modes.get("/channels/fast").json()["mode"] == "shell"
    assert two_modes.get("/channels/plain").json()["mode"] == "exec"
    two_modes.stop()
    again = two_modes.restart()
    try:
        assert again.wait_state("fast")["mode"] == "shell"
    finally:
        again.stop()


def test_metrics_count_the_way_each_command_really_ran(two_modes: Daemon) -> None:
    before = by_mode(two_modes)
    assert two_modes.run("fast", "echo hi")["stdout"] == "hi\n"  # the channel's mode: shell
    assert two_modes.run("fast", "cat", input="typed\n")["stdout"] == "typed\n"  # input always takes exec
    assert two_modes.run("plain", "echo hi", mode="shell")["stdout"] == "hi\n"  # the request's mode wins
    assert two_modes.run("fast", "echo hi", mode="exec")["stdout"] == "hi\n"
    after = by_mode(two_modes)
    assert after.get("shell", 0) - before.get("shell", 0) == 2
    assert after.get("exec", 0) - before.get("exec", 0) == 2


def test_a_bad_mode_in_the_body_is_a_clear_400(two_modes: Daemon) -> None:
    r = two_modes.post(
        "/channels/plain", json={"command": "true", "mode": "turbo"}, headers={"Accept": "application/json"}
    )
    assert r.status_code == 400
    assert r.json()["detail"].startswith("field 'mode' must be \"exec\"")


def test_sshpoolctl_run_takes_the_mode(two_modes: Daemon) -> None:
    env = clean_env({"SSHPOOL_STATE_DIR": str(two_modes.state_dir)})
    before = by_mode(two_modes)
    r = subprocess.run(
        [CTL, "run", "--mode", "shell", "plain", "echo", "warm"], capture_output=True, text=True, env=env, timeout=60
    )
    assert (r.returncode, r.stdout) == (0, "warm\n"), r.stderr
    assert by_mode(two_modes).get("shell", 0) - before.get("shell", 0) == 1
    bad = subprocess.run([CTL, "run", "--mode", "turbo", "plain", "true"], capture_output=True, text=True, env=env)
    assert bad.returncode == 255 and "invalid choice: 'turbo'" in bad.stderr
