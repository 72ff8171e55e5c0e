"""A small warm process that forks the photo checks' sandbox children (docs/photos.md#sandbox).

``media.sandbox.run`` forks a child per photo so that a decoder's crash, hang or memory blow-up kills only
that child. Forking the RQ work horse itself costs a copy of its page tables: the horse carries SQLAlchemy,
RQ, the face models and every job's code, and a fresh child of it also starts with cold caches. The fork
server is a separate, small Python process that has imported Pillow and the checks (``checks.prepare``:
every decoder and first-call set-up done once) and nothing else; it forks the sandbox children.
The isolation is the sandbox's, unchanged: each photo still gets a fresh child with the same time limit
and address-space cap (``sandbox_child.child``), and a crash still kills only that child.

What a child costs before it computes is paid ahead, off the photo's path: the server keeps one *spare*
child forked and warmed (``_spare``: its own heap faulted in and kept, the checks' code paths run once on
a tiny photo, so that their pages are copied from the server now and not one page fault at a time during
the photo's check). A ``run`` hands the request to the spare, which serves that one photo and exits; once
its answer is in (``forget``, ``wait``) the server forks the next spare. A spare is never reused, and one
that a request finds still warming stops warming and serves it.

Protocol, over a ``SOCK_SEQPACKET`` socket pair (one message per packet):

- ``run``: the caller creates the answer pipe and a memory file holding the request — an 8-byte length,
  the pickled ``(fn, args, memory_bytes, blob sizes)`` (pickled by the trusted caller; what comes back
  from the child is never unpickled) where each large ``bytes`` argument (the photo) stands as a
  ``_Blob`` placeholder, then those bytes raw, so that a photo is copied once into the file and once out
  of it, never pickled — and sends both descriptors with a request id. The server passes them to the
  spare, which reads the request and computes, and answers ``(id, child pid)``; the child writes its
  answer to the pipe (the sandbox's wire format).
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
import select
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
#: a ``bytes`` argument at least this long crosses raw, after the pickle, not inside it
_RAW_MIN = 64 * 1024
#: how much heap a spare faults in and keeps ahead of its photo: a 12 MP phone photo's check (the file,
#: the decoded display-size image, its turned copy, the decoder's buffers) fits; a bigger one grows it
WARM_HEAP_BYTES = 16 << 20
_server: dict | None = None  # {"proc", "sock", "owner"} in the process that started it


class _Blob:
    """Where a raw ``bytes`` argument stood in the pickled request (its index among the raw parts)."""

    def __init__(self, index: int) -> None:
        self.index = index


# --- the caller's side --------------------------------------------------------------------------------------


#: what the server imports and runs once before serving, and what each spare runs before it waits: the
#: checks' decoders and first-call set-ups (named here, not imported: the checks run the sandbox, which
#: uses this module)
WARM_UP = "media.checks:prepare"
SPARE_WARM_UP = "media.checks:rehearse"


def start(warm_up: str = WARM_UP, spare_warm_up: str = SPARE_WARM_UP) -> bool:
    """Start the fork server for this process (and the work horses it forks); True when one runs."""
    global _server
    if _server is not None and _server["proc"].poll() is None:
        return True
    mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    proc = subprocess.Popen(
        [sys.executable, "-m", "media.forkserver", str(theirs.fileno()), warm_up, spare_warm_up],
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
    """Whether ``fn`` can be sent to the server: a module-level function, importable by its name (a script's
    ``__main__`` is not: in the server that name is this module)."""
    qualname = getattr(fn, "__qualname__", "")
    module_name = getattr(fn, "__module__", "") or ""
    module = sys.modules.get(module_name)
    return (
        bool(qualname)
        and "<" not in qualname
        and module_name != "__main__"
        and module is not None
        and getattr(module, qualname, None) is fn
    )


def spawn(fn, args: tuple, memory_bytes: int, out_fd: int) -> int | None:
    """Have the server's child compute ``fn(*args)`` into ``out_fd``; its pid, or None when the server cannot
    take it (the caller then forks itself)."""
    if not running() or not by_name(fn):
        return None
    memfd = os.memfd_create("zhijiao-sandbox-request", os.MFD_CLOEXEC)
    try:
        write_request(memfd, fn, args, memory_bytes)
        rid = secrets.token_bytes(8)
        reply = _ask(b"run" + rid, [memfd, out_fd], rid)
    finally:
        os.close(memfd)
    pid = None if reply is None else struct.unpack(">q", reply)[0]
    return pid if pid is not None and pid > 0 else None


def write_request(fd: int, fn, args: tuple, memory_bytes: int) -> None:
    """The request into ``fd``: its length, the pickle with the large ``bytes`` arguments left out, them raw."""
    raw = [a for a in args if type(a) is bytes and len(a) >= _RAW_MIN]
    at = {id(a): i for i, a in enumerate(raw)}
    shown = tuple(_Blob(at[id(a)]) if id(a) in at and type(a) is bytes else a for a in args)
    head = pickle.dumps((fn, shown, memory_bytes, [len(a) for a in raw]), protocol=pickle.HIGHEST_PROTOCOL)
    os.ftruncate(fd, 8 + len(head) + sum(len(a) for a in raw))  # one size change, not one per write
    _write_all(fd, len(head).to_bytes(8, "big") + head)
    for part in raw:
        _write_all(fd, part)


def read_request(fd: int) -> tuple:
    """``(fn, args, memory_bytes)`` from a request file (each raw part read once, into a ``bytes``)."""
    size = int.from_bytes(os.pread(fd, 8, 0), "big")
    fn, shown, memory_bytes, lengths = pickle.loads(os.pread(fd, size, 8))  # noqa: S301 - the trusted caller's
    parts, pos = [], 8 + size
    for length in lengths:
        part = os.pread(fd, length, pos)
        if len(part) != length:
            raise EOFError("the request is cut short")
        parts.append(part)
        pos += length
    args = tuple(parts[a.index] if isinstance(a, _Blob) else a for a in shown)
    return fn, args, memory_bytes


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


def serve(fd: int, warm_up: str, spare_warm_up: str = "") -> None:
    """The server's loop: hand each ``run`` to the spare and fork the next, reap on ``wait`` / ``forget``;
    exit at EOF."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a Ctrl-C in the terminal is for the worker, which stops us
    sock = socket.socket(fileno=fd)
    _named(warm_up)()
    rehearse = _named(spare_warm_up) if spare_warm_up else None
    import media.sandbox_child  # noqa: F401 - imported here once, not in every spare (8 ms of a child's CPU)

    _malloc_api()
    spare = _fork_spare(sock, rehearse)
    sock.send(b"ready")
    children: dict[int, float] = {}  # pid → when it was handed its request
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
            pid = None
            for _attempt in range(2):  # a spare that died while it waited is replaced once
                spare = spare or _fork_spare(sock, rehearse, fds)
                pid, spare = _hand(spare, fds), None
                if pid is not None:
                    break
            for extra in fds:
                os.close(extra)
            if pid is not None:
                children[pid] = time.monotonic()
            _reply(sock, rid, -1 if pid is None else pid)
        elif kind == b"wai":
            pid = struct.unpack(">q", msg[11:19])[0]
            status = _reap(pid, block=True)
            children.pop(pid, None)
            _reply(sock, rid, status)
            spare = spare or _fork_spare(sock, rehearse)
        elif kind == b"fgt":
            forgotten.add(struct.unpack(">q", msg[11:19])[0])
            # the next spare warms once the photo's child has answered, so that it never takes a core from
            # it, while the caller stores what the check found
            spare = spare or _fork_spare(sock, rehearse)
        else:
            for extra in fds:
                os.close(extra)
        now = time.monotonic()
        for pid, born in list(children.items()):
            if (pid in forgotten or now - born > _STALE_S) and _reap(pid, block=False) is not None:
                children.pop(pid)
                forgotten.discard(pid)


