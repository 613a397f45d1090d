"""How a setting's text becomes its value: the ``SSHPOOL_*`` variable and ``sshpoold``'s flag."""

from __future__ import annotations

import os
import re

import pytest

from sshpool.daemon.cli import build_parser, main, settings_from
from sshpool.defaults import Settings


def from_flags(*argv: str) -> Settings:
    return settings_from(build_parser().parse_args(list(argv)))


@pytest.fixture(autouse=True)
def no_sshpool_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("SSHPOOL_"):
            monkeypatch.delenv(name)


@pytest.mark.parametrize("text", ["0", "none", "off", "None", "OFF"])
def test_a_variable_of_0_none_or_off_means_no_command_timeout(text: str) -> None:
    assert Settings.from_env({"SSHPOOL_COMMAND_TIMEOUT": text}).command_timeout is None


@pytest.mark.parametrize("text", ["none", "off", "None", "OFF"])
def test_a_flag_of_none_or_off_means_no_command_timeout(text: str) -> None:
    assert from_flags("--command-timeout", text).command_timeout is None


@pytest.mark.parametrize("text", ["0", "0.0"])
def test_a_flag_of_0_means_no_command_timeout_as_the_variable_does(text: str) -> None:
    assert from_flags("--command-timeout", text).command_timeout is None
    assert Settings.from_env({"SSHPOOL_COMMAND_TIMEOUT": text}).command_timeout is None


def test_0_is_a_zero_for_the_settings_that_cannot_be_unlimited() -> None:
    assert from_flags("--connect-timeout", "0").connect_timeout == 0.0
    assert Settings.from_env({"SSHPOOL_DRAIN_TIMEOUT": "0"}).drain_timeout == 0.0


def test_a_negative_flag_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        from_flags("--command-timeout", "-1")
    assert (
        "argument --command-timeout: must not be negative: '-1' (0, none or off: no limit)" in capsys.readouterr().err
    )
    with pytest.raises(SystemExit):
        from_flags("--max-sessions", "-2")
    assert "argument --max-sessions: must not be negative: '-2'" in capsys.readouterr().err


def test_a_negative_variable_is_refused_naming_it() -> None:
    with pytest.raises(
        ValueError,
        match=re.escape("SSHPOOL_COMMAND_TIMEOUT='-1': must not be negative: '-1' (0, none or off: no limit)"),
    ):
        Settings.from_env({"SSHPOOL_COMMAND_TIMEOUT": "-1"})
    with pytest.raises(ValueError, match=re.escape("SSHPOOL_CONNECT_TIMEOUT='-0.5': must not be negative")):
        Settings.from_env({"SSHPOOL_CONNECT_TIMEOUT": "-0.5"})


def test_a_bad_variable_is_a_usage_error_of_sshpoold(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SSHPOOL_COMMAND_TIMEOUT", "-1")
    with pytest.raises(SystemExit) as refused:
        main(["--port", "0"])
    assert refused.value.code == 2
    assert "sshpoold: error: SSHPOOL_COMMAND_TIMEOUT='-1': must not be negative" in capsys.readouterr().err


def test_the_flag_wins_over_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SSHPOOL_COMMAND_TIMEOUT", "5")
    monkeypatch.setenv("SSHPOOL_BODY_LIMIT", "64")
    settings = from_flags("--command-timeout", "off")
    assert (settings.command_timeout, settings.body_limit) == (None, 64)
    assert from_flags().command_timeout == 5.0


def test_numbers_are_typed_by_their_default() -> None:
    settings = Settings.from_env({"SSHPOOL_MAX_SESSIONS": "3", "SSHPOOL_CONNECT_TIMEOUT": "2.5"})
    assert (settings.max_sessions, settings.connect_timeout) == (3, 2.5)
    assert from_flags("--max-sessions", "3", "--connect-timeout", "2.5").max_sessions == 3


def test_a_bad_variable_names_itself() -> None:
    with pytest.raises(ValueError, match="SSHPOOL_CONNECT_TIMEOUT='fast': expected a number, got 'fast'"):
        Settings.from_env({"SSHPOOL_CONNECT_TIMEOUT": "fast"})
    with pytest.raises(ValueError, match="SSHPOOL_HOST_KEY_POLICY='trusting': must be one of strict, accept-new, off"):
        Settings.from_env({"SSHPOOL_HOST_KEY_POLICY": "trusting"})


def test_a_bad_flag_number_says_what_was_expected(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        from_flags("--max-sessions", "2.5")
    assert "argument --max-sessions: expected a whole number, got '2.5'" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        from_flags("--connect-timeout", "soon")
    assert "argument --connect-timeout: expected a number, got 'soon'" in capsys.readouterr().err
