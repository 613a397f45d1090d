"""The bench runs for real at its smallest size, so its code cannot rot: a throwaway user and
sshd, a real sshpoold, sshpool against asyncssh and ControlMaster in every scenario, the report
with each target marked, the JSON and the plot; and nothing is left behind."""

from __future__ import annotations

import importlib
import json
import pwd
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
PEER_MODULES = [
    "asyncssh_raw",
    "sshpool_lib",
    "sshpool_fast",
    "sshpool_rest",
    "openssh",
    "paramiko_peers",
    "pssh_peers",
]
SCENARIOS = ("Latency", "First command", "Throughput", "Fan-out", "Output", "Footprint", "Recovery", "Targets")


def test_the_smallest_bench_run_measures_every_scenario_and_marks_every_target(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "bench", "--smoke", "--out", str(tmp_path)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]

    report = (tmp_path / "results.md").read_text()
    for scenario in SCENARIOS:
        assert f"## {scenario}" in report, scenario
    assert "| sshpool library (`Pool.run`, warm channel) |" in report
    assert "| OpenSSH ControlMaster |" in report

    data = json.loads((tmp_path / "results.json").read_text())
    latency = data["summary"]["latency"]
    for name in ("sshpool-lib", "sshpoold-rest", "asyncssh", "ssh-controlmaster"):
        assert latency[name]["n"] == 5 and latency[name]["failures"] == 0, latency[name]
        assert 0 < latency[name]["median_ms"] < 5000
    assert data["summary"]["throughput"]["1"]["sshpool-lib"]["failed"] == 0
    assert data["summary"]["footprint"]["sshpoold-rest"]["n"] == 3

    # Every target is judged in the open: PASS or MISS with its figure, printed as well as written.
    lines = [t for t in data["targets"]]
    assert len(lines) >= 10
    assert {t["status"] for t in lines} <= {"PASS", "MISS"}, [t for t in lines if t["status"] == "N/A"]
    assert len(re.findall(r"^(PASS|MISS) ", proc.stdout, re.M)) == len(lines)
    assert (tmp_path / "results.png").stat().st_size > 10_000

    # The throwaway user is gone, so are its processes.
    user = re.search(r"sshd on 127\.0\.0\.1:\d+ as (\S+)", proc.stdout)
    assert user is not None, proc.stdout[:2000]
    with pytest.raises(KeyError):
        pwd.getpwnam(user.group(1))


@pytest.mark.parametrize("module", PEER_MODULES)
def test_every_peer_module_names_the_contenders_it_plays(module: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The peers the smoke run leaves out still import against the installed libraries."""
    monkeypatch.syspath_prepend(str(REPO))
    from bench.peers.registry import MODULES

    mod = importlib.import_module(f"bench.peers.{module}")
    assert set(mod.PEERS) == {name for name, m in MODULES.items() if m == module}
