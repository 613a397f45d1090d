"""The bench runs for real at its smallest size, so its code cannot rot: a throwaway user and
sshd, a real sshpoold, sshpool against asyncssh and ControlMaster in every scenario, the report
with each target marked, the JSON and the plot; and nothing is left behind."""

from __future__ import annotations

import json
import pwd
import re
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
#: The bench runs in its own virtualenv (``make setup`` builds it from bench/requirements.txt).
BENCH_PYTHON = str(REPO / "bench" / ".venv" / "bin" / "python")


@pytest.fixture(autouse=True)
def bench_venv() -> None:
    assert Path(BENCH_PYTHON).exists(), "bench/.venv is missing: `make setup-bench` builds it (`make test` does)"


PEER_MODULES = [
    "asyncssh_raw",
    "subshell_floor",
    "sshpool_lib",
    "sshpool_fast",
    "sshpool_rest",
    "sshpool_daemon_lib",
    "rest_frames",
    "oneshot",
    "openssh",
    "paramiko_peers",
    "pssh_peers",
    "terminal",
    "ui_page",
]
SCENARIOS = (
    "Latency",
    "First command",
    "Throughput",
    "Fan-out",
    "Output",
    "Footprint",
    "Recovery",
    "Terminals",
    "The web page",
    "Targets",
)


def test_the_smallest_bench_run_measures_every_scenario_and_marks_every_target(tmp_path: Path) -> None:
    proc = subprocess.run(
        [BENCH_PYTHON, "-m", "bench", "--smoke", "--out", str(tmp_path)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]

    report = (tmp_path / "latest.md").read_text()
    for scenario in SCENARIOS:
        assert f"## {scenario}" in report, scenario
    assert "| sshpool library (`Pool.run`, warm channel) |" in report
    assert "| OpenSSH ControlMaster |" in report

    data = json.loads((tmp_path / "latest.json").read_text())
    latency = data["summary"]["latency"]
    for name in ("sshpool-lib", "sshpoold-rest", "asyncssh", "subshell-floor", "ssh-controlmaster"):
        assert latency[name]["n"] == 5 and latency[name]["failures"] == 0, latency[name]
        assert 0 < latency[name]["median_ms"] < 5000
    assert data["summary"]["throughput"]["1"]["sshpool-lib"]["failed"] == 0
    assert data["summary"]["throughput"]["2"]["subshell-floor"]["failed"] == 0
    # the warm-shell targets are read against the bare subshell loop measured in the same run
    floor = [t for t in data["targets"] if t["name"].startswith("latency: library warm-shell")]
    assert floor and "bare subshell loop" in floor[0]["note"], floor
    assert data["summary"]["footprint"]["sshpoold-rest"]["n"] == 3
    # a terminal reaches the remote prompt every time, the echo comes back, the page shows every channel
    terminal = data["summary"]["terminal"]
    for name in ("sshpoolctl-ssh", "ssh", "ssh-controlmaster"):
        assert terminal["prompt"][name]["n"] == 2 and terminal["prompt"][name]["failures"] == 0, terminal["prompt"]
    for name in ("sshpool-terminal", "asyncssh-pty"):
        assert terminal["echo"][name]["n"] == 10 and terminal["echo"][name]["failures"] == 0, terminal["echo"]
    page = data["summary"]["ui"]["sshpool-ui"]
    assert page["channels"] == 3 and page["n"] == 1 and page["failures"] == 0, page

    # Every target is judged in the open: PASS or MISS with its figure, printed as well as written.
    lines = [t for t in data["targets"]]
    assert len(lines) >= 10
    assert {t["status"] for t in lines} <= {"PASS", "MISS"}, [t for t in lines if t["status"] == "N/A"]
    assert len(re.findall(r"^(PASS|MISS) ", proc.stdout, re.M)) == len(lines)
    assert (tmp_path / "latest.png").stat().st_size > 10_000

    # The throwaway user is gone, so are its processes.
    user = re.search(r"sshd on 127\.0\.0\.1:\d+ as (\S+)", proc.stdout)
    assert user is not None, proc.stdout[:2000]
    with pytest.raises(KeyError):
        pwd.getpwnam(user.group(1))


def test_every_peer_module_names_the_contenders_it_plays() -> None:
    """The peers the smoke run leaves out still import against the libraries of the bench venv."""
    code = (
        "import importlib, json, sys\n"
        "from bench.peers.registry import MODULES\n"
        "played = {m: sorted(importlib.import_module('bench.peers.' + m).PEERS) for m in sys.argv[1:]}\n"
        "print(json.dumps({'played': played, 'registry': MODULES}))\n"
    )
    proc = subprocess.run(
        [BENCH_PYTHON, "-c", code, *PEER_MODULES], cwd=REPO, capture_output=True, text=True, timeout=120, check=False
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    doc = json.loads(proc.stdout)
    for module in PEER_MODULES:
        assert doc["played"][module] == sorted(n for n, m in doc["registry"].items() if m == module), module
