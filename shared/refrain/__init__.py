"""Refrain: subscription commerce on Google Cloud."""
