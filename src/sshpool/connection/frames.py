"""Tables as pandas DataFrames when pandas is there, as lists of dicts when it is not."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from sshpool.tables import Table

if TYPE_CHECKING:
    import pandas

__all__ = ["PANDAS_HINT", "AsFrame", "as_table"]

AsFrame = bool | Literal["auto"]
PANDAS_HINT = "pip install 'sshpool[pandas]'"


def as_table(table: Table, as_frame: AsFrame = "auto") -> pandas.DataFrame | list[dict[str, Any]]:
    """A pandas DataFrame (``as_frame=True``, or ``"auto"`` when pandas is installed), else a list
    of dicts. pandas is imported here, on first use, so ``import sshpool`` stays fast."""
    if as_frame is False:
        return table.records()
    try:
        import pandas as pd
    except ImportError:
        if as_frame is True:
            raise ImportError(f"as_frame=True needs pandas: {PANDAS_HINT}") from None
        return table.records()
    return pd.DataFrame([list(row) for row in table.rows], columns=list(table.columns))
