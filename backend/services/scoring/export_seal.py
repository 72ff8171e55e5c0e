"""Protecting the release export for the provincial platform: the ID number sealed to the platform's key, the
record signed with ours (docs/score.md#release-and-export, docs/audit-and-privacy.md#release-export).

Both keys live outside the database (settings ``EXPORT_RECIPIENT_KEY``, ``EXPORT_SIGNING_KEY``):

- **sealed** (confidentiality): the full ID number is encrypted for the platform alone, ECIES-style, with an
  ephemeral X25519 key: ``shared = X25519(ephemeral, recipient)``, ``key = HKDF-SHA256(shared, salt = epk ‖
  recipient public key, info = INFO)``, then AES-256-GCM with a random 12-byte nonce and the associated data
  ``"<record format>:<subject id>"`` (so a sealed number cannot be moved into another subject's record). We
  cannot decrypt it ourselves: only the platform's private key opens it (``open_sealed``, the reference).
- **signed** (origin and integrity): Ed25519 over the record's canonical JSON (``canonical``: keys sorted,
  no spaces, UTF-8). Whoever changes a byte of the record (in the database, in a file, in transit) breaks the
  signature; the platform pins our public key (``key_id``: the first 16 hex digits of its SHA-256).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from backend import runtime

SEAL_ALG = "X25519-HKDF-SHA256-A256GCM"
SIGN_ALG = "Ed25519"
INFO = b"zhijiao release export id_number v1"


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def _unb64(text: str) -> bytes:
    return base64.b64decode(text.encode(), validate=True)


def key_id(public_raw: bytes) -> str:
    """A public key's short name: the first 16 hex digits of its SHA-256."""
    return hashlib.sha256(public_raw).hexdigest()[:16]


def canonical(record: dict) -> bytes:
    """The bytes a signature covers: the record as JSON with sorted keys, no spaces, UTF-8."""
    return json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _aad(record_format: str, subject_id: int) -> bytes:
    return f"{record_format}:{subject_id}".encode()


def _derive(shared: bytes, epk: bytes, recipient: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=epk + recipient, info=INFO).derive(shared)


def seal(plain: str, recipient_public: bytes, record_format: str, subject_id: int) -> dict:
    """``plain`` encrypted for the holder of the X25519 private key of ``recipient_public`` (32 raw bytes)."""
    ephemeral = X25519PrivateKey.generate()
    epk = ephemeral.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    key = _derive(ephemeral.exchange(X25519PublicKey.from_public_bytes(recipient_public)), epk, recipient_public)
    nonce = os.urandom(12)
    ciphertext = AESGCM(key).encrypt(nonce, plain.encode(), _aad(record_format, subject_id))
    return {
        "alg": SEAL_ALG,
        "recipient_key_id": key_id(recipient_public),
        "epk": _b64(epk),
        "nonce": _b64(nonce),
        "ciphertext": _b64(ciphertext),
    }


def open_sealed(sealed: dict, recipient_private: bytes, record_format: str, subject_id: int) -> str:
    """The recipient's side (reference implementation): the plain text, or ValueError if it does not open."""
    try:
        if sealed.get("alg") != SEAL_ALG:
            raise ValueError(f"unknown algorithm {sealed.get('alg')!r}")
        private = X25519PrivateKey.from_private_bytes(recipient_private)
        recipient = private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        epk = _unb64(sealed["epk"])
        key = _derive(private.exchange(X25519PublicKey.from_public_bytes(epk)), epk, recipient)
        plain = AESGCM(key).decrypt(
            _unb64(sealed["nonce"]), _unb64(sealed["ciphertext"]), _aad(record_format, subject_id)
        )
    except (InvalidTag, KeyError, TypeError, ValueError) as exc:
        raise ValueError("the sealed value does not open with this key") from exc
    return plain.decode()


def _signing_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(runtime.settings().export_signing_seed())


def public_key_b64(public_raw: bytes) -> str:
    return _b64(public_raw)


def signing_public_key() -> bytes:
    """Our signing public key (32 raw bytes), to give the provincial platform once."""
    return _signing_key().public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


def sign(record: dict) -> dict:
    """The Ed25519 signature of the record: algorithm, key id, public key and value (base64)."""
    key = _signing_key()
    public = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    return {
        "alg": SIGN_ALG,
        "key_id": key_id(public),
        "public_key": _b64(public),
        "value": _b64(key.sign(canonical(record))),
    }


def verify(record: dict, signature_b64: str, public_key: bytes) -> bool:
    """True if ``signature_b64`` is the Ed25519 signature of the record under ``public_key`` (the recipient's check)."""
    try:
        Ed25519PublicKey.from_public_bytes(public_key).verify(_unb64(signature_b64), canonical(record))
    except (InvalidSignature, ValueError, TypeError):
        return False
    return True