def _named(spec: str):
    import importlib

    module, _, name = spec.partition(":")
    return getattr(importlib.import_module(module), name)


def _fork_spare(server_sock: socket.socket, rehearse, held: list[int] = ()) -> tuple[int, socket.socket]:
    """Fork the next child: it warms itself, then waits for one request; (its pid, the server's end).
    ``held``: descriptors the server holds for a request just now, which the child must not keep open."""
    ours, its = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child's coverage is not collected
        server_sock.close()
        ours.close()
        for fd in held:
            os.close(fd)
        _spare(its, rehearse)
    its.close()
    return pid, ours


def _hand(spare: tuple[int, socket.socket], fds: list[int]) -> int | None:
    """Pass the request's descriptors to the spare; its pid, or None (reaped) when it is gone."""
    pid, ours = spare
    try:
        socket.send_fds(ours, [b"go"], fds)
    except OSError:  # it is dead or dying: its end of the pair is closed
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)
        _reap(pid, block=True)
        return None
    finally:
        ours.close()
    return pid


def _spare(its: socket.socket, rehearse) -> None:  # pragma: no cover - runs in the spare child
    """The spare child: warm up, wait for one request, serve it through ``sandbox_child.child``, exit."""
    import gc

    from media.sandbox_child import child, vm_size

    gc.disable()  # a short life: collecting would only touch (and so copy) the server's pages
    base = vm_size()  # the memory cap counts from here, as in a child forked with the request
    for step in (lambda: _warm_heap(WARM_HEAP_BYTES), rehearse):
        if step is None or select.select([its], [], [], 0)[0]:  # a request waits: serve it, warm or not
            break
        try:
            step()
        except Exception:  # noqa: BLE001 - warming is an optimisation; the child serves colder then
            break
    try:
        _msg, fds, _flags, _addr = socket.recv_fds(its, 16, 2)
    except OSError:
        fds = []
    its.close()
    if len(fds) != 2:  # the server is gone (EOF) or sent nothing usable
        for extra in fds:
            os.close(extra)
        os._exit(0)
    memfd, out_fd = fds
    try:
        fn, args, memory_bytes = read_request(memfd)
    except Exception:  # noqa: BLE001 - a request that cannot be read is answered as a crash
        fn, args, memory_bytes = _unreadable, (), 0
    os.close(memfd)
    request_bytes = sum(len(a) for a in args if type(a) is bytes)
    child(fn, args, memory_bytes, out_fd, base_vm=base + request_bytes if base else None)


