"""Tick + charge worker on the emulators (real Firestore and Pub/Sub clients), inline."""

from __future__ import annotations

import io
from dataclasses import dataclass

import pytest
from google.cloud import firestore

from refrain.adapters.firestore import build_firestore
from refrain.domain import ManualClock
from refrain.domain.clock import utc
from refrain.observability import get_logger
from refrain.renewals.gateway import GatewayRouter, PaymentGateway
from refrain.renewals.sandbox import SandboxGateway
from refrain.settings import CloudSettings
from refrain_tools.renewals.inline import InlineRenewals, build_inline

START = utc(2025, 1, 1)


@dataclass
class Rig:
    db: firestore.Client
    clock: ManualClock
    sandbox: SandboxGateway
    inline: InlineRenewals
    log: io.StringIO


def make_rig(
    cloud: CloudSettings,
    *,
    gateway: PaymentGateway | None = None,
    duplicate: bool = False,
    concurrency: int = 1,
) -> Rig:
    clock = ManualClock(START)
    sandbox = SandboxGateway()
    stream = io.StringIO()
    inline = build_inline(
        cloud,
        clock=clock,
        gateways=GatewayRouter({}, default=gateway or sandbox),
        log=get_logger("renewal_trigger", stream),
        concurrency=concurrency,
        duplicate=duplicate,
    )
    return Rig(build_firestore(cloud), clock, sandbox, inline, stream)


@pytest.fixture
def rig(cloud: CloudSettings) -> Rig:
    return make_rig(cloud)
