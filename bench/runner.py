"""One run: every contender in its own worker, every scenario round by round in a shuffled
order, so that noise from the machine (other test suites, sshd's own jitter) spreads evenly.

The raw samples are kept; ``stats`` turns them into the figures the report shows.
"""

from __future__ import annotations

import importlib.util
import os
import platform
import random
import sys
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from . import plan as P
from .config import Target
from .plan import Plan
from .testbed import Testbed
from .workers import Worker, WorkerError

Say = Callable[[str], None]
NEEDS_MODULE = {
    "sshpool-fast": "sshpool.core.modes.shell",
    "sshpoold-rest-fast": "sshpool.core.modes.shell",
    "sshpoolctl": "sshpool.ctl",
    "sshpoolctl-shell": "sshpool.ctl",
    "sshpool-daemon-lib": "sshpool.runners.remote",
}


def available(name: str) -> str | None:
    """Why ``name`` cannot play here, or None."""
    module = NEEDS_MODULE.get(name)
    if module is not None and importlib.util.find_spec(module) is None:
        return f"{module} is not part of this sshpool yet"
    if name in ("sshpool-fast", "sshpoold-rest-fast"):
        from sshpool.defaults import Settings

        if "mode" not in Settings.names():
            return "this sshpool has no warm-shell mode (Settings.mode)"
    return None


def contenders(plan: Plan) -> tuple[list[str], dict[str, str]]:
    wanted: list[str] = []
    lists = {
        "latency": P.LATENCY,
        "first": P.FIRST,
        "throughput": P.THROUGHPUT,
        "fanout": P.FANOUT,
        "output": P.OUTPUT,
        "footprint": P.FOOTPRINT,
        "recovery": P.RECOVERY,
        "terminal": P.TERMINAL,
        "ui": (*P.UI, "sshpoold-rest"),  # sshpoold-rest opens the channels the page shows
    }
    for scenario in plan.scenarios:
        for name in lists[scenario]:
            if plan.plays(name) and name not in wanted:
                wanted.append(name)
    skipped = {n: why for n in wanted if (why := available(n)) is not None}
    return [n for n in wanted if n not in skipped], skipped


