"""Short-lived links to photos, and what a caller may see of an upload.

S3 signs its own links. The local folder has none, so this server signs a token naming the object, its
type and an expiry, and serves it at ``/api/v1/files/<token>``. Originals are only ever linked for staff,
with a purpose, and every such link is audited; derivatives (metadata stripped) go to whoever may see the
upload. GPS is location history (docs/audit-and-privacy.md#sensitive-reads-and-purposes): staff see an
upload's coordinates only with a purpose, audited; the uploader always sees their own.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from itsdangerous import BadSignature, URLSafeSerializer

from backend import runtime
from backend.db import db
from backend.errors import DomainError, NotFound
from backend.models import Upload, utcnow
from backend.services.core import audit
from backend.services.core.actors import Actor
from backend.services.evidence.uploads import visible
from backend.services.identity import access
from backend.storage import get_storage
from media.sniff import MEDIA_TYPES
from media.storage import StorageError

FILES_PATH = "/api/v1/files/"
_EXT = {"jpeg": "jpg", "png": "png", "webp": "webp", "heif": "heic", "avif": "avif"}


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(runtime.settings().secret_key, salt="zhijiao.files")


def sign(key: str, content_type: str, expires_at: datetime, filename: str | None = None) -> str:
    return _serializer().dumps({"k": key, "t": content_type, "e": int(expires_at.timestamp()), "f": filename})


def resolve(token: str) -> tuple[str, str, str | None]:
    """(key, content type, download name) of a valid, unexpired token; NotFound otherwise."""
    try:
        body = _serializer().loads(token)
    except BadSignature as exc:
        raise NotFound("file") from exc
    if not isinstance(body, dict) or body.get("e", 0) < time.time():
        raise NotFound("file")
    return body["k"], body["t"], body.get("f")


def read_url(key: str, seconds: int, content_type: str, filename: str | None = None) -> tuple[str, datetime]:
    """A link valid for ``seconds``: S3's own presigned GET, or a path on this server signed here."""
    expires_at = (utcnow() + timedelta(seconds=seconds)).replace(microsecond=0)
    try:
        url = get_storage().presign_read(key, seconds, content_type, filename)
    except StorageError as exc:
        raise DomainError("SERVICE_UNAVAILABLE", detail="photo storage", retry_after=10) from exc
    return url or FILES_PATH + sign(key, content_type, expires_at, filename), expires_at


@dataclass
class UploadView:
    upload: Upload
    facts: dict
    links: dict


def derivative_links(upload: Upload) -> dict:
    seconds = runtime.settings().upload_link_seconds
    out: dict = {}
    for name, d in (upload.derivatives or {}).items():
        url, expires_at = read_url(d["key"], seconds, d.get("content_type", "image/jpeg"))
        out[name] = {"url": url, "width": d["width"], "height": d["height"]}
        out["expires_at"] = expires_at
    return out


def view(actor: Actor, upload_id: int, purpose: str | None = None) -> UploadView:
    """The upload as ``actor`` may see it; staff asking for its coordinates give a purpose (audited)."""
    access.require(actor, "upload.read")
    with db.tx() as s:
        upload = visible(s, actor, upload_id)
        facts = dict(upload.facts or {})
        if upload.owner_id != actor.user_id and None not in (facts.get("latitude"), facts.get("longitude")):
            if purpose and purpose.strip():
                audit.record(
                    s, "upload.read_location", actor=actor, target_type="upload", target_id=upload.id, purpose=purpose
                )
            else:
                facts["latitude"] = facts["longitude"] = None
                facts["location_withheld"] = True
    return UploadView(upload, facts, derivative_links(upload))


def original_link(actor: Actor, upload_id: int, purpose: str | None) -> dict:
    """A short-lived link to the original for staff of the subject's jurisdiction; the read is audited."""
    access.require(actor, "upload.original")
    with db.tx() as s:
        upload = visible(s, actor, upload_id)  # first: a foreign upload is 404 whatever else is wrong
        if not purpose or not purpose.strip():
            raise DomainError("PURPOSE_REQUIRED")
        if upload.original_deleted_at is not None or upload.status in ("pending", "expired"):
            raise DomainError("UPLOAD_ORIGINAL_GONE")
        audit.record(s, "upload.read_original", actor=actor, target_type="upload", target_id=upload.id, purpose=purpose)
    content_type = MEDIA_TYPES.get(upload.format or "", "application/octet-stream")
    name = f"upload-{upload.id}.{_EXT.get(upload.format or '', 'bin')}"
    url, expires_at = read_url(upload.storage_key, runtime.settings().original_link_seconds, content_type, name)
    return {"url": url, "expires_at": expires_at, "content_type": content_type}


def file_for(token: str) -> tuple[object, str, str | None]:
    """(path, content type, download name) behind a local-folder token; NotFound when invalid or gone."""
    key, content_type, filename = resolve(token)
    storage = get_storage()
    path_of = getattr(storage, "path_of", None)
    if path_of is None:
        raise NotFound("file")
    path = path_of(key)
    if not path.is_file():
        raise NotFound("file")
    return path, content_type, filename
