"""S3 fixtures for the storage driver tests: a real S3 endpoint (moto_server unless configured)."""

from support.s3 import s3, s3_admin_client, s3_server  # noqa: F401 - fixtures used by this directory
