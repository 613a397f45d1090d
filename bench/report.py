"""The markdown report: one table per scenario, each figure with its ratio to asyncssh raw (the
floor of an asyncssh design) and, where it was measured, to OpenSSH ControlMaster (what users do
today); then the targets."""

from __future__ import annotations

import math
from typing import Any

from .plan import ON_DAEMON
from .stats import MB, ratio
from .targets import Check

LABELS = {
    "sshpool-lib": "sshpool library (`Pool.run`, warm channel)",
    "sshpool-sync": "sshpool `connect().run` (sync)",
    "sshpool-fast": "sshpool library, warm-shell mode",
    "sshpoold-rest": "sshpoold REST (keep-alive client)",
    "sshpoold-rest-fast": "sshpoold REST, warm-shell mode",
    "sshpoold-rest-frames": "sshpoold REST, framed output (`application/x-sshpool-frames`)",
    "sshpool-daemon-lib": "sshpool library on sshpoold (`AsyncDaemonClient.channel`, `wait`)",
    "sshpoolctl": "`sshpoolctl run` (one-shot process)",
    "sshpoolctl-shell": "`sshpoolctl run --mode shell` (one-shot process)",
    "python-floor": "bare `python -c` REST call (one-shot floor)",
    "asyncssh": "asyncssh raw `conn.run`",
    "subshell-floor": "bare subshell loop over asyncssh (warm-shell floor)",
    "paramiko": "paramiko `exec_command`",
    "paramiko-nodelay": "paramiko + TCP_NODELAY",
    "fabric": "Fabric `Connection.run`",
    "fabric-nodelay": "Fabric + TCP_NODELAY",
    "pssh": "parallel-ssh `SSHClient.run_command`",
    "pssh-nodelay": "parallel-ssh + TCP_NODELAY",
    "ssh-controlmaster": "OpenSSH ControlMaster",  # a new `ssh` process per command, through the master
    "ssh": "OpenSSH fresh `ssh host cmd`",
    "sshpoolctl-ssh": "`sshpoolctl ssh ALIAS` (new process, warm channel)",
    "sshpool-terminal": "sshpoold terminal WebSocket (kept open)",
    "asyncssh-pty": "asyncssh pty session (kept open)",
    "sshpool-ui": "`/ui` in headless Chromium",
}
#: The same OpenSSH contenders, logging in to a prompt rather than running a command.
PROMPT_LABELS = {"ssh": "OpenSSH fresh `ssh host`", "ssh-controlmaster": "OpenSSH `ssh host` through a ControlMaster"}


def label(name: str) -> str:
    return LABELS.get(name, name)


def num(x: float, digits: int = 1) -> str:
    return "–" if math.isnan(x) else f"{x:,.{digits}f}"


def times(x: float) -> str:
    return "–" if math.isnan(x) else f"{x:.2f}x"


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return [*lines, ""]


