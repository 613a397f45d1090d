"""The text ``nohup()`` sends, run by a local ``sh`` exactly as a channel runs it: marker first,
then ``cd`` into the connection's directory, then the detached start."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

from sshpool import commands


def run_like_a_channel(cwd: Path, text: str) -> int:
    script = commands.with_marker(commands.in_directory(str(cwd), text), "feedface")
    done = subprocess.run(["sh", "-c", script], capture_output=True, text=True, timeout=10, check=True)
    assert done.stderr == ""
    return int(done.stdout.strip())


def wait_for(path: Path, text: str) -> str:
    deadline = time.monotonic() + 5
    while (not path.exists() or path.read_text() != text) and time.monotonic() < deadline:
        time.sleep(0.02)
    return path.read_text()


def test_a_compound_command_runs_whole_detached_in_the_directory(tmp_path: Path) -> None:
    pid = run_like_a_channel(tmp_path, commands.nohup("echo one; echo two; exec sleep 30", "my log"))
    try:
        assert wait_for(tmp_path / "my log", "one\ntwo\n") == "one\ntwo\n"  # not just the first command
        sid = subprocess.run(["ps", "-o", "sid=", "-p", str(pid)], capture_output=True, text=True, timeout=10)
        assert sid.stdout.strip() == str(pid)  # the PID printed leads the new session
        environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
        assert not any(v.startswith(commands.MARKER_VAR.encode() + b"=") for v in environ)
    finally:
        os.killpg(pid, signal.SIGTERM)


def test_the_log_is_appended(tmp_path: Path) -> None:
    (tmp_path / "app.log").write_text("before\n")
    pid = run_like_a_channel(tmp_path, commands.nohup("echo after", "app.log"))
    assert pid > 1
    assert wait_for(tmp_path / "app.log", "before\nafter\n") == "before\nafter\n"
