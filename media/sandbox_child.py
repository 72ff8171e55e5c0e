"""What a sandbox child does (``media.sandbox``, ``media.forkserver``): cap its memory, compute, answer, exit.

The answer is a JSON header followed by raw byte blobs, written to the pipe the parent reads.
"""

from __future__ import annotations

import gc
import json
import os
from collections.abc import Callable


def vm_size() -> int:
    """This process's address space (VmSize), in bytes; 0 when /proc cannot tell."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmSize:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def _limit_memory(extra_bytes: int, base: int | None = None) -> None:
    """Cap the address space at ``extra_bytes`` beyond ``base`` (default: what the process has now)."""
    import resource

    base = base or vm_size()
    if base and extra_bytes > 0:
        limit = base + extra_bytes
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


Result = tuple[dict, list[bytes]]


def child(fn: Callable[..., Result], args: tuple, memory_bytes: int, out: int, base_vm: int | None = None) -> None:
    """Compute ``fn(*args)`` under a cap of ``memory_bytes`` beyond ``base_vm`` (default: the address space
    now), write the answer to ``out``, exit. A fork server's spare passes the size it had before it warmed
    its heap, plus its request: the cap then counts from where a child forked with the request starts."""
    status = 0
    try:
        blobs: list[bytes] = []
        try:
            gc.disable()  # a short life: collecting would only touch (and so copy) the parent's pages
            _limit_memory(memory_bytes, base_vm)
            header, blobs = fn(*args)
            body = {"ok": header, "blobs": [len(b) for b in blobs]}
        except MemoryError:
            body = {"error": "memory"}
        except BaseException as exc:  # noqa: BLE001 - report, never propagate into the parent's code
            body = {"error": "exception", "detail": f"{type(exc).__name__}: {exc}"[:500]}
        head = json.dumps(body).encode()
        for part in (len(head).to_bytes(8, "big"), head, *blobs):
            view = memoryview(part)
            while view:
                view = view[os.write(out, view) :]
        os.close(out)  # EOF now, not after the kernel has torn down this process's memory
    except BaseException:  # noqa: BLE001
        status = 1
    finally:
        os._exit(status)  # no atexit handlers, no flushing of the parent's buffers, no finalisers
