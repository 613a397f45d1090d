"""A Result is what every face of sshpool hands back; check() turns failures into the exception
classes the spec's outcome table names."""

from __future__ import annotations

import pytest

from sshpool import (
    ChannelClosedError,
    CommandFailedError,
    CommandTimeoutError,
    LinkLostError,
    Result,
)
from sshpool.errors import HostKeyError, UnknownAliasError, error_from_code


def test_success_checks_clean() -> None:
    r = Result.from_bytes(b"hi\n", b"", exit_code=0)
    assert r.ok and r.check() is r


def test_non_zero_exit_raises_value_error_with_the_result() -> None:
    r = Result.from_bytes(b"", b"boom\n", exit_code=2, alias="web1")
    with pytest.raises(ValueError) as info:
        r.check()
    assert isinstance(info.value, CommandFailedError)
    assert info.value.result is r and "status 2" in str(info.value) and "boom" in str(info.value)


def test_stderr_counts_as_failure_only_when_asked() -> None:
    r = Result.from_bytes(b"", b"warning\n", exit_code=0)
    assert r.check() is r
    with pytest.raises(CommandFailedError):
        r.check(check_stderr=True)


@pytest.mark.parametrize(
    ("fields", "cls", "builtin"),
    [
        ({"timed_out": True, "error": "timeout"}, CommandTimeoutError, TimeoutError),
        ({"error": "link_lost", "exception": "link lost"}, LinkLostError, ConnectionError),
        ({"error": "channel_stopped"}, ChannelClosedError, Exception),
        ({"error": "signal", "signal": "KILL"}, CommandFailedError, ValueError),
    ],
)
def test_abnormal_ends_raise_their_class(fields: dict[str, object], cls: type, builtin: type) -> None:
    r = Result(**fields)  # type: ignore[arg-type]
    with pytest.raises(cls) as info:
        r.check()
    assert isinstance(info.value, builtin)


def test_invalid_utf8_is_replaced_but_bytes_kept() -> None:
    r = Result.from_bytes(b"\xffok", b"", exit_code=0)
    assert r.stdout == "\ufffdok" and r.stdout_bytes == b"\xffok"


def test_rest_shape_round_trips_byte_exact() -> None:
    r = Result.from_bytes(b"\x00\xff", b"e", exit_code=1, duration=0.5)
    d = r.to_dict(raw=True)
    assert set(d) >= {"stdout", "stderr", "exit_code", "signal", "timed_out", "truncated", "duration"}
    assert "error" not in d
    back = Result.from_dict(d)
    assert back.stdout_bytes == b"\x00\xff" and back.exit_code == 1


def test_error_fields_present_when_abnormal() -> None:
    d = Result(error="link_lost", exception="link to h lost").to_dict()
    assert d["error"] == "link_lost" and d["exception"] == "link to h lost" and d["exit_code"] is None


def test_client_side_rebuilds_the_same_classes() -> None:
    e = error_from_code("unknown_alias", "unknown alias 'x'", alias="x")
    assert isinstance(e, UnknownAliasError) and isinstance(e, KeyError) and str(e) == "unknown alias 'x'"
    h = error_from_code("host_key_changed", "changed", fingerprint="SHA256:abc")
    assert isinstance(h, HostKeyError) and h.code == "host_key_changed" and h.fingerprint == "SHA256:abc"
