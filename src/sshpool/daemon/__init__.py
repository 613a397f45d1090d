"""``sshpoold``: the REST daemon over a core Pool (never the client or the shell)."""

from sshpool.daemon.cli import main

__all__ = ["main"]
