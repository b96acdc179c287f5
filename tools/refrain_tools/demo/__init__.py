"""The README demo: the whole system on the local stack."""
