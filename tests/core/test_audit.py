"""The HMAC-chained audit log: real actions chain, tampering is named, concurrent writers never fork it."""

from __future__ import annotations

import hashlib
import hmac
import os
import subprocess
import sys
import threading
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import bindparam, func, inspect, select, text, update

from backend import runtime
from backend.db import after_commit, db
from backend.models import AuditLog, User
from backend.services.core import audit
from tests.factories import auth_header, login

ROOT = Path(__file__).resolve().parents[2]
ZHIJIAO = str(Path(sys.executable).parent / "zhijiao")


def _last_id() -> int:
    with db.engine.connect() as conn:
        return conn.execute(select(func.coalesce(func.max(AuditLog.id), 0))).scalar_one()


def _rows_after(last_id: int) -> list:
    with db.engine.connect() as conn:
        cols = list(AuditLog.__table__.columns)
        return conn.execute(select(*cols).where(AuditLog.id > last_id).order_by(AuditLog.id)).all()


def _verify(**kwargs) -> audit.VerifyResult:
    session = db.new_session()
    try:
        return audit.verify(session, **kwargs)
    finally:
        session.close()


def _cli_verify(test_env: dict, **extra_env: str) -> subprocess.CompletedProcess:
    env = {**os.environ, **test_env, **extra_env}
    return subprocess.run(
        [ZHIJIAO, "audit", "verify"], env=env, cwd=ROOT, capture_output=True, text=True, timeout=120, check=False
    )


def _write(actions: list[str], **kwargs) -> list[int]:
    """Commit one transaction with an audit row per action; return the new rows' ids."""
    before = _last_id()
    with db.tx() as s:
        for action in actions:
            audit.record(s, action, **kwargs)
    return [r.id for r in _rows_after(before)]


_TRIGGERS_SQL = "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'audit_log'"


@contextmanager
def append_only_triggers_off():
    """Do what a tamperer with database access would: switch the append-only triggers off (and back on)."""
    db.remove()
    with db.engine.begin() as conn:
        if db.is_sqlite:
            triggers = conn.execute(
                text("SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'audit_log'")
            ).all()
            assert {t.name for t in triggers} == {"audit_log_no_update", "audit_log_no_delete"}
            for t in triggers:
                conn.exec_driver_sql(f'DROP TRIGGER "{t.name}"')
        else:
            conn.exec_driver_sql("ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only")
    try:
        yield
    finally:
        with db.engine.begin() as conn:
            if db.is_sqlite:
                # read the schema first: a pooled connection that last saw the triggers may otherwise
                # answer "already exists" from its stale schema cache
                present = {r.name for r in conn.execute(text(_TRIGGERS_SQL))}
                for t in triggers:
                    if t.name not in present:
                        conn.exec_driver_sql(t.sql)
                assert {r.name for r in conn.execute(text(_TRIGGERS_SQL))} == {t.name for t in triggers}
            else:
                conn.exec_driver_sql("ALTER TABLE audit_log ENABLE TRIGGER audit_log_append_only")


def test_real_actions_are_chained(client, world, test_env):
    before = _last_id()
    officer = auth_header(client, "officerA")
    resp = client.patch(
        f"/api/v1/staff/subjects/{world.subjects['A'].id}", json={"risk_level": "high"}, headers=officer
    )
    assert resp.status_code == 200
    rows = _rows_after(before)
    assert [r.action for r in rows] == ["auth.login", "subject.update"]
    change = rows[1]
    assert (change.actor_id, change.actor_role, change.target_type) == (
        world.users["officer_A"].id,
        "officer",
        "subject",
    )
    assert change.target_id == str(world.subjects["A"].id)
    assert change.details["changes"]["risk_level"] == {"from": "medium", "to": "high"}
    assert change.request_id == resp.headers["X-Request-ID"]
    with db.engine.connect() as conn:
        prev = conn.execute(select(AuditLog.mac).where(AuditLog.id == before)).scalar() if before else audit.GENESIS
    for row in rows:
        assert row.id == before + 1 and row.prev_mac == prev
        assert row.mac == audit.compute_mac(prev, row)
        before, prev = row.id, row.mac
    result = _verify()
    assert result.ok and result.rows == rows[-1].id
    out = _cli_verify(test_env)
    assert out.returncode == 0, out.stderr
    assert f"audit chain intact: {rows[-1].id} rows" in out.stdout


