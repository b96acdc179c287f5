"""The create() precondition inside a transaction: the basis of every dedupe record."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from google.api_core.exceptions import AlreadyExists, Conflict
from google.cloud import firestore

from refrain.adapters.firestore import build_firestore
from refrain.settings import CloudSettings


def _claim(db: firestore.Client, doc_id: str, worker: int) -> bool:
    ref = db.collection("dedupe").document(doc_id)

    @firestore.transactional
    def tx_body(tx: firestore.Transaction) -> None:
        tx.create(ref, {"worker": worker})
        tx.set(db.collection("effects").document(f"{doc_id}-{worker}"), {"worker": worker})

    try:
        tx_body(db.transaction())
    except (AlreadyExists, Conflict):
        return False
    return True


def test_second_create_in_a_transaction_is_refused_and_writes_nothing(
    cloud: CloudSettings,
) -> None:
    db = build_firestore(cloud)
    assert _claim(db, "evt-1", worker=1) is True
    assert _claim(db, "evt-1", worker=2) is False
    assert db.collection("dedupe").document("evt-1").get().to_dict() == {"worker": 1}
    effects = [d.id for d in db.collection("effects").stream()]
    assert effects == ["evt-1-1"]


@pytest.mark.timeout(120)
def test_concurrent_claims_of_one_id_let_exactly_one_through(cloud: CloudSettings) -> None:
    db = build_firestore(cloud)
    with ThreadPoolExecutor(max_workers=8) as pool:
        outcomes = list(pool.map(lambda w: _claim(db, "evt-race", w), range(8)))
    assert outcomes.count(True) == 1
    assert len(list(db.collection("effects").stream())) == 1