def render(summary: dict[str, Any], checks: list[Check], meta: dict[str, Any]) -> str:
    s = summary
    out: list[str] = ["# sshpool against its peers", ""]
    before, after = meta["machine_before"], meta["machine_after"]
    out += [
        f"Run `{meta['plan']}` of {meta['started']}, {meta['seconds']:g} s, on {before['cpus']} cores "
        f"({before['platform']}, Python {before['python']}); load average {before['loadavg'][0]} before, "
        f"{after['loadavg'][0]} after. One sshd on loopback serves every contender; rounds are interleaved, "
        "so only ratios within this run count.",
        "",
    ]
    if meta.get("sshpool"):
        out += [f"sshpool code under test (workers, sshpoold, sshpoolctl): `{meta['sshpool']}`.", ""]
    for name, why in meta.get("skipped", {}).items():
        out.append(f"- {label(name)}: not measured ({why}).")
    for name, why in meta.get("failed", {}).items():
        out.append(f"- {label(name)}: **failed**: {why}")
    if meta.get("skipped") or meta.get("failed"):
        out.append("")

    lat = s["latency"]
    raw = lat.get("asyncssh", {}).get("median_ms", math.nan)
    cm = lat.get("ssh-controlmaster", {}).get("median_ms", math.nan)
    if lat:
        out += ["## Latency of `echo hi`, one after another", ""]
        rows = [
            [
                label(n),
                str(d["n"]),
                num(d["median_ms"], 2),
                num(d["p99_ms"], 2),
                times(ratio(d["median_ms"], raw)),
                times(ratio(d["median_ms"], cm)),
                str(d["failures"]),
            ]
            for n, d in sorted(lat.items(), key=lambda kv: _key(kv[1]["median_ms"]))
        ]
        out += _table(["contender", "n", "median ms", "p99 ms", "x asyncssh", "x ControlMaster", "failed"], rows)
        out += [
            "OpenSSH ControlMaster starts a new `ssh` process per command, through the master: the one-shot "
            "`sshpoolctl run` figures are divided by it. The bare `python -c` REST call is the floor of any "
            "Python one-shot client: interpreter start with site, one HTTP request, one JSON decode.",
            "",
        ]
    if s["first"]:
        out += ["## First command on a just-opened connection", ""]
        rows = []
        for n, d in s["first"].items():
            warm = lat.get(n, {}).get("median_ms", math.nan)
            rows.append(
                [label(n), str(d["n"]), num(d["median_ms"], 2), times(ratio(d["median_ms"], warm)), str(d["failures"])]
            )
        out += _table(["contender", "n", "median ms", "x its warm median", "failed"], rows)
    tp = s["throughput"]
    if tp:
        counts = sorted(tp, key=int)
        names = list(dict.fromkeys(n for c in counts for n in tp[c]))
        out += [f"## Throughput: {meta.get('callers', 64)} concurrent callers", ""]
        header = ["contender"]
        for c in counts:
            header += [f"{c} ch cmd/s", "x asyncssh", f"{c} ch CPU ms/cmd", "x asyncssh", "of it sshpoold", "failed"]
        rows = []
        for n in names:
            row = [label(n)]
            for c in counts:
                d = tp[c].get(n, {})
                base = tp[c].get("asyncssh", {})
                cmd_s, cpu = d.get("cmd_s", math.nan), d.get("cpu_ms", math.nan)
                daemon = d.get("daemon_cpu_ms", math.nan) if n in ON_DAEMON else math.nan
                row += [
                    num(cmd_s, 0),
                    times(ratio(cmd_s, base.get("cmd_s", math.nan))),
                    num(cpu, 2),
                    times(ratio(cpu, base.get("cpu_ms", math.nan))),
                    num(daemon, 2),
                    str(d.get("failed", "–")),
                ]
            rows.append(row)
        out += _table(header, rows)
        out += [
            "Each channel may use 4 connections x 8 sessions (sshpool's defaults; the peers get the same cap). "
            "CPU is the client's: the worker process, plus sshpoold's for the contenders on the daemon "
            "(sshpoold's own share in its column).",
            "",
        ]
    fan = s["fanout"]
    if fan:
        sizes = sorted(fan, key=int)
        names = list(dict.fromkeys(n for z in sizes for n in fan[z]))
        out += ["## Fan-out: `echo hi` on N warm channels at once (ms, x asyncssh gather)", ""]
        rows = []
        for n in names:
            row = [label(n)]
            failed = 0
            for z in sizes:
                d = fan[z].get(n)
                if d is None:
                    row.append("–")
                    continue
                failed += d["failed"]
                base = fan[z].get("asyncssh", {}).get("median_s", math.nan)
                row.append(f"{num(d['median_s'] * 1000, 1)} ({times(ratio(d['median_s'], base))})")
            rows.append([*row, str(failed)])
        out += _table(["contender", *(f"N = {z}" for z in sizes), "failed"], rows)
    outp = s["output"]
    if outp:
        sizes = sorted(outp, key=int)
        names = list(dict.fromkeys(n for z in sizes for n in outp[z]))
        out += ["## Output: stdout of one command (MB/s; x asyncssh / x ControlMaster)", ""]
        rows = []
        for n in names:
            row = [label(n)]
            for z in sizes:
                d = outp[z].get(n)
                if d is None:
                    row.append("–")
                    continue
                raw_z = outp[z].get("asyncssh", {}).get("mb_s", math.nan)
                cm_z = outp[z].get("ssh-controlmaster", {}).get("mb_s", math.nan)
                bad = f", {d['failed']} failed" if d["failed"] else ""
                row.append(
                    f"{num(d['mb_s'], 0)} ({times(ratio(d['mb_s'], raw_z))} / {times(ratio(d['mb_s'], cm_z))}{bad})"
                )
            rows.append(row)
        out += _table(["contender", *(f"{int(z) / MB:g} MB" for z in sizes)], rows)
    fp = s["footprint"]
    if fp:
        base = fp.get("asyncssh", {}).get("kb_per", math.nan)
        out += [f"## Footprint of an idle channel (N = {max(d['n'] for d in fp.values())})", ""]
        rows = [
            [label(n), num(d["kb_per"], 1), times(ratio(d["kb_per"], base)), num(d["fds_per"], 2)]
            for n, d in fp.items()
        ]
        out += _table(["contender", "RSS KB per channel", "x asyncssh", "fds per channel"], rows)
    rec = s["recovery"]
    if rec:
        base = rec.get("asyncssh", {}).get("median_s", math.nan)
        out += ["## Recovery: from a killed connection to the next successful command", ""]
        rows = [
            [label(n), num(d["median_s"] * 1000, 1), times(ratio(d["median_s"], base)), str(d["failed"])]
            for n, d in rec.items()
        ]
        out += _table(["contender", "median ms", "x asyncssh", "failed"], rows)
    out += _terminals(s)
    out += ["## Targets", "", "```", *(c.line() for c in checks), "```", ""]
    tally = {k: sum(1 for c in checks if c.status == k) for k in ("PASS", "MISS", "N/A")}
    out += [f"{tally['PASS']} PASS, {tally['MISS']} MISS, {tally['N/A']} N/A.", ""]
    return "\n".join(out)


