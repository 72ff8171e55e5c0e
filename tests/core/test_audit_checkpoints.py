"""Checkpoints of the audit chain's head in the photo store (local folder and S3): signed, chained, write-once."""

from __future__ import annotations

import json
import uuid
from contextlib import contextmanager

import pytest
from sqlalchemy import select

from backend.db import db
from backend.models import AuditLog
from backend.services.core import audit_checkpoints as cps
from media.storage import LocalStorage, ObjectExists
from tests.core.test_audit import _last_id, _write, append_only_triggers_off


class Under:
    """The test S3 bucket below a folder of this test's own (a new bucket per test would use up SeaweedFS's volumes)."""

    def __init__(self, inner, folder: str) -> None:
        self.inner, self.folder = inner, folder

    def put_new(self, key, data, content_type):
        self.inner.put_new(self.folder + key, data, content_type)

    def keys(self, prefix):
        return [k.removeprefix(self.folder) for k in self.inner.keys(self.folder + prefix)]

    def open(self, key):
        return self.inner.open(self.folder + key)

    def delete(self, key):
        self.inner.delete(self.folder + key)


@pytest.fixture(params=["local", "s3"])
def store(request, tmp_path, settings):
    """A store of this test alone: a fresh folder, or a fresh folder of the test S3 server's bucket."""
    if request.param == "local":
        return LocalStorage(tmp_path / "store")
    from media.storage.s3 import S3Storage
    from tests.support.uploads import s3_endpoint

    ep = s3_endpoint()
    s3 = S3Storage(endpoint=ep.url, bucket=ep.bucket, access_key=ep.access_key, secret_key=ep.secret_key)
    return Under(s3, f"t-{uuid.uuid4().hex[:12]}/")


def _verify(store):
    session = db.new_session()
    try:
        return cps.verify(session, storage=store)
    finally:
        session.close()


def _chain() -> str:
    session = db.new_session()
    try:
        return cps.chain_id(session)
    finally:
        session.close()


def _read(store, seq: int) -> dict:
    fh = store.open(cps.key_of(_chain(), seq))
    try:
        return json.loads(fh.read())
    finally:
        fh.close()


@contextmanager
def rows_cut_off(n: int):
    """Delete the newest ``n`` audit rows as a tamperer with database access would; put them back afterwards."""
    table = AuditLog.__table__
    with append_only_triggers_off():
        with db.engine.begin() as conn:
            saved = [dict(r) for r in conn.execute(select(table).order_by(table.c.id.desc()).limit(n)).mappings()]
            conn.execute(table.delete().where(table.c.id.in_([r["id"] for r in saved])))
        try:
            yield sorted(r["id"] for r in saved)
        finally:
            with db.engine.begin() as conn:
                conn.execute(table.insert(), sorted(saved, key=lambda r: r["id"]))


def test_checkpoints_chain_and_are_written_only_when_the_chain_grew(store):
    _write(["test.cp.a", "test.cp.b"])
    first = cps.write(storage=store)
    assert first == {"written": True, "seq": 1, "last_id": _last_id()}
    assert cps.write(storage=store)["written"] is False  # nothing new: no second checkpoint of the same head
    _write(["test.cp.c"])
    second = cps.write(storage=store)
    assert (second["written"], second["seq"], second["last_id"]) == (True, 2, _last_id())

    one, two = _read(store, 1), _read(store, 2)
    assert one["prev_digest"] == "0" * 64 and two["seq"] == 2
    assert two["prev_digest"] == cps.Checkpoint(**one).digest()  # checkpoints form their own chain
    with db.engine.connect() as conn:
        assert two["last_mac"] == conn.execute(select(AuditLog.mac).where(AuditLog.id == two["last_id"])).scalar()
    assert set(two) == {"seq", "last_id", "last_mac", "at", "prev_digest", "sig"} and len(two["sig"]) == 64

    result = _verify(store)
    assert result.ok and result.checkpoints == 2 and not result.truncated
    assert result.checkpoint == {"seq": 2, "last_id": two["last_id"], "at": two["at"]}
    assert result.unanchored_rows == 0


