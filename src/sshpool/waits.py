"""How long a client waits for sshpoold's answer to a command: the rule every client of ours uses
(the httpx client and sshpoolctl's lean path), stdlib-free so the lean path pays nothing for it."""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Final

__all__ = ["COMMAND_TIMEOUT", "MARGIN", "NO_LIMIT", "http_deadline"]

#: A command's HTTP deadline is its own timeout plus this margin, so the daemon's answer (with the
#: partial output of a timed-out command) arrives before the client gives up.
MARGIN = 10.0
#: The daemon's default command timeout, used for the HTTP deadline when the caller gives none.
COMMAND_TIMEOUT = 600.0
#: A command's ``timeout`` that says "no limit", as the REST API takes it (``"timeout": "none"``).
NO_LIMIT: Final = "none"


def http_deadline(timeout: float | str | None) -> float | None:
    """How long to wait for the answer to a command that may run ``timeout`` seconds: None (no
    deadline) for a command with no limit."""
    if timeout == NO_LIMIT:
        return None
    return (float(timeout) if timeout is not None else COMMAND_TIMEOUT) + MARGIN
