"""Berth log collector: syslog over TCP and UDP to rotated per-service files."""
