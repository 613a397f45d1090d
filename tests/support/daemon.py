"""A real ``sshpoold`` process on a free loopback port, for any test that talks to the daemon.

Usage::

    from tests.support.daemon import start_daemon, Daemon

    def test_x(daemon: Daemon) -> None:          # the fixture (tests/conftest.py registers
        r = daemon.post("/channels", content="a://u@127.0.0.1:22")      # this module as a plugin)

    d = start_daemon(tmp_path, "--channel", dsn, env={"SSHPOOL_X": "1"})
    ...
    d.stop()            # SIGTERM, returns the exit code
    d2 = d.restart()    # same state dir and port

Test settings: keepalive 1 s x 3, connect timeout 3 s, backoff 0.2 s doubling to 2 s, drain 2 s,
and only loopback hosts may be added.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

BIN = Path(sys.executable).with_name("sshpoold")
TEST_ARGS = (
    "--allow-hosts",
    "127.0.0.0/8,::1",
    "--keepalive-interval",
    "1",
    "--keepalive-count-max",
    "3",
    "--connect-timeout",
    "3",
    "--backoff-initial",
    "0.2",
    "--backoff-max",
    "2",
    "--drain-timeout",
    "2",
)

__all__ = ["TEST_ARGS", "Daemon", "daemon", "daemon_running", "free_port", "start_daemon"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def clean_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The test's environment without a developer's agent or stray SSHPOOL_* settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SSHPOOL_") and k != "SSH_AUTH_SOCK"}
    env.update(extra or {})
    return env


@dataclass
class Daemon:
    """A running sshpoold: ``url`` ends with ``/``; requests helpers add the token."""

    url: str
    token: str
    pid: int
    port: int
    state_dir: Path
    proc: subprocess.Popen[bytes]
    log_path: Path
    args: tuple[str, ...]
    env: dict[str, str] = field(repr=False)

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def client(self, **kwargs: Any) -> httpx.Client:
        """An httpx client with the token."""
        kwargs.setdefault("timeout", 30)
        headers = {**self.headers, **kwargs.pop("headers", {})}
        return httpx.Client(base_url=self.url.rstrip("/"), headers=headers, **kwargs)

    def async_client(self, **kwargs: Any) -> httpx.AsyncClient:
        kwargs.setdefault("timeout", 30)
        headers = {**self.headers, **kwargs.pop("headers", {})}
        return httpx.AsyncClient(base_url=self.url.rstrip("/"), headers=headers, **kwargs)

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        with self.client() as c:
            return c.request(method, path, **kwargs)

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("POST", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("DELETE", path, **kwargs)

    def run(self, alias: str, command: str, **fields: Any) -> dict[str, Any]:
        r = self.post(f"/channels/{alias}", json={"command": command, **fields})
        assert r.status_code == 200, r.text
        result: dict[str, Any] = r.json()
        return result

    def wait_state(self, alias: str, state: str = "up", timeout: float = 15) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        info: dict[str, Any] = {}
        while time.monotonic() < deadline:
            r = self.get(f"/channels/{alias}")
            if r.status_code == 200:
                info = r.json()
                if info["state"] == state:
                    return info
            time.sleep(0.05)
        raise AssertionError(f"{alias} not {state} within {timeout} s: {info}")

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self, timeout: float = 20) -> int:
        """SIGTERM and wait; returns the exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(f"sshpoold did not stop within {timeout} s:\n{self.log_text()[-3000:]}") from None

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(10)

    def restart(self, *extra: str, env: dict[str, str] | None = None) -> Daemon:
        """A new process on the same state dir and port (this one must be stopped or killed)."""
        assert self.proc.poll() is not None, "stop() or kill() the daemon first"
        return _spawn(self.state_dir, self.port, (*self.args, *extra), env if env is not None else self.env)


def start_daemon(
    tmp_path: Path,
    *args: str,
    env: dict[str, str] | None = None,
    state_dir: Path | None = None,
    port: int | None = None,
    test_args: bool = True,
) -> Daemon:
    """Start ``sshpoold`` with the test settings plus ``args``; returns once /readyz says 200."""
    state = state_dir or tmp_path / "state"
    return _spawn(state, port or free_port(), (*(TEST_ARGS if test_args else ()), *args), clean_env(env))


def _spawn(state_dir: Path, port: int, args: tuple[str, ...], env: dict[str, str]) -> Daemon:
    log_path = state_dir.parent / f"sshpoold-{port}-{time.monotonic_ns()}.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    argv = [str(BIN), "--port", str(port), "--state-dir", str(state_dir), *args]
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env)
    url = f"{'https' if '--tls-cert' in args else 'http'}://127.0.0.1:{port}/"
    deadline = time.monotonic() + 20
    while True:
        if proc.poll() is not None:
            raise AssertionError(f"sshpoold exited with {proc.returncode}:\n{log_path.read_text(errors='replace')}")
        with contextlib.suppress(httpx.HTTPError):
            # verify=False: a readiness probe only; TLS tests check the certificate themselves.
            if httpx.get(url + "readyz", timeout=1, verify=False).status_code == 200:  # noqa: S501
                break
        if time.monotonic() > deadline:
            proc.kill()
            raise AssertionError(f"sshpoold not ready in 20 s:\n{log_path.read_text(errors='replace')}")
        time.sleep(0.05)
    token_file = Path(args[args.index("--token-file") + 1]) if "--token-file" in args else state_dir / "token"
    token = env.get("SSHPOOL_TOKEN") or token_file.read_text().strip()
    return Daemon(url, token, proc.pid, port, state_dir, proc, log_path, args, env)


def daemon_json(state_dir: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((state_dir / "daemon.json").read_text())
    return data


def daemon_running(
    tmp_path: Path, *args: str, env: dict[str, str] | None = None, up: tuple[str, ...] = ()
) -> Iterator[Daemon]:
    """Body of a fixture: ``yield from daemon_running(tmp_path)``, once each channel in ``up`` is
    up; stops the daemon afterwards."""
    d = start_daemon(tmp_path, *args, env=env)
    try:
        for alias in up:
            d.wait_state(alias)
        yield d
    finally:
        if d.alive():
            d.stop()


@pytest.fixture
def daemon(tmp_path: Path, sshd: Any, test_user: Any, ssh_home: Any) -> Iterator[Daemon]:
    """A daemon with no channels yet; ``HOME`` is the test ssh home (config + known_hosts).
    Every test gets it (tests/conftest.py registers this module as a plugin); a module that needs
    another kind defines a local fixture that does ``yield from daemon_running(tmp_path)``."""
    yield from daemon_running(tmp_path)
