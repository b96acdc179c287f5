"""Churn signals for the data scientists: taxonomy, provider reasons, rows, transform.

Pure modules (no Google import) so ``refrain.topology`` can build the
BigQuery schema from :mod:`refrain.churn.rows` without loading a client, and
the transform is unit-tested in microseconds. The BigQuery writer lives in
``refrain.adapters.bigquery_signals``.
"""
