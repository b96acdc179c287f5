"""The DLQ commands run on the same seeded stack as the care commands."""

from tests.integration.care.conftest import ops

__all__ = ["ops"]
