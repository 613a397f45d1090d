"""One daemon per state dir, held by an OS lock for the daemon's whole life.

Two daemons on one state dir would each open an SSH connection to every stored host, write the same
database and audit log, and the one that stops first would delete the other's ``daemon.json``, so
every client would say "not running" while a daemon serves. ``flock`` is released by the kernel when
the process ends however it ends (``kill -9`` included), so a stale lock never needs cleaning up,
and the lock file holds the owner's pid for the refusal message while ``daemon.json`` is not
written yet.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from pathlib import Path

__all__ = ["StateDirBusy", "StateLock"]

LOCK_NAME = "daemon.lock"


class StateDirBusy(RuntimeError):
    """Another live process holds the state dir."""


class StateLock:
    """The exclusive lock on a state dir; :meth:`acquire` raises :class:`StateDirBusy` with the owner."""

    def __init__(self, state_dir: Path) -> None:
        self.state_dir = state_dir
        self.path = state_dir / LOCK_NAME
        self._fd: int | None = None

    def acquire(self) -> None:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise StateDirBusy(self._owner()) from None
        except BaseException:
            os.close(fd)
            raise
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def _owner(self) -> str:
        """``already running, pid N, on URL`` from ``daemon.json``, or the lock file's pid alone
        while the owner is still starting."""
        pid, where = "", ""
        with contextlib.suppress(OSError, ValueError):
            pid = self.path.read_text(encoding="utf-8").strip()
        with contextlib.suppress(OSError, ValueError, AttributeError):
            info = json.loads((self.state_dir / "daemon.json").read_text(encoding="utf-8"))
            if str(info.get("pid")) == pid or not pid:
                pid = str(info.get("pid", pid))
                where = info.get("url") or (f"unix:{info['socket']}" if info.get("socket") else "")
        text = "already running"
        if pid:
            text += f", pid {pid}"
        text += f", on {where}" if where else " (still starting)"
        return (
            f"another sshpoold is {text}, with the state dir {self.state_dir}: stop it first, "
            "or give this one its own --state-dir"
        )
