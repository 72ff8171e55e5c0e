"""The configured photo store for this process."""

from __future__ import annotations

from functools import lru_cache

from backend import runtime
from media.storage import Storage, make_storage


@lru_cache(maxsize=1)
def _for(key: tuple) -> Storage:
    backend, directory, endpoint, bucket, ak, sk, region = key
    return make_storage(
        backend, directory=directory, endpoint=endpoint, bucket=bucket, access_key=ak, secret_key=sk, region=region
    )


def get_storage() -> Storage:
    s = runtime.settings()
    return _for(
        (
            s.storage_backend,
            str(s.storage_dir),
            s.s3_endpoint,
            s.s3_bucket,
            s.s3_access_key,
            s.s3_secret_key,
            s.s3_region,
        )
    )
