"""MySQL executable comments cannot hide a statement's verb: ``/*!NNNNN … */`` runs only on a
server of version NNNNN or later, so the verb is read both ways and the more dangerous reading
wins."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.events import base_event, normalize
from engine.events.sqlverb import ACTION_RANK, extract_verb


def _mysql(sql: str) -> dict:
    raw = base_event("mysql")
    raw.update(command="QUERY", commandText=sql, dbUserName="app")
    return normalize(raw)["das"]


@pytest.mark.parametrize(
    ("sql", "action", "verb"),
    [
        ("DROP TABLE audit_log", "DDL", "DROP TABLE"),
        ("/*!99999 SELECT */ DROP TABLE audit_log", "DDL", "DROP TABLE"),
        ("/*!99999 SELECT 1; */ GRANT ALL ON *.* TO 'app'@'%'", "ROLE", "GRANT"),
        ("/*!90000 DO 1, */ CREATE USER 'x'@'%' IDENTIFIED BY 'p'", "ROLE", "CREATE USER"),
        ("/*!50000 DROP */ TABLE audit_log", "DDL", "DROP TABLE"),
        ("/*! DROP */ TABLE audit_log", "DDL", "DROP TABLE"),
        (
            "/*!99999 SELECT */ /*!99999 1, */ ALTER USER 'root'@'%' ACCOUNT UNLOCK",
            "ROLE",
            "ALTER USER",
        ),
        ("/*!80000 SELECT */ -- x\n DROP DATABASE shop", "DDL", "DROP DATABASE"),
        ("/*!99999 SELECT */ UPDATE t SET a = 1", "WRITE", "UPDATE"),
        # mysqldump's triggers: every reading that yields a verb agrees
        (
            "/*!50003 CREATE*/ /*!50017 DEFINER=`u`@`%`*/ /*!50003 TRIGGER t",
            "DDL",
            "CREATE TRIGGER",
        ),
        ("/*!40101 SET NAMES utf8 */", "MISC", "SET"),
        ("/*!40101 SET NAMES utf8 */ SELECT 1", "READ", "SELECT"),
    ],
)
def test_executable_comments_cannot_lower_the_action(sql: str, action: str, verb: str) -> None:
    das = _mysql(sql)
    assert (das["action"], das["verb"]) == (action, verb)


def test_other_engines_read_the_comment_as_a_comment() -> None:
    assert extract_verb("/*!99999 SELECT */ DROP TABLE t") == "DROP TABLE"


_WORDS = st.sampled_from(["SELECT", "1", ",", ";", "DO", "SET", "x", "*/", "/*", "--", "\n"])


@given(
    version=st.sampled_from(["", "50000", "80099", "99999"]),
    filler=st.lists(_WORDS, max_size=6).map(" ".join),
    statement=st.sampled_from(
        [
            "DROP TABLE audit_log",
            "GRANT ALL ON *.* TO u",
            "CREATE USER u",
            "ALTER TABLE t ADD c int",
        ]
    ),
)
def test_a_leading_executable_comment_never_lowers_a_dangerous_statement(
    version: str, filler: str, statement: str
) -> None:
    bare = _mysql(statement)["action"]
    hidden = _mysql(f"/*!{version} {filler.replace('*/', '')} */ {statement}")["action"]
    assert ACTION_RANK[hidden] >= ACTION_RANK[bare]


@pytest.mark.parametrize(
    "padding",
    ["--x\n" * 70_000, "(" * 300_000, "/*" + " " * 300_000 + "*/ ", " " * 300_000],
    ids=["line-comments", "parens", "block-comment", "spaces"],
)
def test_padding_past_the_scan_limit_reads_as_ddl_not_as_nothing(padding: str) -> None:
    from engine.events.sqlverb import MAX_VERB_SCAN, UNREAD_VERB

    assert len(padding) > MAX_VERB_SCAN
    das = _mysql(padding + "DROP TABLE audit_log")
    assert (das["verb"], das["action"]) == (UNREAD_VERB, "DDL")
