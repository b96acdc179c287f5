"""Provider-specific verification and normalisation, one module per provider and concern."""
