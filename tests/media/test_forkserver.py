"""The sandbox's children forked from the small warm fork server: same answers, same limits, same isolation."""

from __future__ import annotations

import os
import signal
import time
from datetime import datetime
from pathlib import Path

import pytest

from media import forkserver
from media.checks import inspect, inspect_isolated
from media.sandbox import SandboxError, run
from tests.media.test_checks import jpeg, scene


@pytest.fixture
def server():
    assert forkserver.start()
    yield forkserver._server["proc"].pid
    forkserver.stop()


def parent_of(*_args):
    """Which process forked this child, and what it has imported."""
    import sys

    return {"ppid": os.getppid(), "sqlalchemy": "sqlalchemy" in sys.modules}, [b"x" * 10]


def sleeper(*_args):
    time.sleep(30)
    return {}, []


def hog(*_args):
    return {"size": len(bytearray(1 << 30))}, []


def segfault(*_args):
    import ctypes

    ctypes.string_at(0)


def test_children_are_forked_by_the_small_server_not_by_the_caller(server):
    header, blobs = run(parent_of)
    assert header == {"ppid": server, "sqlalchemy": False} and blobs == [b"x" * 10]
    assert server != os.getpid()


def test_a_photo_checked_through_the_server_gets_the_same_verdict_and_derivatives(server):
    data = jpeg(scene(size=(1600, 1200)), taken=datetime(2026, 1, 1))
    here, there = inspect(data), inspect_isolated(data)
    assert there.verdict == here.verdict == "accepted" and there.reasons == here.reasons
    assert there.facts == here.facts and there.phash == here.phash
    assert there.display.data == here.display.data and there.thumbnail.data == here.thumbnail.data


def test_the_limits_hold_in_the_servers_children(server):
    with pytest.raises(SandboxError) as err:
        run(sleeper, timeout_s=0.5)
    assert err.value.kind == "timeout"
    with pytest.raises(SandboxError) as err:
        run(hog, memory_bytes=64 << 20)
    assert err.value.kind == "memory"
    with pytest.raises(SandboxError) as err:
        run(segfault)
    assert err.value.kind == "crashed" and err.value.detail == "SIGSEGV"
    assert run(parent_of)[0]["ppid"] == server  # the server lives on after its children died


def test_children_the_caller_got_answers_from_are_reaped(server):
    for _ in range(5):
        run(parent_of)
    run(parent_of)  # each request reaps the answered ones before it
    time.sleep(0.2)
    run(parent_of)
    zombies = [p.name for p in Path("/proc").iterdir() if p.name.isdigit() and _ppid_and_state(p) == (server, "Z")]
    assert len(zombies) <= 1


def _ppid_and_state(p: Path):
    try:
        fields = {k: v.strip() for k, _, v in (line.partition(":") for line in (p / "status").read_text().splitlines())}
    except OSError:
        return None
    return int(fields.get("PPid", 0)), fields.get("State", " ")[0]


def test_closures_and_a_dead_server_fall_back_to_forking_the_caller(server):
    me = os.getpid()

    def local(*_args):
        return {"ppid": os.getppid()}, []

    assert run(local)[0]["ppid"] == me  # a closure cannot be sent by name
    os.kill(server, signal.SIGKILL)
    forkserver._server["proc"].wait()
    assert not forkserver.running()
    assert run(parent_of)[0]["ppid"] == me


def test_no_server_means_the_caller_forks():
    forkserver.stop()
    assert run(parent_of)[0]["ppid"] == os.getpid()


# --- the spare child, the raw request (issue 20, part 2) ------------------------------------------------------

_served: list[int] = []  # what an earlier request in the same process would have left behind


def who(*args):
    """This child's pid and parent, whether it served a request before, and what it was given."""
    seen = list(_served)
    _served.append(os.getpid())
    sizes = [len(a) if isinstance(a, bytes) else repr(a) for a in args]
    return {"pid": os.getpid(), "ppid": os.getppid(), "served_before": seen, "args": sizes}, [args[0][-16:]]


