"""In-memory twins of the ports, held to the real adapters by contract tests."""