class Run:
    def __init__(self, plan: Plan, bed: Testbed, say: Say) -> None:
        self.plan = plan
        self.bed = bed
        self.say = say
        self.rng = random.Random(20261123)
        self.workers: dict[str, Worker] = {}
        self.failed: dict[str, str] = {}
        self.unplayable: dict[str, str] = {}  # set up, but this sshpool cannot play it: N/A, not a failure
        self.data: dict[str, Any] = {
            "latency": {},
            "first": {},
            "throughput": {},
            "fanout": {},
            "output": {},
            "footprint": {},
            "recovery": {},
            "terminal": {"prompt": {}, "echo": {}},
            "ui": {},
        }

    # -------------------------------------------------------------- workers

    def start_workers(self, names: list[str], target: Target) -> None:
        """Fresh worker processes for ``names`` (any previous ones must be stopped)."""
        env = {**self.bed.env(), "BENCH_TARGET": target.to_json(), "PYTHONDONTWRITEBYTECODE": "1"}
        self.workers = {}
        for name in names:
            self.workers[name] = Worker(name, env, self.bed.root)

        def setup(name: str) -> None:
            try:
                reply = self.workers[name].call("setup", timeout=120)
            except WorkerError as exc:
                self.failed[name] = str(exc)
                self.say(f"  ! {exc}")
                return
            if isinstance(reply.get("value"), str):
                self.unplayable[name] = reply["value"]
                self.say(f"  - {name} not measured: {reply['value']}")

        with ThreadPoolExecutor(len(names) or 1) as pool:
            list(pool.map(setup, names))

    def stop_workers(self) -> None:
        with ThreadPoolExecutor(len(self.workers) or 1) as pool:
            list(pool.map(lambda w: w.stop(), self.workers.values()))

    def live(self, names: Iterable[str]) -> list[str]:
        return [
            n
            for n in names
            if n in self.workers and n not in self.failed and n not in self.unplayable and self.plan.plays(n)
        ]

    def ask(self, name: str, op: str, timeout: float = 300, **args: Any) -> dict[str, Any] | None:
        """One request; a failure takes the contender out of the scenario and is recorded."""
        try:
            return self.workers[name].call(op, timeout=timeout, **args)
        except WorkerError as exc:
            self.failed.setdefault(name, str(exc))
            self.say(f"  ! {exc}")
            return None

    def order(self, names: list[str]) -> list[str]:
        names = list(names)
        self.rng.shuffle(names)
        return names

    # -------------------------------------------------------------- scenarios

    def latency(self) -> None:
        p = self.plan
        names = self.live(P.LATENCY)
        self.say(f"latency of `echo hi`: {len(names)} contenders x {p.latency_rounds} rounds")
        got: dict[str, dict[str, Any]] = {n: {"times": [], "failures": 0, "errors": []} for n in names}
        for name in names:  # warm-up, not counted: first sessions, caches, lazy imports
            self.ask(name, "latency", n=1 if name in P.SPAWNING else 5)
        for _ in range(p.latency_rounds):
            for name in self.order(self.live(names)):
                n = p.spawn_batch if name in P.SPAWNING else p.latency_batch
                reply = self.ask(name, "latency", n=n)
                if reply is not None:
                    _merge(got[name], reply["value"])
        self.data["latency"] = got

    def first(self) -> None:
        p = self.plan
        names = self.live(P.FIRST)
        self.say(f"first command on a new connection: {', '.join(names)}")
        got: dict[str, dict[str, Any]] = {n: {"times": [], "failures": 0, "errors": []} for n in names}
        for _ in range(p.first_rounds):
            for name in self.order(self.live(names)):
                reply = self.ask(name, "first", n=p.first_batch)
                if reply is not None:
                    _merge(got[name], reply["value"])
        self.data["first"] = got

    def throughput(self) -> None:
        p = self.plan
        names = self.live(P.THROUGHPUT)
        for channels in p.channel_counts:
            self.say(f"throughput: {p.callers} callers on {channels} channel(s), {len(names)} contenders")
            got: dict[str, dict[str, Any]] = {}
            for name in names:  # warm-up: opens the connections a burst needs
                self.ask(name, "throughput", callers=p.callers, channels=channels, total=p.callers * 2)
            for _ in range(p.throughput_rounds):
                for name in self.order(self.live(names)):
                    reply = self.ask(name, "throughput", callers=p.callers, channels=channels, total=p.throughput_total)
                    if reply is None:
                        continue
                    v = reply["value"]
                    acc = got.setdefault(
                        name, {"elapsed": 0.0, "ok": 0, "failed": 0, "cpu": 0.0, "cpu_daemon": 0.0, "errors": []}
                    )
                    acc["elapsed"] += v["elapsed"]
                    acc["ok"] += v["ok"]
                    acc["failed"] += v["failed"]
                    acc["cpu"] += reply["cpu"] + reply["cpu_extra"]
                    acc["cpu_daemon"] += reply["cpu_extra"]
                    acc["errors"] = (acc["errors"] + v["errors"])[:3]
            self.data["throughput"][str(channels)] = got

    def fanout_and_footprint(self) -> None:
        """In fresh processes (and a fresh sshpoold): memory freed by earlier scenarios would
        otherwise be reused by the new connections and hide their cost."""
        p = self.plan
        n = max(p.fanout_sizes)
        wanted = [
            *(P.FANOUT if "fanout" in p.scenarios else ()),
            *(P.FOOTPRINT if "footprint" in p.scenarios else ()),
            *(("sshpoold-rest", *P.UI) if "ui" in p.scenarios else ()),
        ]
        names = [
            x for x in dict.fromkeys(wanted) if self.plan.plays(x) and x not in self.failed and available(x) is None
        ]
        target = self.bed.target
        assert target is not None
        if "sshpoold-rest" in names:
            target = self.bed.new_daemon()
        self.say(f"fresh processes for fan-out, footprint and the page: {', '.join(names)}")
        self.start_workers(names, target)
        names = [x for x in names if x in P.FANOUT or x in ("sshpoold-rest", "asyncssh")]
        self.say(f"opening {n} connections for each of {', '.join(names)}")
        for name in names:
            reply = self.ask(name, "fanout_setup", timeout=600, n=n)
            if reply is not None and "rss_per" in reply["value"]:
                self.data["footprint"][name] = reply["value"]
        if "footprint" in p.scenarios:
            for name in self.live(("paramiko-nodelay",)):
                self.say(f"footprint: {n} idle {name} clients")
                reply = self.ask(name, "footprint", timeout=600, n=n)
                if reply is not None:
                    self.data["footprint"][name] = reply["value"]
        if "ui" in p.scenarios:
            self.ui(n)
        if "fanout" not in p.scenarios:
            return
        fan = self.live(P.FANOUT)
        self.say(f"fan-out of `echo hi` to {', '.join(map(str, p.fanout_sizes))} channels: {', '.join(fan)}")
        for size in p.fanout_sizes:
            got: dict[str, dict[str, Any]] = {}
            for name in fan:  # warm-up at this size
                self.ask(name, "fanout", n=size)
            for _ in range(p.fanout_rounds):
                for name in self.order(self.live(fan)):
                    reply = self.ask(name, "fanout", n=size)
                    if reply is None:
                        continue
                    v = reply["value"]
                    acc = got.setdefault(name, {"times": [], "failed": 0, "errors": []})
                    acc["times"].append(v["seconds"])
                    acc["failed"] += v["failed"]
                    acc["errors"] = (acc["errors"] + v.get("errors", []))[:3]
            self.data["fanout"][str(size)] = got

    def ui(self, n: int) -> None:
        """The page opened afresh with the ``n`` channels the fan-out put on the daemon."""
        for name in self.live(P.UI):
            self.say(f"the page: first table with {n} channels, {self.plan.ui_rounds} loads")
            self.ask(name, "first_table", n=n, rounds=1)  # warm-up: the browser's caches, the first fetch
            reply = self.ask(name, "first_table", timeout=600, n=n, rounds=self.plan.ui_rounds)
            if reply is not None:
                self.data["ui"][name] = reply["value"]

    def terminal(self) -> None:
        """Time to the remote prompt (a new process each time), then keystroke echo (kept sessions)."""
        p = self.plan
        for kind, names, op, rounds, batch in (
            ("prompt", self.live(P.PROMPT), "prompt", p.prompt_rounds, p.prompt_batch),
            ("echo", self.live(P.ECHO), "echo", p.echo_rounds, p.echo_batch),
        ):
            self.say(f"terminals, {kind}: {', '.join(names)}")
            got: dict[str, dict[str, Any]] = {n: {"times": [], "failures": 0, "errors": []} for n in names}
            for name in names:  # warm-up, not counted
                self.ask(name, op, n=1 if kind == "prompt" else 10)
            for _ in range(rounds):
                for name in self.order(self.live(names)):
                    reply = self.ask(name, op, n=batch)
                    if reply is not None:
                        _merge(got[name], reply["value"])
            self.data["terminal"][kind] = got

    def output(self) -> None:
        p = self.plan
        names = self.live(P.OUTPUT)
        self.say(f"output: {', '.join(f'{s / P.MB:g} MB' for s in p.output_sizes)} of stdout, {len(names)} contenders")
        for size in p.output_sizes:
            got: dict[str, dict[str, Any]] = {}
            for _ in range(p.output_rounds):
                for name in self.order(self.live(names)):
                    reply = self.ask(name, "output", timeout=600, size=size)
                    if reply is None:
                        continue
                    v = reply["value"]
                    acc = got.setdefault(name, {"times": [], "failed": 0})
                    acc["times"].append(v["seconds"])
                    acc["failed"] += v["failed"]
            self.data["output"][str(size)] = got

    def recovery(self) -> None:
        p = self.plan
        names = self.live(P.RECOVERY)
        self.say(f"recovery after a killed connection: {', '.join(names)}")
        got: dict[str, dict[str, Any]] = {}
        for _ in range(p.recovery_rounds):
            for name in self.order(self.live(names)):
                reply = self.ask(name, "recovery", timeout=60)
                if reply is None:
                    continue
                v = reply["value"]
                acc = got.setdefault(name, {"times": [], "failed": 0})
                if v.get("seconds") is None:
                    acc["failed"] += 1
                else:
                    acc["times"].append(v["seconds"])
        self.data["recovery"] = got


