"""Berth registry: the OCI Distribution API v1.1 over PostgreSQL metadata and a storage driver."""