def test_cutting_the_newest_rows_is_reported_truncated(store):
    _write(["test.cp.keep", "test.cp.cut1", "test.cp.cut2", "test.cp.cut3"])
    head = _last_id()
    assert cps.write(storage=store)["last_id"] == head
    with rows_cut_off(3) as cut:
        assert cut == [head - 2, head - 1, head]
        result = _verify(store)
        assert (result.ok, result.truncated, result.broken_id) == (False, True, head - 2)
        assert f"ends at row {head - 3}" in result.reason and f"saw row {head}" in result.reason
        with pytest.raises(cps.CheckpointRefused, match="truncated"):
            cps.write(storage=store)  # never a checkpoint of the shorter chain
    assert _verify(store).ok


def test_rows_after_the_newest_checkpoint_are_not_anchored_yet(store):
    """The window the interval leaves: rows written since the last checkpoint can be cut unseen."""
    _write(["test.cp.anchored"])
    cps.write(storage=store)
    _write(["test.cp.after1", "test.cp.after2"])
    assert _verify(store).unanchored_rows == 2
    with rows_cut_off(2):
        result = _verify(store)
        assert result.ok and result.unanchored_rows == 0


def test_a_gap_or_a_forgery_in_the_checkpoints_is_named(store):
    for n in range(3):
        _write([f"test.cp.gap{n}"])
        assert cps.write(storage=store)["seq"] == n + 1
    key = cps.key_of(_chain(), 2)
    saved = _read(store, 2)
    store.delete(key)
    try:
        result = _verify(store)
        assert (
            not result.ok
            and result.reason == "checkpoint chain broken: checkpoint 2 is missing (a gap before 0000000003.json)"
        )
        with pytest.raises(cps.CheckpointRefused, match="checkpoint 2 is missing"):
            cps.write(storage=store)
        forged = cps.Checkpoint(**{**saved, "last_id": saved["last_id"] - 1})
        store.put_new(key, forged.encode(), "application/json")
        assert _verify(store).reason == "checkpoint chain broken: checkpoint 2 does not match its signature"
    finally:
        store.delete(key)
        store.put_new(key, cps.Checkpoint(**saved).encode(), "application/json")
    assert _verify(store).ok


def test_checkpoints_are_write_once(store):
    store.put_new("audit/checkpoints/probe/0000000001.json", b'{"n": 1}', "application/json")
    with pytest.raises(ObjectExists):
        store.put_new("audit/checkpoints/probe/0000000001.json", b'{"n": 2}', "application/json")
    fh = store.open("audit/checkpoints/probe/0000000001.json")
    try:
        assert fh.read() == b'{"n": 1}'
    finally:
        fh.close()
    assert store.keys("audit/checkpoints/probe/") == ["audit/checkpoints/probe/0000000001.json"]


def test_a_checkpoint_signed_with_another_key_is_refused(store):
    _write(["test.cp.key"])
    with db.engine.connect() as conn:
        head = conn.execute(select(AuditLog.id, AuditLog.mac).order_by(AuditLog.id.desc()).limit(1)).one()
    body = {"seq": 1, "last_id": head.id, "last_mac": head.mac, "at": "2026-12-07T08:00:00", "prev_digest": "0" * 64}
    forged = cps.Checkpoint(**body, sig=cps._sign(body, b"another-key-than-the-configured-one"))
    store.put_new(cps.key_of(_chain(), 1), forged.encode(), "application/json")
    result = _verify(store)
    assert (result.ok, result.checkpoints) == (False, 0)
    assert result.reason == "checkpoint chain broken: checkpoint 1 does not match its signature"
    with pytest.raises(cps.CheckpointRefused):
        cps.write(storage=store)
