"""Every tunable with its default, its flag name and its ``SSHPOOL_*`` variable.

One table serves the daemon's argparse, the environment and the library's keyword arguments, so
the three can never disagree. Every wait has a finite default: nothing waits forever unless the
caller says so (``None``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any, Final

__all__ = [
    "HOST_KEY_POLICIES",
    "MODES",
    "UNSET",
    "Settings",
    "Timeout",
    "Unset",
    "default_state_dir",
]


class Unset:
    """The type of :data:`UNSET`: tells "not given" apart from ``None`` (which means "no limit")."""

    _instance: Unset | None = None

    def __new__(cls) -> Unset:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "UNSET"

    def __bool__(self) -> bool:
        return False


UNSET: Final = Unset()

Timeout = float | None | Unset
"""A timeout argument: seconds, ``None`` for no limit, or :data:`UNSET` for the default."""

HOST_KEY_POLICIES = ("strict", "accept-new", "off")
MODES = ("exec", "shell")
MiB = 1024 * 1024


@dataclass(frozen=True)
class Settings:
    """Tunables of a pool (and of the daemon around it). Field docs double as ``--help`` text."""

    command_timeout: float | None = 600.0
    connect_timeout: float = 15.0
    keepalive_interval: float = 15.0
    keepalive_count_max: int = 3
    backoff_initial: float = 0.5
    backoff_max: float = 30.0
    max_sessions: int = 8
    max_connections: int = 4
    idle_connection_timeout: float = 60.0
    max_handshakes: int = 4
    max_handshakes_total: int = 32
    output_limit: int = 64 * MiB
    output_budget: int = 512 * MiB
    body_limit: int = 1 * MiB
    file_limit: int = 1024 * MiB
    start_wait: float = 10.0
    drain_timeout: float = 10.0
    host_key_policy: str = "strict"
    mode: str = "exec"

    def with_(self, **changes: Any) -> Settings:
        return replace(self, **{k: v for k, v in changes.items() if v is not UNSET and v is not None})

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Defaults, then ``SSHPOOL_<NAME>`` variables, then explicit overrides."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for f in fields(cls):
            raw = env.get("SSHPOOL_" + f.name.upper())
            if raw is None or raw == "":
                continue
            values[f.name] = _convert(f.name, raw)
        settings = cls(**values)
        return settings.with_(**overrides)

    @staticmethod
    def names() -> list[str]:
        return [f.name for f in fields(Settings)]

    @staticmethod
    def check_names(given: Mapping[str, object]) -> None:
        """Refuse keyword settings that are not tunables, naming the known ones (a typo must not
        be ignored silently)."""
        unknown = sorted(set(given) - set(Settings.names()))
        if unknown:
            raise TypeError(f"unknown setting(s) {', '.join(unknown)}; known: {', '.join(Settings.names())}")


HELP: Final[dict[str, str]] = {
    "command_timeout": "seconds a command may run before it is stopped (default: 600)",
    "connect_timeout": "seconds for TCP connect plus SSH handshake (default: 15)",
    "keepalive_interval": "seconds between keepalive probes (default: 15; ssh_config ServerAliveInterval)",
    "keepalive_count_max": "unanswered probes before the link is declared dead (default: 3)",
    "backoff_initial": "first reconnect delay in seconds, doubled each attempt (default: 0.5)",
    "backoff_max": "largest reconnect delay in seconds (default: 30)",
    "max_sessions": "concurrent commands per SSH connection (default: 8)",
    "max_connections": "SSH connections per channel when commands queue (default: 4)",
    "idle_connection_timeout": "seconds an extra connection of a channel (beyond the first) is kept with nothing "
    "to run (default: 60)",
    "max_handshakes": "SSH handshakes in flight per host (default: 4)",
    "max_handshakes_total": "SSH handshakes in flight overall (default: 32)",
    "output_limit": "bytes of output kept per stream; the rest is counted, not kept (default: 64 MiB)",
    "output_budget": "bytes of output held across all commands at once (default: 512 MiB)",
    "body_limit": "largest request body in bytes (default: 1 MiB)",
    "file_limit": "largest file uploaded through PUT /channels/<alias>/files, in bytes (default: 1 GiB)",
    "start_wait": "seconds POST /channels waits for the first connect attempt (default: 10)",
    "drain_timeout": "seconds running commands get on shutdown or stop, and file transfers on shutdown (default: 10)",
    "host_key_policy": "strict (known_hosts), accept-new (record unknown keys) or off (default: strict)",
    "mode": "exec (a fresh SSH session per command) or shell (warm remote shells, see the README's Warm shells)"
    " (default: exec)",
}


def _convert(name: str, raw: str) -> Any:
    default = getattr(Settings, name)
    try:
        if name == "host_key_policy":
            if raw not in HOST_KEY_POLICIES:
                raise ValueError(f"must be one of {', '.join(HOST_KEY_POLICIES)}")
            return raw
        if name == "mode":
            if raw not in MODES:
                raise ValueError(f"must be one of {', '.join(MODES)}")
            return raw
        if name == "command_timeout" and raw.lower() in ("none", "0", "off"):
            return None
        if isinstance(default, int) and not isinstance(default, bool):
            return int(raw)
        return float(raw)
    except ValueError as exc:
        raise ValueError(f"SSHPOOL_{name.upper()}={raw!r}: {exc}") from None


def default_state_dir(environ: Mapping[str, str] | None = None) -> Path:
    """``SSHPOOL_STATE_DIR``, else ``$XDG_STATE_HOME/sshpool``, else ``~/.local/state/sshpool``."""
    env = os.environ if environ is None else environ
    if env.get("SSHPOOL_STATE_DIR"):
        return Path(env["SSHPOOL_STATE_DIR"]).expanduser()
    xdg = env.get("XDG_STATE_HOME")
    base = Path(xdg).expanduser() if xdg else Path(env.get("HOME") or Path.home()) / ".local" / "state"
    return base / "sshpool"
