"""The PNG the README shows: latency, throughput, fan-out and output, one panel each."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # the backend must be chosen first

from .report import label
from .stats import MB

SSHPOOL = "#1f77b4"
PEER = "#9a9a9a"
FLOOR = "#d2d2d2"
FLOORS = frozenset({"subshell-floor", "python-floor"})


def _colour(name: str) -> str:
    return FLOOR if name in FLOORS else SSHPOOL if name.startswith("sshpool") else PEER


def draw(summary: dict[str, Any], path: Path, title: str, callers: int = 64) -> None:
    fig, axes = plt.subplots(2, 2, figsize=(15, 10))
    _latency(axes[0][0], summary["latency"])
    _throughput(axes[0][1], summary["throughput"], callers)
    _fanout(axes[1][0], summary["fanout"])
    _output(axes[1][1], summary["output"])
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def _latency(ax: Any, lat: dict[str, Any]) -> None:
    items = sorted(
        ((n, d) for n, d in lat.items() if not math.isnan(d["median_ms"])), key=lambda kv: -kv[1]["median_ms"]
    )
    if not items:
        ax.set_visible(False)
        return
    y = range(len(items))
    ax.barh(list(y), [d["median_ms"] for _, d in items], color=[_colour(n) for n, _ in items])
    ax.scatter([d["p99_ms"] for _, d in items], list(y), marker="|", color="black", s=80, label="p99", zorder=3)
    ax.set_yticks(list(y), [label(n) for n, _ in items], fontsize=8)
    ax.set_xscale("log")
    ax.set_xlabel("ms per `echo hi` (median bar, p99 tick; log scale)")
    ax.set_title("Latency, sequential")
    ax.legend(loc="upper right")
    for i, (_, d) in enumerate(items):
        ax.text(d["median_ms"], i, f" {d['median_ms']:.1f}", va="center", fontsize=7)


def _throughput(ax: Any, tp: dict[str, Any], callers: int) -> None:
    counts = sorted(tp, key=int)
    names = list(dict.fromkeys(n for c in counts for n in tp[c]))
    if not names:
        ax.set_visible(False)
        return
    width = 0.8 / len(counts)
    for j, c in enumerate(counts):
        xs = [i + j * width for i in range(len(names))]
        vals = [tp[c].get(n, {}).get("cmd_s", 0.0) for n in names]
        ax.bar(xs, vals, width, label=f"{c} channel(s)", color=[_colour(n) for n in names], alpha=1.0 - 0.4 * j)
    ax.set_xticks(
        [i + width * (len(counts) - 1) / 2 for i in range(len(names))],
        [label(n) for n in names],
        fontsize=7,
        rotation=20,
        ha="right",
    )
    ax.set_ylabel("commands/s")
    ax.set_title(f"Throughput, {callers} concurrent callers (light: more channels)")
    ax.legend()


def _fanout(ax: Any, fan: dict[str, Any]) -> None:
    sizes = sorted(fan, key=int)
    names = list(dict.fromkeys(n for z in sizes for n in fan[z]))
    if not names:
        ax.set_visible(False)
        return
    for n in names:
        pts = [(int(z), fan[z][n]["median_s"] * 1000) for z in sizes if n in fan[z]]
        style = "-o" if n.startswith("sshpool") else "--s"
        ax.plot([p[0] for p in pts], [p[1] for p in pts], style, label=label(n))
    ax.set_xlabel("channels")
    ax.set_ylabel("ms for one command on all of them")
    ax.set_title("Fan-out")
    ax.legend(fontsize=8)


def _output(ax: Any, outp: dict[str, Any]) -> None:
    sizes = sorted(outp, key=int)
    names = list(dict.fromkeys(n for z in sizes for n in outp[z]))
    if not names:
        ax.set_visible(False)
        return
    width = 0.8 / len(sizes)
    for j, z in enumerate(sizes):
        xs = [i + j * width for i in range(len(names))]
        vals = [outp[z].get(n, {}).get("mb_s", 0.0) for n in names]
        ax.bar(xs, vals, width, label=f"{int(z) / MB:g} MB", color=[_colour(n) for n in names], alpha=1.0 - 0.3 * j)
    ax.set_xticks(
        [i + width * (len(sizes) - 1) / 2 for i in range(len(names))],
        [label(n) for n in names],
        fontsize=7,
        rotation=20,
        ha="right",
    )
    ax.set_ylabel("MB/s")
    ax.set_title("Output of one command (light: larger)")
    ax.legend()
