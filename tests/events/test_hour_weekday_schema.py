"""das.hour, das.weekday (UTC, by arithmetic on the epoch) and das.schema on all four engines."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.events import base_event, normalize


def _at(stamp: dt.datetime) -> dict:
    raw = base_event("postgres")
    raw["logTime"] = stamp.strftime("%Y-%m-%d %H:%M:%S.%f+00")
    return normalize(raw)["das"]


@given(st.datetimes(min_value=dt.datetime(1971, 1, 1), max_value=dt.datetime(2100, 1, 1)))
def test_hour_and_weekday_agree_with_datetime(stamp: dt.datetime) -> None:
    das = _at(stamp)
    assert das["hour"] == stamp.hour
    assert das["weekday"] == stamp.isoweekday()


def test_no_time_no_hour() -> None:
    raw = base_event("mysql")
    for key in ("logTime", "startTime", "endTime"):
        raw.pop(key, None)
    das = normalize(raw)["das"]
    assert das["hour"] is None and das["weekday"] is None


@pytest.mark.parametrize(
    ("engine", "fields", "schema"),
    [
        ("postgres", {"objectName": "payments.cards"}, "payments"),
        ("postgres", {"objectName": '"Pay"."cards"'}, "Pay"),
        ("postgres", {"objectName": "cards"}, None),
        ("postgres", {"objectName": None}, None),
        ("mysql", {"objectName": "shop.orders"}, "shop"),
        ("mysql", {"objectName": "orders", "databaseName": "shop"}, "shop"),
        ("mysql", {"objectName": "", "databaseName": "shop"}, None),
        ("oracle", {"objectName": "CARDS", "objectType": "PAYMENTS"}, "PAYMENTS"),
        ("oracle", {"objectType": None}, None),
        ("sqlserver", {"engineNativeAuditFields": {"schema_name": "dbo"}}, "dbo"),
        ("sqlserver", {"engineNativeAuditFields": {"schema_name": ""}}, None),
        ("sqlserver", {"engineNativeAuditFields": "odd"}, None),
    ],
)
def test_schema_on_every_engine(engine: str, fields: dict, schema: str | None) -> None:
    raw = base_event(engine)
    if isinstance(raw.get("engineNativeAuditFields"), dict) and "engineNativeAuditFields" in fields:
        value = fields["engineNativeAuditFields"]
        if isinstance(value, dict):
            fields = {"engineNativeAuditFields": {**raw["engineNativeAuditFields"], **value}}
    raw.update(fields)
    assert normalize(raw)["das"]["schema"] == schema
