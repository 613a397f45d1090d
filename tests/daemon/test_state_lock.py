"""One sshpoold per state dir: a second start on the same dir is refused and breaks nothing."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.support.daemon import TEST_ARGS, clean_env, daemon_json, free_port, start_daemon

pytestmark = pytest.mark.timeout(90)

SSHPOOLD = Path(sys.executable).with_name("sshpoold")
SSHPOOLCTL = Path(sys.executable).with_name("sshpoolctl")


def second_start(state_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(SSHPOOLD), "--state-dir", str(state_dir), *TEST_ARGS, *args],
        capture_output=True,
        text=True,
        timeout=30,
        stdin=subprocess.DEVNULL,
        env=clean_env(),
    )


def test_a_second_daemon_on_the_same_state_dir_refuses_and_the_first_keeps_serving(
    tmp_path: Path, sshd: Any, test_user: Any, ssh_home: Any
) -> None:
    first = start_daemon(tmp_path, "--channel", f"web1://{test_user.name}@{sshd.host}:{sshd.port}")
    try:
        first.wait_state("web1")
        connections_before = first.get("/channels/web1").json()
        second = second_start(first.state_dir, "--port", str(free_port()))
        assert second.returncode == 1, second.stderr
        message = second.stderr + second.stdout
        assert f"already running, pid {first.pid}, on {first.url}" in message
        assert "--state-dir" in message  # how to run a second one on purpose
        assert "Traceback" not in message
        # The refused daemon opened nothing and removed nothing: discovery still finds the first.
        assert "connecting to" not in message
        assert daemon_json(first.state_dir) == {"url": first.url, "pid": first.pid}
        status = subprocess.run(
            [str(SSHPOOLCTL), "status"],
            capture_output=True,
            text=True,
            timeout=30,
            env=clean_env({"SSHPOOL_STATE_DIR": str(first.state_dir)}),
        )
        assert status.returncode == 0, status.stderr
        assert "web1" in status.stdout.split() and "running" in status.stdout
        assert first.get("/channels/web1").json()["start_time"] == connections_before["start_time"]
        assert first.run("web1", "echo still")["stdout"] == "still\n"
    finally:
        assert first.stop() == 0
    assert not (first.state_dir / "daemon.json").exists()


def test_the_state_dir_is_free_again_once_the_daemon_is_gone_even_after_kill_9(tmp_path: Path) -> None:
    first = start_daemon(tmp_path)
    first.kill()
    again = first.restart()
    try:
        assert daemon_json(again.state_dir)["pid"] == again.pid
    finally:
        assert again.stop() == 0


def test_a_unix_socket_daemon_is_named_by_its_socket_in_the_refusal(tmp_path: Path) -> None:
    state, sock_path = tmp_path / "state", tmp_path / "s.sock"
    proc = subprocess.Popen(
        [str(SSHPOOLD), "--socket", str(sock_path), "--state-dir", str(state)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=clean_env(),
    )
    try:
        deadline = time.monotonic() + 15
        while not (state / "daemon.json").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        second = second_start(state, "--socket", str(tmp_path / "other.sock"))
        assert second.returncode == 1
        assert f"already running, pid {proc.pid}, on unix:{sock_path}" in second.stderr
        assert sock_path.exists()
    finally:
        proc.terminate()
        assert proc.wait(15) == 0
