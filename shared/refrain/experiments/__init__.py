"""Experiments: declared in configuration, assigned by hashing, sticky while they run."""
