"""Encryption at rest (Fernet) and keyed hashes for exact lookup of personal data."""

from __future__ import annotations

import hashlib
import hmac
from functools import lru_cache

from cryptography.fernet import Fernet

from backend import runtime


@lru_cache(maxsize=4)
def _fernet(key: bytes) -> Fernet:
    return Fernet(key)


def encrypt(plain: str) -> str:
    return _fernet(runtime.settings().fernet_key()).encrypt(plain.encode()).decode()


def decrypt(token: str) -> str:
    return _fernet(runtime.settings().fernet_key()).decrypt(token.encode()).decode()


def encrypt_bytes(plain: bytes) -> bytes:
    return _fernet(runtime.settings().fernet_key()).encrypt(plain)


def decrypt_bytes(token: bytes) -> bytes:
    return _fernet(runtime.settings().fernet_key()).decrypt(token)


def lookup_hash(value: str) -> str:
    return hmac.new(runtime.settings().lookup_key(), value.encode(), hashlib.sha256).hexdigest()


def sha256_hex(value: str | bytes) -> str:
    return hashlib.sha256(value.encode() if isinstance(value, str) else value).hexdigest()
