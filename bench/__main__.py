"""``python -m bench [--quick]``: run the comparison, print and write the report.

Needs root (it creates a throwaway user and starts sshd); ``make bench`` arranges that.
Exit status: 0 after a complete run (a missed target is printed as MISS, not an error),
1 when a contender failed outright or ``--strict`` is given and a target was missed, 2 on bad usage.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import signal
import sys
from pathlib import Path
from typing import Any

from .plan import FULL, QUICK, SCENARIOS, SMOKE, Plan
from .runner import execute
from .stats import summarize
from .targets import check

HERE = Path(__file__).resolve().parent


def parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0] if __doc__ else None)
    size = p.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true", help="a ~1 minute smoke run with fewer samples")
    size.add_argument("--smoke", action="store_true", help="the smallest run (a few seconds; what the tests use)")
    p.add_argument("--only", default="", help="comma-separated scenarios: " + ", ".join(SCENARIOS))
    p.add_argument(
        "--out", type=Path, default=HERE / "results", help="where latest.md/.json/.png go (default: bench/results/)"
    )
    p.add_argument("--no-plot", action="store_true", help="skip the PNG")
    p.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    return p.parse_args(argv)


def choose(args: argparse.Namespace) -> Plan:
    plan = SMOKE if args.smoke else QUICK if args.quick else FULL
    if args.only:
        wanted = tuple(s.strip() for s in args.only.split(",") if s.strip())
        unknown = [s for s in wanted if s not in SCENARIOS]
        if unknown:
            raise SystemExit(f"unknown scenario(s) {', '.join(unknown)}: choose from {', '.join(SCENARIOS)}")
        from dataclasses import replace

        plan = replace(plan, scenarios=wanted)
    return plan


def _clean(x: Any) -> Any:
    """JSON has no NaN: write null."""
    if isinstance(x, float) and math.isnan(x):
        return None
    if isinstance(x, dict):
        return {k: _clean(v) for k, v in x.items()}
    if isinstance(x, list):
        return [_clean(v) for v in x]
    return x


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    if os.geteuid() != 0:
        print(
            "bench: needs root to create a throwaway user and start sshd; run `make bench` (it uses sudo)",
            file=sys.stderr,
        )
        return 2
    plan = choose(args)
    # SIGTERM unwinds like Ctrl-C, so every process started here is stopped by pid.
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))

    def say(text: str) -> None:
        if text:
            print(text, flush=True)

    data = execute(plan, say)
    summary = summarize(data)
    checks = check(summary, data["meta"])
    from .report import render

    text = render(summary, checks, data["meta"])
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "latest.md").write_text(text)
    raw = {"meta": data["meta"], "summary": summary, "targets": [c.as_dict() for c in checks], "samples": data}
    (args.out / "latest.json").write_text(json.dumps(_clean(raw), indent=1) + "\n")
    if not args.no_plot:
        from .plot import draw

        title = f"sshpool vs peers ({plan.name} run, {data['meta']['started']})"
        draw(summary, args.out / "latest.png", title, plan.callers)
    print()
    print(text)
    print(f"written: {args.out / 'latest.md'}, latest.json" + ("" if args.no_plot else ", latest.png"))
    missed = any(c.status == "MISS" for c in checks)
    if data["meta"]["failed"]:
        return 1
    return 1 if args.strict and missed else 0


if __name__ == "__main__":
    sys.exit(main())