def test_audit_rows_are_refused_by_the_database(settings):
    """Outside the chain's own writer the table is append-only: UPDATE and DELETE fail at the database."""
    _write(["test.append_only"])
    last = _last_id()
    for stmt in (
        update(AuditLog).where(AuditLog.id == last).values(action="forged"),
        AuditLog.__table__.delete().where(AuditLog.id == last),
    ):
        with pytest.raises(Exception, match="append-only"), db.engine.begin() as conn:
            conn.execute(stmt)
    assert _verify().ok


def test_edited_row_is_named(settings, test_env):
    ids = _write(["test.edit.before", "test.edit.target", "test.edit.after"], details={"n": 1})
    target = ids[1]
    # a session that already holds the row must not hide the edit (verify reads the database, not its cache)
    session = db.new_session()
    cached = session.get(AuditLog, target)
    other = session.scalar(select(User).limit(1))
    session.commit()
    try:
        with append_only_triggers_off():
            with db.engine.begin() as conn:
                conn.execute(update(AuditLog).where(AuditLog.id == target).values(details={"n": 2}))
            try:
                result = audit.verify(session)
                assert (result.ok, result.broken_id, result.rows) == (False, target, target - 1)
                assert "edited" in result.reason
                assert cached in session and cached.details == {"n": 1}, "verify leaves the caller's objects alone"
                assert other is None or other in session
                out = _cli_verify(test_env)
                assert out.returncode == 1
                assert f"BROKEN at row {target}:" in out.stderr
            finally:
                with db.engine.begin() as conn:
                    conn.execute(update(AuditLog).where(AuditLog.id == target).values(details={"n": 1}))
    finally:
        session.close()
    assert _verify().ok


def test_edited_link_is_named(settings):
    ids = _write(["test.link.a", "test.link.b"])
    with append_only_triggers_off():
        with db.engine.begin() as conn:
            original = conn.execute(select(AuditLog.prev_mac).where(AuditLog.id == ids[1])).scalar_one()
            conn.execute(update(AuditLog).where(AuditLog.id == ids[1]).values(prev_mac="f" * 64))
        try:
            result = _verify()
            assert (result.ok, result.broken_id) == (False, ids[1])
            assert "link" in result.reason
        finally:
            with db.engine.begin() as conn:
                conn.execute(update(AuditLog).where(AuditLog.id == ids[1]).values(prev_mac=original))
    assert _verify().ok


def test_deleted_row_is_named_as_missing(settings, test_env):
    ids = _write(["test.delete.before", "test.delete.target", "test.delete.after"])
    target = ids[1]
    table = AuditLog.__table__
    with append_only_triggers_off():
        with db.engine.begin() as conn:
            saved = conn.execute(select(table).where(table.c.id == target)).mappings().one()
            conn.execute(table.delete().where(table.c.id == target))
        try:
            result = _verify()
            assert (result.ok, result.broken_id) == (False, target)
            assert "missing" in result.reason
            out = _cli_verify(test_env)
            assert out.returncode == 1 and f"BROKEN at row {target}:" in out.stderr
        finally:
            with db.engine.begin() as conn:
                conn.execute(table.insert().values(**saved))
    assert _verify().ok


def test_key_comes_from_config(settings, test_env):
    _write(["test.key"])
    assert _verify().ok
    wrong = _verify(key=b"not-the-configured-key")
    assert (wrong.ok, wrong.broken_id) == (False, 1)
    out = _cli_verify(test_env, AUDIT_KEY="another-key-than-the-configured-one")
    assert out.returncode == 1 and "BROKEN at row 1:" in out.stderr
    key = runtime.settings().audit_key
    with db.engine.connect() as conn:
        for name in inspect(conn).get_table_names():  # every table the database has, not only the models'
            for row in conn.execute(text(f'SELECT * FROM "{name}"')):
                assert key not in str(tuple(row)), f"the audit key is stored in {name}"


