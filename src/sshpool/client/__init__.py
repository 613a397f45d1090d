"""The REST client of sshpoold (httpx + anyio, never the core): discovery, the wire format and
the async and blocking clients."""

from sshpool.client.asyncclient import (
    DEFAULT_URL,
    AsyncDaemonClient,
    DaemonClient,
    DaemonEndpoint,
    Done,
    Output,
    find_daemon,
    find_token,
    pid_alive,
)

__all__ = [
    "DEFAULT_URL",
    "AsyncDaemonClient",
    "DaemonClient",
    "DaemonEndpoint",
    "Done",
    "Output",
    "find_daemon",
    "find_token",
    "pid_alive",
]
