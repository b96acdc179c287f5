"""Refrain's tooling: the operator CLI, the local stack, the demo, the provider simulator.

Never shipped in a function archive and never imported by the runtime package
``refrain`` (an import contract checks it); ``make demo`` and ``make test`` install it.
"""
