"""The real parts under test: a throwaway non-root user, a client home, an sshd on a free
loopback port and a real ``sshpoold``; all stopped by pid and removed afterwards.

The user is never root: root's shell start-up files on these machines add ~95 ms per command and
would hide every difference. ``MaxStartups 1000:30:1000`` lets peers without a handshake limit
connect by the hundred; a failure any peer still has is reported, not hidden.
"""

from __future__ import annotations

import compileall
import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import httpx

import sshpool
from tests.support.sshd import ClientHome, SSHServer, TestUser, free_port

from .config import Target

REPO = Path(__file__).resolve().parent.parent
#: The sshpool this bench imported (a worktree's ``src`` when PYTHONPATH names it, else the installed
#: one): the workers, sshpoold and every ``sshpoolctl`` process run this code, not another copy.
SSHPOOL_SRC = str(Path(sshpool.__file__).resolve().parent.parent)
SSHD_OPTIONS = {"MaxStartups": "1000:30:1000", "LogLevel": "INFO"}
DAEMON_ARGS = ("--allow-hosts", "127.0.0.0/8", "--log-level", "warning", "--output-limit", str(256 * 1024 * 1024))


class Testbed:
    """Use as a context manager; ``target`` tells workers where everything is."""

    __test__ = False

    def __init__(self, *, daemon: bool = True) -> None:
        self.want_daemon = daemon
        self.root = Path(tempfile.mkdtemp(prefix="sshpool-bench-"))
        self.root.chmod(0o755)  # sshd reads authorized_keys as the throwaway user
        self.user: TestUser | None = None
        self.server: SSHServer | None = None
        self.daemons: list[subprocess.Popen[bytes]] = []
        self.target: Target | None = None

    @property
    def sshpool_src(self) -> str:
        return SSHPOOL_SRC

    def env(self) -> dict[str, str]:
        """The environment of every worker and of the daemon: the client home, no SSH agent, no stray
        settings, and PYTHONPATH (absolute) leading to this bench's sshpool and the repository."""
        assert self.target is not None
        env = {k: v for k, v in os.environ.items() if not k.startswith("SSHPOOL_") and k != "SSH_AUTH_SOCK"}
        env["HOME"] = self.target.home
        given = [str(Path(p).resolve()) for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
        env["PYTHONPATH"] = os.pathsep.join(dict.fromkeys([SSHPOOL_SRC, str(REPO), *given]))
        return env

    def __enter__(self) -> Testbed:
        try:
            self._start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _start(self) -> None:
        # Bytecode as an installed package has it (pip compiles on install): with
        # PYTHONDONTWRITEBYTECODE set, or a tree the bench may not write, every sshpoolctl process
        # would otherwise compile its modules again, and the one-shot figures would measure that.
        compileall.compile_dir(Path(SSHPOOL_SRC) / "sshpool", quiet=1)
        self.user = TestUser.create()
        home = ClientHome.create(self.root / "home")
        self.server = SSHServer(self.root / "sshd", authorized_keys=[home.public_key], extra=SSHD_OPTIONS)
        home.trust(self.server.known_hosts_line)
        scratch = self.root / "scratch"
        scratch.mkdir(mode=0o700)
        self.target = Target(
            host=self.server.host,
            port=self.server.port,
            user=self.user.name,
            key=str(home.key),
            known_hosts=str(home.known_hosts),
            home=str(home.path),
            scratch=str(scratch),
        )
        if self.want_daemon:
            self.target = self.new_daemon()

    def new_daemon(self) -> Target:
        """Start another sshpoold (a fresh process, for a clean memory baseline); returns the
        target with its URL, token and pid."""
        assert self.target is not None
        n = len(self.daemons)
        port = free_port()
        state = self.root / f"daemon-{n}"
        exe = Path(sys.executable).with_name("sshpoold")
        argv = [str(exe), "--port", str(port), "--state-dir", str(state), *DAEMON_ARGS]
        log_path = self.root / f"sshpoold-{n}.log"
        with open(log_path, "wb") as log:
            proc = subprocess.Popen(
                argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=self.env()
            )
        self.daemons.append(proc)
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"sshpoold exited with {proc.returncode}:\n{log_path.read_text()[-2000:]}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(url + "/readyz", timeout=1).status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError(f"sshpoold not ready in 30 s:\n{log_path.read_text()[-2000:]}")
            time.sleep(0.05)
        token = (state / "token").read_text().strip()
        return replace(self.target, daemon_url=url, daemon_token=token, daemon_pid=proc.pid)

    def close(self) -> None:
        """Stop the daemon (SIGTERM, then KILL), then sshd, then remove the user and the files."""
        for proc in self.daemons:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.daemons:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
        self.daemons.clear()
        if self.server is not None:
            self.server.stop()
            self.server = None
        if self.user is not None:
            self.user.remove()
            self.user = None
        shutil.rmtree(self.root, ignore_errors=True)
