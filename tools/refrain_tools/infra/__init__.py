"""Deployment helpers: the Terraform inputs generated from the topology, and packaging glue.

Nothing here runs inside a deployed function; it is operator and CI tooling.
"""
