"""The curl examples of the README's sshpoold section, run as written against a real daemon and sshd.

Only the address, the user and the port change (the doc shows 127.0.0.1:8877 and deploy@...:22).
An expected line with ``...`` matches any output line that starts with the text before it.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.daemon import Daemon, daemon_running
from tests.support.readme import blocks, section

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def daemon(tmp_path: Path, sshd: Any, test_user: Any, ssh_home: Any) -> Iterator[Daemon]:
    yield from daemon_running(tmp_path)


def curl_examples() -> list[tuple[str, list[str]]]:
    """(command, expected output lines) for every ``$ curl`` line of the ```console blocks."""
    examples: list[tuple[str, list[str]]] = []
    for block in blocks(section("## sshpoold"), "console"):
        current: tuple[str, list[str]] | None = None
        for line in block.splitlines():
            if line.startswith("$ "):
                current = (line[2:], []) if line.startswith("$ curl") else None
                if current is not None:
                    examples.append(current)
            elif current is not None:
                current[1].append(line)
    return examples


def matches(expected: str, got: str) -> bool:
    if "..." in expected:
        return got.startswith(expected.split("...", 1)[0])
    return got == expected


def test_the_doc_has_curl_examples_for_every_verb() -> None:
    text = " ".join(cmd for cmd, _ in curl_examples())
    assert len(curl_examples()) >= 9
    assert "-X DELETE" in text and "/run" in text and "x-ndjson" in text and "application/json" in text


def test_every_curl_example_in_the_doc_works(daemon: Daemon, sshd: Any, test_user: Any) -> None:
    base = daemon.url.rstrip("/")
    for command, expected in curl_examples():
        cmd = command.replace("http://127.0.0.1:8877", base).replace(
            "deploy@127.0.0.1:22", f"{test_user.name}@{sshd.host}:{sshd.port}"
        )
        run = subprocess.run(
            ["bash", "-c", cmd],
            capture_output=True,
            text=True,
            timeout=30,
            env={**daemon.env, "SSHPOOL_TOKEN": daemon.token},
        )
        got = run.stdout.splitlines()
        want = [
            line.replace('"user":"deploy"', f'"user":"{test_user.name}"')
            .replace('"port":22', f'"port":{sshd.port}')
            .replace('"host":"127.0.0.1"', f'"host":"{sshd.host}"')
            for line in expected
        ]
        assert len(got) == len(want), (command, run.stdout, run.stderr)
        for line in want:
            assert any(matches(line, g) for g in got), (command, line, got)
