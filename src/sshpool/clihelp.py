"""The help layout sshpoold and sshpoolctl share."""

from __future__ import annotations

import argparse


class ClassicHelpFormatter(argparse.HelpFormatter):
    """Help in the classic layout, which scripts and docs quote: option help starts at column 21."""

    def __init__(self, prog: str) -> None:
        super().__init__(prog, max_help_position=21)

    def start_section(self, heading: str | None) -> None:
        # Python 3.10 renamed argparse's "optional arguments:" to "options:"; the classic name
        # stays, in sub-commands' help too, so every screen of one tool reads the same.
        super().start_section("optional arguments" if heading == "options" else heading)
