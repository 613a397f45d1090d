"""Where sshpoold listens and which token it takes, found the way every sshpool client finds them.

The daemon: an explicit URL, ``SSHPOOL_URL``, ``daemon.json`` in the state dir (while its pid
runs), then 127.0.0.1:8877. The token: an explicit one, ``SSHPOOL_TOKEN``, then the state dir's
``token`` file. Each answer says where it came from, so a "not running" or a "refused the token"
can name the setting to fix.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from sshpool.defaults import default_state_dir
from sshpool.errors import RequestError

__all__ = ["DEFAULT_URL", "DaemonEndpoint", "find_daemon", "find_token", "pid_alive", "read_daemon_json"]

DEFAULT_URL = "http://127.0.0.1:8877"


@dataclass(frozen=True)
class DaemonEndpoint:
    """Where the daemon listens: ``url`` (for messages and the Host header), ``socket`` for a Unix
    socket, and ``source`` saying how it was found (shown when it cannot be reached)."""

    url: str
    socket: str | None = None
    source: str = "default"
    #: Why the state dir's ``daemon.json`` gave no address, when the default was taken for that
    #: reason (the state dir does not exist, holds no daemon.json, is another user's...).
    note: str = ""

    @property
    def where(self) -> str:
        if self.socket:
            return f"unix:{self.socket}"
        parts = urlsplit(self.url)
        return parts.netloc or self.url


def pid_alive(pid: Any) -> bool:
    """``pid`` names a process that runs now (one of another user's counts)."""
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def find_daemon(url: str | None = None, environ: Mapping[str, str] | None = None) -> DaemonEndpoint:
    """The argument, else ``SSHPOOL_URL``, else ``daemon.json`` (its pid alive), else 8877."""
    env = os.environ if environ is None else environ
    if url:
        return _endpoint(url, "argument")
    if env.get("SSHPOOL_URL"):
        return _endpoint(env["SSHPOOL_URL"], "SSHPOOL_URL")
    path = default_state_dir(env) / "daemon.json"
    info, note = read_daemon_json(path)
    if info is not None:
        if isinstance(info.get("socket"), str):
            return DaemonEndpoint("http://localhost", info["socket"], str(path))
        return DaemonEndpoint(str(info["url"]).rstrip("/"), None, str(path))
    return DaemonEndpoint(DEFAULT_URL, None, "default", note)


def read_daemon_json(path: Path) -> tuple[dict[str, Any] | None, str]:
    """``daemon.json`` when it names a daemon that runs (a ``url`` or a ``socket``, its ``pid``
    alive); else None and why not, in words that name the file or its state dir."""
    state_dir = path.parent
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        if not state_dir.is_dir():
            return None, f"the state dir {state_dir} does not exist"
        return None, f"{state_dir} holds no daemon.json"
    except PermissionError:
        return None, f"{path} is not readable: permission denied (another user's state dir?)"
    except (OSError, ValueError) as exc:
        return None, f"{path} is not readable ({exc})"
    if not isinstance(info, dict) or not any(isinstance(info.get(k), str) for k in ("url", "socket")):
        return None, f"{path} names no address"
    if not pid_alive(info.get("pid")):
        return None, f"{path} names pid {info.get('pid')}, which is not running (left over)"
    return info, ""


def _endpoint(url: str, source: str) -> DaemonEndpoint:
    url = url.strip()
    if url.startswith("unix:"):
        return DaemonEndpoint("http://localhost", url[len("unix:") :], source)
    if "://" not in url:
        url = "http://" + url
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise RequestError(
            f"{source}: {url!r} is not a daemon address; use http://HOST:PORT, https://HOST:PORT or unix:/path"
        )
    return DaemonEndpoint(url.rstrip("/"), None, source)


def find_token(token: str | None = None, environ: Mapping[str, str] | None = None) -> tuple[str | None, str]:
    """The token and where it came from: the argument, ``SSHPOOL_TOKEN``, then ``<state dir>/token``."""
    env = os.environ if environ is None else environ
    if token:
        return token, "the token argument"
    if env.get("SSHPOOL_TOKEN"):
        return env["SSHPOOL_TOKEN"].strip(), "SSHPOOL_TOKEN"
    path = default_state_dir(env) / "token"
    try:
        text = path.read_text(encoding="utf-8").strip()
    except OSError:
        return None, f"no SSHPOOL_TOKEN and no readable {path}"
    return (text or None), str(path)
