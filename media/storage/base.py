"""The storage interface every backend implements."""

from __future__ import annotations

from typing import BinaryIO, Protocol


class StorageError(RuntimeError):
    """The store could not be reached or refused the operation."""


class Storage(Protocol):
    def put(self, key: str, data: BinaryIO, content_type: str) -> int: ...

    def open(self, key: str) -> BinaryIO: ...

    def delete(self, key: str) -> None: ...

    def head(self, key: str) -> int | None:
        """Size in bytes, or None when the object does not exist."""

    def check(self) -> None:
        """Raise StorageError unless the store is reachable and writable."""
