"""Bare stand-in for functions/receipt_email (bench/cold_start.py's fair baseline).

No Refrain code: Firestore and boto3's SES v2 client built at the first delivery;
the customer read, the send lease and the invoice number each in a transaction,
one raw e-mail through SES, the send recorded. Nothing rendered: rendering is
Refrain's own work, so it counts on Refrain's side of the difference.
"""

from __future__ import annotations

import functools
import os
from typing import Any

import boto3
import functions_framework
from botocore.config import Config
from google.cloud import firestore

PROJECT = os.environ["GOOGLE_CLOUD_PROJECT"]


@functools.cache
def clients() -> tuple[Any, Any]:
    endpoint = os.environ.get("REFRAIN_SES_ENDPOINT")
    secret = "local"  # pragma: allowlist secret - moto's local stand-in
    local = {"aws_access_key_id": "local", "aws_secret_access_key": secret}
    extra = {"endpoint_url": endpoint, **local} if endpoint else {}
    ses = boto3.client(
        "sesv2",
        region_name=os.environ.get("REFRAIN_SES_REGION", "eu-west-1"),
        config=Config(retries={"total_max_attempts": 1, "mode": "standard"}),
        **extra,
    )
    return firestore.Client(project=PROJECT), ses


@functions_framework.cloud_event
def receipt_email(cloud_event: Any) -> None:
    db, ses = clients()
    key = str(cloud_event.data["message"]["messageId"])
    db.collection("bare_customers").document(key).get()
    counter = db.collection("bare_series").document("SE")
    send = db.collection("bare_sends").document(key)

    @firestore.transactional
    def lease(transaction: Any) -> None:
        send.get(transaction=transaction)
        transaction.set(send, {"lease": True})

    @firestore.transactional
    def number(transaction: Any) -> None:
        snap = counter.get(transaction=transaction)
        db.collection("bare_invoices").document(key).get(transaction=transaction)
        n = int((snap.to_dict() or {}).get("n", 0)) + 1 if snap.exists else 1
        transaction.set(counter, {"n": n})
        transaction.set(db.collection("bare_invoices").document(key), {"number": n})

    lease(db.transaction())
    number(db.transaction())
    raw = b"From: receipts@refrain.example\r\nTo: cold@example.com\r\nSubject: bare\r\n\r\nbare\r\n"
    ses.send_email(
        FromEmailAddress=os.environ.get("REFRAIN_MAIL_FROM", "receipts@refrain.example"),
        Destination={"ToAddresses": ["cold@example.com"]},
        Content={"Raw": {"Data": raw}},
    )
    send.update({"sent": True})
