"""Type by content: the allowed image formats recognised from their first bytes, never from a name."""

from __future__ import annotations

#: format → the Pillow plugin that decodes it (HEIF through pillow-heif)
PILLOW_FORMATS = {"jpeg": "JPEG", "png": "PNG", "webp": "WEBP", "heif": "HEIF", "avif": "AVIF"}
#: content types a phone may declare; the declaration only pins the S3 policy, the content decides
DECLARABLE_TYPES = frozenset(
    {"image/jpeg", "image/png", "image/webp", "image/heic", "image/heif", "image/avif", "image/heic-sequence"}
)
MEDIA_TYPES = {
    "jpeg": "image/jpeg",
    "png": "image/png",
    "webp": "image/webp",
    "heif": "image/heic",
    "avif": "image/avif",
}

#: format found → the declared content types that name it (docs/photos.md#intrinsic-checks, TYPE_MISMATCH)
DECLARED_AS = {
    "jpeg": frozenset({"image/jpeg"}),
    "png": frozenset({"image/png"}),
    "webp": frozenset({"image/webp"}),
    "heif": frozenset({"image/heic", "image/heif", "image/heic-sequence"}),
    "avif": frozenset({"image/avif"}),
}

_HEIF_BRANDS = {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1", b"mif2"}
_AVIF_BRANDS = {b"avif", b"avis"}


def sniff(head: bytes) -> str | None:
    """The format of a file from its first 64 bytes, or None when it is not an allowed image type."""
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    if len(head) >= 16 and head[4:8] == b"ftyp":
        size = int.from_bytes(head[:4], "big")
        brands = {head[8:12]} | {head[i : i + 4] for i in range(16, min(size, len(head)) - 3, 4)}
        if brands & _AVIF_BRANDS and head[8:12] in _AVIF_BRANDS | {b"mif1", b"msf1"}:
            return "avif"
        if brands & _HEIF_BRANDS:
            return "heif"
    return None


def declared_matches(declared_type: str, fmt: str) -> bool:
    """Whether the content type an upload declared names the format its content has."""
    return declared_type.split(";")[0].strip().lower() in DECLARED_AS.get(fmt, ())
