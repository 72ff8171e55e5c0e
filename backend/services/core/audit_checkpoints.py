"""Checkpoints of the audit chain's head, kept outside the database (docs/audit-and-privacy.md#checkpoints).

The HMAC chain (``audit``) shows an edited or deleted row anywhere but at its end: rows cut off the end
leave a shorter chain that still verifies. So the ``audit_checkpoint`` schedule (every 15 minutes) writes
the head it verified — the last row's id and MAC, the time, and the SHA-256 digest of the previous
checkpoint, so checkpoints form a chain of their own — signed (HMAC-SHA256 with a key derived from
``AUDIT_KEY``) and write-once to the photo store (``audit/checkpoints/<chain>/<seq>.json``, S3 or the local
folder; ``<chain>`` names the chain by its first row's MAC, so databases sharing a store keep apart). A
checkpoint is written only for a chain that verifies from the previous checkpoint's row on and extends it.

``verify`` is the chain walk plus the checkpoints: they must be numbered 1…n without a gap, each signed
and linked to the one before; the database must still hold the newest one's row with its MAC, and a log
that ends before that row was truncated (an empty log beside checkpoints too). Rows written after the
newest checkpoint are not anchored yet: cutting them off goes unseen for at most one interval.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from dataclasses import asdict, dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend import runtime
from backend.db import db
from backend.models import AuditLog, utcnow
from backend.services.core import audit
from backend.storage import get_storage
from media.storage import ObjectExists, Storage, StorageError

log = logging.getLogger(__name__)
PREFIX = "audit/checkpoints/"
#: the schedule's cron (Asia/Shanghai): a truncation of the newest rows goes unseen for at most this long
CRON = "*/15 * * * *"
INTERVAL_MINUTES = 15
_CONTEXT = b"zhijiao audit checkpoint v1"


class CheckpointRefused(RuntimeError):
    """No checkpoint was written: the chain or the checkpoints do not verify (the job run fails)."""


@dataclass(frozen=True)
class Checkpoint:
    seq: int
    last_id: int
    last_mac: str
    at: str
    prev_digest: str
    sig: str = ""

    def body(self) -> dict:
        return {k: v for k, v in asdict(self).items() if k != "sig"}

    def encode(self) -> bytes:
        return _canonical(asdict(self))

    def digest(self) -> str:
        """What the next checkpoint links to: SHA-256 of this one as stored (signature included)."""
        return hashlib.sha256(self.encode()).hexdigest()

    def summary(self) -> dict:
        return {"seq": self.seq, "last_id": self.last_id, "at": self.at}


@dataclass
class Checkpoints:
    """The checkpoints read from the store, up to the first that does not hold (``problem`` then says why)."""

    items: list[Checkpoint]
    problem: str | None = None

    @property
    def newest(self) -> Checkpoint | None:
        return self.items[-1] if self.items else None


def _canonical(data: dict) -> bytes:
    return json.dumps(data, sort_keys=True, separators=(",", ":")).encode()


def chain_id(session: Session) -> str | None:
    """The chain's name in the store: its first row's MAC, shortened (None for an empty log)."""
    first = session.execute(select(AuditLog.mac).where(AuditLog.id == 1)).scalar()
    return None if first is None else first[:16]


def key_of(chain: str, seq: int) -> str:
    return f"{PREFIX}{chain}/{seq:010d}.json"


def _sign(body: dict, key: bytes) -> str:
    signing_key = hmac.new(key, _CONTEXT, hashlib.sha256).digest()  # not the chain's own key: another purpose
    return hmac.new(signing_key, _canonical(body), hashlib.sha256).hexdigest()


def _audit_key(key: bytes | None) -> bytes:
    return key or runtime.settings().audit_key.encode()


def load(chain: str, storage: Storage | None = None, key: bytes | None = None) -> Checkpoints:
    """Read and check a chain's checkpoints in order: numbering without a gap, signature, link to the previous one."""
    storage, key = storage or get_storage(), _audit_key(key)
    items: list[Checkpoint] = []
    prev_digest, prev_last = audit.GENESIS, 0
    for seq, name in enumerate(storage.keys(f"{PREFIX}{chain}/"), start=1):
        if name != key_of(chain, seq):
            return Checkpoints(items, f"checkpoint {seq} is missing (a gap before {name.rsplit('/', 1)[-1]})")
        fh = storage.open(name)
        try:
            cp = Checkpoint(**json.loads(fh.read()))
        except (ValueError, TypeError) as exc:
            return Checkpoints(items, f"checkpoint {seq} is unreadable ({exc.__class__.__name__})")
        finally:
            fh.close()
        if cp.seq != seq or not hmac.compare_digest(cp.sig, _sign(cp.body(), key)):
            return Checkpoints(items, f"checkpoint {seq} does not match its signature")
        if cp.prev_digest != prev_digest:
            return Checkpoints(items, f"checkpoint {seq} does not link to checkpoint {seq - 1}")
        if cp.last_id < prev_last:
            return Checkpoints(items, f"checkpoint {seq} goes back to row {cp.last_id}")
        items.append(cp)
        prev_digest, prev_last = cp.digest(), cp.last_id
    return Checkpoints(items)


