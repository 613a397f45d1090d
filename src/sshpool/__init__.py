"""sshpool: persistent SSH channels, commands in milliseconds."""

from __future__ import annotations

from .channel import Channel, ChannelInfo
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

__version__ = "0.1.0"

__all__ = [
    "DSN",
    "UNSET",
    "AliasInUseError",
    "AuthenticationError",
    "Channel",
    "ChannelClosedError",
    "ChannelInfo",
    "ChannelUnavailableError",
    "CommandError",
    "CommandFailedError",
    "CommandTimeoutError",
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
]
