"""Result.check() raises, for every error code there is, the class it raised when it spelt the
code -> class table out as an if-chain: timeout, link_lost and channel_stopped have their own
classes, and every other code (a refusal's, ``signal``, one nobody knows) is CommandFailedError."""

from __future__ import annotations

import pytest

from sshpool.errors import (
    ChannelClosedError,
    CommandError,
    CommandFailedError,
    CommandTimeoutError,
    LinkLostError,
    error_class,
)
from sshpool.result import Result

#: Every code errors.py names, plus the codes only a Result carries, plus one nobody knows.
CODES = [
    "bad_dsn",
    "bad_request",
    "unknown_alias",
    "alias_in_use",
    "host_not_allowed",
    "too_large",
    "unauthorized",
    "shutting_down",
    "daemon_unavailable",
    "channel_unavailable",
    "auth_failed",
    "host_key_unknown",
    "host_key_changed",
    "command_failed",
    "timeout",
    "link_lost",
    "channel_stopped",
    "skipped",
    "signal",
    "error",
    "",
    "no_such_code",
]

#: What the if-chain raised (result.py before error_class took over).
RAISED_BEFORE = {"timeout": CommandTimeoutError, "link_lost": LinkLostError, "channel_stopped": ChannelClosedError}


def raised(result: Result) -> type[CommandError] | None:
    try:
        result.check()
    except CommandError as exc:
        return type(exc)
    return None


@pytest.mark.parametrize("code", CODES)
@pytest.mark.parametrize("exit_code", [None, 0, 3])
def test_each_error_code_raises_the_class_it_always_did(code: str, exit_code: int | None) -> None:
    r = Result(error=code, exit_code=exit_code, exception=f"it went {code}")
    assert raised(r) is RAISED_BEFORE.get(code, CommandFailedError)


@pytest.mark.parametrize("code", [None, *CODES])
def test_a_timed_out_result_is_a_timeout_whatever_its_code(code: str | None) -> None:
    assert raised(Result(timed_out=True, error=code)) is CommandTimeoutError


@pytest.mark.parametrize(("exit_code", "cls"), [(0, None), (1, CommandFailedError), (None, CommandFailedError)])
def test_without_a_code_the_exit_status_decides(exit_code: int | None, cls: type[CommandError] | None) -> None:
    assert raised(Result(exit_code=exit_code)) is cls


@pytest.mark.parametrize("code", CODES)
def test_the_message_is_the_results_description(code: str) -> None:
    r = Result(error=code, exception=f"it went {code}" if code else None, alias="web1")
    with pytest.raises(CommandError) as info:
        r.check()
    assert str(info.value) == r.describe() and info.value.result is r


def test_the_command_codes_are_the_ones_error_class_knows() -> None:
    assert {code: error_class(code) for code in RAISED_BEFORE} == RAISED_BEFORE
    assert error_class("command_failed") is CommandFailedError
