"""`refrain accounts show` on the emulators: what the account API would show the subscriber."""

from __future__ import annotations

import json

from tests.integration.care.conftest import Ops
from tests.integration.care.test_refund_cli import _invoice


def test_customer_service_sees_the_subscriber_s_access_subscriptions_and_invoices(
    ops: Ops,
) -> None:
    ops.seed()
    invoice = _invoice(ops)
    cancel = ops.cli("subscriptions", "cancel", "sub_care_1", "--at", "2025-01-05T10:00:00Z")
    assert cancel.exit_code == 0, cancel.output
    shown = ops.cli("accounts", "show", "acct_sub_care_1", "--at", "2025-01-06T00:00:00Z",
                    "--json")  # fmt: skip
    assert shown.exit_code == 0, shown.output
    view = json.loads(shown.stdout)
    assert view["entitlement"]["has_access"] is True
    assert view["entitlement"]["plan"] == "individual_monthly"
    [sub] = view["subscriptions"]
    assert sub["id"] == "sub_care_1" and sub["cancel_at_period_end"] is True
    assert [i["number"] for i in view["invoices"]] == [invoice.number]
    # After the period the cancellation ends it: no access, said without a renewal tick.
    later = json.loads(ops.cli("accounts", "show", "acct_sub_care_1", "--at",
                               "2025-02-02T00:00:00Z", "--json").stdout)  # fmt: skip
    assert later["entitlement"]["has_access"] is False
    text = ops.cli("accounts", "show", "acct_sub_care_1", "--at", "2025-01-06T00:00:00Z")
    assert "has access" in text.stdout and invoice.number in text.stdout


def test_an_unknown_account_has_no_access_and_nothing_listed(ops: Ops) -> None:
    view = json.loads(ops.cli("accounts", "show", "acct_nobody", "--json").stdout)
    assert view["entitlement"]["has_access"] is False
    assert (view["subscriptions"], view["invoices"]) == ([], [])
