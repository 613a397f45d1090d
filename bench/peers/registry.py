"""Contender name -> the class that plays it, imported only inside that contender's worker
(parallel-ssh's gevent and paramiko's threads stay out of every other process)."""

from __future__ import annotations

import importlib
from typing import Any

from ..config import Target

MODULES = {
    "asyncssh": "asyncssh_raw",
    "subshell-floor": "subshell_floor",
    "sshpool-lib": "sshpool_lib",
    "sshpool-sync": "sshpool_lib",
    "sshpool-fast": "sshpool_fast",
    "sshpoold-rest": "sshpool_rest",
    "sshpoold-rest-fast": "sshpool_rest",
    "sshpoold-rest-frames": "rest_frames",
    "sshpool-daemon-lib": "sshpool_daemon_lib",
    "sshpoolctl": "oneshot",
    "sshpoolctl-shell": "oneshot",
    "python-floor": "oneshot",
    "sshpoolctl-ssh": "terminal",
    "sshpool-terminal": "terminal",
    "asyncssh-pty": "terminal",
    "sshpool-ui": "ui_page",
    "ssh": "openssh",
    "ssh-controlmaster": "openssh",
    "paramiko": "paramiko_peers",
    "paramiko-nodelay": "paramiko_peers",
    "fabric": "paramiko_peers",
    "fabric-nodelay": "paramiko_peers",
    "pssh": "pssh_peers",
    "pssh-nodelay": "pssh_peers",
}


def load(name: str, target: Target) -> Any:
    """An instance of contender ``name`` aimed at ``target``."""
    if name not in MODULES:
        raise ValueError(f"unknown contender {name!r}; known: {', '.join(MODULES)}")
    module = importlib.import_module(f"bench.peers.{MODULES[name]}")
    return module.PEERS[name](target)
