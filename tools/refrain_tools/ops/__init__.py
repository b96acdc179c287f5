"""Operator tooling that is not a customer action: dead-letter inspection and replay."""
