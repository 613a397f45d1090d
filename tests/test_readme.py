"""The README holds true: its two commands, and its Python examples run as written against the test sshd
(``myserver``). The library section's examples run in ``test_library_docs``, the sshpoold section's curl
lines in ``test_daemon_docs``."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.readme import README, blocks, section

TESTED_ELSEWHERE = ("## The Python library", "### Big output: frames")


def test_the_readme_names_the_two_commands() -> None:
    text = README.read_text()
    assert "$ make demo" in text and "$ make test" in text


def test_every_python_example_of_the_readme_is_run_by_a_test() -> None:
    everywhere = blocks(README.read_text(), "python")
    tested = [
        b
        for heading in (*TESTED_ELSEWHERE, "## Warm shells: the `shell` mode")
        for b in blocks(section(heading), "python")
    ]
    assert everywhere and sorted(everywhere) == sorted(tested)


def test_the_warm_shell_example_runs(
    ssh_home: Any, sshd: Any, test_user: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    ssh_home.add_host_block("myserver", HostName=sshd.host, Port=str(sshd.port), User=test_user.name)
    namespace: dict[str, Any] = {"__name__": "readme"}
    for block in blocks(section("## Warm shells: the `shell` mode"), "python"):
        exec(compile(block, str(README), "exec"), namespace)  # noqa: S102  (our own README)
    assert capsys.readouterr().out == "42\n\n"
