"""Trained models in tooling: data from BigQuery, fitting with scikit-learn, artifacts in GCS."""