def allocate(n: int):
    block = bytearray(n)  # every page written: it counts against the cap for real
    return {"size": len(block)}, []


def test_each_photo_gets_a_fresh_child_that_was_forked_and_warmed_before_it(server):
    photo = os.urandom(3 << 20)  # a phone photo's size: crosses raw, after the pickle
    pids = set()
    for _ in range(4):
        header, blobs = run(who, photo, b"small", 7)
        assert header["ppid"] == server and header["served_before"] == []  # never reused
        assert header["args"] == [len(photo), 5, "7"] and blobs == [photo[-16:]]
        pids.add(header["pid"])
    assert len(pids) == 4
    time.sleep(0.3)  # the next spare is forked once the last answer is in, and waits
    spares = [pid for pid in _children_of(server) if _ppid_and_state(Path(f"/proc/{pid}"))[1] != "Z"]
    assert len(spares) == 1 and spares[0] not in pids


def test_a_spare_that_died_while_it_waited_is_replaced(server):
    run(parent_of)
    time.sleep(0.3)
    for pid in _children_of(server):
        os.kill(pid, signal.SIGKILL)  # the spare (and any child still exiting)
    time.sleep(0.2)
    assert run(parent_of)[0]["ppid"] == server
    assert run(who, b"x" * 100_000)[0]["served_before"] == []


def test_the_memory_cap_holds_in_a_warmed_spare_and_leaves_it_its_room(server):
    assert forkserver.WARM_HEAP_BYTES >= 8 << 20
    # the cap counts from the child's size before it warmed its heap: the warm heap takes none of the room
    assert run(allocate, 40 << 20, memory_bytes=64 << 20)[0] == {"size": 40 << 20}
    with pytest.raises(SandboxError) as err:
        run(allocate, 80 << 20, memory_bytes=64 << 20)
    assert err.value.kind == "memory"


def test_a_request_file_carries_large_bytes_raw_and_the_rest_pickled():
    photo, small = os.urandom(200_000), b"tiny"
    fd = os.memfd_create("test-request")
    try:
        forkserver.write_request(fd, who, (photo, small, photo, {"k": 1}), 123)
        size = os.fstat(fd).st_size
        assert size < len(photo) * 2 + 4096  # the photo once per argument, never pickled (nor base64)
        fn, args, memory_bytes = forkserver.read_request(fd)
        assert fn is who and memory_bytes == 123
        assert args == (photo, small, photo, {"k": 1}) and type(args[0]) is bytes
        os.ftruncate(fd, size - 1)
        with pytest.raises(EOFError):
            forkserver.read_request(fd)
    finally:
        os.close(fd)


def test_a_cut_request_is_answered_as_a_crash_and_the_server_goes_on(server, monkeypatch):
    real = forkserver.write_request

    def cut(fd, fn, args, memory_bytes):
        real(fd, fn, args, memory_bytes)
        os.ftruncate(fd, os.fstat(fd).st_size - 10)

    monkeypatch.setattr(forkserver, "write_request", cut)
    with pytest.raises(SandboxError) as err:
        run(who, b"y" * 100_000)
    assert err.value.kind == "crashed" and "could not read the request" in err.value.detail
    monkeypatch.undo()
    assert run(parent_of)[0]["ppid"] == server


def test_a_scripts_own_functions_are_not_sent_by_name(monkeypatch):
    import sys

    def fn():
        return {}, []

    fn.__module__, fn.__qualname__ = "__main__", "bench_probe"
    monkeypatch.setattr(sys.modules["__main__"], "bench_probe", fn, raising=False)
    assert not forkserver.by_name(fn)  # in the server, __main__ is the server itself
    assert forkserver.by_name(who)


def _children_of(parent: int) -> list[int]:
    return [
        int(p.name) for p in Path("/proc").iterdir() if p.name.isdigit() and (_ppid_and_state(p) or (0,))[0] == parent
    ]
