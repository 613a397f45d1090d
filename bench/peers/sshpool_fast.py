"""sshpool's warm-shell mode (``mode="shell"``): each command runs as a subshell of a shell kept
open on the channel, so it pays no new SSH session and no login-shell start."""

from __future__ import annotations

import sshpool

from .sshpool_lib import MiB, SshpoolLib


class SshpoolFast(SshpoolLib):
    name = "sshpool-fast"

    def _new_pool(self) -> sshpool.Pool:
        return sshpool.Pool(state_dir=f"{self.t.scratch}/fast-state", output_limit=256 * MiB, mode="shell")


PEERS = {"sshpool-fast": SshpoolFast}
