"""Renewals run inline, and the populations simulations and benchmarks seed."""
