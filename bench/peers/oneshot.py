"""A new process per command, as a shell script calls them: ``sshpoolctl run`` in exec and in
warm-shell mode, and the Python floor, a bare ``python -c`` on the same interpreter that sends the
same ``POST /channels/<alias>`` over a raw socket: what any Python client pays (interpreter start
with site, one HTTP request, one JSON decode) before it does anything of its own.

Each starts its own channel on the bench's sshpoold in ``setup``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from ..config import Target
from .common import ECHO, timed_loop
from .sshpool_rest import start_channel

#: The Python floor: plain HTTP/1.1 with ``Connection: close``, the token from SSHPOOL_TOKEN (never
#: on the command line, where ``ps`` shows it), stdout written as the daemon answered it.
FLOOR = r"""
import json, os, socket, sys
host, port, alias, command = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
body = json.dumps({"command": command}).encode()
head = (f"POST /channels/{alias} HTTP/1.1\r\nHost: {host}:{port}\r\n"
        f"Authorization: Bearer {os.environ['SSHPOOL_TOKEN']}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n")
s = socket.create_connection((host, port), timeout=60)
s.sendall(head.encode() + body)
parts = []
while True:
    chunk = s.recv(65536)
    if not chunk:
        break
    parts.append(chunk)
s.close()
status, _, data = b"".join(parts).partition(b"\r\n\r\n")
if b" 200 " not in status.split(b"\r\n", 1)[0] + b" ":
    sys.exit("sshpoold: " + status.split(b"\r\n", 1)[0].decode() + " " + data[:200].decode(errors="replace"))
answer = json.loads(data)
sys.stdout.write(answer["stdout"])
sys.exit(answer.get("exit_code") or 0)
"""


def _sshpoolctl() -> str:
    exe = Path(sys.executable).with_name("sshpoolctl")
    return str(exe) if exe.exists() else (shutil.which("sshpoolctl") or "")


def _interpreter(script: str) -> str:
    """The interpreter an installed console script runs on (its ``#!`` line)."""
    with open(script, "rb") as fh:
        first = fh.readline().decode(errors="replace").strip()
    return first[2:].split()[0] if first.startswith("#!") and len(first) > 2 else sys.executable


class SshpoolctlOneShot:
    """``sshpoolctl run ALIAS CMD``: process start, imports and one HTTP call, every time."""

    name = "sshpoolctl"
    alias = "ctl"
    dsn_query = ""
    flags: tuple[str, ...] = ()

    def __init__(self, target: Target) -> None:
        self.t = target
        self.exe = _sshpoolctl()
        self.port = target.daemon_url.rstrip("/").rsplit(":", 1)[1]
        self.env = {**os.environ, "SSHPOOL_TOKEN": target.daemon_token}

    def argv(self, command: str) -> list[str]:
        return [self.exe, "--host", "127.0.0.1", "--port", self.port, "run", *self.flags, self.alias, command]

    def setup(self) -> str | None:
        """None, or why this sshpool cannot play this contender."""
        if not self.exe:
            raise RuntimeError("sshpoolctl is not installed")
        start_channel(self.t, self.t.dsn(self.alias) + self.dsn_query)
        return None

    def close(self) -> None:
        pass

    def _one(self, command: str) -> tuple[bytes, int | None]:
        p = subprocess.run(self.argv(command), capture_output=True, env=self.env, timeout=60, stdin=subprocess.DEVNULL)
        return p.stdout, p.returncode

    def latency(self, n: int, command: str = ECHO) -> dict[str, Any]:
        return timed_loop(n, lambda: self._one(command)).as_dict()


class SshpoolctlShell(SshpoolctlOneShot):
    """``sshpoolctl run --mode shell ALIAS CMD`` on a channel whose own mode is the warm shell."""

    name = "sshpoolctl-shell"
    alias = "ctl-shell"
    dsn_query = "?mode=shell"
    flags = ("--mode", "shell")

    def setup(self) -> str | None:
        if not self.exe:
            raise RuntimeError("sshpoolctl is not installed")
        usage = subprocess.run(
            [self.exe, "run", "--help"], capture_output=True, text=True, env=self.env, timeout=60, check=False
        ).stdout
        if "--mode" not in usage:
            return "this sshpoolctl has no `run --mode` (see `sshpoolctl run --help`)"
        return super().setup()


class PythonFloor(SshpoolctlOneShot):
    """``python -c FLOOR``: the interpreter sshpoolctl runs on, with site, and nothing of sshpool."""

    name = "python-floor"
    alias = "floor"

    def __init__(self, target: Target) -> None:
        super().__init__(target)
        self.python = _interpreter(self.exe) if self.exe else sys.executable

    def argv(self, command: str) -> list[str]:
        return [self.python, "-c", FLOOR, "127.0.0.1", self.port, self.alias, command]


PEERS = {"sshpoolctl": SshpoolctlOneShot, "sshpoolctl-shell": SshpoolctlShell, "python-floor": PythonFloor}
