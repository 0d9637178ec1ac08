"""Unit tests: the pure layers, no server process."""
