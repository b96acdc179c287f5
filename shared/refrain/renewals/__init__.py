"""Merchant-managed renewals: the tick, the charge worker, the payment gateway port."""
