"""Engine, thread-scoped sessions and the one transaction helper that every service uses."""

from __future__ import annotations

import contextvars
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import psycopg
import sqlalchemy.exc
from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, scoped_session, sessionmaker


class Database:
    """Holds the engine and a thread-local session; bound once per process by ``init``."""

    def __init__(self) -> None:
        self.engine: Engine | None = None
        self._factory: sessionmaker | None = None
        self.scoped: scoped_session | None = None
        self.url = ""

    def init(self, url: str, *, echo: bool = False) -> None:
        if self.engine is not None and self.url == url:
            return
        self.dispose()
        self.url = url
        # hide_parameters: a logged database error must not carry the statement's values (GPS, ID numbers)
        kwargs: dict = {"echo": echo, "future": True, "hide_parameters": True}
        if url.startswith("sqlite"):
            kwargs["connect_args"] = {"timeout": 30, "check_same_thread": False}
        else:
            kwargs.update(pool_pre_ping=True, pool_size=5, max_overflow=10)
        self.engine = create_engine(url, **kwargs)
        if url.startswith("sqlite"):
            _make_sqlite_serialisable(self.engine)
        self._factory = sessionmaker(bind=self.engine, expire_on_commit=False)
        self.scoped = scoped_session(self._factory)

    @property
    def is_sqlite(self) -> bool:
        return self.url.startswith("sqlite")

    @property
    def session(self) -> Session:
        """The current thread's session."""
        if self.scoped is None:
            raise RuntimeError("database not initialised: call db.init(url) first")
        return self.scoped()

    def new_session(self, *, write: bool = False) -> Session:
        """A session outside the thread scope (jobs that need their own transaction).

        ``write=True``: its transactions will write, so on SQLite they take the write lock at BEGIN (a
        deferred transaction that reads and then writes fails at once when another writer got in first).
        """
        assert self._factory is not None and self.engine is not None
        if write:
            return self._factory(bind=self.engine.execution_options(zj_write=True))
        return self._factory()

    @contextmanager
    def tx(self) -> Iterator[Session]:
        """Run a block in a transaction; nested calls join the outer one, the outermost commits.

        Guarantee: the block's writes commit together or not at all; after-commit hooks (outbox pushes)
        run only when the outermost block commits. On SQLite the outermost block takes the write lock at
        BEGIN (BEGIN IMMEDIATE), so read-then-write sequences never fork; plain reads outside ``tx`` begin
        deferred and block nobody. An implicit read transaction still open when ``tx`` starts is ended
        first, so the write transaction never builds on a stale snapshot.
        """
        s = self.session
        depth = s.info.get("tx_depth", 0)
        token = None
        if depth == 0:
            if s.in_transaction():
                s.commit()
            token = _write_intent.set(True)
        s.info["tx_depth"] = depth + 1
        try:
            yield s
            if depth == 0:
                s.commit()
        except BaseException:
            if depth == 0:
                s.rollback()
            raise
        finally:
            s.info["tx_depth"] = depth
            if token is not None:
                _write_intent.reset(token)

    def remove(self) -> None:
        if self.scoped is not None:
            self.scoped.remove()

    def dispose(self) -> None:
        if self.scoped is not None:
            self.scoped.remove()
        if self.engine is not None:
            self.engine.dispose()
        self.engine = None
        self.scoped = None
        self._factory = None


#: set inside ``Database.tx``: the transaction about to begin will write
_write_intent: contextvars.ContextVar[bool] = contextvars.ContextVar("write_intent", default=False)


def _make_sqlite_serialisable(engine: Engine) -> None:
    """Take SQLite's write lock at BEGIN of a write transaction, so read-then-write sequences never fork.

    pysqlite's own transaction handling begins lazily at the first write; this is SQLAlchemy's
    documented recipe for taking control of BEGIN.
    """

    @event.listens_for(engine, "connect")
    def _connect(dbapi_conn, _record) -> None:
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.close()

    @event.listens_for(engine, "begin")
    def _begin(conn) -> None:
        write = _write_intent.get() or conn.get_execution_options().get("zj_write", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


def is_pg(session: Session) -> bool:
    """Whether the session talks to PostgreSQL (else SQLite)."""
    return session.get_bind().dialect.name == "postgresql"


@contextmanager
def pg_raw(session: Session) -> Iterator[psycopg.Connection]:
    """The psycopg connection of the session's current transaction (PostgreSQL), for a hot path's own SQL.

    Its errors are raised as SQLAlchemy's (a unique violation is ``IntegrityError``), as through the session.
    """
    try:
        yield session.connection().connection.dbapi_connection
    except psycopg.Error as exc:
        raise sqlalchemy.exc.DBAPIError.instance(None, None, exc, psycopg.Error) from exc


def after_commit(session: Session, fn: Callable[[], None]) -> None:
    """Run ``fn`` once the session's current transaction commits (dropped on rollback). It must not emit SQL.

    A hook registered inside a savepoint is dropped if that savepoint (or one around it) rolls back.
    """
    enclosing = []
    tx = session.get_nested_transaction()
    while tx is not None and tx.nested:
        enclosing.append(id(tx))
        tx = tx.parent
    session.info.setdefault("after_commit", []).append((frozenset(enclosing), fn))


@event.listens_for(Session, "after_commit")
def _run_after_commit(session: Session) -> None:
    if session.in_nested_transaction():  # SQLAlchemy fires this on savepoint release too: wait for the real commit
        return
    hooks = session.info.pop("after_commit", [])
    for _savepoints, fn in hooks:
        fn()


@event.listens_for(Session, "after_soft_rollback")
def _drop_savepoint_hooks(session: Session, previous_transaction) -> None:
    if previous_transaction.nested and session.info.get("after_commit"):
        gone = id(previous_transaction)
        session.info["after_commit"] = [h for h in session.info["after_commit"] if gone not in h[0]]


@event.listens_for(Session, "after_rollback")
def _drop_after_commit(session: Session) -> None:
    if session.in_nested_transaction():  # a savepoint rolled back: the outer transaction's hooks still stand
        return
    session.info.pop("after_commit", None)


db = Database()
