"""The local stack: Google's emulators, bqemulator and moto, run as real servers."""
