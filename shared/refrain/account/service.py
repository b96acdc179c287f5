"""The subscriber's use cases: entitlement, subscriptions, and care actions on their own.

Reads:

* ``entitlement``: ONE document read, ``entitlements/{account}``, which the ledger
  rewrites in every commit that changes one of the account's subscriptions
  (refrain.domain.entitlement); resolved at the request's time.
* ``subscriptions``: one query on ``subscriptions.account_id``.

Actions go through :class:`refrain.care.actions.CareService`, the same state machine,
ledger transaction and outbox as provider events and operators' care actions. A
subscription that is not the caller's is answered exactly like one that does not
exist (404), before anything else is looked at.

Idempotency (``Idempotency-Key``, required on every action): the key is scoped to the
account; its first use records the request's fingerprint (method, path, body) and,
once answered, the answer. The same key again gets the recorded answer
(``Idempotent-Replayed: true``) and applies nothing; with a different request it is a
422. The ledger's own dedupe record (``care:{subscription}:api-{hash of account and
key}``) makes the action apply once even when two requests race or the answer was lost
before it was recorded. Answers that say "retry" (503) are not recorded, nor erasure's
"cancel first" (409).

Erasure (``POST /v1/me/erasure``) takes the same key protocol, scoped to the account,
and runs refrain.privacy.erasure on the caller's own account only.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from pydantic import BaseModel

from refrain.account import problems as p
from refrain.account.models import (
    ActionOut,
    CancelIn,
    ChangePlanIn,
    EntitlementOut,
    ErasureOut,
    PauseIn,
    PreviewOut,
    SubscriptionList,
    SubscriptionOut,
)
from refrain.account.problems import Problem
from refrain.care.actions import Action, CareError, CareRequest, CareResult
from refrain.care.preview import PlanChangePreview
from refrain.domain.clock import Clock
from refrain.domain.entitlement import SubscriptionAccess, resolve
from refrain.domain.subscription import Subscription
from refrain.privacy.erasure import ErasureBlocked, ErasureService, InvalidAccount


class AccountStore(Protocol):
    def entitlement_entries(self, account_id: str) -> list[SubscriptionAccess]:
        """The account's entitlement document: one read."""
        ...

    def subscriptions(self, account_id: str) -> list[Subscription]: ...

    def subscription(self, subscription_id: str) -> Subscription | None: ...


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    body: str
    replayed: bool = False


class KeyReused(Exception):
    """The Idempotency-Key was first used with a different request."""


class IdempotencyKeys(Protocol):
    def begin(self, scope: str, fingerprint: str, now: datetime) -> Answer | None:
        """Record the first use (None), or the recorded answer of an earlier one (None if
        it was never answered); raises :class:`KeyReused` for a different fingerprint."""
        ...

    def finish(self, scope: str, answer: Answer, now: datetime) -> None: ...


class CareActions(Protocol):
    def perform(self, request: CareRequest) -> CareResult: ...

    def preview(self, request: CareRequest) -> PlanChangePreview: ...


_ACTIONS = {
    "cancel": Action.CANCEL,
    "revert-cancel": Action.REVERT,
    "change-plan": Action.CHANGE_PLAN,
    "pause": Action.PAUSE,
    "resume": Action.RESUME,
}
ACTION_NAMES = tuple(_ACTIONS)


# Answers that say "retry" are not recorded; nor erasure's "cancel first" (409): the
# same key then works once the subscriber has cancelled.
_RETRY = frozenset({503})
_ERASURE_UNRECORDED = frozenset({409, 503})
KEPT = (
    "Invoices and credit notes, for the issuing entity's legal retention period "
    "(docs/PRIVACY.md); they name no person, and the account id on them is replaced."
)


def fingerprint(method: str, path: str, body: BaseModel) -> str:
    canonical = f"{method}\n{path}\n{body.model_dump_json()}"
    return hashlib.sha256(canonical.encode()).hexdigest()


def request_id(scope: str) -> str:
    """The care request id of an account's key: fixed length, no character of the key."""
    return "api-" + hashlib.sha256(scope.encode()).hexdigest()[:40]


