"""The sync face: blocking twins of the async objects, one call each through :mod:`sshpool.bridge`."""

from sshpool.bridge import portal
from sshpool.sync.connection import Connection, connect
from sshpool.sync.daemonclient import DaemonClient
from sshpool.sync.files import ChunkIterator, StdinFile

__all__ = ["ChunkIterator", "Connection", "DaemonClient", "StdinFile", "connect", "portal"]
