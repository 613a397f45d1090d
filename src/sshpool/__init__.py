"""sshpool: persistent SSH channels, commands in milliseconds.

The layout, stated once (``tests/test_layers.py`` keeps it; a module imports only its own group
and the groups below it):

- values, stdlib only: ``errors``, ``result``, ``dsn``, ``defaults``, ``commands``, ``tables``,
  ``trees``, ``clihelp``, ``selectors``, ``inputs``, ``groups``, ``_version``, and the four the
  lean ``sshpoolctl`` path reads without ``typing`` or ``json``: ``locate``, ``waits``,
  ``outframes``, ``quickjson``;
- ``bridge``: the one module that knows threads (the loop thread the sync twins call through);
- ``core``: the pool itself, asyncio + asyncssh (``core.modes`` is how a channel runs a command);
  ``connection``: the remote-ops helpers over any Runner; ``client``: the REST client (httpx);
- ``runners``: the Runners behind a Connection (``direct`` over core, ``remote`` over client);
  ``daemon``: sshpoold over core; ``ctl``: sshpoolctl over client (REST only);
- ``sync``: the blocking twins; ``digitalocean``: droplets, then ``sync.connect``.

This module imports nothing but the version: every name is imported on first use, so that
``import sshpool`` stays fast and ``sshpoolctl``, a new process per command, pays only for what
its verb needs.
"""

import sys as _sys

from sshpool._version import __version__

TYPE_CHECKING = False  # typing itself is not imported: it would be on every sshpoolctl call's clock
if TYPE_CHECKING:
    from sshpool.connection import AsyncConnection
    from sshpool.core.channel import Channel, ChannelInfo
    from sshpool.core.pool import Pool
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
        SkippedError,
        SSHPoolError,
        TokenError,
        UnknownAliasError,
    )
    from sshpool.result import Result
    from sshpool.runners.connect import open_connection
    from sshpool.runners.remote import AsyncDaemonClient
    from sshpool.sync import Connection, DaemonClient, connect
del TYPE_CHECKING

_LAZY = {
    "UNSET": "sshpool.defaults",
    "Settings": "sshpool.defaults",
    "DSN": "sshpool.dsn",
    "Result": "sshpool.result",
    "AliasInUseError": "sshpool.errors",
    "AuthenticationError": "sshpool.errors",
    "ChannelClosedError": "sshpool.errors",
    "ChannelUnavailableError": "sshpool.errors",
    "CommandError": "sshpool.errors",
    "CommandFailedError": "sshpool.errors",
    "CommandTimeoutError": "sshpool.errors",
    "DaemonUnavailableError": "sshpool.errors",
    "DSNError": "sshpool.errors",
    "HostKeyError": "sshpool.errors",
    "HostNotAllowedError": "sshpool.errors",
    "LinkLostError": "sshpool.errors",
    "RequestError": "sshpool.errors",
    "RequestTooLargeError": "sshpool.errors",
    "ShuttingDownError": "sshpool.errors",
    "SkippedError": "sshpool.errors",
    "SSHPoolError": "sshpool.errors",
    "TokenError": "sshpool.errors",
    "UnknownAliasError": "sshpool.errors",
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
    "SkippedError",
    "TokenError",
    "UnknownAliasError",
    "__version__",
    "connect",
    "open_connection",
]


def __getattr__(name: str) -> object:
    if name in _LAZY:
        __import__(_LAZY[name])  # importlib itself would be one more import on every start
        value = getattr(_sys.modules[_LAZY[name]], name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'sshpool' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
