"""The storage interface every backend implements."""

from __future__ import annotations

from typing import BinaryIO, Protocol


class StorageError(RuntimeError):
    """The store could not be reached or refused the operation."""


class ObjectExists(StorageError):
    """A write-once ``put_new`` found the key taken: nothing was written."""


class Storage(Protocol):
    def put(self, key: str, data: BinaryIO, content_type: str) -> int: ...

    def put_new(self, key: str, data: bytes, content_type: str) -> None:
        """Write-once: create ``key`` with ``data`` unless it exists (then ObjectExists, the old object stays).

        Atomic: of two writers of one key exactly one succeeds, and a reader never sees half an object.
        """

    def keys(self, prefix: str) -> list[str]:
        """Every key that starts with ``prefix`` (a folder, ending in ``/``), sorted."""

    def open(self, key: str) -> BinaryIO: ...

    def delete(self, key: str) -> None: ...

    def head(self, key: str) -> int | None:
        """Size in bytes, or None when the object does not exist."""

    def copy(self, source: str, target: str) -> None:
        """Copy an object inside the store (server-side on S3); StorageError if the source is missing."""

    def presign_upload(self, key: str, content_type: str, size_bytes: int, expires_s: int) -> dict | None:
        """How a phone sends exactly ``size_bytes`` of ``content_type`` to ``key`` without our server.

        S3: a presigned POST, {"method": "POST", "url", "fields"}, whose policy pins the key, the content
        type and the content-length range. None when the store has no such thing (local folder): the
        bytes then go through this server's own endpoint.
        """

    def presign_read(self, key: str, expires_s: int, content_type: str, filename: str | None = None) -> str | None:
        """A short-lived URL that reads ``key``, or None when the store cannot sign one (local folder)."""

    def check(self) -> None:
        """Raise StorageError unless the store is reachable and writable."""