def _merge(acc: dict[str, Any], value: dict[str, Any]) -> None:
    acc["times"] += value["times"]
    acc["failures"] += value["failures"]
    acc["errors"] = (acc["errors"] + value["errors"])[:3]


def machine() -> dict[str, Any]:
    load = os.getloadavg()
    return {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "loadavg": [round(x, 2) for x in load],
    }


def execute(plan: Plan, say: Say) -> dict[str, Any]:
    """Set up, measure every scenario of ``plan``, tear down; returns the raw data."""
    started = time.time()
    meta: dict[str, Any] = {
        "plan": plan.name,
        "callers": plan.callers,
        "started": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
    }
    meta["machine_before"] = machine()
    names, skipped = contenders(plan)
    for name, why in skipped.items():
        say(f"  - {name} skipped: {why}")
    with Testbed(daemon=bool(P.ON_DAEMON & set(names))) as bed:
        meta["sshpool"] = bed.sshpool_src
        say(f"sshd on {bed.target.host}:{bed.target.port} as {bed.target.user}" if bed.target else "")
        run = Run(plan, bed, say)
        try:
            say(f"starting {len(names)} contenders")
            assert bed.target is not None
            run.start_workers(names, bed.target)
            steps = {
                "latency": run.latency,
                "first": run.first,
                "throughput": run.throughput,
                "output": run.output,
                "recovery": run.recovery,
                "terminal": run.terminal,
            }
            for scenario in plan.scenarios:
                if scenario in steps:
                    steps[scenario]()
                    say(f"  ({time.time() - started:.0f} s)")
            if {"fanout", "footprint", "ui"} & set(plan.scenarios):
                run.stop_workers()
                run.fanout_and_footprint()
                say(f"  ({time.time() - started:.0f} s)")
        finally:
            run.stop_workers()
    meta["machine_after"] = machine()
    meta["seconds"] = round(time.time() - started, 1)
    meta["skipped"] = {**skipped, **run.unplayable}
    meta["failed"] = run.failed
    return {"meta": meta, **run.data}
