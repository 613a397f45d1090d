"""``sshpoolctl ssh ALIAS [COMMAND]`` through a real pseudo-terminal (pexpect), against a real
sshpoold and sshd: the remote prompt, a command, a resize, Ctrl-C, the exit status, ``~.``, and the
terminal as it was afterwards."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pexpect
import pytest

from tests.ctl.test_shell import ctl_env
from tests.support.daemon import Daemon, start_daemon
from tests.support.tls import self_signed

pytestmark = pytest.mark.timeout(120)

CTL = str(Path(sys.executable).with_name("sshpoolctl"))


def ssh(pool: Daemon, tmp_path: Path, *args: str) -> pexpect.spawn:
    child = pexpect.spawn(CTL, ["ssh", *args], env=ctl_env(pool, tmp_path), timeout=20, dimensions=(24, 80))
    return child


def at_prompt(child: pexpect.spawn) -> None:
    """Past the login shell's own prompt, at one this test knows."""
    child.expect(rb"[$#] $")
    child.send(b"PS1='rp''> '\r")
    child.expect_exact(b"rp> ")


def test_a_terminal_runs_commands_follows_resizes_passes_ctrl_c_and_exits_with_the_remote_status(
    pool: Daemon, tmp_path: Path
) -> None:
    child = ssh(pool, tmp_path, "web1")
    at_prompt(child)
    child.send(b"echo $((6*7))\r")
    child.expect_exact(b"\r\n42\r\n")
    child.expect_exact(b"rp> ")
    child.send(b"stty size\r")
    child.expect_exact(b"24 80")
    child.setwinsize(30, 100)
    time.sleep(0.3)
    child.send(b"stty size\r")
    child.expect_exact(b"30 100")
    child.send(b"sleep 100\r")
    time.sleep(0.5)
    started = time.monotonic()
    child.send(b"\x03")
    child.expect_exact(b"rp> ", timeout=5)
    assert time.monotonic() - started < 5
    child.send(b"exit 7\r")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 7


def test_tilde_dot_disconnects_and_the_terminal_is_restored_on_every_way_out(pool: Daemon, tmp_path: Path) -> None:
    child = ssh(pool, tmp_path, "web1")
    at_prompt(child)
    child.send(b"\r~.")
    child.expect_exact(b"disconnected from web1")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 255
    script = f"'{CTL}' ssh web1 exit 3; echo rc=$?; stty -a; '{CTL}' ssh nope; echo rc=$?; stty -a"
    child = pexpect.spawn("sh", ["-c", script], env=ctl_env(pool, tmp_path), timeout=20)
    child.expect(pexpect.EOF)
    out = child.before.decode()
    assert "rc=3" in out and "rc=255" in out, out
    assert out.count(" icanon ") == 2 and out.count(" echo ") == 2, "raw mode is undone on every exit"
    assert "no channel 'nope'" in out


def test_a_terminal_command_runs_in_a_pty(pool: Daemon, tmp_path: Path, test_user: Any) -> None:
    child = ssh(pool, tmp_path, "web1", "test -t 0 && echo on-a-tty && whoami")
    child.expect_exact(b"on-a-tty")
    child.expect_exact(test_user.name.encode())
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0


def test_a_terminal_opens_over_the_unix_socket_too(tmp_path: Path, sshd: Any, test_user: Any, ssh_home: Any) -> None:
    state, sock = tmp_path / "state", tmp_path / "d.sock"
    dsn = f"web://{test_user.name}@{sshd.host}:{sshd.port}"
    proc = subprocess.Popen(
        [str(Path(sys.executable).with_name("sshpoold")), "--socket", str(sock), "--state-dir", str(state),
         "--channel", dsn],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 15
        while not (state / "daemon.json").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        env = ctl_env(None, tmp_path, SSHPOOL_STATE_DIR=str(state))
        ran = subprocess.run(
            [CTL, "ssh", "web", "echo", "via-the-socket"], capture_output=True, env=env, timeout=30, check=False
        )
        assert ran.returncode == 0 and b"via-the-socket" in ran.stdout, ran
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(15) == 0


def test_a_terminal_opens_on_an_https_daemon_the_client_trusts_and_says_why_on_one_it_does_not(
    tmp_path: Path, sshd: Any, test_user: Any, ssh_home: Any
) -> None:
    cert, key = self_signed(tmp_path)
    dsn = f"web://{test_user.name}@{sshd.host}:{sshd.port}"
    d = start_daemon(tmp_path, "--tls-cert", str(cert), "--tls-key", str(key), "--channel", dsn)
    try:
        assert d.url.startswith("https://")
        trusted = ctl_env(d, tmp_path, SSL_CERT_FILE=str(cert))
        for words in (["ssh", "web", "echo", "over-tls"], ["ssh", "web", "--", "echo", "over-tls"]):
            ran = subprocess.run([CTL, *words], capture_output=True, env=trusted, timeout=30, check=False)
            assert ran.returncode == 0 and b"over-tls" in ran.stdout, ran
        untrusted = ctl_env(d, tmp_path)
        ran = subprocess.run(
            [CTL, "ssh", "web", "echo", "over-tls"], capture_output=True, env=untrusted, timeout=30, check=False
        )
        assert ran.returncode == 255 and b"over-tls" not in ran.stdout, ran
        assert b"cannot open a terminal on web" in ran.stderr and b"certificate verify failed" in ran.stderr, ran
    finally:
        d.stop()
