"""The README as the tests read it: one section at a time, and the code blocks in it."""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).resolve().parents[2] / "README.md"


def section(heading: str) -> str:
    """The README from ``heading`` (a whole line, such as ``## sshpoold``) to the next heading of the
    same level or a higher one (code blocks' ``#`` lines are not headings)."""
    text = README.read_text()
    start = text.index(f"\n{heading}\n") + 1
    level = len(heading.split(" ", 1)[0])
    fenced = False
    offset = start + len(heading) + 1
    for line in text[offset:].splitlines(keepends=True):
        if line.startswith("```"):
            fenced = not fenced
        elif not fenced and re.match(rf"#{{1,{level}}} ", line):
            return text[start:offset]
        offset += len(line)
    return text[start:]


def console_examples(*headings: str) -> list[tuple[str, list[str]]]:
    """(command, expected lines: stdout and stderr as a terminal shows them) of each ``$`` line of
    the ``console`` blocks under ``headings``."""
    examples: list[tuple[str, list[str]]] = []
    for heading in headings:
        for block in blocks(section(heading), "console"):
            for line in block.splitlines():
                if line.startswith("$ "):
                    examples.append((line[2:], []))
                else:
                    examples[-1][1].append(line)
    return examples


def blocks(text: str, language: str) -> list[str]:
    """The fenced ```<language> blocks of ``text``, in order."""
    return re.findall(rf"```{language}\n(.*?)```", text, flags=re.DOTALL)
