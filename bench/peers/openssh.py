"""The OpenSSH client: a fresh ``ssh host cmd`` per command (what a shell loop does), and
ControlMaster multiplexing (what users do today to make that fast); and ``ssh host`` to a prompt,
both ways, for the terminals."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import time
from typing import Any

from ..config import Target
from .common import ECHO, output_command, timed_loop
from .ptys import time_to_prompt


class OpenSSHFresh:
    name = "ssh"

    def __init__(self, target: Target) -> None:
        self.t = target

    def base(self) -> list[str]:
        t = self.t
        return [
            "ssh", "-F", "/dev/null", "-i", t.key, "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes",
            "-o", f"UserKnownHostsFile={t.known_hosts}", "-o", "StrictHostKeyChecking=yes",
            "-p", str(t.port), "-l", t.user,
        ]  # fmt: skip

    def setup(self) -> None:
        pass

    def close(self) -> None:
        pass

    def _one(self, command: str) -> tuple[bytes, int | None]:
        p = subprocess.run(
            [*self.base(), self.t.host, command], capture_output=True, timeout=600, stdin=subprocess.DEVNULL
        )
        return p.stdout, p.returncode

    def latency(self, n: int, command: str = ECHO) -> dict[str, Any]:
        return timed_loop(n, lambda: self._one(command)).as_dict()

    def prompt(self, n: int) -> dict[str, Any]:
        """``ssh host`` on a terminal, as a person logs in: timed to the remote prompt."""
        return time_to_prompt(n, [*self.base(), self.t.host], {**os.environ, "TERM": "xterm"})

    def output(self, size: int) -> dict[str, Any]:
        started = time.perf_counter()
        out, code = self._one(output_command(size))
        elapsed = time.perf_counter() - started
        return {"seconds": elapsed, "bytes": len(out), "failed": int(len(out) != size or code != 0)}


class OpenSSHControlMaster(OpenSSHFresh):
    """``ssh -o ControlMaster=auto -o ControlPath=... -o ControlPersist=...`` with the master up."""

    name = "ssh-controlmaster"

    def __init__(self, target: Target) -> None:
        super().__init__(target)
        self.path = os.path.join(target.scratch, "cm-%C")
        self.master_pid: int | None = None

    def base(self) -> list[str]:
        return [
            *super().base(),
            "-o", "ControlMaster=auto", "-o", f"ControlPath={self.path}", "-o", "ControlPersist=600",
        ]  # fmt: skip

    def setup(self) -> None:
        _, code = self._one("true")
        if code != 0:
            raise RuntimeError(f"ControlMaster did not start: exit {code}")
        check = subprocess.run(
            [*self.base(), "-O", "check", self.t.host], capture_output=True, text=True, timeout=30, check=False
        )
        found = re.search(r"pid=(\d+)", check.stderr + check.stdout)
        if found is None:
            raise RuntimeError(f"no ControlMaster is running: {check.stderr.strip()}")
        self.master_pid = int(found.group(1))

    def close(self) -> None:
        subprocess.run(
            [*self.base(), "-O", "exit", self.t.host], capture_output=True, timeout=30, check=False
        )  # fmt: skip
        if self.master_pid is not None:
            for _ in range(50):
                try:
                    os.kill(self.master_pid, 0)
                except ProcessLookupError:
                    return
                time.sleep(0.05)
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.master_pid, signal.SIGKILL)


PEERS = {"ssh": OpenSSHFresh, "ssh-controlmaster": OpenSSHControlMaster}
