"""gunicorn settings (``zhijiao serve``): HOST, PORT, WEB_CONCURRENCY, WEB_THREADS; metrics shared across workers."""

import os

bind = f"{os.environ.get('HOST', '127.0.0.1')}:{os.environ.get('PORT', '8000')}"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
# threaded workers: an open /me/notifications/stream (up to NOTIFICATION_STREAM_SECONDS) holds one thread of
# a worker, not the whole process, so open streams never starve the other requests (docs/schedules.md#delivery)
worker_class = "gthread"
threads = int(os.environ.get("WEB_THREADS", "8"))
# each worker imports the app after the fork: no database pool or Redis client is shared across processes,
# and prometheus-client picks up PROMETHEUS_MULTIPROC_DIR in every worker
preload_app = False
timeout = 60
graceful_timeout = 20
accesslog = None  # request logs come from the app's JSON logger, already scrubbed
# gunicorn 27's control socket defaults to one path in $HOME: several servers on one host would share it
control_socket_disable = True
_SHM = "/dev/shm"  # noqa: S108 - gunicorn's documented advice for containers, not a temp file of ours
if os.path.isdir(_SHM):  # worker heartbeat files in memory, not on a container's overlay disk
    worker_tmp_dir = _SHM


def child_exit(server, worker) -> None:
    """Drop the dead worker's live gauges from the shared metrics (its counters stay counted)."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)


def _anonymous_server_header() -> None:
    """``Server: zhijiao`` instead of ``Server: gunicorn`` (tells a scanner neither the software nor its version).

    gunicorn has no setting for it; its response class reads this module global for every response, and the
    workers fork from the master that ran this file.
    """
    import gunicorn.http.wsgi

    gunicorn.http.wsgi.SERVER = "zhijiao"


_anonymous_server_header()


def post_worker_init(worker) -> None:
    """Leave the loaded application (modules, models, schemas, the OpenAPI spec: objects that live as long as
    the worker) out of Python's garbage collection. A full collection scanned them all: 120–155 ms pauses in
    the middle of requests, once or twice a minute under load (issue 20, the staff screens' p99)."""
    import gc

    gc.freeze()
