"""Reading a process's CPU, memory and descriptors from /proc, and cutting SSH connections.

The recovery scenario kills the sshd process that serves one client connection, as a crashed
host or a dropped link would; ``ss`` maps the client's local port to that process.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess

_TICK = os.sysconf("SC_CLK_TCK")
_PAGE = os.sysconf("SC_PAGE_SIZE")


def cpu_seconds(pid: int) -> float:
    """User plus system CPU of ``pid`` (threads included), in seconds; 0 when it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _TICK


def rss_bytes(pid: int) -> int:
    """Resident set size of ``pid`` in bytes."""
    with open(f"/proc/{pid}/statm") as fh:
        return int(fh.read().split()[1]) * _PAGE


def fd_count(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def _ss(filter_expr: str) -> str:
    return subprocess.run(
        ["ss", "-Htnp", "state", "established", filter_expr],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    ).stdout


def local_ports_of(pid: int, sshd_port: int) -> set[int]:
    """Client-side ports of ``pid``'s TCP connections to the sshd on ``sshd_port``."""
    out = _ss(f"( dport = :{sshd_port} )")
    ports: set[int] = set()
    for line in out.splitlines():
        if f"pid={pid}," not in line:
            continue
        cols = line.split()
        if len(cols) >= 4:
            ports.add(int(cols[2].rsplit(":", 1)[1]))
    return ports


def cut_connections(sshd_port: int, client_ports: set[int]) -> int:
    """SIGKILL the sshd processes serving ``client_ports``; returns how many were killed."""
    killed = 0
    for port in client_ports:
        out = _ss(f"( sport = :{sshd_port} and dport = :{port} )")
        for pid in {int(p) for p in re.findall(r"pid=(\d+)", out)}:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
                killed += 1
    return killed
