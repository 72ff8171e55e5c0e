"""S3-compatible storage on boto3 (production; tested against SeaweedFS)."""

from __future__ import annotations

from typing import BinaryIO

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from media.storage.base import ObjectExists, StorageError


class S3Storage:
    def __init__(
        self, *, endpoint: str, bucket: str, access_key: str, secret_key: str, region: str = "us-east-1"
    ) -> None:
        self.bucket = bucket
        self.client = boto3.client(
            "s3",
            endpoint_url=endpoint or None,
            aws_access_key_id=access_key,
            aws_secret_access_key=secret_key,
            region_name=region,
            config=Config(
                signature_version="s3v4",
                s3={"addressing_style": "path"},
                connect_timeout=2,
                read_timeout=10,
                retries={"max_attempts": 2},
            ),
        )

    def put(self, key: str, data: BinaryIO, content_type: str = "application/octet-stream") -> int:
        try:
            self.client.upload_fileobj(data, self.bucket, key, ExtraArgs={"ContentType": content_type})
        except (BotoCoreError, ClientError) as exc:
            raise StorageError(str(exc)) from exc
        size = self.head(key)
        return size or 0

    def put_new(self, key: str, data: bytes, content_type: str = "application/octet-stream") -> None:
        """Write-once through S3's conditional write (``If-None-Match: *``): 412 when the key exists.

        For objects nobody can delete or overwrite either, turn on Object Lock for the bucket's prefix.
        """
        try:
            self.client.put_object(Bucket=self.bucket, Key=key, Body=data, ContentType=content_type, IfNoneMatch="*")
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("PreconditionFailed", "412", "ConditionalRequestConflict"):
                raise ObjectExists(f"object {key} exists") from exc
            raise StorageError(str(exc)) from exc
        except BotoCoreError as exc:
            raise StorageError(str(exc)) from exc

    def keys(self, prefix: str) -> list[str]:
        try:
            pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix)
            return sorted(obj["Key"] for page in pages for obj in page.get("Contents", []))
        except (BotoCoreError, ClientError) as exc:
            raise StorageError(str(exc)) from exc

    def open(self, key: str) -> BinaryIO:
        try:
            return self.client.get_object(Bucket=self.bucket, Key=key)["Body"]
        except (BotoCoreError, ClientError) as exc:
            raise StorageError(str(exc)) from exc

    def delete(self, key: str) -> None:
        try:
            self.client.delete_object(Bucket=self.bucket, Key=key)
        except (BotoCoreError, ClientError) as exc:
            raise StorageError(str(exc)) from exc

    def head(self, key: str) -> int | None:
        try:
            return int(self.client.head_object(Bucket=self.bucket, Key=key)["ContentLength"])
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return None
            raise StorageError(str(exc)) from exc
        except BotoCoreError as exc:
            raise StorageError(str(exc)) from exc

    def copy(self, source: str, target: str) -> None:
        try:
            self.client.copy_object(Bucket=self.bucket, Key=target, CopySource={"Bucket": self.bucket, "Key": source})
        except (BotoCoreError, ClientError) as exc:
            raise StorageError(str(exc)) from exc

    def presign_upload(self, key: str, content_type: str, size_bytes: int, expires_s: int) -> dict | None:
        """A presigned POST: S3 itself refuses another key, another content type or another size."""
        try:
            post = self.client.generate_presigned_post(
                Bucket=self.bucket,
                Key=key,
                Fields={"Content-Type": content_type},
                Conditions=[{"Content-Type": content_type}, ["content-length-range", size_bytes, size_bytes]],
                ExpiresIn=expires_s,
            )
        except (BotoCoreError, ClientError) as exc:
            raise StorageError(str(exc)) from exc
        return {"method": "POST", "url": post["url"], "fields": post["fields"]}

    def presign_read(self, key: str, expires_s: int, content_type: str, filename: str | None = None) -> str | None:
        params = {"Bucket": self.bucket, "Key": key, "ResponseContentType": content_type}
        if filename:
            params["ResponseContentDisposition"] = f'attachment; filename="{filename}"'
        try:
            return self.client.generate_presigned_url("get_object", Params=params, ExpiresIn=expires_s)
        except (BotoCoreError, ClientError) as exc:
            raise StorageError(str(exc)) from exc

    def check(self) -> None:
        try:
            self.client.head_bucket(Bucket=self.bucket)
        except (BotoCoreError, ClientError) as exc:
            raise StorageError(f"bucket {self.bucket} unreachable: {exc}") from exc
