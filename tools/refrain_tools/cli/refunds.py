"""`refrain refunds create`: an operator refund through the gateway that took the payment.

Exit code 0 when the refund was credited (or submitted: the provider confirms it by
notification), or was made before under the same --request-id; 1 when it was refused
(nothing was refunded, nothing changed); 2 when the gateway did not answer (the
amount stays reserved: run the same command again, same --request-id, to finish it).
"""

from __future__ import annotations

import json
import sys
from datetime import datetime
from typing import Any

import click

from refrain.care.refunds import RefundOrder, RefundOutcome, RefundRefused
from refrain.domain.clock import Clock, FixedClock, SystemClock
from refrain.domain.errors import InvalidMoney
from refrain.domain.money import Money
from refrain.observability import get_logger
from refrain.renewals.gateway import GatewayUnavailable, RefundDeclined
from refrain.settings import CloudSettings
from refrain_tools.cli.subscriptions import ISO_TIME


@click.group()
def refunds() -> None:
    """Refunds made by operators (provider-reported refunds arrive by webhook)."""


@refunds.command()
@click.argument("target")
@click.option("--reason", required=True, help="Why (kept on the refund and the credit note).")
@click.option(
    "--amount", default=None,
    help="In the invoice's currency, e.g. 30.00 (default: all that is left to refund).",
)  # fmt: skip
@click.option(
    "--request-id", required=True,
    help="Idempotency key: the same id again is the same refund, made at most once.",
)  # fmt: skip
@click.option("--revoke-access", is_flag=True, help="End the subscription's access now.")
@click.option("--at", "at", type=ISO_TIME, default=None, help="As of this time (demo clock).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def create(target: str, **opts: Any) -> None:
    """Refund TARGET: an invoice number (SE3-000012) or a subscription (its latest invoice).

    Never more than was paid minus what was refunded already, in one transaction; a
    credit note is numbered in the credit-note series and mailed to the customer.
    """
    from refrain.bootstrap import build_refund_service

    at: datetime | None = opts["at"]
    clock: Clock = FixedClock(at) if at is not None else SystemClock()
    service = build_refund_service(CloudSettings(), clock, get_logger("care", sys.stderr))
    try:
        money = _amount(service.book.payment(target).paid.currency, opts["amount"])
        order = RefundOrder(
            target, opts["reason"], opts["request_id"], money, opts["revoke_access"]
        )
        outcome = service.refund(order)
    except (RefundRefused, RefundDeclined) as exc:
        raise click.ClickException(f"refused, nothing refunded: {exc}") from exc
    except GatewayUnavailable as exc:
        click.echo(f"the gateway did not answer ({exc}); run again with --request-id", err=True)
        sys.exit(2)
    _show(outcome, bool(opts["as_json"]))


def _amount(currency: str, given: str | None) -> Money | None:
    if given is None:
        return None
    try:
        return Money.of(given, currency)
    except InvalidMoney as exc:
        raise click.BadParameter(f"{given!r} is not an amount in {currency}: {exc}") from exc


def _show(outcome: RefundOutcome, as_json: bool) -> None:
    if as_json:
        out = {
            "status": outcome.status,
            "request_id": outcome.request_id,
            "invoice": outcome.invoice_number,
            "refund_id": outcome.refund_id,
            "outbox_id": outcome.outbox_id,
            **outcome.amount.to_dict(),
        }
        click.echo(json.dumps(out, indent=2, sort_keys=True))
        return
    note = {
        "credited": "credited; the credit note follows by e-mail",
        "submitted": "submitted; credited when the provider confirms it",
        "duplicate": "made before under this request id",
    }[outcome.status]
    click.echo(
        f"refund {outcome.amount} of invoice {outcome.invoice_number}: {note} "
        f"(request {outcome.request_id}, refund {outcome.refund_id or '-'})"
    )
