"""Import every service module, so that every ``@handler(...)`` outbox handler is registered in a worker.

Discovery instead of a hand-kept list: a feature that adds a handler in any module under
``backend.services`` needs no second edit here. tests/core/test_outbox_jobs.py checks that every job name a service
writes to the outbox has a handler after this import.
"""

from __future__ import annotations

import importlib
import pkgutil

import backend.services


def _import_all() -> list[str]:
    names = [m.name for m in pkgutil.walk_packages(backend.services.__path__, "backend.services.")]
    for name in names:
        importlib.import_module(name)
    return names


MODULES = _import_all()
