"""Storage backends for photos, chosen by config: a local folder (embedded) or S3 (production)."""

from __future__ import annotations

from media.storage.base import ObjectExists, Storage, StorageError
from media.storage.local import LocalStorage


def make_storage(
    backend: str,
    *,
    directory=None,
    endpoint: str = "",
    bucket: str = "",
    access_key: str = "",
    secret_key: str = "",
    region: str = "us-east-1",
) -> Storage:
    if backend == "local":
        return LocalStorage(directory)
    if backend == "s3":
        from media.storage.s3 import S3Storage

        return S3Storage(endpoint=endpoint, bucket=bucket, access_key=access_key, secret_key=secret_key, region=region)
    raise ValueError(f"unknown storage backend {backend!r}")


__all__ = ["LocalStorage", "ObjectExists", "Storage", "StorageError", "make_storage"]
