"""The account API: the subscriber's own entitlement, subscriptions and care actions."""
