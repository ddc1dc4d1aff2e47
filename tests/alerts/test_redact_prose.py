"""The engines' own error prose stays readable; a password typed without quotes is still masked."""

from __future__ import annotations

import pytest

from engine.alerts.redact import redact_event, redact_sql

PROSE = [
    'password authentication failed for user "app"',
    "Login failed for user 'test'. Reason: Password did not match that for the login provided.",
    'FATAL: password authentication failed for user "postgres"',
    "Your password has expired",
    "ORA-28001: the password has expired",
    "Password verification for the specified password failed",
]


@pytest.mark.parametrize("text", PROSE)
def test_error_prose_is_not_masked(text: str) -> None:
    assert redact_sql(text) == text


def test_an_unquoted_password_is_still_masked() -> None:
    assert "hunter2" not in redact_sql("ALTER ROLE app PASSWORD hunter2")
    assert "s3cr3t" not in redact_sql("ALTER USER bob IDENTIFIED BY s3cr3t")


def test_sqlserver_failed_login_sample_keeps_its_reason() -> None:
    event = {
        "commandText": PROSE[1],
        "errorMessage": PROSE[0],
        "das": {"sql": None},
    }
    assert redact_event(event)["commandText"] == PROSE[1]
    assert redact_event(event)["errorMessage"] == PROSE[0]
