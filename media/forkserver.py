"""A small warm process that forks the photo checks' sandbox children (docs/photos.md#sandbox).

``media.sandbox.run`` forks a child per photo so that a decoder's crash, hang or memory blow-up kills only
that child. Forking the RQ work horse itself costs a copy of its page tables: the horse carries SQLAlchemy,
RQ, the face models and every job's code, and a fresh child of it also starts with cold caches. The fork
server is a separate, small Python process that has imported Pillow and the checks (``checks.prepare``:
every decoder and first-call set-up done once) and nothing else; it forks the sandbox child on request.
The isolation is the sandbox's, unchanged: each photo still gets a fresh child with the same time limit
and address-space cap (``sandbox_child.child``), and a crash still kills only that child.

Protocol, over a ``SOCK_SEQPACKET`` socket pair (one message per packet):

- ``run``: the caller creates the answer pipe and a sealed memory file holding the pickled ``(fn, args,
  memory_bytes)`` — pickled by the trusted caller, for the server; what comes back from the child is never
  unpickled — and sends both descriptors with a request id. The server forks; the child computes and
  writes its answer to the pipe (the sandbox's wire format); the server answers ``(id, child pid)``.
- ``wait`` a pid: the server reaps the child and answers its wait status (the caller wants to know why a
  child gave no answer); ``forget`` a pid: the caller got its answer, the server reaps it later.

A work horse killed mid-request (RQ's job timeout) can leave an answer unread: answers carry the request
id, and a caller skips any that is not its own. Only functions importable by name go to the server (a
closure cannot); anything else, and every call while no server runs, forks the caller as before.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import secrets
import signal
import socket
import struct
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
#: how long a child the caller never asked about (its caller was killed) may stay a zombie
_STALE_S = 600.0
_server: dict | None = None  # {"proc", "sock", "owner"} in the process that started it


# --- the caller's side --------------------------------------------------------------------------------------


#: what the server imports and runs once before serving: the checks' decoders and first-call set-ups (named
#: here, not imported: the checks run the sandbox, which uses this module)
WARM_UP = "media.checks:prepare"


def start(warm_up: str = WARM_UP) -> bool:
    """Start the fork server for this process (and the work horses it forks); True when one runs."""
    global _server
    if _server is not None and _server["proc"].poll() is None:
        return True
    mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    proc = subprocess.Popen(
        [sys.executable, "-m", "media.forkserver", str(theirs.fileno()), warm_up],
        pass_fds=(theirs.fileno(),),
        stdin=subprocess.DEVNULL,
        cwd=ROOT,  # the request's functions are imported by name, from this checkout
    )
    theirs.close()
    mine.settimeout(30)
    try:
        ready = mine.recv(16)
    except OSError:
        ready = b""
    if ready != b"ready":
        proc.kill()
        proc.wait()
        mine.close()
        return False
    _server = {"proc": proc, "sock": mine, "owner": os.getpid()}
    return True


def stop() -> None:
    global _server
    if _server is None:
        return
    server, _server = _server, None
    server["sock"].close()
    if server["owner"] == os.getpid():
        server["proc"].terminate()
        try:
            server["proc"].wait(timeout=5)
        except subprocess.TimeoutExpired:
            server["proc"].kill()


def running() -> bool:
    return _server is not None and (_server["owner"] != os.getpid() or _server["proc"].poll() is None)


def by_name(fn) -> bool:
    """Whether ``fn`` can be sent to the server: a module-level function, importable by its name."""
    qualname = getattr(fn, "__qualname__", "")
    module = sys.modules.get(getattr(fn, "__module__", "") or "")
    return bool(qualname) and "<" not in qualname and module is not None and getattr(module, qualname, None) is fn


def spawn(fn, args: tuple, memory_bytes: int, out_fd: int) -> int | None:
    """Have the server fork a sandbox child computing ``fn(*args)`` into ``out_fd``; its pid, or None when
    the server cannot take it (the caller then forks itself)."""
    if not running() or not by_name(fn):
        return None
    payload = pickle.dumps((fn, args, memory_bytes), protocol=pickle.HIGHEST_PROTOCOL)
    memfd = os.memfd_create("zhijiao-sandbox-request", os.MFD_CLOEXEC)
    try:
        _write_all(memfd, payload)
        rid = secrets.token_bytes(8)
        reply = _ask(b"run" + rid, [memfd, out_fd], rid)
    finally:
        os.close(memfd)
    return None if reply is None else struct.unpack(">q", reply)[0]


def wait(pid: int) -> int | None:
    """The server's child ``pid``'s wait status, once it has exited (None if the server is gone)."""
    rid = secrets.token_bytes(8)
    reply = _ask(b"wai" + rid + struct.pack(">q", pid), [], rid, timeout=None)
    return None if reply is None else struct.unpack(">q", reply)[0]


def forget(pid: int) -> None:
    if _server is not None:
        with contextlib.suppress(OSError):
            _server["sock"].send(b"fgt" + bytes(8) + struct.pack(">q", pid))


def _ask(message: bytes, fds: list[int], rid: bytes, timeout: float | None = 30.0) -> bytes | None:
    sock = _server["sock"] if _server else None
    if sock is None:
        return None
    try:
        sock.settimeout(timeout)
        socket.send_fds(sock, [message], fds)
        while True:
            answer = sock.recv(64)
            if not answer:
                return None
            if answer[:8] == rid:  # an answer to a request of a killed caller is skipped
                return answer[8:]
    except OSError:
        return None


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


# --- the server ---------------------------------------------------------------------------------------------


def serve(fd: int, warm_up: str) -> None:
    """The server's loop: fork a sandbox child per ``run``, reap on ``wait`` / ``forget``; exit at EOF."""
    import importlib

    from media.sandbox_child import child

    module, _, name = warm_up.partition(":")
    prepare = getattr(importlib.import_module(module), name)

    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a Ctrl-C in the terminal is for the worker, which stops us
    sock = socket.socket(fileno=fd)
    prepare()
    sock.send(b"ready")
    children: dict[int, float] = {}  # pid → when it was forked
    forgotten: set[int] = set()
    while True:
        try:
            msg, fds, _flags, _addr = socket.recv_fds(sock, 64, 4)
        except InterruptedError:
            continue
        if not msg:
            return
        kind, rid = msg[:3], msg[3:11]
        if kind == b"run" and len(fds) == 2:
            memfd, out_fd = fds
            try:
                os.lseek(memfd, 0, os.SEEK_SET)
                fn, args, memory_bytes = pickle.loads(_read_all(memfd))  # noqa: S301 - from the trusted caller
            except Exception:  # noqa: BLE001 - a request that cannot be read is answered as a crash
                fn, args, memory_bytes = _unreadable, (), 0
            os.close(memfd)
            pid = os.fork()
            if pid == 0:  # pragma: no cover - the child's coverage is not collected
                sock.close()
                child(fn, args, memory_bytes, out_fd)
            os.close(out_fd)
            children[pid] = time.monotonic()
            _reply(sock, rid, pid)
        elif kind == b"wai":
            pid = struct.unpack(">q", msg[11:19])[0]
            status = _reap(pid, block=True)
            children.pop(pid, None)
            _reply(sock, rid, status)
        elif kind == b"fgt":
            forgotten.add(struct.unpack(">q", msg[11:19])[0])
        else:
            for extra in fds:
                os.close(extra)
        now = time.monotonic()
        for pid, born in list(children.items()):
            if (pid in forgotten or now - born > _STALE_S) and _reap(pid, block=False) is not None:
                children.pop(pid)
                forgotten.discard(pid)


def _unreadable():
    raise RuntimeError("the fork server could not read the request")


def _reply(sock: socket.socket, rid: bytes, value: int) -> None:
    with contextlib.suppress(OSError):
        sock.send(rid + struct.pack(">q", value))


def _reap(pid: int, block: bool) -> int | None:
    try:
        done, status = os.waitpid(pid, 0 if block else os.WNOHANG)
    except ChildProcessError:
        return -1
    return status if done else None


def _read_all(fd: int) -> bytes:
    chunks = []
    while chunk := os.read(fd, 1 << 20):
        chunks.append(chunk)
    return b"".join(chunks)


if __name__ == "__main__":
    serve(int(sys.argv[1]), sys.argv[2])
