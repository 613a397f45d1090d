"""The REST client of sshpoold (httpx + anyio, never the core): discovery, the wire format, the
one translation of its errors and the async client. The blocking twin, whose channels are sync
connections, is :class:`sshpool.sync.DaemonClient`."""

from sshpool.client.asyncclient import AsyncDaemonClient
from sshpool.client.discovery import DEFAULT_URL, DaemonEndpoint, find_daemon, find_token, pid_alive
from sshpool.client.errors import ErrorMap
from sshpool.client.fanout import Grouped, Halt
from sshpool.client.wire import NO_LIMIT, CommandTimeout, Done, Output

__all__ = [
    "DEFAULT_URL",
    "NO_LIMIT",
    "AsyncDaemonClient",
    "CommandTimeout",
    "DaemonEndpoint",
    "Done",
    "ErrorMap",
    "Grouped",
    "Halt",
    "Output",
    "find_daemon",
    "find_token",
    "pid_alive",
]
