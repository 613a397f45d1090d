"""sshpool: persistent SSH channels, commands in milliseconds.

The SSH side (asyncssh) is imported on first use, so that ``sshpoolctl``, which only talks HTTP,
starts in a fraction of the time.
"""

import importlib as _importlib
import typing as _typing

from sshpool._version import __version__
from sshpool.defaults import UNSET, Settings
from sshpool.dsn import DSN
from sshpool.errors import (
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
from sshpool.result import Result

if _typing.TYPE_CHECKING:
    from sshpool.connection.helpers import AsyncConnection
    from sshpool.core.channel import Channel, ChannelInfo
    from sshpool.core.pool import Pool
    from sshpool.runners.connect import open_connection
    from sshpool.runners.remote import AsyncDaemonClient
    from sshpool.sync import Connection, DaemonClient, connect

_LAZY = {
    "Channel": "sshpool.core.channel",
    "ChannelInfo": "sshpool.core.channel",
    "AsyncConnection": "sshpool.connection",
    "open_connection": "sshpool.runners.connect",
    "AsyncDaemonClient": "sshpool.runners.remote",
    "Pool": "sshpool.core.pool",
    "Connection": "sshpool.sync",
    "DaemonClient": "sshpool.sync",
    "connect": "sshpool.sync",
}


__all__ = [
    "DSN",
    "UNSET",
    "AliasInUseError",
    "AsyncConnection",
    "AsyncDaemonClient",
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
    "DaemonClient",
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
        value = getattr(_importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'sshpool' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
