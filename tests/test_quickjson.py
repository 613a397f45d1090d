"""The one-shot path's JSON reads and writes what json does, without importing it."""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sshpool import quickjson

values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


@given(values)
def test_what_json_writes_reads_back_the_same(value: object) -> None:
    for text in (json.dumps(value), json.dumps(value, indent=2, ensure_ascii=False)):
        assert quickjson.loads(text) == json.loads(text)
        assert quickjson.loads(text.encode()) == json.loads(text)


@given(values)
def test_what_it_writes_json_reads_as_the_value(value: object) -> None:
    text = quickjson.dumps(value)
    assert text.isascii()
    assert json.loads(text) == value


def test_constants_and_surrounding_space_read_as_json_reads_them() -> None:
    doc = quickjson.loads(b' \n{"a": NaN, "b": -Infinity, "c": [1e3, -0]}\r\n')
    assert math.isnan(doc["a"]) and doc["b"] == -math.inf and doc["c"] == [1000.0, 0]


@pytest.mark.parametrize("text", ["", "   ", "{", '{"a": 1} x', "[1,]", "nul", b"\xff"])
def test_what_is_not_one_json_document_is_a_value_error(text: str | bytes) -> None:
    with pytest.raises(ValueError):
        quickjson.loads(text)


@pytest.mark.parametrize("value", [math.nan, math.inf, {1: "x"}, {"a": object()}, b"bytes"])
def test_what_json_cannot_hold_is_refused(value: object) -> None:
    with pytest.raises((ValueError, TypeError)):
        quickjson.dumps(value)
