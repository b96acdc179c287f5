"""Cloud settings: the outage bounds come from the environment and must be positive."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from refrain.settings import CloudSettings


def test_outage_bounds_default_below_a_providers_webhook_timeout(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("REFRAIN_FIRESTORE_DEADLINE_S", raising=False)
    monkeypatch.delenv("REFRAIN_PUBLISH_TIMEOUT_S", raising=False)
    settings = CloudSettings()
    # Stripe and Adyen give up on a webhook after about 10 s: one stuck call must not.
    assert settings.firestore_deadline_s < 10 and settings.publish_timeout_s < 10


def test_outage_bounds_are_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REFRAIN_FIRESTORE_DEADLINE_S", "2.5")
    monkeypatch.setenv("REFRAIN_PUBLISH_TIMEOUT_S", "1")
    settings = CloudSettings()
    assert (settings.firestore_deadline_s, settings.publish_timeout_s) == (2.5, 1.0)


@pytest.mark.parametrize("value", ["0", "-1", "soon"])
def test_a_bound_that_is_not_a_positive_number_is_refused(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("REFRAIN_FIRESTORE_DEADLINE_S", value)
    with pytest.raises(ValidationError, match="REFRAIN_FIRESTORE_DEADLINE_S"):
        CloudSettings()
