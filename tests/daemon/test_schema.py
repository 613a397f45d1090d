"""Property-based run over /openapi.json against a real daemon: no 5xx but a 503, no answer that contradicts
the schema, stateful links (POST /channels -> Location -> GET/POST/PATCH/DELETE) followed.

``positive_data_acceptance`` is left out: a DSN or a command can be schema-valid text and still
be refused with 400 (an unknown host name, a port of 0), which JSON Schema cannot express.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from sshpool.dsn import DSN
from tests.support.daemon import start_daemon

ST = str(Path(sys.executable).with_name("st"))
pytestmark = pytest.mark.timeout(120)


def test_schemathesis_finds_no_server_error_and_no_schema_violation(tmp_path: Path, ssh_home: Any) -> None:
    d = start_daemon(tmp_path)
    # A channel the run starts at an address nothing listens on keeps retrying, and a command or a
    # file request on it is a 503 with Retry-After, the one 5xx the contract has.
    config = tmp_path / "schemathesis.toml"
    config.write_text('[checks.not_a_server_error]\nexpected-statuses = ["2xx", "3xx", "4xx", "503"]\n')
    try:
        run = subprocess.run(
            [
                ST,
                "--config-file",
                str(config),
                "run",
                d.url + "openapi.json",
                "-H",
                f"Authorization: Bearer {d.token}",
                "--checks",
                "all",
                "--exclude-checks",
                "positive_data_acceptance",
                "--max-examples",
                "25",
                "--max-time",
                "20",
                # One worker: CPython 3.11's ast.parse is not thread-safe (hypothesis calls it
                # from each worker: "AST constructor recursion depth mismatch").
                "--workers",
                "1",
                "--seed",
                "7",
                "--no-color",
            ],
            capture_output=True,
            text=True,
            timeout=100,
            env={**d.env, "SCHEMATHESIS_HOOKS": ""},
            cwd=tmp_path,  # its cache directory lands here, not in the work tree
        )
        assert run.returncode == 0, run.stdout[-6000:]
        assert "Stateful" in run.stdout
    finally:
        assert d.stop() == 0
    # Every channel the run managed to add points at loopback (--allow-hosts 127.0.0.0/8,::1).
    audit = (d.state_dir / "audit.log").read_text().splitlines()
    hosts = {DSN.parse(json.loads(x)["dsn"].replace("****", "x")).host for x in audit if '"start"' in x}
    assert all(h.startswith("127.") or h in ("::1", "localhost") for h in hosts), hosts
    assert "Traceback" not in d.log_text()