@dataclass
class AccountService:
    store: AccountStore
    care: CareActions
    keys: IdempotencyKeys
    clock: Clock
    max_age_s: int = 30
    erasure: ErasureService | None = None

    # -- reads -------------------------------------------------------------------------

    def entitlement(self, account_id: str) -> tuple[EntitlementOut, int]:
        """The answer and how many seconds a client may reuse it (never past a change)."""
        now = self.clock.now()
        found = resolve(self.store.entitlement_entries(account_id), now)
        max_age = self.max_age_s
        if found.changes_at is not None:
            max_age = max(0, min(max_age, int((found.changes_at - now).total_seconds())))
        return EntitlementOut.of(found, now), max_age

    def subscriptions(self, account_id: str) -> SubscriptionList:
        subs = sorted(self.store.subscriptions(account_id), key=lambda s: s.created_at)
        return SubscriptionList(subscriptions=[SubscriptionOut.of(s) for s in subs])

    def owned(self, account_id: str, subscription_id: str) -> Subscription:
        sub = self.store.subscription(subscription_id)
        if sub is None or sub.account_id != account_id:
            raise Problem(p.NOT_FOUND, "No such subscription")
        return sub

    # -- actions -----------------------------------------------------------------------

    def preview(self, account_id: str, subscription_id: str, body: ChangePlanIn) -> Answer:
        self.owned(account_id, subscription_id)
        request = CareRequest(Action.CHANGE_PLAN, subscription_id, "preview", plan=body.plan)
        try:
            shown = self.care.preview(request)
        except CareError as exc:
            raise Problem(p.UNPROCESSABLE, _care_detail(exc)) from exc
        return Answer(200, PreviewOut.of(shown).model_dump_json())

    def act(
        self, account_id: str, subscription_id: str, action: str, body: BaseModel,
        *, key: str, print_: str,
    ) -> Answer:  # fmt: skip
        self.owned(account_id, subscription_id)
        return self._once(
            f"{account_id}:{key}", print_,
            lambda scope: self._perform(subscription_id, _ACTIONS[action], body, request_id(scope)),
        )  # fmt: skip

    def erase(self, account_id: str, *, key: str, print_: str) -> Answer:
        """GDPR art. 17 through refrain.privacy.erasure; once per key like the actions."""
        erasure = self.erasure
        if erasure is None:
            raise Problem(p.NOT_FOUND)
        return self._once(
            f"{account_id}:{key}", print_, lambda _: _erase(erasure, account_id),
            unrecorded=_ERASURE_UNRECORDED,
        )  # fmt: skip

    def _once(
        self, scope: str, print_: str, perform: Callable[[str], Answer],
        unrecorded: frozenset[int] = _RETRY,
    ) -> Answer:  # fmt: skip
        """The Idempotency-Key protocol: a recorded answer again, or perform and record."""
        now = self.clock.now()
        try:
            recorded = self.keys.begin(scope, print_, now)
        except KeyReused as exc:
            raise Problem(p.IDEMPOTENCY_MISMATCH) from exc
        if recorded is not None:
            return Answer(recorded.status, recorded.body, replayed=True)
        answer = perform(scope)
        if answer.status not in unrecorded:
            self.keys.finish(scope, answer, now)
        return answer

    def _perform(self, sid: str, action: Action, body: BaseModel, rid: str) -> Answer:
        request = CareRequest(
            action, sid, rid,
            reason=body.reason if isinstance(body, CancelIn) else None,
            plan=body.plan if isinstance(body, ChangePlanIn) else None,
            resume_at=body.resume_at if isinstance(body, PauseIn) else None,
        )  # fmt: skip
        try:
            result = self.care.perform(request)
        except CareError as exc:
            return _problem(Problem(p.UNPROCESSABLE, _care_detail(exc)))
        if result.charge_queued is False:  # recorded, not billed yet: the same key retries it
            detail = "The change is recorded; retry with the same Idempotency-Key"
            return _problem(Problem(p.UNAVAILABLE, detail))
        if not result.ok:
            why = result.reason or result.previous_status or result.status.value
            return _problem(Problem(p.CONFLICT, why))
        sub = result.subscription
        assert sub is not None
        waiting = action is Action.CHANGE_PLAN and sub.upgrade is not None
        out = ActionOut(
            status="payment_pending" if waiting else "applied", subscription=SubscriptionOut.of(sub)
        )
        return Answer(200, out.model_dump_json())


def _erase(erasure: ErasureService, account_id: str) -> Answer:
    try:
        report = erasure.erase(account_id)
    except ErasureBlocked as exc:
        listed = ", ".join(exc.subscription_ids[:10])
        return _problem(Problem(p.ERASURE_BLOCKED, f"Cancel first: {listed}"))
    except InvalidAccount as exc:
        return _problem(Problem(p.UNPROCESSABLE, str(exc)))
    out = ErasureOut(
        status=report.status, erased_at=report.erased_at, receipt=report.account_hash,
        counts=report.counts, kept=KEPT,
    )  # fmt: skip
    return Answer(200, out.model_dump_json())


def _problem(problem: Problem) -> Answer:
    return Answer(problem.type.status, problem.body())


def _care_detail(exc: CareError) -> str:
    """A care refusal's message is about the plan or the time asked for; nothing internal."""
    return str(exc)[:200]
