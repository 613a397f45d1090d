"""How a one-shot sshpoolctl speaks: notes and errors as one ``sshpoolctl: ...`` line on stderr,
``--json`` answers as one document on stdout."""

from __future__ import annotations

import json
import sys
from typing import Any

__all__ = ["emit_json", "say"]


def say(text: str) -> None:
    """One line on stderr, after whatever stdout holds so far, so the two read in order on a terminal."""
    sys.stdout.flush()
    print(f"sshpoolctl: {text}", file=sys.stderr, flush=True)


def emit_json(doc: Any) -> None:
    print(json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False), flush=True)
