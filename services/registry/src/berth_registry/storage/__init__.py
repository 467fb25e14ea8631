"""Blob storage drivers: one interface, a name-to-factory registry, filesystem, S3 and in-memory."""
