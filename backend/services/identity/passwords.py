"""Password hashing (argon2id) and the password policy."""

from __future__ import annotations

import re
from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from backend import runtime
from backend.errors import DomainError


@lru_cache(maxsize=2)
def _hasher_for(cheap: bool) -> tuple[PasswordHasher, str]:
    """The hasher and a dummy hash made with it (verified when the user does not exist, so timing matches).

    ``ZHIJIAO_ENV=test`` uses minimal argon2 parameters: the test suite hashes hundreds of passwords on a
    small machine. Every other mode uses argon2-cffi's recommended defaults (RFC 9106 low-memory profile).
    """
    hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1) if cheap else PasswordHasher()
    return hasher, hasher.hash("zhijiao-timing-equaliser")


def _hasher() -> tuple[PasswordHasher, str]:
    return _hasher_for(runtime.settings().env == "test")


def hash_password(plain: str) -> str:
    """An argon2id hash of ``plain``."""
    return _hasher()[0].hash(plain)


def verify_password(stored: str | None, plain: str) -> bool:
    """True if ``plain`` matches ``stored``; a missing hash costs the same time and is False."""
    hasher, dummy = _hasher()
    try:
        return hasher.verify(stored or dummy, plain) and stored is not None
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(stored: str) -> bool:
    """True when ``stored`` was made with other parameters than the current ones (upgrade it at login)."""
    try:
        return _hasher()[0].check_needs_rehash(stored)
    except InvalidHashError:
        return True


def check_policy(plain: str) -> None:
    """At least 8 characters (at most 128), with letters and digits; PASSWORD_TOO_WEAK otherwise."""
    if len(plain) < 8 or len(plain) > 128 or not re.search(r"[A-Za-z]", plain) or not re.search(r"\d", plain):
        raise DomainError("PASSWORD_TOO_WEAK")
