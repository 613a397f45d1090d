"""sshpool: persistent SSH channels, commands in milliseconds.

The SSH side (asyncssh) is imported on first use, so that ``sshpoolctl``, which only talks HTTP,
starts in a fraction of the time.
"""

import importlib as _importlib
import typing as _typing

from .defaults import UNSET, Settings
from .dsn import DSN
from .errors import (
    AliasInUseError,
    AuthenticationError,
    ChannelClosedError,
    ChannelUnavailableError,
    CommandError,
    CommandFailedError,
    CommandTimeoutError,
    DaemonUnavailableError,
    DSNError,
    HostKeyError,
    HostNotAllowedError,
    LinkLostError,
    RequestError,
    RequestTooLargeError,
    ShuttingDownError,
    SSHPoolError,
    TokenError,
    UnknownAliasError,
)
from .result import Result

if _typing.TYPE_CHECKING:
    from .channel import Channel, ChannelInfo
    from .connection import AsyncConnection
    from .direct import open_connection
    from .pool import Pool
    from .sync import Connection, connect

_LAZY = {
    "Channel": "channel",
    "ChannelInfo": "channel",
    "AsyncConnection": "connection",
    "open_connection": "direct",
    "Pool": "pool",
    "Connection": "sync",
    "connect": "sync",
}

__version__ = "0.1.0"

__all__ = [
    "DSN",
    "UNSET",
    "AliasInUseError",
    "AsyncConnection",
    "AuthenticationError",
    "Channel",
    "ChannelClosedError",
    "ChannelInfo",
    "ChannelUnavailableError",
    "CommandError",
    "CommandFailedError",
    "CommandTimeoutError",
    "Connection",
    "DSNError",
    "DaemonUnavailableError",
    "HostKeyError",
    "HostNotAllowedError",
    "LinkLostError",
    "Pool",
    "RequestError",
    "RequestTooLargeError",
    "Result",
    "SSHPoolError",
    "Settings",
    "ShuttingDownError",
    "TokenError",
    "UnknownAliasError",
    "__version__",
    "connect",
    "open_connection",
]


def __getattr__(name: str) -> _typing.Any:
    if name in _LAZY:
        value = getattr(_importlib.import_module(f".{_LAZY[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'sshpool' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
