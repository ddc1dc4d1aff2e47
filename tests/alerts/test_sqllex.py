"""The SQL tokenizer under redaction: each dialect reads literals and comments by its own rules."""

from __future__ import annotations

from engine.alerts.sqllex import DIALECTS, tokens

BY_NAME = {d.name: d for d in DIALECTS}


def _read(text: str, dialect: str) -> tuple[list[tuple[str, str]], list[str]]:
    inner: list[str] = []
    toks = tokens(
        text, 0, len(text), BY_NAME[dialect], lambda s, e, _d, _b: inner.append(text[s:e])
    )
    return [(t[0], text[t[3] : t[4]]) for t in toks], inner


def test_a_backslash_escapes_a_quote_only_in_mysql():
    text = r"SELECT 'a\' PASSWORD 'x'"
    mysql, _ = _read(text, "mysql")
    postgres, _ = _read(text, "postgres")
    assert ("s", r"a\' PASSWORD ") in mysql
    assert ("s", "a\\") in postgres and ("w", "PASSWORD") in postgres


def test_comments_and_literal_contents_go_to_the_inner_scanner_not_into_tokens():
    toks, inner = _read("ALTER /* c */ ROLE [r] $$ body $$ -- tail", "sqlserver")
    assert ("q", "r") in toks and " c " in inner and "- tail" in inner
    toks, inner = _read("DO $$ body $$", "postgres")
    assert toks == [("w", "DO"), ("s", " body ")] and " body " in inner


def test_an_unterminated_literal_runs_to_the_end():
    toks, _ = _read("PASSWORD q'[secret", "oracle")
    assert toks[-1] == ("s", "secret")
