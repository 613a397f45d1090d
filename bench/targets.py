"""The issue's targets, checked against the figures of one run: PASS, MISS, or N/A with the
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


def check(s: dict[str, Any]) -> list[Check]:
    lat = s["latency"]
    raw = _get(lat, "asyncssh", "median_ms")
    cm = _get(lat, "ssh-controlmaster", "median_ms")
    lib = _get(lat, "sshpool-lib", "median_ms")
    rest = _get(lat, "sshpoold-rest", "median_ms")
    checks = [
        Check("latency: library / asyncssh raw", ratio(lib, raw), 1.0, True),
        Check("latency: REST / asyncssh raw", ratio(rest, raw), 1.3, True),
        Check("latency: REST / ControlMaster", ratio(rest, cm), 0.5, True),
        *(
            Check(
                f"latency: {what} warm-shell mode, median",
                _get(lat, who, "median_ms"),
                limit,
                True,
                " ms",
                note=_floor_note(_get(lat, "subshell-floor", "median_ms"), " ms"),
            )
            for who, what, limit in (("sshpool-fast", "library", 1.0), ("sshpoold-rest-fast", "REST", 1.5))
        ),
        Check(
            "first command after a (re)connect / warm (library)",
            ratio(_get(s["first"], "sshpool-lib", "median_ms"), lib),
            1.2,
            True,
        ),
    ]
    for channels, per in sorted(s["throughput"].items(), key=lambda kv: int(kv[0])):
        for who, what in (("sshpool-lib", "library"), ("sshpoold-rest", "REST")):
            failed = _get(per, who, "failed")
            checks.append(
                Check(
                    f"throughput on {channels} channel(s): {what} / asyncssh raw",
                    ratio(_get(per, who, "cmd_s"), _get(per, "asyncssh", "cmd_s")),
                    0.8,
                    False,
                )
            )
            checks.append(Check(f"throughput on {channels} channel(s): failed commands ({what})", failed, 0, True, ""))
            checks.append(
                Check(
                    f"client CPU per command on {channels} channel(s): {what} / asyncssh raw",
                    ratio(_get(per, who, "cpu_ms"), _get(per, "asyncssh", "cpu_ms")),
                    1.2,
                    True,
                    note="sshpoold's CPU plus the HTTP client's" if who == "sshpoold-rest" else "",
                )
            )
    one = s["throughput"].get("1", {})
    checks.append(
        Check(
            "throughput on 1 channel: library warm-shell mode / exec mode",
            ratio(_get(one, "sshpool-fast", "cmd_s"), _get(one, "sshpool-lib", "cmd_s")),
            4.0,
            False,
            note=_floor_note(ratio(_get(one, "subshell-floor", "cmd_s"), _get(one, "sshpool-lib", "cmd_s")), "x"),
        )
    )
    for size in sorted(s["fanout"], key=int):
        if int(size) >= 200:
            per = s["fanout"][size]
            checks.append(
                Check(
                    f"fan-out to {size} channels: sshpoold / asyncssh gather",
                    ratio(_get(per, "sshpoold-rest", "median_s"), _get(per, "asyncssh", "median_s")),
                    1.2,
                    True,
                )
            )
    checks.append(
        Check("memory per idle channel in sshpoold", _get(s["footprint"], "sshpoold-rest", "kb_per"), 45, True, " KB")
    )
    sizes = sorted((int(k) for k in s["output"]), reverse=True)
    for size in [x for x in sizes if x >= 50 * MB]:
        per = s["output"][str(size)]
        for who in ("sshpool-lib", "sshpoold-rest"):
            checks.append(
                Check(
                    f"{size / MB:g} MB output: {who} / asyncssh raw MB/s",
                    ratio(_get(per, who, "mb_s"), _get(per, "asyncssh", "mb_s")),
                    0.8,
                    False,
                )
            )
    if len(sizes) >= 2 and sizes[0] >= 50 * MB:
        big, small = str(sizes[0]), str(sizes[1])
        checks.append(
            Check(
                f"output linear in size: library MB/s at {sizes[0] / MB:g} MB / at {sizes[1] / MB:g} MB",
                ratio(_get(s["output"], big, "sshpool-lib", "mb_s"), _get(s["output"], small, "sshpool-lib", "mb_s")),
                0.8,
                False,
            )
        )
    return checks
