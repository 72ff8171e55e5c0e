"""Password hashing (argon2id) and the password policy."""

from __future__ import annotations

import re

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from backend.errors import DomainError

_hasher = PasswordHasher()
#: verified against when the user does not exist, so a wrong username costs the same time as a wrong password
_DUMMY = _hasher.hash("zhijiao-timing-equaliser")


def hash_password(plain: str) -> str:
    return _hasher.hash(plain)


def verify_password(stored: str | None, plain: str) -> bool:
    try:
        return _hasher.verify(stored or _DUMMY, plain) and stored is not None
    except (VerificationError, InvalidHashError):
        return False


def check_policy(plain: str) -> None:
    if len(plain) < 8 or len(plain) > 128 or not re.search(r"[A-Za-z]", plain) or not re.search(r"\d", plain):
        raise DomainError("PASSWORD_TOO_WEAK")
