"""What each function refuses to start without in the cloud, by name."""

from __future__ import annotations

import pytest

from refrain import config_contract
from refrain.config_contract import IncompleteConfiguration, problems, refuse_incomplete
from refrain.topology import TOPOLOGY

PEPPER = "p" * 32
# A complete cloud environment for every function (what Terraform gives them).
CLOUD: dict[str, str] = {
    "GOOGLE_CLOUD_PROJECT": "refrain-prod",
    "STRIPE_WEBHOOK_SECRET": "whsec_x",  # pragma: allowlist secret
    "STRIPE_API_KEY": "sk_live_x",  # pragma: allowlist secret
    "ADYEN_HMAC_KEY": "00ff",  # pragma: allowlist secret
    "ADYEN_BASIC_AUTH_USER": "refrain",
    "ADYEN_BASIC_AUTH_PASSWORD": "pw",  # pragma: allowlist secret
    "ADYEN_API_KEY": "AQE",  # pragma: allowlist secret
    "ADYEN_MERCHANT_ACCOUNT": "RefrainECOM",
    "ADYEN_ENVIRONMENT": "live",
    "ADYEN_LIVE_PREFIX": "1797a841fbb37ca7-RefrainECOM",
    "GOOGLE_PLAY_PACKAGE_NAMES": "com.refrain.app",
    "GOOGLE_PLAY_PUSH_AUDIENCE": "refrain-google-play",
    "GOOGLE_PLAY_PUSH_SERVICE_ACCOUNT": "pubsub-push@refrain-prod.iam.gserviceaccount.com",
    "GOOGLE_PLAY_PRODUCT_PLANS": '{"premium_monthly": "individual_monthly"}',
    "APPLE_BUNDLE_ID": "com.refrain.app",
    "APPLE_ENVIRONMENT": "Production",
    "APPLE_APP_APPLE_ID": "1234567890",
    "REFRAIN_PAYMENT_GATEWAY": "providers",
    "REFRAIN_MAIL_FROM": "receipts@refrain.example",
    "REFRAIN_SES_REGION": "eu-west-1",
    "REFRAIN_ACCOUNT_URL": "https://account.refrain.example",
    "REFRAIN_SUBSCRIBER_PEPPER": PEPPER,
}
FUNCTIONS = [f.name for f in TOPOLOGY.functions]


@pytest.mark.parametrize("function", FUNCTIONS)
def test_a_complete_cloud_environment_starts_every_function(function: str) -> None:
    assert problems(function, CLOUD) == []


@pytest.mark.parametrize("function", FUNCTIONS)
def test_removing_any_always_required_setting_is_refused_by_name(function: str) -> None:
    for name in config_contract.ALWAYS_REQUIRED[function]:
        env = {k: v for k, v in CLOUD.items() if k != name}
        found = problems(function, env)
        assert found and name in found[0], (function, name, found)


