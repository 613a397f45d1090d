"""Every tunable with its default, its help, its parser, its flag name and its ``SSHPOOL_*`` variable.

One table serves the daemon's argparse, the environment and the library's keyword arguments, so
the three can never disagree: each field carries its ``--help`` text and the one parser that reads
its value from text, whether the text comes from a flag or from a variable. Every wait has a finite
default: nothing waits forever unless the caller says so (``None``; for ``command_timeout`` as text
also ``0``, ``none`` or ``off``).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import Field, dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Final

from sshpool.locate import state_dir

__all__ = [
    "HOST_KEY_POLICIES",
    "MODES",
    "NO_LIMIT_WORDS",
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
GiB = 1024 * MiB
#: The texts that mean "no limit" for a setting that may have none (``command_timeout``), besides 0;
#: the REST API's ``"timeout"`` takes them too (where 0 stays a refusal, as it always was).
NO_LIMIT_WORDS: Final = ("none", "off")


def _number(text: str, kind: type[int] | type[float], hint: str = "") -> Any:
    try:
        value = kind(text)
        if value != value:  # nan: no amount of anything
            raise ValueError
    except ValueError:
        raise ValueError(f"expected a {'whole ' if kind is int else ''}number, got {text!r}") from None
    if value < 0:
        raise ValueError(f"must not be negative: {text!r}{hint}")
    return value


def _seconds(text: str) -> float:
    """A duration: a number >= 0."""
    return float(_number(text, float))


def _seconds_or_no_limit(text: str) -> float | None:
    """A duration that may be unlimited: ``0``, ``none`` or ``off`` (any case) mean no limit (``None``)."""
    if text.strip().lower() in NO_LIMIT_WORDS:
        return None
    value = float(_number(text, float, " (0, none or off: no limit)"))
    return None if value == 0 else value


def _count(text: str) -> int:
    """A whole number >= 0 (connections, probes, bytes)."""
    return int(_number(text, int))


def _one_of(choices: tuple[str, ...]) -> Callable[[str], str]:
    def choice(text: str) -> str:
        if text not in choices:
            raise ValueError(f"must be one of {', '.join(choices)}")
        return text

    return choice


def _setting(default: Any, help: str, parse: Callable[[str], Any], metavar: str | None = None) -> Any:
    """A Settings field: ``help`` is its ``--help`` text (the default is added, or put where it says
    ``{default}``), ``parse`` reads it from a flag or an ``SSHPOOL_*`` variable, ``metavar`` names
    its unit (BYTES defaults are shown in MiB/GiB)."""
    return field(default=default, metadata={"help": help, "parse": parse, "metavar": metavar})


def _choice(default: str, help: str, choices: tuple[str, ...]) -> Any:
    return field(default=default, metadata={"help": help, "parse": _one_of(choices), "choices": choices})


@dataclass(frozen=True)
class Settings:
    """Tunables of a pool (and of the daemon around it). Each field's metadata is its ``--help``
    text and its parser (:meth:`help_text`, :meth:`parse`)."""

    command_timeout: float | None = _setting(
        600.0, "seconds a command may run before it is stopped", _seconds_or_no_limit, "SECONDS"
    )
    connect_timeout: float = _setting(15.0, "seconds for TCP connect plus SSH handshake", _seconds, "SECONDS")
    keepalive_interval: float = _setting(
        15.0,
        "seconds between keepalive probes (default: {default}; ssh_config ServerAliveInterval)",
        _seconds,
        "SECONDS",
    )
    keepalive_count_max: int = _setting(3, "unanswered probes before the link is declared dead", _count, "N")
    backoff_initial: float = _setting(
        0.5, "first reconnect delay in seconds, doubled each attempt", _seconds, "SECONDS"
    )
    backoff_max: float = _setting(30.0, "largest reconnect delay in seconds", _seconds, "SECONDS")
    max_sessions: int = _setting(8, "concurrent commands per SSH connection", _count, "N")
    max_connections: int = _setting(4, "SSH connections per channel when commands queue", _count, "N")
    idle_connection_timeout: float = _setting(
        60.0,
        "seconds an extra connection of a channel (beyond the first) is kept with nothing to run",
        _seconds,
        "SECONDS",
    )
    max_handshakes: int = _setting(4, "SSH handshakes in flight per host", _count, "N")
    max_handshakes_total: int = _setting(32, "SSH handshakes in flight overall", _count, "N")
    output_limit: int = _setting(
        64 * MiB, "bytes of output kept per stream; the rest is counted, not kept", _count, "BYTES"
    )
    output_budget: int = _setting(512 * MiB, "bytes of output held across all commands at once", _count, "BYTES")
    body_limit: int = _setting(1 * MiB, "largest request body in bytes", _count, "BYTES")
    file_limit: int = _setting(
        1 * GiB, "largest file uploaded through PUT /channels/<alias>/files, in bytes", _count, "BYTES"
    )
    max_terminals: int = _setting(
        32, "interactive terminals open at once (WS /channels/<alias>/terminal, sshpoolctl ssh)", _count, "N"
    )
    start_wait: float = _setting(
        10.0, "seconds POST /channels waits for the first connect attempt", _seconds, "SECONDS"
    )
    drain_timeout: float = _setting(
        10.0,
        "seconds running commands get on shutdown or stop, and file transfers on shutdown",
        _seconds,
        "SECONDS",
    )
    host_key_policy: str = _choice(
        "strict", "strict (known_hosts), accept-new (record unknown keys) or off", HOST_KEY_POLICIES
    )
    mode: str = _choice(
        "exec",
        "exec (a fresh SSH session per command) or shell (warm remote shells, see the README's Warm shells)",
        MODES,
    )

    def with_(self, **changes: Any) -> Settings:
        return replace(self, **{k: v for k, v in changes.items() if v is not UNSET and v is not None})

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Defaults, then ``SSHPOOL_<NAME>`` variables, then explicit overrides."""
        return cls(**cls.env_values(environ)).with_(**overrides)

    @staticmethod
    def env_values(environ: Mapping[str, str] | None = None) -> dict[str, Any]:
        """The settings that ``SSHPOOL_<NAME>`` variables give (an empty one is not given), parsed;
        a bad one raises ValueError naming the variable."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for name in Settings.names():
            variable = "SSHPOOL_" + name.upper()
            raw = env.get(variable)
            if raw is None or raw == "":
                continue
            try:
                values[name] = Settings.parse(name, raw)
            except ValueError as exc:
                raise ValueError(f"{variable}={raw!r}: {exc}") from None
        return values

    @staticmethod
    def parse(name: str, text: str) -> Any:
        """Setting ``name``'s value from text, a flag's or a variable's: the one rule for both.
        A ValueError says what was expected, without naming the setting (the caller does)."""
        return _FIELDS[name].metadata["parse"](text)

    @staticmethod
    def help_text(name: str) -> str:
        """Setting ``name``'s ``--help`` text, its default included."""
        f = _FIELDS[name]
        default: Any = f.default
        if f.metadata.get("metavar") == "BYTES":
            shown = f"{default // GiB} GiB" if default % GiB == 0 else f"{default // MiB} MiB"
        else:
            shown = f"{default:g}" if isinstance(default, float) else str(default)
        text: str = f.metadata["help"]
        return text.format(default=shown) if "{default}" in text else f"{text} (default: {shown})"

    @staticmethod
    def names() -> list[str]:
        return list(_FIELDS)

    @staticmethod
    def check_names(given: Mapping[str, object]) -> None:
        """Refuse keyword settings that are not tunables, naming the known ones (a typo must not
        be ignored silently)."""
        unknown = sorted(set(given) - set(Settings.names()))
        if unknown:
            raise TypeError(f"unknown setting(s) {', '.join(unknown)}; known: {', '.join(Settings.names())}")


_FIELDS: Final[dict[str, Field[Any]]] = {f.name: f for f in fields(Settings)}


def default_state_dir(environ: Mapping[str, str] | None = None) -> Path:
    """``SSHPOOL_STATE_DIR``, else ``$XDG_STATE_HOME/sshpool``, else ``~/.local/state/sshpool``."""
    return Path(state_dir(environ))