@pytest.mark.parametrize("key", ["k", "b" * 64, "长" * 30], ids=["short", "one-block", "longer-than-a-block"])
def test_the_databases_hmac_is_pythons(settings, key):
    """The database computes each row's MAC in its INSERT (PostgreSQL's sha256, on SQLite a registered function),
    ``verify`` with Python's ``hmac``: they agree for a key shorter than, as long as and longer than SHA-256's
    64-byte block (30 × 3 UTF-8 bytes), on any text."""
    text_ = 'a\n{"说明":"引号\\" 🙂"}'
    with db.engine.connect() as conn:
        if db.is_sqlite:
            audit._register_sqlite_hmac(conn)
        got = conn.execute(
            select(audit._hmac_sha256_hex(bindparam("inner_pad"), bindparam("outer_pad"), text_)),
            audit._pads(key.encode()),
        ).scalar_one()
    assert got == hmac.new(key.encode(), text_.encode(), hashlib.sha256).hexdigest()


def test_rows_the_database_links_verify(settings):
    """What JSON must escape or leaves as it is, in details and purpose, signs the same in the database's MAC
    as in ``verify``'s canonical JSON."""
    before = _last_id()
    details = {"说明": '引号" 反斜杠\\ 换行\n', "emoji": "🙂", "n": 1.5, "none": None, "list": [1, "二"]}
    _write(["test.mac.one", "test.mac.two"], details=details, purpose="核查\t目的", target_id="id:1")
    rows = _rows_after(before)
    assert len(rows) == 2 and rows[0].details == details and rows[1].prev_mac == rows[0].mac
    for row in rows:
        assert row.mac == audit.compute_mac(row.prev_mac, row)
    assert _verify().ok


