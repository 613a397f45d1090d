"""What sshpoolctl prints for an error: one line, what is wrong and what to do, said once."""

from __future__ import annotations

import pytest

from sshpool.ctl.format import error_line
from sshpool.dsn import DSN
from sshpool.errors import DSNError


def test_a_dsn_error_that_states_the_form_does_not_get_it_again() -> None:
    with pytest.raises(DSNError) as caught:
        DSN.parse("web1-no-scheme")
    line = error_line(caught.value)
    assert line.count("alias://") == 1, line
    assert "the form is" not in line


def test_a_dsn_error_without_the_form_gets_it_as_a_hint() -> None:
    line = error_line(DSNError("invalid port 99999: the port must be a number from 1 to 65535"))
    assert line.endswith("— the form is alias://user:pass@host:port")
