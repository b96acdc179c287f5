"""The customer's contact details, as a provider's checkout reports them."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["CustomerDetails"]


@dataclass(frozen=True, slots=True)
class CustomerDetails:
    """Personal data: stored in Firestore `customers`, never logged or exported."""

    email: str | None = None
    name: str | None = None
    locale: str | None = None
    market: str | None = None

    def known(self) -> dict[str, str]:
        """The details the provider did report (merged into the customer's record)."""
        pairs = (
            ("email", self.email),
            ("name", self.name),
            ("locale", self.locale),
            ("market", self.market),
        )
        return {key: value for key, value in pairs if value}
