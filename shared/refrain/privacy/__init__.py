"""Personal data on request: erasure (GDPR art. 17) and retention (docs/PRIVACY.md)."""
