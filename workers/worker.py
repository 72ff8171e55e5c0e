"""The RQ worker class (``rq worker --worker-class workers.worker.Worker``): rq's forking worker, job code preloaded.

Importing the job code here, in the long-lived parent, means each forked work horse starts with it
already imported instead of paying the import on every job. Nothing connects at import time: the
settings, database engine and logging are bound inside each work horse (workers.context), so no
connection is ever shared across a fork.

It also rides out a Redis outage (docs/schedules.md#faults): rq's own loop quits on a Redis error raised
anywhere but in its wait for a job (for example the heartbeat it sends while a work horse runs), and
``rq worker`` then exits. Here the heartbeats while a job runs tolerate the outage (the job's work goes to
the database), and when rq's loop ends for any reason other than a stop request, the worker waits for
Redis with backoff, registers again and goes on. The outage is logged once when it starts and once when
it ends, not on every retry.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time

from rq.exceptions import StopRequested
from rq.worker import Worker as _RQWorker

import backend.registry  # noqa: F401 - every outbox handler
import workers.jobs  # noqa: F401 - the job functions
import workers.schedules  # noqa: F401 - the schedules the tick runs
from media import checks, forkserver
from media.faces import preload
from workers.outage import MAX_WAIT_S, REDIS_DOWN, Outage

preload()  # the face models, loaded once here and shared by every forked work horse (issue 7)
# Pillow's plugins, pillow_heif, pHash's first call: the face check's decode and the sandbox's caller need them
# too, and a work horse that set them up itself paid ~180 ms per job (issue 20)
checks.prepare()
log = logging.getLogger("workers.worker")
_RQ_RETRY_LINE = "could not connect to Redis instance"


class _OutageLogFilter(logging.Filter):
    """Turns rq's per-attempt "could not connect" lines into the worker's once-per-outage line."""

    def __init__(self, outage: Outage) -> None:
        super().__init__()
        self.outage = outage

    def filter(self, record: logging.LogRecord) -> bool:
        if _RQ_RETRY_LINE in str(record.msg):
            err = record.args[1] if isinstance(record.args, tuple) and len(record.args) > 1 else record.msg
            self.outage.failed(ConnectionError(str(err)))
            return False
        return True


class Worker(_RQWorker):
    """rq's forking worker that survives Redis outages; see the module docstring."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.outage = Outage(log, f"worker {self.name}")
        self.max_connection_wait_time = MAX_WAIT_S  # rq's own retry of its wait for a job: back within 10 s
        self.log.addFilter(_OutageLogFilter(self.outage))

    def heartbeat(self, timeout=None, pipeline=None):
        super().heartbeat(timeout, pipeline)
        if pipeline is None:
            self.outage.over()

    def maintain_heartbeats(self, job) -> None:
        """The heartbeat while a work horse runs: an outage must not end the watch over the horse."""
        try:
            super().maintain_heartbeats(job)
        except REDIS_DOWN as exc:
            self.outage.failed(exc)
        else:
            self.outage.over()

    def work(self, burst: bool = False, *args, **kwargs) -> bool:
        """rq's work loop, started again (after Redis answers) whenever it ends without a stop request."""
        worked, restarts = False, 0
        if not forkserver.start():  # the photo checks' sandbox children fork from it (docs/photos.md#sandbox)
            log.warning("worker %s: the fork server did not start; photo checks fork the work horse", self.name)
        while True:
            try:
                worked = super().work(burst, *args, **kwargs) or worked
            except REDIS_DOWN as exc:  # its teardown could not reach Redis either
                self.outage.failed(exc)
            except StopRequested:
                return worked
            if burst or self._stopping():
                return worked
            restarts += 1
            log.warning("worker %s: its loop ended without a stop request; starting it again", self.name)
            if not self._recover(min(2.0**restarts, MAX_WAIT_S)):
                return worked

    def _stopping(self) -> bool:
        return self._shutdown_requested_date is not None or self._stop_requested

    def _recover(self, pause: float) -> bool:
        """Reap a work horse left running, wait for Redis, clear the old registration; False on a stop request."""
        try:
            if self._horse_pid:
                with contextlib.suppress(ChildProcessError):
                    os.waitpid(self._horse_pid, 0)  # its own time limit ends it at the latest
                self._horse_pid = 0
            time.sleep(pause)
            while not self._stopping():
                try:
                    self.connection.ping()
                    break
                except REDIS_DOWN as exc:
                    time.sleep(self.outage.failed(exc))
            if self._stopping():
                return False
            self.outage.over()
            with contextlib.suppress(Exception):
                self.unsubscribe()
            with contextlib.suppress(Exception):
                self.register_death()  # so that register_birth accepts the same name again
            return True
        except StopRequested:
            return False
