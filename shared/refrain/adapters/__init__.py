"""Adapters: the only modules that import Google or AWS client libraries.

Each lives in its own module so a function imports only the clients it uses
(the webhook never pays for BigQuery or boto3 at cold start).
"""
