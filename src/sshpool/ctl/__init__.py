"""``sshpoolctl``: the interactive shell and the one-shot verbs, over the REST client only. The
entry point is the lean front door (:mod:`sshpool.ctl.lean`), which hands what it does not do
itself to the full CLI (:mod:`sshpool.ctl.cli`)."""

from sshpool.ctl.lean import main

__all__ = ["main"]
