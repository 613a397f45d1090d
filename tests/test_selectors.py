"""The selector rule on its own: aliases, globs, @tag and @tag1+tag2 terms over a known set of
channels and their tags (the daemon, sshpoolctl and the library all expand through it)."""

from __future__ import annotations

import pytest

from sshpool.errors import RequestError, UnknownAliasError
from sshpool.selectors import expand, selects_many, terms

FLEET = {
    "web1": ["web", "prod"],
    "web2": ["Web", "staging"],
    "db1": ["db", "prod"],
    "db2": ["db"],
    "cache": [],
}


def test_a_tag_term_selects_the_channels_carrying_it_in_alias_order_case_insensitively() -> None:
    assert expand(["@web"], FLEET) == ["web1", "web2"]
    assert expand(["@PROD"], FLEET) == ["db1", "web1"]


def test_a_joined_tag_term_selects_the_channels_carrying_every_tag() -> None:
    assert expand(["@web+prod"], FLEET) == ["web1"]
    assert expand(["@db+prod"], FLEET) == ["db1"]


def test_terms_add_up_in_the_order_they_name_channels_each_once() -> None:
    assert expand(terms("cache, @prod, web*, db1"), FLEET) == ["cache", "db1", "web1", "web2"]
    assert expand(["WEB2", "@web"], FLEET) == ["web2", "web1"]


def test_a_plain_list_of_aliases_still_works_as_known_channels() -> None:
    assert expand(["w*"], ["web2", "web1", "db1"]) == ["web1", "web2"]
    assert expand(["nope"], ["web1"]) == ["nope"]  # answered in its own result


def test_a_tag_term_that_matches_nothing_is_unknown_naming_it_and_the_tags_in_use() -> None:
    with pytest.raises(UnknownAliasError) as missing:
        expand(["web1", "@web+db"], FLEET)
    assert str(missing.value) == "no channel carries '@web+db'; the tags in use: db, prod, staging, web"
    assert missing.value.http_status == 404


@pytest.mark.parametrize(
    ("term", "words"),
    [
        ("@", "invalid tag ''"),
        ("@web+", "invalid tag ''"),
        ("@we b", "invalid tag 'we b'"),
        ("@a+@b", "invalid tag '@b'"),
        ("!web1", "'!' negates nothing here"),
        ("web*!", "'!' negates nothing here"),
    ],
)
def test_a_term_no_form_reads_is_a_bad_request_naming_it_and_the_forms(term: str, words: str) -> None:
    with pytest.raises(RequestError) as bad:
        expand(["web1", term], FLEET)
    message = str(bad.value)
    assert message.startswith(f"bad selector term {term!r}: ") and words in message
    assert message.endswith("a term is an alias (web1), a glob (web*), @tag or @tag1+tag2")


def test_a_negated_glob_class_is_still_a_glob() -> None:
    assert expand(["[!w]*"], FLEET) == ["cache", "db1", "db2"]


@pytest.mark.parametrize(("text", "many"), [("web1", False), ("web+1", False), ("@web", True), ("a,b", True)])
def test_a_tag_term_addresses_many_channels_as_a_glob_does(text: str, many: bool) -> None:
    assert selects_many(text) is many
