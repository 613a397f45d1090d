"""Rolling fan-out for ``POST /run``: ``parallel`` channels at a time, started in alias order, and a
``halt`` after so many failures that leaves the channels not started untouched (each answered
``skipped``, saying why); ``group`` answers each distinct result once with the aliases that gave
it (:mod:`sshpool.groups`). Without these fields a fan-out is what it always was: every channel
at once, up to the daemon's ``--fanout-limit``."""

from __future__ import annotations

import asyncio
import json
from collections import deque
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass
from typing import Any

from sshpool.errors import RequestError
from sshpool.groups import group_by
from sshpool.result import Result

__all__ = ["ROLLOUT_FIELDS", "Rollout", "answer_of", "failed", "roll", "rollout"]

#: The fields of ``POST /run`` read here, beside the command's own.
ROLLOUT_FIELDS = ("parallel", "halt", "group")
FIRST_FAILURE = "first_failure"


@dataclass(frozen=True)
class Rollout:
    """How a fan-out runs: ``parallel`` channels at once (None: all, up to --fanout-limit); no
    channel starts once ``halt`` have failed (None: never halt); ``group`` the answer."""

    parallel: int | None = None
    halt: int | None = None
    group: bool = False

    @property
    def halt_word(self) -> str:
        return FIRST_FAILURE if self.halt == 1 else str(self.halt)


def rollout(fields: dict[str, Any]) -> Rollout:
    """The ``parallel``, ``halt`` and ``group`` fields; a value outside their forms is a 400 naming
    the field and what it takes."""
    parallel = fields.get("parallel")
    if parallel is not None and not _count(parallel):
        raise RequestError(
            "field 'parallel' must be a whole number of channels to run at once, 1 or more "
            f"(null or absent: all at once, up to the daemon's --fanout-limit); got {_shown(parallel)}"
        )
    halt = fields.get("halt")
    if halt == FIRST_FAILURE:
        halt = 1
    elif halt is not None and not _count(halt):
        raise RequestError(
            f"field 'halt' must be \"{FIRST_FAILURE}\" or a whole number of failures, 1 or more, after which "
            f"no more channels start (null or absent: never halt); got {_shown(halt)}"
        )
    group = fields.get("group", False)
    if not isinstance(group, bool):
        raise RequestError(f"field 'group' must be true (one result per distinct answer) or false; got {_shown(group)}")
    return Rollout(parallel, halt, group)


def _count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1


def _shown(value: Any) -> str:
    return json.dumps(value) if isinstance(value, (str, int, float, bool)) else type(value).__name__


def failed(result: Result) -> bool:
    """What counts toward ``halt``: a non-zero exit, a signal, a timeout or an error."""
    return not result.ok


async def roll(
    aliases: list[str],
    run: Callable[[str], Awaitable[Result]],
    plan: Rollout,
    limit: int,
    done: Callable[[str, Result], None] | None = None,
) -> dict[str, Result]:
    """Every alias's Result, in alias order. At most ``plan.parallel`` (and ``limit``) run at once,
    taken in alias order; once ``plan.halt`` have failed, the rest get a ``skipped`` Result and
    never run. ``done`` hears of each channel as it finishes (a skipped one when the halt is reached)."""
    queue = deque(aliases)
    results: dict[str, Result] = {}
    failures: list[str] = []

    def finish(alias: str, result: Result) -> None:
        results[alias] = result
        if done is not None:
            done(alias, result)

    async def worker() -> None:
        while queue:
            alias = queue.popleft()
            result = await run(alias)
            if failed(result):
                failures.append(alias)
            finish(alias, result)
            if plan.halt is not None and len(failures) >= plan.halt and queue:
                why = _halted(failures, plan)
                while queue:
                    rest = queue.popleft()
                    finish(rest, Result(error="skipped", exception=why, alias=rest))

    width = min(plan.parallel or limit, limit, len(aliases))
    await asyncio.gather(*(worker() for _ in range(width)))
    return {a: results[a] for a in aliases}


def _halted(failures: list[str], plan: Rollout) -> str:
    n = len(failures)
    names = ", ".join(failures[:3]) + (", ..." if n > 3 else "")
    return f"not started: {n} failure{'s' if n != 1 else ''} ({names}) reached halt={plan.halt_word}"


def _same_answer(result: Result) -> Hashable:
    """What a group shares: stdout, stderr (bytes where kept), exit code, signal and error."""
    out = result.stdout_bytes if result.stdout_bytes is not None else result.stdout
    err = result.stderr_bytes if result.stderr_bytes is not None else result.stderr
    return out, err, result.stdout_total, result.stderr_total, result.exit_code, result.signal, result.error


def answer_of(results: dict[str, Result], plan: Rollout, raw: bool, *, output: bool = True) -> dict[str, Any]:
    """A fan-out's answer: each alias's result; with ``group``, ``{"groups": [...], "results":
    {...}}``: each distinct answer once (``aliases``, the ``folded`` host list and the first alias's
    ``result``, output included), biggest group first, and each alias's result without its output."""
    if not plan.group:
        return {a: r.to_dict(raw=raw, output=output) for a, r in results.items()}
    groups = [
        {"aliases": list(g.aliases), "folded": g.folded, "result": g.outcome.to_dict(raw=raw)}
        for g in group_by(results, _same_answer)
    ]
    return {"groups": groups, "results": {a: r.to_dict(raw=raw, output=False) for a, r in results.items()}}