@pytest.mark.parametrize(
    ("function", "change", "named"),
    [
        ("renewal_charge", {"REFRAIN_PAYMENT_GATEWAY": "sandbox"}, "REFRAIN_PAYMENT_GATEWAY"),
        ("renewal_charge", {"STRIPE_API_KEY": "", "ADYEN_API_KEY": ""}, "STRIPE_API_KEY"),
        ("renewal_charge", {"ADYEN_MERCHANT_ACCOUNT": ""}, "ADYEN_MERCHANT_ACCOUNT"),
        ("renewal_charge", {"ADYEN_ENVIRONMENT": ""}, "ADYEN_ENVIRONMENT"),
        ("renewal_charge", {"ADYEN_ENVIRONMENT": "production"}, "ADYEN_ENVIRONMENT"),
        ("renewal_charge", {"ADYEN_LIVE_PREFIX": ""}, "ADYEN_LIVE_PREFIX"),
        # the dunning experiment's unit: no pepper, the function does not start
        ("renewal_charge", {"REFRAIN_SUBSCRIBER_PEPPER": ""}, "REFRAIN_SUBSCRIBER_PEPPER"),
        ("renewal_charge", {"REFRAIN_SUBSCRIBER_PEPPER": "short"}, "REFRAIN_SUBSCRIBER_PEPPER"),
        ("checkout_webhook", {"ADYEN_BASIC_AUTH_PASSWORD": ""}, "ADYEN_BASIC_AUTH_PASSWORD"),
        ("checkout_webhook", {"GOOGLE_PLAY_PUSH_AUDIENCE": ""}, "GOOGLE_PLAY_PUSH_AUDIENCE"),
        ("outbox_sweep", {"GOOGLE_PLAY_PRODUCT_PLANS": ""}, "GOOGLE_PLAY_PRODUCT_PLANS"),
        ("checkout_webhook", {"APPLE_APP_APPLE_ID": ""}, "APPLE_APP_APPLE_ID"),
        ("checkout_webhook", {"APPLE_ROOT_CERTS": "/nowhere.cer"}, "APPLE_ROOT_CERTS"),
        ("churn_export", {"REFRAIN_SUBSCRIBER_PEPPER": "short"}, "REFRAIN_SUBSCRIBER_PEPPER"),
        ("renewal_tick", {"REFRAIN_CLOCK_FILE": "/tmp/clock"}, "REFRAIN_CLOCK_FILE"),
        ("renewal_charge", {"STRIPE_API_BASE": "http://127.0.0.1:1"}, "STRIPE_API_BASE"),
    ],
)
def test_a_wrong_or_missing_conditional_setting_is_refused_by_name(
    function: str, change: dict[str, str], named: str
) -> None:
    found = problems(function, {**CLOUD, **change})
    assert found and named in found[0], found


def test_a_webhook_no_provider_can_reach_is_refused() -> None:
    providers = ("STRIPE_WEBHOOK_SECRET", "ADYEN_HMAC_KEY", "GOOGLE_PLAY_PACKAGE_NAMES",
                 "APPLE_BUNDLE_ID")  # fmt: skip
    env = {k: v for k, v in CLOUD.items() if k not in providers}
    assert "no provider could reach us" in problems("checkout_webhook", env)[0]


def test_sandbox_is_fine_with_the_local_stack_and_in_test_runs() -> None:
    refuse_incomplete("renewal_trigger", {"FIRESTORE_EMULATOR_HOST": "127.0.0.1:8080"})
    refuse_incomplete("renewal_trigger", {"REFRAIN_ENVIRONMENT": "test"})
    with pytest.raises(IncompleteConfiguration, match="REFRAIN_PAYMENT_GATEWAY"):
        refuse_incomplete("renewal_trigger", {"GOOGLE_CLOUD_PROJECT": "p"})
    with pytest.raises(IncompleteConfiguration, match="GOOGLE_CLOUD_PROJECT"):
        refuse_incomplete("renewal_trigger", {"REFRAIN_ENVIRONMENT": "dev"})


def test_the_served_target_alone_is_checked_when_cloud_run_names_it() -> None:
    """renewal_tick and renewal_charge share a source: the tick needs no gateway."""
    env = {"GOOGLE_CLOUD_PROJECT": "p", "FUNCTION_TARGET": "renewal_tick"}
    refuse_incomplete("renewal_trigger", env)
    with pytest.raises(IncompleteConfiguration, match=r"^renewal_charge: REFRAIN_PAYMENT"):
        refuse_incomplete("renewal_trigger", {**env, "FUNCTION_TARGET": "renewal_charge"})


def test_the_error_names_the_setting_and_never_a_value() -> None:
    env = {**CLOUD, "ADYEN_ENVIRONMENT": "production", "ADYEN_API_KEY": "AQE_secret_value"}
    with pytest.raises(IncompleteConfiguration) as caught:
        refuse_incomplete("renewal_trigger", {**env, "FUNCTION_TARGET": "renewal_charge"})
    assert "ADYEN_ENVIRONMENT" in str(caught.value) and "AQE_secret_value" not in str(caught.value)
