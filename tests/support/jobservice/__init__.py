"""Helpers for the jobservice tests: broker fixtures, a probe job type, a switchable TCP proxy."""
