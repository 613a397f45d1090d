"""The plan: added, kept, changed, skipped; replace; the same import twice keeps everything."""

from __future__ import annotations

from sshpool.dsn import DSN
from sshpool.inventory import Found, plan


def found(*texts: str) -> Found:
    out = Found()
    for text in texts:
        out.add(DSN.parse(text))
    return out


def test_added_kept_and_changed_against_the_channels_there_are() -> None:
    there = [DSN.parse("Web1://u@10.0.0.1"), DSN.parse("db1://u@10.0.0.9")]
    todo = plan(found("web1://u@10.0.0.1", "db1://u@10.0.0.2", "new://u@10.0.0.3"), there)
    assert [d.alias for d in todo.added] == ["new"] and [d.alias for d in todo.kept] == ["Web1"]
    assert [(c.was.host, c.now.host) for c in todo.changed] == [("10.0.0.9", "10.0.0.2")]
    assert todo.replaced == () and plan(found("db1://u@10.0.0.2"), there, replace=True).replaced != ()
    answer = todo.answer()
    assert answer["changed"] == [
        {"alias": "db1", "dsn": "db1://u@10.0.0.2", "was": "db1://u@10.0.0.9", "replaced": False}
    ]


def test_the_same_import_twice_keeps_everything_the_second_time() -> None:
    first = plan(found("a://h1", "b://u:pw@h2?tags=x"), [])
    second = plan(found("a://h1", "b://u:pw@h2?tags=x"), first.added)
    assert second.added == second.changed == () and len(second.kept) == 2
    assert "pw" not in str(second.answer())


def test_two_hosts_with_one_alias_keep_the_first_and_skip_the_other() -> None:
    twice = found("web://h1", "WEB://h2")
    assert [d.host for d in twice.dsns] == ["h1"]
    assert [s.to_dict()["alias"] for s in twice.skipped] == ["WEB"]
