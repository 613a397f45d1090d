"""Where sshpoold listens and which token it takes, found the way every sshpool client finds them.

The daemon: an explicit URL, ``SSHPOOL_URL``, ``daemon.json`` in the state dir (while its pid
runs), then 127.0.0.1:8877. The token: an explicit one, ``SSHPOOL_TOKEN``, then the state dir's
``token`` file. Each answer says where it came from, so a "not running" or a "refused the token"
can name the setting to fix.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from sshpool.defaults import default_state_dir
from sshpool.errors import RequestError

__all__ = ["DEFAULT_URL", "DaemonEndpoint", "find_daemon", "find_token", "pid_alive"]

DEFAULT_URL = "http://127.0.0.1:8877"


@dataclass(frozen=True)
class DaemonEndpoint:
    """Where the daemon listens: ``url`` (for messages and the Host header), ``socket`` for a Unix
    socket, and ``source`` saying how it was found (shown when it cannot be reached)."""

    url: str
    socket: str | None = None
    source: str = "default"

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
    with contextlib.suppress(OSError, ValueError):
        info = json.loads(path.read_text(encoding="utf-8"))
        if isinstance(info, dict) and pid_alive(info.get("pid")):
            if isinstance(info.get("socket"), str):
                return DaemonEndpoint("http://localhost", info["socket"], str(path))
            if isinstance(info.get("url"), str):
                return DaemonEndpoint(info["url"].rstrip("/"), None, str(path))
    return DaemonEndpoint(DEFAULT_URL, None, "default")


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
