"""Import every module that registers an outbox handler, so a worker knows them all."""

from backend.services import notifications  # noqa: F401
