"""``sshpoolctl``: the interactive shell and the one-shot verbs, over the REST client only."""

from sshpool.ctl.cli import main

__all__ = ["main"]
