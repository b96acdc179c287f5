"""The fast timestamp formatters must give exactly the standard library's text."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from refrain.domain.clock import basic_utc_stamp, isoformat

pytestmark = pytest.mark.unit

zones = st.sampled_from(
    [
        UTC,
        timezone(timedelta(hours=2)),
        timezone(timedelta(hours=-5, minutes=-30)),
        ZoneInfo("UTC"),
        ZoneInfo("Europe/Stockholm"),
    ]
)


@settings(max_examples=300, deadline=None)
@given(value=st.datetimes(timezones=zones))
def test_formatters_match_the_standard_methods(value: datetime) -> None:
    assert isoformat(value) == value.isoformat()
    if value.year >= 1000:  # below that, strftime's %Y padding is platform-specific
        assert basic_utc_stamp(value) == value.strftime("%Y%m%dT%H%M%SZ")


@pytest.mark.parametrize(
    ("value", "iso", "stamp"),
    [
        (
            datetime(2025, 2, 28, 9, 5, 7, tzinfo=UTC),
            "2025-02-28T09:05:07+00:00",
            "20250228T090507Z",
        ),
        (
            datetime(2025, 12, 31, 23, 59, 59, 1000, tzinfo=UTC),
            "2025-12-31T23:59:59.001000+00:00",
            "20251231T235959Z",
        ),
        (datetime(999, 1, 2, tzinfo=UTC), "0999-01-02T00:00:00+00:00", None),
    ],
)
def test_formatters_on_known_values(value: datetime, iso: str, stamp: str | None) -> None:
    assert isoformat(value) == iso
    if stamp is not None:
        assert basic_utc_stamp(value) == stamp
