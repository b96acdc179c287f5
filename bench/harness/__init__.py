"""Pieces the benchmarks share that are not a benchmark themselves (`make bench` runs
only bench/*.py): the Stripe flow corpus, a closed-loop load generator, the figures
table, and the driver of an optional peer implementation."""