def test_concurrent_writers_do_not_fork_the_chain(settings):
    threads_n, txs_n = 6, 8
    before = _last_id()
    start = threading.Barrier(threads_n)
    errors: list[BaseException] = []

    def writer(n: int) -> None:
        try:
            start.wait()
            for i in range(txs_n):
                with db.tx() as s:
                    audit.record(s, "test.concurrent", details={"thread": n, "tx": i, "part": 0})
                    s.execute(select(func.count()).select_from(AuditLog))  # keep the transactions overlapping
                    audit.record(s, "test.concurrent", details={"thread": n, "tx": i, "part": 1})
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            errors.append(exc)
        finally:
            db.remove()

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(threads_n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    rows = _rows_after(before)
    assert [r.id for r in rows] == list(range(before + 1, before + 1 + threads_n * txs_n * 2))
    assert len({r.prev_mac for r in rows}) == len(rows), "two rows claim the same predecessor: the chain forked"
    # one transaction's rows are written together, under the chain lock
    for first, second in zip(rows[::2], rows[1::2], strict=True):
        assert (first.details["thread"], first.details["tx"]) == (second.details["thread"], second.details["tx"])
        assert (first.details["part"], second.details["part"]) == (0, 1)
    assert _verify().ok


def test_bulk_run_writes_one_row_with_count_and_digest(settings):
    ids = [12, 3, 7, 3000]
    before = _last_id()
    with db.tx() as s:
        audit.record_bulk(s, "test.bulk", ids, counts={"changed": 4, "skipped": 1})
    with db.tx() as s:
        audit.record_bulk(s, "test.bulk", reversed(ids), counts={"changed": 4, "skipped": 1})
    rows = _rows_after(before)
    assert len(rows) == 2
    expected = hashlib.sha256("\n".join(sorted(str(i) for i in ids)).encode()).hexdigest()
    for row in rows:
        assert row.target_type == "bulk" and row.actor_role == "system"
        assert row.details == {"count": 4, "ids_sha256": expected, "changed": 4, "skipped": 1}
    assert _verify().ok


def test_savepoints_neither_write_early_nor_lose_rows(settings):
    before = _last_id()
    hooks: list[str] = []
    with db.tx() as s:
        audit.record(s, "test.sp.outer")
        after_commit(s, lambda: hooks.append("outer"))
        with pytest.raises(RuntimeError), s.begin_nested():
            audit.record(s, "test.sp.rolled_back")
            raise RuntimeError
        with s.begin_nested():
            audit.record(s, "test.sp.released")
        assert _rows_after(before) == [] and hooks == [], "a released savepoint is not the commit"
        audit.record(s, "test.sp.after")
    assert [r.action for r in _rows_after(before)] == ["test.sp.outer", "test.sp.released", "test.sp.after"]
    assert hooks == ["outer"]
    mid = _last_id()
    with pytest.raises(RuntimeError), db.tx() as s:
        audit.record(s, "test.sp.never")
        raise RuntimeError
    _write(["test.sp.next"])
    assert [r.action for r in _rows_after(mid)] == ["test.sp.next"]
    assert _verify().ok


def test_id_number_read_is_audited_with_purpose(client, world):
    subject = world.subjects["A"]
    officer = auth_header(client, "officerA")
    url = f"/api/v1/staff/subjects/{subject.id}"
    plain = client.get(url, headers=officer).get_json()
    assert plain["id_number"] is None and "*" in plain["id_number_masked"]

    before = _last_id()
    resp = client.get(url + "?reveal=id_number", headers=officer)
    assert resp.status_code == 422 and resp.get_json()["code"] == "PURPOSE_REQUIRED"
    resp = client.get(url + "?reveal=id_number&purpose=%20", headers=officer)
    assert resp.status_code == 422 and resp.get_json()["code"] == "PURPOSE_REQUIRED"
    foreign = f"/api/v1/staff/subjects/{world.subjects['B'].id}?reveal=id_number&purpose=check"
    assert client.get(foreign, headers=officer).status_code == 404
    assert _rows_after(before) == [], "refused reads write no audit row"

    resp = client.get(url + "?reveal=id_number&purpose=核对身份", headers=officer)
    assert resp.status_code == 200
    assert resp.get_json()["id_number"] == subject.__dict__["_plain_id_number"]
    rows = _rows_after(before)
    assert [r.action for r in rows] == ["subject.read_id_number"]
    row = rows[0]
    assert (row.actor_id, row.actor_role) == (world.users["officer_A"].id, "officer")
    assert (row.target_type, row.target_id, row.purpose) == ("subject", str(subject.id), "核对身份")
    assert row.request_id and row.request_id == resp.headers["X-Request-ID"]

    rid = "req-0123456789abcdef"
    resp = client.get(url + "?reveal=id_number&purpose=复核", headers={**officer, "X-Request-ID": rid})
    assert resp.headers["X-Request-ID"] == rid
    assert _rows_after(row.id)[0].request_id == rid
    assert _verify().ok


def test_bureau_read_and_grid_refusal(client, world):
    url = f"/api/v1/staff/subjects/{world.subjects['A'].id}?reveal=id_number&purpose=审批"
    before = _last_id()
    assert client.get(url, headers=auth_header(client, "bureauA")).status_code == 200
    assert client.get(url, headers=auth_header(client, "gridA")).status_code == 403
    actions = [r.action for r in _rows_after(before)]
    assert actions.count("subject.read_id_number") == 1
    login(client, "officerA")  # logins are state changes too
    assert _rows_after(before)[-1].action == "auth.login"


def _pipeline_off() -> bool:
    """The thread's pooled connection is out of PostgreSQL's pipeline mode (always true on SQLite)."""
    if db.is_sqlite:
        return True
    from psycopg import pq

    with db.engine.connect() as conn:
        return conn.connection.dbapi_connection.pgconn.pipeline_status == pq.PipelineStatus.OFF


def test_a_refused_audit_row_fails_the_commit_and_keeps_nothing(settings, world):
    """On PostgreSQL the chain's insert is sent with the COMMIT (one round trip): its error must still fail
    the commit, take the transaction's own writes with it, and leave the connection fit for the next one."""
    from sqlalchemy.exc import IntegrityError

    from backend.models import Notification

    before = _last_id()
    officer_id = world.users["officer_A"].id
    with pytest.raises(IntegrityError, match="action"), db.tx() as s:
        s.add(Notification(user_id=officer_id, kind="test", title="never stored"))
        audit.record(s, None)  # an action is required: the database refuses the row
    with db.engine.connect() as conn:
        assert conn.execute(select(func.count()).where(Notification.title == "never stored")).scalar_one() == 0
    assert _rows_after(before) == []
    assert _pipeline_off()
    ids = _write(["test.after_refusal"])
    assert len(ids) == 1 and _pipeline_off()
    assert _verify().ok