_libc: list = []  # glibc's malloc and madvise through ctypes, set up once in the server


def _malloc_api():
    """glibc, its functions typed (once, in the server: a spare inherits it); None without glibc's mallopt."""
    if not _libc:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        if hasattr(libc, "mallopt"):
            libc.malloc.restype, libc.malloc.argtypes = ctypes.c_void_p, [ctypes.c_size_t]
            libc.free.argtypes = [ctypes.c_void_p]
            libc.madvise.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
            libc.memset.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_size_t]
        _libc.append(libc if hasattr(libc, "mallopt") else None)
    return _libc[0]


def _warm_heap(size: int) -> None:
    """Fault ``size`` bytes of this process's heap in, and keep them for its allocations (glibc's malloc):
    the photo's buffers then land on pages already there instead of taking a page fault per 4 KiB."""
    libc = _malloc_api()
    if libc is None:
        return
    libc.mallopt(-3, 32 << 20)  # M_MMAP_THRESHOLD: buffers up to 32 MiB come from the heap, not a fresh mmap
    libc.mallopt(-1, 1 << 30)  # M_TRIM_THRESHOLD: freed heap stays with the process until it exits
    block = libc.malloc(size)
    if not block:
        return
    page = os.sysconf("SC_PAGE_SIZE")
    first, end = -(-block // page) * page, (block + size) // page * page
    libc.madvise(first, end - first, 14)  # MADV_HUGEPAGE: 2 MiB pages where the kernel allows (a third of the cost)
    if libc.madvise(first, end - first, 23) != 0:  # MADV_POPULATE_WRITE (Linux 5.14): all pages in one call
        libc.memset(block, 0, size)
    libc.free(block)


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


if __name__ == "__main__":
    # run as media.forkserver, not as __main__: a request's ``_Blob`` is unpickled as media.forkserver's
    from media.forkserver import serve as _serve

    _serve(int(sys.argv[1]), sys.argv[2], sys.argv[3] if len(sys.argv) > 3 else "")
