"""Provider events in, state changes and domain events out: the ingestion path."""