def verify(session: Session, key: bytes | None = None, storage: Storage | None = None) -> audit.VerifyResult:
    """The chain walk, then the checkpoints: a gap in their chain, a truncated or rewritten head."""
    result = audit.verify(session, key=key)
    storage = storage or get_storage()
    try:
        name = chain_id(session)
        if name is None:  # an empty log: truncated to nothing if the store anchored any chain
            if storage.keys(PREFIX):
                result.ok, result.truncated, result.broken_id = False, True, 1
                result.reason = "truncated: the log is empty, but the photo store holds audit checkpoints"
            return result
        chain = load(name, storage, key)
    except StorageError as exc:
        result.ok, result.reason = False, f"checkpoints unreadable: {exc}"
        return result
    result.checkpoints = len(chain.items)
    newest = chain.newest
    if newest is not None:
        result.checkpoint = newest.summary()
    if not result.ok:
        return result  # the first broken row is the finding
    if chain.problem is not None:
        result.ok, result.reason = False, f"checkpoint chain broken: {chain.problem}"
        return result
    if newest is None:
        return result
    if result.last_id < newest.last_id:
        result.ok, result.truncated, result.broken_id = False, True, result.last_id + 1
        result.reason = (
            f"truncated: the log ends at row {result.last_id}, but checkpoint {newest.seq} "
            f"({newest.at}) saw row {newest.last_id}"
        )
        return result
    mac = session.execute(select(AuditLog.mac).where(AuditLog.id == newest.last_id)).scalar()
    if mac != newest.last_mac:
        result.ok, result.broken_id = False, newest.last_id
        result.reason = f"row {newest.last_id} differs from checkpoint {newest.seq} (the chain was rewritten)"
        return result
    result.unanchored_rows = result.last_id - newest.last_id
    return result


def write(key: bytes | None = None, storage: Storage | None = None, now: datetime | None = None) -> dict:
    """Verify the chain from the newest checkpoint on and, if it grew, write the next checkpoint (write-once).

    Refuses (CheckpointRefused) when the checkpoints have a gap or the chain does not verify from the
    newest one's row: a checkpoint only ever extends a chain that verified.
    """
    storage, key = storage or get_storage(), _audit_key(key)
    session = db.new_session()
    try:
        name = chain_id(session)
        if name is None:
            return {"written": False, "seq": 0, "last_id": 0}  # nothing to anchor yet
        chain = load(name, storage, key)
        if chain.problem is not None:
            raise CheckpointRefused(f"checkpoint chain broken: {chain.problem}")
        prev = chain.newest
        result = audit.verify(session, key=key, after=(prev.last_id, prev.last_mac) if prev else None)
    finally:
        session.close()
    if not result.ok:
        raise CheckpointRefused(f"audit chain does not verify at row {result.broken_id}: {result.reason}")
    if result.last_id == (prev.last_id if prev else 0):
        return {"written": False, "seq": prev.seq if prev else 0, "last_id": result.last_id}
    body = {
        "seq": (prev.seq if prev else 0) + 1,
        "last_id": result.last_id,
        "last_mac": result.last_mac,
        "at": (now or utcnow()).isoformat(timespec="seconds"),
        "prev_digest": prev.digest() if prev else audit.GENESIS,
    }
    cp = Checkpoint(**body, sig=_sign(body, key))
    try:
        storage.put_new(key_of(name, cp.seq), cp.encode(), "application/json")
    except ObjectExists:
        log.warning("audit checkpoint written meanwhile by another run", extra={"seq": cp.seq})
        return {"written": False, "seq": cp.seq, "last_id": result.last_id, "raced": True}
    log.info("audit checkpoint written", extra={"seq": cp.seq, "last_id": cp.last_id})
    return {"written": True, "seq": cp.seq, "last_id": cp.last_id}


def scheduled(_period_start: datetime) -> dict:
    """Schedule entry (``audit_checkpoint``): anchor the chain's current head."""
    return write()
