"""Every error sshpool raises, in one place, so callers can catch by meaning.

The tree::

    SSHPoolError
    ├── DSNError (ValueError)                 bad_dsn
    ├── RequestError (ValueError)             bad_request
    ├── UnknownAliasError (KeyError)          unknown_alias
    ├── AliasInUseError                       alias_in_use
    ├── HostNotAllowedError (PermissionError) host_not_allowed
    ├── RequestTooLargeError                  too_large
    ├── TokenError (PermissionError)          unauthorized
    ├── ShuttingDownError (ConnectionError)   shutting_down
    ├── DaemonUnavailableError (ConnectionError)  daemon_unavailable  -- no answer from sshpoold
    ├── SkippedError                          skipped  -- a rolling fan-out halted before this channel
    ├── ChannelUnavailableError (ConnectionError)  channel_unavailable   -- the command never started
    │   ├── AuthenticationError               auth_failed
    │   └── HostKeyError                      host_key_unknown / host_key_changed
    └── CommandError                          -- the command started; carries its Result
        ├── CommandFailedError (ValueError)   non-zero exit, a signal, or stderr for wait()
        ├── CommandTimeoutError (TimeoutError) timeout
        ├── LinkLostError (ConnectionError)   link_lost
        └── ChannelClosedError                channel_stopped

Each class has a ``code``: the same word appears in REST answers (``error``), in the daemon's
logs and metrics, and lets the REST client raise the very class a direct connection raises.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    from sshpool.result import Result

__all__ = [
    "AliasInUseError",
    "AuthenticationError",
    "ChannelClosedError",
    "ChannelUnavailableError",
    "CommandError",
    "CommandFailedError",
    "CommandTimeoutError",
    "DSNError",
    "DaemonUnavailableError",
    "HostKeyError",
    "HostNotAllowedError",
    "LinkLostError",
    "RequestError",
    "RequestTooLargeError",
    "SSHPoolError",
    "ShuttingDownError",
    "SkippedError",
    "TokenError",
    "UnknownAliasError",
    "error_class",
    "error_from_code",
]


class SSHPoolError(Exception):
    """Base of every sshpool error; ``code`` is the stable machine-readable name."""

    code: ClassVar[str] = "error"
    #: HTTP status the daemon answers with for this error.
    http_status: ClassVar[int] = 500

    def __init__(self, message: str, *, alias: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.alias = alias
        if code is not None:
            self.code = code  # type: ignore[misc]  # an instance may narrow its class's code

    def __str__(self) -> str:
        return self.message


class DSNError(SSHPoolError, ValueError):
    code = "bad_dsn"
    http_status = 400


class RequestError(SSHPoolError, ValueError):
    code = "bad_request"
    http_status = 400


class UnknownAliasError(SSHPoolError, KeyError):
    """KeyError so ``except KeyError`` works; ``__str__`` avoids KeyError's quoting."""

    code = "unknown_alias"
    http_status = 404

    def __init__(self, alias: str, known: list[str] | None = None, *, message: str | None = None) -> None:
        if message is None:
            names = ", ".join(sorted(known or [])) or "none"
            message = f"unknown alias {alias!r}; known channels: {names}"
        super().__init__(message, alias=alias)
        self.known = sorted(known or [])


class AliasInUseError(SSHPoolError):
    code = "alias_in_use"
    http_status = 409


class HostNotAllowedError(SSHPoolError, PermissionError):
    code = "host_not_allowed"
    http_status = 403


class RequestTooLargeError(SSHPoolError):
    code = "too_large"
    http_status = 413


class TokenError(SSHPoolError, PermissionError):
    code = "unauthorized"
    http_status = 401


class ShuttingDownError(SSHPoolError, ConnectionError):
    code = "shutting_down"
    http_status = 503


class DaemonUnavailableError(SSHPoolError, ConnectionError):
    """The REST client got no answer from sshpoold: not running, unreachable, or it went away."""

    code = "daemon_unavailable"
    http_status = 503


class SkippedError(SSHPoolError):
    """A rolling fan-out reached its ``halt`` before this channel's turn: nothing ran on it. Only ever
    a channel's result inside a fan-out's answer, never an answer of its own."""

    code = "skipped"
    http_status = 200


class ChannelUnavailableError(SSHPoolError, ConnectionError):
    """The channel had no working link in time: the command was never started, so a retry is safe."""

    code = "channel_unavailable"
    http_status = 503


class AuthenticationError(ChannelUnavailableError):
    code = "auth_failed"


class HostKeyError(ChannelUnavailableError):
    """``code`` is ``host_key_unknown`` or ``host_key_changed``; ``fingerprint`` is SHA256:..."""

    code = "host_key_unknown"

    def __init__(
        self,
        message: str,
        *,
        alias: str | None = None,
        code: str | None = None,
        fingerprint: str | None = None,
    ) -> None:
        super().__init__(message, alias=alias, code=code)
        self.fingerprint = fingerprint


class CommandError(SSHPoolError):
    """The command started; ``result`` holds what it gave back before it failed."""

    code = "command_failed"
    http_status = 200

    def __init__(self, message: str, *, result: Result | None = None, alias: str | None = None) -> None:
        super().__init__(message, alias=alias if alias is not None else getattr(result, "alias", None))
        self.result = result

    @property
    def stderr(self) -> str:
        return self.result.stderr if self.result is not None else ""

    @property
    def stdout(self) -> str:
        return self.result.stdout if self.result is not None else ""


class CommandFailedError(CommandError, ValueError):
    code = "command_failed"


class CommandTimeoutError(CommandError, TimeoutError):
    code = "timeout"


class LinkLostError(CommandError, ConnectionError):
    code = "link_lost"


class ChannelClosedError(CommandError):
    code = "channel_stopped"


_BY_CODE: dict[str, type[SSHPoolError]] = {
    cls.code: cls
    for cls in (
        DSNError,
        RequestError,
        UnknownAliasError,
        AliasInUseError,
        HostNotAllowedError,
        RequestTooLargeError,
        TokenError,
        ShuttingDownError,
        DaemonUnavailableError,
        SkippedError,
        ChannelUnavailableError,
        AuthenticationError,
        CommandFailedError,
        CommandTimeoutError,
        LinkLostError,
        ChannelClosedError,
    )
}
_BY_CODE["host_key_unknown"] = HostKeyError
_BY_CODE["host_key_changed"] = HostKeyError


def error_class(code: str) -> type[SSHPoolError]:
    """The class for a code from a REST answer; unknown codes map to the base class."""
    return _BY_CODE.get(code, SSHPoolError)


def error_from_code(code: str, message: str, *, alias: str | None = None, **extra: Any) -> SSHPoolError:
    """Rebuild, on the client side, the exception a direct connection would have raised."""
    cls = error_class(code)
    if cls is UnknownAliasError:
        return UnknownAliasError(alias or "", extra.get("known"), message=message)
    if issubclass(cls, CommandError):
        return cls(message, result=extra.get("result"), alias=alias)
    if cls is HostKeyError:
        return HostKeyError(message, alias=alias, code=code, fingerprint=extra.get("fingerprint"))
    err = cls(message, alias=alias)
    if cls is SSHPoolError:
        err.code = code  # type: ignore[misc]
    return err
