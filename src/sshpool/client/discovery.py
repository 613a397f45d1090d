"""Where sshpoold listens and which token it takes, found the way every sshpool client finds them
(the rules are :mod:`sshpool.locate`'s; this module gives them the client's types).

The daemon: an explicit URL, ``SSHPOOL_URL``, ``daemon.json`` in the state dir (while its pid
runs), then 127.0.0.1:8877. The token: an explicit one, ``SSHPOOL_TOKEN``, then the state dir's
``token`` file. Each answer says where it came from, so a "not running" or a "refused the token"
can name the setting to fix.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from sshpool.errors import RequestError
from sshpool.locate import DEFAULT_URL, find_address, find_token, pid_alive, read_daemon_json

__all__ = ["DEFAULT_URL", "DaemonEndpoint", "find_daemon", "find_token", "pid_alive", "read_daemon_json"]


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


def find_daemon(url: str | None = None, environ: Mapping[str, str] | None = None) -> DaemonEndpoint:
    """The argument, else ``SSHPOOL_URL``, else ``daemon.json`` (its pid alive), else 8877."""
    try:
        return DaemonEndpoint(*find_address(url, environ))
    except ValueError as exc:
        raise RequestError(str(exc)) from None
