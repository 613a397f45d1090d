"""From raw samples to the figures of the report (pure functions, no I/O)."""

from __future__ import annotations

import math
import statistics
from typing import Any

MB = 1024 * 1024


def percentile(values: list[float], q: float) -> float:
    """Linear-interpolated percentile ``q`` (0-100) of ``values``."""
    s = sorted(values)
    if not s:
        return math.nan
    k = (len(s) - 1) * q / 100
    lo, hi = math.floor(k), math.ceil(k)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


def summarize(data: dict[str, Any]) -> dict[str, Any]:
    """The figures per scenario and contender; NaN where nothing was measured."""
    out: dict[str, Any] = {}
    out["latency"] = {name: _timed(d) for name, d in data["latency"].items()}
    out["first"] = {
        name: {"n": len(d["times"]), "median_ms": percentile(d["times"], 50) * 1000, "failures": d["failures"]}
        for name, d in data["first"].items()
    }
    out["throughput"] = {
        channels: {
            name: {
                "cmd_s": d["ok"] / d["elapsed"] if d["elapsed"] else math.nan,
                "cpu_ms": d["cpu"] / d["ok"] * 1000 if d["ok"] else math.nan,
                "daemon_cpu_ms": d.get("cpu_daemon", 0.0) / d["ok"] * 1000 if d["ok"] else math.nan,
                "ok": d["ok"],
                "failed": d["failed"],
                "errors": d["errors"],
            }
            for name, d in per.items()
        }
        for channels, per in data["throughput"].items()
    }
    out["fanout"] = {
        size: {
            name: {"median_s": statistics.median(d["times"]) if d["times"] else math.nan, "failed": d["failed"]}
            for name, d in per.items()
        }
        for size, per in data["fanout"].items()
    }
    out["output"] = {
        size: {
            name: {
                "mb_s": int(size) / MB / statistics.median(d["times"]) if d["times"] else math.nan,
                "failed": d["failed"],
            }
            for name, d in per.items()
        }
        for size, per in data["output"].items()
    }
    out["footprint"] = {
        name: {"kb_per": d["rss_per"] / 1024, "fds_per": d["fds_per"], "n": d["n"], "failed": d.get("failed", 0)}
        for name, d in data["footprint"].items()
    }
    out["recovery"] = {
        name: {"median_s": statistics.median(d["times"]) if d["times"] else math.nan, "failed": d["failed"]}
        for name, d in data["recovery"].items()
    }
    out["terminal"] = {kind: {name: _timed(d) for name, d in per.items()} for kind, per in data["terminal"].items()}
    out["ui"] = {name: {**_timed(d), "channels": d["channels"]} for name, d in data["ui"].items()}
    return out


def _timed(d: dict[str, Any]) -> dict[str, Any]:
    """Samples in seconds -> their count, median and p99 in ms, and the failures."""
    return {
        "n": len(d["times"]),
        "median_ms": percentile(d["times"], 50) * 1000,
        "p99_ms": percentile(d["times"], 99) * 1000,
        "failures": d["failures"],
        "errors": d["errors"],
    }


def ratio(value: float, base: float) -> float:
    if math.isnan(value) or math.isnan(base) or base == 0:
        return math.nan
    return value / base
