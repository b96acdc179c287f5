"""Customer care: operator actions on merchant-managed subscriptions, through the ledger."""
