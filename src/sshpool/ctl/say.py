"""How a one-shot sshpoolctl speaks: notes and errors as one ``sshpoolctl: ...`` line on stderr,
``--json`` answers as one document on stdout."""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__all__ = ["EXIT_ERROR", "emit_json", "reader_gone", "say"]

#: ssh's rule: every local or daemon-side error.
EXIT_ERROR = 255


def say(text: str) -> None:
    """One line on stderr, after whatever stdout holds so far, so the two read in order on a terminal."""
    sys.stdout.flush()
    print(f"sshpoolctl: {text}", file=sys.stderr, flush=True)


def emit_json(doc: Any, *, ensure_ascii: bool = False) -> None:
    """``--json`` output, indented for people (json is imported here: the one-shot path's
    answers are read with :mod:`sshpool.quickjson`)."""
    import json  # noqa: PLC0415 - only for --json, see above

    print(json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=ensure_ascii), flush=True)


def reader_gone() -> int:
    """stdout's reader went away (``| head``): the remote command was stopped when its stream
    closed; end quietly, as a filter does, and keep Python from failing again at exit on the
    flush of a dead pipe."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except OSError:
        pass
    return EXIT_ERROR
