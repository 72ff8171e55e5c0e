"""The RQ worker class (``rq worker --worker-class workers.worker.Worker``): rq's forking worker, job code preloaded.

Importing the job code here, in the long-lived parent, means each forked work horse starts with it
already imported instead of paying the import on every job. Nothing connects at import time: the
settings, database engine and logging are bound inside each work horse (workers.context), so no
connection is ever shared across a fork.
"""

from __future__ import annotations

from rq.worker import Worker as _RQWorker

import backend.registry  # noqa: F401 - every outbox handler
import workers.jobs  # noqa: F401 - the job functions
import workers.schedules  # noqa: F401 - the schedules the tick runs
from media.faces import preload

preload()  # the face models, loaded once here and shared by every forked work horse (issue 7)


class Worker(_RQWorker):
    """rq's forking worker; see the module docstring for why it exists."""
