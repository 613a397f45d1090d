"""A user writes DSNs by hand, in config files and on command lines: every form the spec names
parses, every mistake gets an error naming the part that is wrong."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sshpool import DSN, DSNError


def test_full_dsn() -> None:
    d = DSN.parse("web1://deploy:s3cret@10.0.0.5:2222")
    assert (d.alias, d.user, d.password, d.host, d.port) == ("web1", "deploy", "s3cret", "10.0.0.5", 2222)


def test_user_and_port_are_none_when_not_stated() -> None:
    d = DSN.parse("localhost://localhost")
    assert (d.alias, d.user, d.password, d.host, d.port) == ("localhost", None, None, "localhost", None)


def test_userinfo_splits_at_last_at_and_first_colon() -> None:
    d = DSN.parse("a://u:p@ss:w@h")
    assert (d.user, d.password, d.host) == ("u", "p@ss:w", "h")


def test_percent_decoding_and_invalid_escapes_kept() -> None:
    d = DSN.parse("a://us%40er:p%2Fw%zz@h")
    assert (d.user, d.password) == ("us@er", "p/w%zz")


def test_ipv6_in_brackets() -> None:
    d = DSN.parse("v6://root@[::1]:2200")
    assert (d.host, d.port) == ("::1", 2200)
    assert DSN.parse("v6://[fe80::1]").port is None


def test_path_and_query_after_host_are_ignored() -> None:
    d = DSN.parse("a://u@host:22/some/path?x=1#frag")
    assert (d.host, d.port) == ("host", 22)


def test_underscore_alias_is_split_by_hand() -> None:
    assert DSN.parse("my_box.1+x-y://h").alias == "my_box.1+x-y"


def test_alias_compared_case_insensitively_but_kept_as_typed() -> None:
    d = DSN.parse("Web1://h")
    assert d.alias == "Web1" and d.key == "web1"


@pytest.mark.parametrize(
    ("text", "part"),
    [
        ("", "empty"),
        ("hostonly", "alias"),
        ("://host", "alias"),
        ("-bad://host", "alias"),
        ("a" * 65 + "://host", "alias"),
        ("a://", "host"),
        ("a://user@", "host"),
        ("a://h:0", "port"),
        ("a://h:65536", "port"),
        ("a://h:http", "port"),
        ("a://h:", "port"),
        ("a://h o", "host"),
        ("a://u\n@h", "user"),
        ("a\tb://h", "alias"),
        ("a://::1", "brackets"),
        ("a://[::1", "["),
    ],
)
def test_bad_dsns_name_the_wrong_part(text: str, part: str) -> None:
    with pytest.raises(DSNError) as info:
        DSN.parse(text)
    assert part in str(info.value)
    assert isinstance(info.value, ValueError)


def test_password_never_in_str_or_repr() -> None:
    d = DSN.parse("a://bob:hunter2@h:22")
    assert "hunter2" not in str(d) and "hunter2" not in repr(d)
    assert str(d) == "a://bob:****@h:22"
    assert d.display() == "a://bob:****@h:22"
    assert DSN.parse("localhost://localhost").display(user="me", port=22) == "localhost://me:None@localhost:22"


def test_password_revealed_only_on_request_and_round_trips() -> None:
    d = DSN.parse("a://bob:p%40ss@h")
    assert d.to_text(reveal_password=True) == "a://bob:p%40ss@h"


_text = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc", "Zs", "Zl", "Zp"), blacklist_characters="\x85"),
    min_size=1,
    max_size=20,
)
_hosts = st.one_of(
    st.from_regex(r"[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?(\.[a-z0-9]{1,8}){0,2}", fullmatch=True),
    st.ip_addresses(v=4).map(str),
    st.ip_addresses(v=6).map(str),
)


@given(
    alias=st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_.+-]{0,63}", fullmatch=True),
    user=st.one_of(st.none(), _text),
    password=st.one_of(st.none(), _text | st.sampled_from(["@:/?#%+", "p@ss:w/rd?#", "ü€😀"])),
    host=_hosts,
    port=st.one_of(st.none(), st.integers(1, 65535)),
)
def test_format_then_parse_round_trips(
    alias: str, user: str | None, password: str | None, host: str, port: int | None
) -> None:
    if password is not None and user is None:
        user = "u"
    text = alias + "://"
    if user is not None:
        text += quote(user, safe="")
        if password is not None:
            text += ":" + quote(password, safe="")
        text += "@"
    text += f"[{host}]" if ":" in host else host
    if port is not None:
        text += f":{port}"
    d = DSN.parse(text)
    assert (d.alias, d.user, d.password, d.host, d.port) == (alias, user, password, host, port)
    assert DSN.parse(d.to_text(reveal_password=True)) == d


def test_tags_in_the_query_are_kept_once_each_in_the_order_given_and_written_back() -> None:
    dsn = DSN.parse("web1://deploy@10.0.0.5?tags=web,prod&mode=shell&tags=Web,db")
    assert dsn.tags == ("web", "prod", "db") and dsn.mode == "shell"
    assert dsn.to_text() == "web1://deploy@10.0.0.5?mode=shell&tags=web,prod,db"
    assert DSN.parse(dsn.to_text()) == dsn
    assert DSN.parse("web1://10.0.0.5").tags == ()


@pytest.mark.parametrize("tag", ["a%20b", "a+b", "-x", "x" * 65, "caf%C3%A9"])
def test_a_bad_tag_is_refused_naming_it_and_the_grammar(tag: str) -> None:
    with pytest.raises(DSNError, match=r"invalid tag .*letters, digits, '_', '\.' or '-'"):
        DSN.parse(f"web1://10.0.0.5?tags=ok,{tag}")
