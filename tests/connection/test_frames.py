"""``ps`` output becomes a table with the header's columns, typed numbers and whole command lines."""

from __future__ import annotations

import sys

import pandas as pd
import pytest

from sshpool.connection import PANDAS_HINT, as_table
from sshpool.tables import parse_ps

PS_AF = """\
UID          PID    PPID  C STIME TTY          TIME CMD
root           1       0  0 Nov22 ?        00:00:03 /sbin/init splash
alice       4242       1 12 03:01 pts/0    00:01:10 python -c import time;  time.sleep(9)
bob           77       1  0 03:02 ?        00:00:00 [kworker/0:1-events]
"""

TOP = """\
%CPU %MEM USER     COMMAND
 0.5  0.1 root     systemd
99.0  1.5 alice    Web Content
 3.0 10.0 bob      python3
"""


def test_columns_are_the_headers_and_the_last_one_keeps_its_spaces() -> None:
    table = parse_ps(PS_AF)
    assert table.columns == ("UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD")
    assert table.column("CMD") == ["/sbin/init splash", "python -c import time;  time.sleep(9)", "[kworker/0:1-events]"]
    assert table.column("PID") == [1, 4242, 77] and table.column("C") == [0, 12, 0]
    assert table.column("TIME") == ["00:00:03", "00:01:10", "00:00:00"]


def test_float_columns_and_sorting_by_cpu() -> None:
    table = parse_ps(TOP).sorted_by("%CPU")
    assert table.column("%CPU") == [99.0, 3.0, 0.5]
    assert table.records()[0] == {"%CPU": 99.0, "%MEM": 1.5, "USER": "alice", "COMMAND": "Web Content"}


def test_short_rows_and_empty_output() -> None:
    table = parse_ps("PID TTY CMD\n12\n")
    assert table.rows == ((12, "", ""),)
    assert parse_ps("").columns == () and len(parse_ps("\n")) == 0


def test_a_dataframe_when_pandas_is_there() -> None:
    frame = as_table(parse_ps(PS_AF))
    assert isinstance(frame, pd.DataFrame)
    assert frame["PID"].dtype.kind == "i" and frame["CMD"].iloc[1].endswith("time.sleep(9)")
    empty = as_table(parse_ps("PID CMD\n"))
    assert list(empty.columns) == ["PID", "CMD"] and len(empty) == 0


def test_without_pandas_a_list_of_dicts_or_an_import_error_with_the_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pandas", None)  # what an install without pandas looks like
    rows = as_table(parse_ps(TOP))
    assert isinstance(rows, list) and rows[1]["USER"] == "alice"
    assert as_table(parse_ps(TOP), as_frame=False) == rows
    with pytest.raises(ImportError, match="sshpool\\[pandas\\]") as missing:
        as_table(parse_ps(TOP), as_frame=True)
    assert PANDAS_HINT in str(missing.value)
