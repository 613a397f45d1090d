"""The daemon's state store and audit log on their own: durable, private, rotated."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from sshpool.daemon.audit import AuditLog
from sshpool.daemon.store import SQLiteStore
from sshpool.dsn import DSN


def test_the_store_remembers_across_reopen_and_keeps_its_files_private(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path)
    store.put(DSN.parse("web1://deploy:s3cret+x@10.0.0.5:2222"), "api")
    store.put(DSN.parse("db://db.internal"), "config")
    store.put(DSN.parse("WEB1://deploy:new@10.0.0.6"), "channel")  # same alias, any case: replaced
    assert store.delete("DB") and not store.delete("db")
    store.close()
    again = SQLiteStore(tmp_path)
    [only] = again.load()
    assert (only.dsn.alias, only.dsn.password, only.dsn.host, only.source) == ("WEB1", "new", "10.0.0.6", "channel")
    again.close()
    for name in ("state.db", "state.key"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o600
    assert b"s3cret" not in (tmp_path / "state.db").read_bytes()


def test_a_replaced_key_file_is_a_clear_error(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path)
    store.put(DSN.parse("a://u:p@h"), "api")
    store.close()
    (tmp_path / "state.key").unlink()
    with pytest.raises(RuntimeError, match=r"state\.key"):
        SQLiteStore(tmp_path).load()


def test_the_audit_log_rotates_and_stays_private(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "audit.log", max_bytes=400, backups=2)
    for i in range(20):
        log.write("run", alias="a", command=f"echo {i}", exit_code=0, duration=0.01, request_id=str(i))
    log.close()
    files = sorted(p.name for p in tmp_path.iterdir())
    assert files == ["audit.log", "audit.log.1", "audit.log.2"]
    last = [json.loads(x) for x in (tmp_path / "audit.log").read_text().splitlines()][-1]
    assert last["command"] == "echo 19" and last["event"] == "run" and last["time"].endswith("+00:00")
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in tmp_path.iterdir())


def test_the_audit_log_follows_logrotate_moving_it_away(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "audit.log")
    log.write("run", command="before")
    (tmp_path / "audit.log").rename(tmp_path / "audit.log-20261203")
    log.write("run", command="after the move")
    (tmp_path / "audit.log").unlink()
    log.write("run", command="after a removal")
    log.reopen()  # what SIGHUP does
    log.write("run", command="after reopen")
    log.close()
    moved = [json.loads(x)["command"] for x in (tmp_path / "audit.log-20261203").read_text().splitlines()]
    current = [json.loads(x)["command"] for x in (tmp_path / "audit.log").read_text().splitlines()]
    assert moved == ["before"]
    assert current == ["after a removal", "after reopen"]
    assert stat.S_IMODE((tmp_path / "audit.log").stat().st_mode) == 0o600
