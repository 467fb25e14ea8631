"""Benchmark: Berth against the reference registry (CNCF distribution), side by side."""
