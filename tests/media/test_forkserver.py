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
