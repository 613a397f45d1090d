"""One contender in its own process: JSON requests in on stdin, JSON replies out.

Each reply carries the CPU this process spent on the request (children included, so an ``ssh``
client counts) and, for sshpoold, the daemon's CPU too: what a client machine would pay.
Anything a library prints goes to stderr, never into the reply stream.
"""

from __future__ import annotations

import json
import os
import resource
import sys
import time
import traceback
from typing import Any

from .config import Target
from .peers.registry import load
from .procs import cpu_seconds


def _cpu() -> float:
    """CPU seconds of this process and its waited-for children, at microsecond resolution."""
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def serve(name: str, target: Target) -> None:
    replies = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    peer: Any = None
    for line in sys.stdin:
        request = json.loads(line)
        op, args = request["op"], request.get("args", {})
        extra = list(getattr(peer, "extra_pids", list)()) if peer is not None else []
        cpu0, extra0, wall0 = _cpu(), sum(cpu_seconds(p) for p in extra), time.perf_counter()
        reply: dict[str, Any]
        try:
            if op == "setup":
                peer = load(name, target)
                value: Any = peer.setup()  # None, or why this contender cannot play here
            elif op == "close":
                if peer is not None:
                    peer.close()
                value = None
            elif peer is None:
                raise RuntimeError(f"{name}: setup did not succeed before {op!r}")
            elif not hasattr(peer, op):
                raise RuntimeError(f"{name} cannot play {op!r}")
            else:
                value = getattr(peer, op)(**args)
            reply = {"ok": True, "value": value}
        except Exception as exc:  # reported to the orchestrator as this contender's failure
            reply = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
            traceback.print_exc()
        reply["cpu"] = _cpu() - cpu0
        reply["cpu_extra"] = sum(cpu_seconds(p) for p in extra) - extra0
        reply["wall"] = time.perf_counter() - wall0
        replies.write(json.dumps(reply) + "\n")
        if op == "close":
            return


def main() -> None:
    serve(sys.argv[1], Target.from_json(os.environ["BENCH_TARGET"]))


if __name__ == "__main__":
    main()
