"""sshpool: persistent SSH channels, commands in milliseconds.

The layout, stated once (``tests/test_layers.py`` keeps it; a module imports only its own group
and the groups below it):

- values, stdlib only: ``errors``, ``result``, ``dsn``, ``defaults``, ``commands``, ``tables``,
  ``trees``, ``clihelp``, ``selectors``, ``inputs``, ``outframes``, ``_version``;
- ``bridge``: the one module that knows threads (the loop thread the sync twins call through);
- ``core``: the pool itself, asyncio + asyncssh (``core.modes`` is how a channel runs a command);
  ``connection``: the remote-ops helpers over any Runner; ``client``: the REST client (httpx);
- ``runners``: the Runners behind a Connection (``direct`` over core, ``remote`` over client);
  ``daemon``: sshpoold over core; ``ctl``: sshpoolctl over client (REST only);
- ``sync``: the blocking twins; ``digitalocean``: droplets, then ``sync.connect``.

This module imports values only; the rest is imported on first use of a name, so that
``import sshpool`` (and ``sshpoolctl``, which only talks HTTP) stays fast.
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
    from sshpool.connection import AsyncConnection
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
