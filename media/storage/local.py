"""Local-folder storage: keys map to files below one root; nothing a client names becomes a path."""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import BinaryIO

from media.storage.base import ObjectExists, StorageError

_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9/_.-]{0,250}$")


class LocalStorage:
    def __init__(self, directory) -> None:
        self.root = Path(directory).resolve()
        self.root.mkdir(parents=True, exist_ok=True)

    def _path(self, key: str) -> Path:
        if not _KEY.match(key) or ".." in key.split("/"):
            raise StorageError(f"bad storage key {key!r}")
        path = (self.root / key).resolve()
        if self.root not in path.parents:
            raise StorageError(f"bad storage key {key!r}")
        return path

    def put(self, key: str, data: BinaryIO, content_type: str = "application/octet-stream") -> int:
        """Write atomically (temp file, then rename), so a reader never sees half a photo."""
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".part-")
        try:
            with os.fdopen(fd, "wb") as out:
                shutil.copyfileobj(data, out, 1024 * 1024)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return path.stat().st_size

    def put_new(self, key: str, data: bytes, content_type: str = "application/octet-stream") -> None:
        """Write-once: a complete temp file is hard-linked to the key's name, which fails if the name exists."""
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".part-")
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
            os.chmod(tmp, 0o444)
            os.link(tmp, path)
        except FileExistsError as exc:
            raise ObjectExists(f"object {key} exists") from exc
        finally:
            Path(tmp).unlink(missing_ok=True)

    def keys(self, prefix: str) -> list[str]:
        """Keys below the folder ``prefix`` (temp files of unfinished writes left out), sorted."""
        folder = self._path(prefix.rstrip("/"))
        if not folder.is_dir():
            return []
        found = (p for p in folder.rglob("*") if p.is_file() and not p.name.startswith("."))
        return sorted(p.relative_to(self.root).as_posix() for p in found)

    def open(self, key: str) -> BinaryIO:
        try:
            return self._path(key).open("rb")
        except FileNotFoundError as exc:
            raise StorageError(f"missing object {key}") from exc

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def head(self, key: str) -> int | None:
        path = self._path(key)
        return path.stat().st_size if path.exists() else None

    def copy(self, source: str, target: str) -> None:
        """Copy atomically, as ``put`` writes."""
        with self.open(source) as fh:
            self.put(target, fh)

    def presign_upload(self, key: str, content_type: str, size_bytes: int, expires_s: int) -> dict | None:
        return None  # the bytes go through the server's own PUT endpoint, with the same limits

    def presign_read(self, key: str, expires_s: int, content_type: str, filename: str | None = None) -> str | None:
        return None  # the server signs its own short-lived link

    def path_of(self, key: str) -> Path:
        """The file behind a key (for streaming it out with ``send_file``)."""
        return self._path(key)

    def check(self) -> None:
        """Raise StorageError unless a file can be created and written below the root."""
        try:  # a uniquely named probe: concurrent readiness checks must not delete each other's
            with tempfile.NamedTemporaryFile(dir=self.root, prefix=".readyz-") as probe:
                probe.write(b"ok")
                probe.flush()
        except OSError as exc:
            raise StorageError(f"photo folder not writable: {exc}") from exc
