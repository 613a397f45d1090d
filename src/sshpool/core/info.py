"""What a channel looks like from outside: its states, and a snapshot for status listings."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sshpool.core.hostkeys import fingerprint

if TYPE_CHECKING:
    from sshpool.core.channel import Channel

__all__ = ["STATES", "ChannelInfo"]

#: Every state a channel can be in (metrics and the API's docs enumerate them).
STATES = ("connecting", "up", "reconnecting", "stopped", "failed")


@dataclass(frozen=True)
class ChannelInfo:
    """A snapshot of a channel for status listings; ``password`` is never part of it."""

    alias: str
    user: str
    host: str
    port: int
    has_password: bool
    state: str
    start_time: float
    connected_since: float | None
    last_error: str | None
    last_error_code: str | None
    commands_run: int
    connections: int
    running: int
    queued: int
    dsn_text: str
    mode: str = "exec"
    host_key: str | None = None  # "ssh-ed25519 SHA256:...": on the open link, else as last refused
    tags: tuple[str, ...] = ()

    @classmethod
    def of(cls, channel: Channel) -> ChannelInfo:
        """The channel as it is now; before its host is resolved, as its DSN says."""
        t = channel.target
        return cls(
            alias=channel.alias,
            user=t.user if t else (channel.dsn.user or ""),
            host=channel.dsn.host,
            port=t.port if t else (channel.dsn.port or 22),
            has_password=channel.dsn.password is not None,
            state=channel.state,
            start_time=channel.start_time,
            connected_since=channel.connected_since,
            last_error=channel.last_error,
            last_error_code=channel.last_error_code,
            commands_run=channel.commands_run,
            connections=len(channel.slots.links),
            running=channel.running,
            queued=channel.queued,
            dsn_text=channel.display(),
            mode=channel.mode,
            host_key=_host_key(channel),
            tags=channel.dsn.tags,
        )

    @property
    def is_alive(self) -> bool:
        return self.state == "up"

    def to_dict(self) -> dict[str, Any]:
        """The classic info shape (``pass`` masked) plus the extra fields."""
        return {
            "user": self.user,
            "pass": "****" if self.has_password else None,
            "host": self.host,
            "port": self.port,
            "is_alive": self.is_alive,
            "start_time": self.start_time,
            "state": self.state,
            "last_error": self.last_error,
            "last_error_code": self.last_error_code,
            "connected_since": self.connected_since,
            "commands_run": self.commands_run,
            "connections": self.connections,
            "running": self.running,
            "queued": self.queued,
            "dsn": self.dsn_text,
            "mode": self.mode,
            "host_key": self.host_key,
            "tags": list(self.tags),
        }


def _host_key(channel: Channel) -> str | None:
    """The key the host presents on the channel's open link, else the one it offered at the last
    refused attempt, as ``<type> SHA256:<fingerprint>``."""
    key = next((k for link in channel.slots.links if (k := link.conn.get_server_host_key()) is not None), None)
    if key is None and channel.last_capture is not None:
        key = channel.last_capture.offered
    return f"{key.get_algorithm()} {fingerprint(key)}" if key is not None else None
