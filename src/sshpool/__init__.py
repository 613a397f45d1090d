"""sshpool: persistent SSH channels, commands in milliseconds."""

from .channel import Channel, ChannelInfo
from .connection import AsyncConnection
from .defaults import UNSET, Settings
from .direct import open_connection
from .dsn import DSN
from .errors import (
    AliasInUseError,
    AuthenticationError,
    ChannelClosedError,
    ChannelUnavailableError,
    CommandError,
    CommandFailedError,
    CommandTimeoutError,
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
from .pool import Pool
from .result import Result
from .sync import Connection, connect

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
