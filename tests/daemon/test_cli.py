"""``sshpoold``'s command line, its refusals, and the systemd unit."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from sshpool.defaults import Settings
from tests.support.daemon import clean_env, free_port, start_daemon
from tests.support.tls import self_signed

BIN = str(Path(sys.executable).with_name("sshpoold"))
ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.timeout(60)

SEED_HELP = """\
usage: sshpoold [-h] [--channel CHANNEL] [--host HOST] [--port PORT] ...

optional arguments:
  -h, --help         show this help message and exit
  --channel CHANNEL  alias://user:pass@host:port
  --host HOST        SSHPool interface (default: 127.0.0.1)
  --port PORT        SSHPool listening port (default: 8877)
"""


def sshpoold(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [BIN, *args], capture_output=True, text=True, timeout=20, env=clean_env({"COLUMNS": "100", **(env or {})})
    )


def test_help_starts_exactly_like_the_seed_and_lists_every_setting() -> None:
    out = sshpoold("-h")
    assert out.returncode == 0 and out.stdout.startswith(SEED_HELP)
    for name in Settings.names():
        assert "--" + name.replace("_", "-") in out.stdout
    for flag in ("--config", "--state-dir", "--allow-hosts", "--socket", "--tls-cert", "--insecure-bind", "--version"):
        assert flag in out.stdout


def test_version() -> None:
    from sshpool import __version__

    assert sshpoold("--version").stdout.strip() == f"sshpoold {__version__}"


@pytest.mark.parametrize(
    ("args", "env", "words"),
    [
        (["--host", "0.0.0.0"], {}, "--insecure-bind"),  # noqa: S104 (the refusal is the point)
        (["--tls-cert", "c.pem"], {}, "--tls-key"),
        (["--command-timeout", "soon"], {}, "--command-timeout"),
        (["--channel", "no-scheme"], {}, "alias"),
        ([], {"SSHPOOL_CONNECT_TIMEOUT": "fast"}, "SSHPOOL_CONNECT_TIMEOUT"),
        (["--allow-hosts", "10.0.0.0/99"], {}, "--allow-hosts"),
        (["--host-key-policy", "trusting"], {}, "--host-key-policy"),
    ],
)
def test_bad_flags_are_refused_with_a_reason(args: list[str], env: dict[str, str], words: str, tmp_path: Path) -> None:
    out = sshpoold("--state-dir", str(tmp_path), "--port", str(free_port()), *args, env=env)
    assert out.returncode == 2 and words in out.stderr, out.stderr


def test_a_bad_config_line_is_named_by_file_and_line(tmp_path: Path) -> None:
    config = tmp_path / "pool.conf"
    config.write_text("# ok\na://127.0.0.1\nb://127.0.0.1:0\n")
    out = sshpoold("--state-dir", str(tmp_path), "--config", str(config))
    assert out.returncode == 2 and f"{config}:3" in out.stderr and "port" in out.stderr


def test_settings_come_from_flags_then_environment(tmp_path: Path, ssh_home: Any) -> None:
    d = start_daemon(
        tmp_path, "--command-timeout", "0.7", "--body-limit", "64", env={"SSHPOOL_BODY_LIMIT": "5000"}, test_args=False
    )
    try:
        assert d.post("/channels", content="x" * 100).status_code == 413
    finally:
        d.stop()
    d = start_daemon(tmp_path, env={"SSHPOOL_BODY_LIMIT": "64"}, test_args=False)
    try:
        assert d.post("/channels", content="x" * 100).status_code == 413
        assert d.post("/channels", content="x" * 10).status_code == 400
    finally:
        d.stop()


def test_the_systemd_unit_verifies_and_uses_notify_credentials_and_a_state_dir(tmp_path: Path) -> None:
    text = (ROOT / "contrib" / "sshpoold.service").read_text()
    for line in (
        "Type=notify",
        "StateDirectory=sshpoold",
        "LoadCredential=token:",
        "ExecReload=/bin/kill -HUP $MAINPID",
    ):
        assert line in text
    assert "--token-file ${CREDENTIALS_DIRECTORY}/token" in text
    unit = tmp_path / "sshpoold.service"
    unit.write_text(text.replace("/usr/local/bin/sshpoold", BIN))
    out = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr


def test_tls_serves_https_and_says_so(tmp_path: Path, ssh_home: Any) -> None:
    import ssl

    import httpx

    from tests.support.daemon import daemon_json

    cert, key = self_signed(tmp_path)
    d = start_daemon(tmp_path, "--tls-cert", str(cert), "--tls-key", str(key))
    try:
        assert d.url.startswith("https://")
        r = httpx.get(d.url + "channels", headers=d.headers, verify=ssl.create_default_context(cafile=cert))
        assert (r.status_code, r.json()) == (200, {})
        assert daemon_json(d.state_dir)["url"] == d.url
        assert f" * Running on {d.url}" in d.log_text()
    finally:
        d.stop()


def test_an_empty_token_file_is_refused_and_left_as_it_is(tmp_path: Path) -> None:
    token = tmp_path / "token.secret"
    token.write_text("\n")
    out = sshpoold("--state-dir", str(tmp_path / "state"), "--port", str(free_port()), "--token-file", str(token))
    assert out.returncode == 1, out.stderr
    assert f"--token-file {token} is empty: write a token into it" in out.stderr
    assert token.read_text() == "\n", "the admin's token file was overwritten"


def test_a_token_file_others_can_read_is_warned_about(tmp_path: Path, ssh_home: Any) -> None:
    token = tmp_path / "token.secret"
    token.write_text("s3cret-token-value\n")
    token.chmod(0o644)
    d = start_daemon(tmp_path / "state", "--token-file", str(token))
    try:
        assert f"warning: the token file {token} may be read by other users: chmod 600 {token}" in d.log_text()
        assert "s3cret-token-value" not in d.log_text()
    finally:
        d.stop()


def test_sighup_reopens_the_audit_log_for_logrotate(tmp_path: Path, ssh_home: Any) -> None:
    import json
    import os
    import signal
    import time

    d = start_daemon(tmp_path)
    try:
        audit = d.state_dir / "audit.log"
        assert d.post("channels", content=f"one://127.0.0.1:{free_port()}").status_code == 202
        audit.rename(d.state_dir / "audit.log.rotated")
        audit.write_text("")  # logrotate's create
        audit.chmod(0o600)
        os.kill(d.pid, signal.SIGHUP)
        deadline = time.monotonic() + 10
        while "reloaded" not in d.log_text() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert d.post("channels", content=f"two://127.0.0.1:{free_port()}").status_code == 202
        aliases = [json.loads(x).get("alias") for x in audit.read_text().splitlines()]
        assert aliases == ["two"]
    finally:
        d.stop()


def test_a_busy_port_names_the_address_and_what_to_do(tmp_path: Path) -> None:
    """Something already listens on the port (another sshpoold, most likely): sshpoold says where
    it tried to listen and how to find out or move, and exits 1 without starting anything."""
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        out = sshpoold("--state-dir", str(tmp_path / "state"), "--port", str(port))
    assert out.returncode == 1, out.stderr
    assert out.stderr.rstrip().endswith(
        f"cannot listen on 127.0.0.1:{port}: the address is in use (another sshpoold? `sshpoolctl doctor`, or --port N)"
    ), out.stderr
    assert "Errno" not in out.stderr and "Traceback" not in out.stderr
    assert not (tmp_path / "state" / "daemon.json").exists()


def test_an_alias_on_two_lines_of_the_config_file_stops_the_start_naming_both(tmp_path: Path, ssh_home: Any) -> None:
    """Copy-pasting a line and forgetting to rename it no longer silently keeps only the last one."""
    import os
    import signal
    import time

    config = tmp_path / "channels.conf"
    first, second = f"web1://deploy@127.0.0.1:{free_port()}", f"WEB1://deploy:s3cret@127.0.0.1:{free_port()}"
    config.write_text(f"# web servers\n{first}\ndb1://127.0.0.1:{free_port()}\n{second}  # the new box\n")
    config.chmod(0o600)
    out = sshpoold("--state-dir", str(tmp_path / "state"), "--config", str(config))
    said = (
        f"{config}:4: the alias 'WEB1' is already on line 2 ('web1'); an alias names one channel "
        "(aliases are compared without regard to case): remove or rename one"
    )
    assert out.returncode == 2 and said in out.stderr and "s3cret" not in out.stderr, out.stderr
    config.write_text(f"{first}\n")
    d = start_daemon(tmp_path, "--config", str(config))
    try:
        config.write_text(f"{first}\n{second}\n")
        os.kill(d.pid, signal.SIGHUP)  # a reload meets the same refusal, and keeps what runs
        deadline = time.monotonic() + 10
        while "reload failed" not in d.log_text() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert f"reload failed, nothing changed: {config}:2: the alias 'WEB1' is already on line 1" in d.log_text()
        assert d.get("/channels").json()["web1"]["user"] == "deploy"
        assert d.get("/channels").json()["web1"]["pass"] is None
    finally:
        d.stop()
