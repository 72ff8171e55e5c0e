"""Run a parser in a forked child with a wall-clock and an address-space limit, without SIGALRM.

RQ's job timeout already owns SIGALRM in the worker, and a signal cannot interrupt C code anyway. A forked
child can be killed at any point, its memory is capped with RLIMIT_AS, and if a decoder crashes (a
segfault in a C library on a fuzzed file) only the child dies. The child answers over a pipe with a JSON
header followed by raw byte blobs (no base64, no pickle: nothing it sends is ever unpickled).

When a fork server runs (``media.forkserver``, started by the worker), the child is forked from that small
warm process instead of from the caller; the limits, the wire format and the errors are the same.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import select
import signal
import time
from collections.abc import Callable

from media.sandbox_child import Result
from media.sandbox_child import child as _child


class SandboxError(RuntimeError):
    """The child did not return a result; ``kind`` says why: timeout, memory or crashed."""

    def __init__(self, kind: str, detail: str = "") -> None:
        super().__init__(f"{kind}: {detail}" if detail else kind)
        self.kind = kind
        self.detail = detail


#: the answer pipe's buffer (Linux's default cap for an unprivileged process, /proc/sys/fs/pipe-max-size)
_PIPE_BYTES = 1 << 20
_exiting: list[int] = []  # children that answered and are still exiting: reaped later, without waiting


def reap(wait: bool = False) -> None:
    """Collect children that answered and exited (all of them, blocking, when ``wait``)."""
    for pid in list(_exiting):
        try:
            done, _ = os.waitpid(pid, 0 if wait or len(_exiting) >= 8 else os.WNOHANG)
        except ChildProcessError:
            done = pid
        if done:
            _exiting.remove(pid)


def _parse(raw: bytes) -> tuple[dict, list[bytes]] | None:
    """The child's complete answer, or None when it is cut short or unreadable."""
    if len(raw) < 8:
        return None
    size = int.from_bytes(raw[:8], "big")
    try:
        body = json.loads(raw[8 : 8 + size])
    except ValueError:
        return None
    blobs, pos = [], 8 + size
    for length in body.get("blobs", []):
        blobs.append(raw[pos : pos + length])
        pos += length
    return (body, blobs) if pos == len(raw) else None


def run(fn: Callable[..., Result], *args, timeout_s: float = 60.0, memory_bytes: int = 1 << 30) -> Result:
    """Return ``fn(*args)`` computed in a child, as (JSON-safe dict, byte blobs), or raise SandboxError."""
    from media import forkserver

    reap()
    read_fd, write_fd = os.pipe()
    with contextlib.suppress(OSError):  # the answer (a display-size JPEG) in one write, not 64 KiB at a time
        fcntl.fcntl(write_fd, fcntl.F_SETPIPE_SZ, _PIPE_BYTES)
    pid = forkserver.spawn(fn, args, memory_bytes, write_fd)  # a child of the small warm server, when one runs
    served = pid is not None
    if pid is None:
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child's coverage is not collected
            os.close(read_fd)
            _child(fn, args, memory_bytes, write_fd)
    os.close(write_fd)
    chunks: list[bytes] = []
    deadline = time.monotonic() + timeout_s
    answered = False
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                os.kill(pid, signal.SIGKILL)
                raise SandboxError("timeout", f"{timeout_s:g} s")
            ready, _, _ = select.select([read_fd], [], [], left)
            if not ready:
                continue
            chunk = os.read(read_fd, 1 << 20)
            if not chunk:
                break
            chunks.append(chunk)
        answer = _parse(b"".join(chunks))
        answered = answer is not None
    finally:
        os.close(read_fd)
        if answered:
            forkserver.forget(pid) if served else _exiting.append(pid)
        elif served:
            status = forkserver.wait(pid)
        else:
            _, status = os.waitpid(pid, 0)
    if not answered:
        if status is not None and status >= 0 and os.WIFSIGNALED(status):
            raise SandboxError("crashed", signal.Signals(os.WTERMSIG(status)).name)
        raise SandboxError("crashed", "no answer from the child")
    body, blobs = answer
    if "ok" in body:
        return body["ok"], blobs
    if body.get("error") == "memory":
        raise SandboxError("memory")
    raise SandboxError("crashed", body.get("detail", ""))