def _terminals(s: dict[str, Any]) -> list[str]:
    out: list[str] = []
    prompt, echo, page = s["terminal"]["prompt"], s["terminal"]["echo"], s["ui"]
    if prompt or echo:
        out += ["## Terminals", ""]
    if prompt:
        fresh = prompt.get("ssh", {}).get("median_ms", math.nan)
        cm = prompt.get("ssh-controlmaster", {}).get("median_ms", math.nan)
        rows = [
            [
                PROMPT_LABELS.get(n, label(n)),
                str(d["n"]),
                num(d["median_ms"], 2),
                num(d["p99_ms"], 2),
                times(ratio(d["median_ms"], fresh)),
                times(ratio(d["median_ms"], cm)),
                str(d["failures"]),
            ]
            for n, d in sorted(prompt.items(), key=lambda kv: _key(kv[1]["median_ms"]))
        ]
        out += ["Time to the remote prompt: a new process on a new terminal each time, as a person logs in.", ""]
        out += _table(["contender", "n", "median ms", "p99 ms", "x fresh ssh", "x ControlMaster", "failed"], rows)
    if echo:
        rows = [
            [label(n), str(d["n"]), num(d["median_ms"], 3), num(d["p99_ms"], 3), str(d["failures"])]
            for n, d in sorted(echo.items(), key=lambda kv: _key(kv[1]["median_ms"]))
        ]
        out += ["Keystroke echo in a shell at its prompt, one key at a time.", ""]
        out += _table(["contender", "n", "median ms", "p99 ms", "failed"], rows)
    if page:
        out += ["## The web page", ""]
        rows = [
            [label(n), str(d["channels"]), str(d["n"]), num(d["median_ms"], 1), num(d["p99_ms"], 1), str(d["failures"])]
            for n, d in page.items()
        ]
        out += _table(["contender", "channels", "loads", "first table ms", "p99 ms", "failed"], rows)
        out += [
            "From the start of the navigation to the frame that paints the first table of every channel "
            "(the page's own User Timing mark).",
            "",
        ]
    return out


def _key(x: float) -> float:
    return math.inf if math.isnan(x) else x
