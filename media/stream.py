"""A reader that counts and hashes what passes through it, and refuses more bytes than declared."""

from __future__ import annotations

import hashlib
from typing import BinaryIO

CHUNK = 1024 * 1024


class TooLarge(Exception):
    """More bytes arrived than the declared size."""


class Mismatch(Exception):
    """The bytes ended, and their size or SHA-256 is not the declared one."""


class VerifyingReader:
    """Wraps a stream; raises TooLarge past ``size`` bytes and, when ``sha256`` is given, Mismatch at EOF.

    Raising at EOF (before returning the empty read) makes a copy loop such as ``shutil.copyfileobj`` fail
    before the writer can treat the data as complete, so a wrong body is never stored.
    """

    def __init__(self, raw: BinaryIO, size: int, sha256: str | None = None) -> None:
        self.raw, self.size, self.expected = raw, size, sha256
        self.seen = 0
        self.digest = hashlib.sha256()

    def read(self, n: int = -1) -> bytes:
        chunk = self.raw.read(n if n is not None and n > 0 else CHUNK)
        if chunk:
            self.seen += len(chunk)
            if self.seen > self.size:
                raise TooLarge(self.seen)
            self.digest.update(chunk)
            return chunk
        if self.expected is not None and (self.seen != self.size or self.digest.hexdigest() != self.expected):
            raise Mismatch(self.seen)
        return b""

    def drain(self) -> tuple[int, str]:
        """Read to the end; return (size, sha256 hex)."""
        while self.read(CHUNK):
            pass
        return self.seen, self.digest.hexdigest()


def digest_of(raw: BinaryIO, limit: int) -> tuple[int, str]:
    """(size, sha256) of a stream, refusing more than ``limit`` bytes."""
    return VerifyingReader(raw, limit).drain()
