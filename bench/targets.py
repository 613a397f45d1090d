"""The targets, checked against the figures of one run: PASS, MISS, or N/A with the
reason it could not be judged (never silently dropped). Speed drifts ~30% between runs here, so
every target is a ratio within the run, except memory, which does not drift."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from .stats import MB, ratio

NAN = math.nan


@dataclass(frozen=True)
class Check:
    name: str
    value: float
    limit: float
    at_most: bool  # value <= limit passes; else value >= limit passes
    unit: str = "x"
    note: str = ""

    @property
    def status(self) -> str:
        if math.isnan(self.value):
            return "N/A"
        ok = self.value <= self.limit if self.at_most else self.value >= self.limit
        return "PASS" if ok else "MISS"

    def line(self) -> str:
        op = "<=" if self.at_most else ">="
        digits = {"x": 3, " ms": 2}.get(self.unit, 0)  # enough to show which side of the limit a value is
        shown = "not measured" if math.isnan(self.value) else f"{self.value:.{digits}f}{self.unit}"
        note = f" ({self.note})" if self.note else ""
        return f"{self.status:4}  {self.name}: {shown} (target {op} {self.limit:g}{self.unit}){note}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "value": None if math.isnan(self.value) else self.value,
            "limit": self.limit,
            "at_most": self.at_most,
            "unit": self.unit,
            "status": self.status,
            "note": self.note,
        }


def _get(d: dict[str, Any], *keys: str) -> float:
    for k in keys:
        if not isinstance(d, dict) or k not in d:
            return NAN
        d = d[k]
    return float(d) if isinstance(d, (int, float)) else NAN


def _floor_note(floor: float, unit: str) -> str:
    """What the bare subshell loop (no isolation beyond the subshell) reached in the same run: the
    part of a warm-shell figure that SSH and the remote fork account for, whatever the design."""
    if math.isnan(floor):
        return ""
    return f"bare subshell loop over asyncssh, same run: {floor:.{3 if unit == 'x' else 2}f}{unit}"


def _python_floor_note(floor: float) -> str:
    """The same ratio for the bare ``python -c`` client: what interpreter start, one HTTP request and
    a JSON decode cost on their own, before any code of sshpoolctl runs."""
    return "" if math.isnan(floor) else f"Python floor, same run: {floor:.3f}x"


class Judge:
    """Builds the checks of one run; a figure that is missing says why (the contender was skipped,
    could not play or failed), so an N/A line always carries its reason."""

    def __init__(self, s: dict[str, Any], meta: dict[str, Any] | None) -> None:
        self.s = s
        meta = meta or {}
        self.why: dict[str, str] = {**meta.get("skipped", {}), **meta.get("failed", {})}
        self.checks: list[Check] = []

    def add(
        self,
        name: str,
        value: float,
        limit: float,
        at_most: bool,
        *,
        unit: str = "x",
        note: str = "",
        uses: tuple[str, ...],
    ) -> None:
        if math.isnan(value):
            reasons = [f"{who}: {self.why[who]}" for who in uses if who in self.why]
            note = "; ".join(reasons) or f"needs {', '.join(uses)}, not all measured in this run"
        self.checks.append(Check(name, value, limit, at_most, unit, note))


def check(s: dict[str, Any], meta: dict[str, Any] | None = None) -> list[Check]:
    j = Judge(s, meta)
    lat = s["latency"]

    def med(who: str) -> float:
        return _get(lat, who, "median_ms")

    raw, cm, fresh, lib, rest = (
        med("asyncssh"),
        med("ssh-controlmaster"),
        med("ssh"),
        med("sshpool-lib"),
        med("sshpoold-rest"),
    )
    ctl, floor = med("sshpoolctl"), med("python-floor")
    j.add("latency: library / asyncssh raw", ratio(lib, raw), 1.0, True, uses=("sshpool-lib", "asyncssh"))
    j.add("latency: REST / asyncssh raw", ratio(rest, raw), 1.15, True, uses=("sshpoold-rest", "asyncssh"))
    j.add("latency: REST / ControlMaster", ratio(rest, cm), 0.5, True, uses=("sshpoold-rest", "ssh-controlmaster"))
    j.add(
        "latency: library warm-shell mode, median",
        med("sshpool-fast"),
        1.0,
        True,
        unit=" ms",
        note=_floor_note(med("subshell-floor"), " ms"),
        uses=("sshpool-fast",),
    )
    exec_ratio = ratio(rest, lib)
    j.add(
        "latency: REST warm-shell / library warm-shell, median",
        ratio(med("sshpoold-rest-fast"), med("sshpool-fast")),
        1.3,
        True,
        note="" if math.isnan(exec_ratio) else f"REST / library in exec mode, same run: {exec_ratio:.3f}x",
        uses=("sshpoold-rest-fast", "sshpool-fast"),
    )
    j.add(
        "latency: daemon-backed library `wait` / REST lean client, median",
        ratio(med("sshpool-daemon-lib"), rest),
        1.1,
        True,
        uses=("sshpool-daemon-lib", "sshpoold-rest"),
    )
    j.add(
        "one-shot: `sshpoolctl run` / fresh `ssh host cmd`",
        ratio(ctl, fresh),
        0.12,
        True,
        note=_python_floor_note(ratio(floor, fresh)),
        uses=("sshpoolctl", "ssh"),
    )
    for who, what, limit in (
        ("sshpoolctl", "`sshpoolctl run`", 4.0),
        ("sshpoolctl-shell", "`sshpoolctl run --mode shell`", 3.5),
    ):
        j.add(
            f"one-shot: {what} / ControlMaster one-shot `ssh`",
            ratio(med(who), cm),
            limit,
            True,
            note=_python_floor_note(ratio(floor, cm)),
            uses=(who, "ssh-controlmaster"),
        )
    j.add(
        "one-shot: `sshpoolctl run` / the Python floor",
        ratio(ctl, floor),
        1.3,
        True,
        note="" if math.isnan(floor) else f"Python floor: {floor:.2f} ms",
        uses=("sshpoolctl", "python-floor"),
    )
    j.add(
        "first command after a (re)connect / warm (library)",
        ratio(_get(s["first"], "sshpool-lib", "median_ms"), lib),
        1.2,
        True,
        uses=("sshpool-lib",),
    )
    for channels, per in sorted(s["throughput"].items(), key=lambda kv: int(kv[0])):
        base = _get(per, "asyncssh", "cmd_s")
        base_cpu = _get(per, "asyncssh", "cpu_ms")
        for who, what, limit in (("sshpool-lib", "library", 0.8), ("sshpoold-rest", "REST", 0.9)):
            j.add(
                f"throughput on {channels} channel(s): {what} / asyncssh raw",
                ratio(_get(per, who, "cmd_s"), base),
                limit,
                False,
                uses=(who, "asyncssh"),
            )
            j.add(
                f"throughput on {channels} channel(s): failed commands ({what})",
                _get(per, who, "failed"),
                0,
                True,
                unit="",
                uses=(who,),
            )
        j.add(
            f"client CPU per command on {channels} channel(s): library / asyncssh raw",
            ratio(_get(per, "sshpool-lib", "cpu_ms"), base_cpu),
            1.2,
            True,
            uses=("sshpool-lib", "asyncssh"),
        )
        both = ratio(_get(per, "sshpoold-rest", "cpu_ms"), base_cpu)
        j.add(
            f"sshpoold CPU per command on {channels} channel(s) (REST) / asyncssh raw",
            ratio(_get(per, "sshpoold-rest", "daemon_cpu_ms"), base_cpu),
            1.6,
            True,
            note="" if math.isnan(both) else f"with the lean HTTP client's CPU: {both:.3f}x",
            uses=("sshpoold-rest", "asyncssh"),
        )
    one = s["throughput"].get("1", {})
    j.add(
        "throughput on 1 channel: library warm-shell mode / exec mode",
        ratio(_get(one, "sshpool-fast", "cmd_s"), _get(one, "sshpool-lib", "cmd_s")),
        4.0,
        False,
        note=_floor_note(ratio(_get(one, "subshell-floor", "cmd_s"), _get(one, "sshpool-lib", "cmd_s")), "x"),
        uses=("sshpool-fast", "sshpool-lib"),
    )
    for size in sorted(s["fanout"], key=int):
        if int(size) >= 200:
            per = s["fanout"][size]
            j.add(
                f"fan-out to {size} channels: sshpoold / asyncssh gather",
                ratio(_get(per, "sshpoold-rest", "median_s"), _get(per, "asyncssh", "median_s")),
                1.2,
                True,
                uses=("sshpoold-rest", "asyncssh"),
            )
    j.add(
        "memory per idle channel in sshpoold",
        _get(s["footprint"], "sshpoold-rest", "kb_per"),
        45,
        True,
        unit=" KB",
        uses=("sshpoold-rest",),
    )
    _terminals(j, s)
    sizes = sorted((int(k) for k in s["output"]), reverse=True)
    for size in [x for x in sizes if x >= 50 * MB]:
        per = s["output"][str(size)]
        base = _get(per, "asyncssh", "mb_s")
        j.add(
            f"{size / MB:g} MB output: library / asyncssh raw MB/s",
            ratio(_get(per, "sshpool-lib", "mb_s"), base),
            0.8,
            False,
            uses=("sshpool-lib", "asyncssh"),
        )
        as_json = ratio(_get(per, "sshpoold-rest", "mb_s"), base)
        j.add(
            f"{size / MB:g} MB output through REST (streamed frames) / asyncssh raw MB/s",
            ratio(_get(per, "sshpoold-rest-frames", "mb_s"), base),
            0.8,
            False,
            note="" if math.isnan(as_json) else f"as one JSON body, same run: {as_json:.3f}x",
            uses=("sshpoold-rest-frames", "asyncssh"),
        )
    if len(sizes) >= 2 and sizes[0] >= 50 * MB:
        big, small = str(sizes[0]), str(sizes[1])
        j.add(
            f"output linear in size: library MB/s at {sizes[0] / MB:g} MB / at {sizes[1] / MB:g} MB",
            ratio(_get(s["output"], big, "sshpool-lib", "mb_s"), _get(s["output"], small, "sshpool-lib", "mb_s")),
            0.8,
            False,
            uses=("sshpool-lib",),
        )
    return j.checks


def _terminals(j: Judge, s: dict[str, Any]) -> None:
    prompt, echo = s["terminal"]["prompt"], s["terminal"]["echo"]
    ctl = _get(prompt, "sshpoolctl-ssh", "median_ms")
    for who, what, limit in (
        ("ssh", "a fresh `ssh host`", 0.25),
        ("ssh-controlmaster", "`ssh host` with a ControlMaster up", 3.0),
    ):
        j.add(
            f"terminal: `sshpoolctl ssh` to the prompt / {what} to the prompt",
            ratio(ctl, _get(prompt, who, "median_ms")),
            limit,
            True,
            uses=("sshpoolctl-ssh", who),
        )
    floor = _get(echo, "asyncssh-pty", "median_ms")
    j.add(
        "terminal: keystroke echo through the terminal WebSocket, median",
        _get(echo, "sshpool-terminal", "median_ms"),
        2.0,
        True,
        unit=" ms",
        note="" if math.isnan(floor) else f"an asyncssh pty session, same run: {floor:.2f} ms",
        uses=("sshpool-terminal",),
    )
    page = s["ui"].get("sshpool-ui", {})
    j.add(
        f"`/ui` first table with {page.get('channels', 'the fan-out')} channels (Chromium, loopback), median",
        _get(page, "median_ms"),
        1000,
        True,
        unit=" ms",
        uses=("sshpool-ui",),
    )
