"""Intrinsic checks of one photo: type by content, limits, decode, what follows the image, EXIF facts, pHash,
derivatives.

Rules: docs/photos.md#intrinsic-checks.

Pure: bytes in, an ``Inspection`` out. Every failure of a parser on a hostile file becomes a reason code,
never an exception. Run it through ``media.sandbox`` to add a time and memory limit.
"""

from __future__ import annotations

import io
import re
import warnings
from dataclasses import asdict, dataclass, field
from datetime import datetime

from media import exif, reasons
from media.editors import editor_in
from media.phash import phash
from media.sniff import MEDIA_TYPES, PILLOW_FORMATS, declared_matches, sniff
from media.trailer import ending

#: script or markup where an image has none (polyglots); scanned in the first and last 64 KiB. The literal
#: "<" first keeps the scan at memchr speed; each marker is long enough that compressed data never forms it
_MARKUP = re.compile(rb"<(?i:script|\?php|%@|html|body|iframe|svg|object|embed|!doctype)")
_SHEBANGS = (b"#!/bin/", b"#!/usr/bin/", b"#!/usr/local/bin/")
_SCAN = 64 * 1024
_TRANSPOSE = {2: "FLIP_LEFT_RIGHT", 3: "ROTATE_180", 4: "FLIP_TOP_BOTTOM", 5: "TRANSPOSE", 6: "ROTATE_270"}
_TRANSPOSE |= {7: "TRANSVERSE", 8: "ROTATE_90"}


@dataclass(frozen=True)
class Limits:
    max_bytes: int = 30 * 1024 * 1024
    max_pixels: int = 50_000_000
    #: least long side of the display derivative; reached by whole-factor reduction (JPEG: in the decoder),
    #: so the long side ends up between this and twice this, and no resampling pass is ever needed
    display_px: int = 960
    thumb_px: int = 320  # least long side of the thumbnail, reduced from the display the same way
    display_quality: int = 82
    thumb_quality: int = 75


@dataclass
class Derivative:
    data: bytes
    width: int
    height: int
    content_type: str = "image/jpeg"


@dataclass
class Inspection:
    """What the intrinsic checks found; ``facts`` keys follow the API (captured_at as ISO 8601 with offset)."""

    reasons: list[str] = field(default_factory=list)
    details: dict[str, dict] = field(default_factory=dict)
    facts: dict = field(default_factory=dict)
    phash: str | None = None
    display: Derivative | None = None
    thumbnail: Derivative | None = None

    @property
    def verdict(self) -> str:
        return reasons.verdict(self.reasons)

    def add(self, code: str, **detail) -> Inspection:
        if code not in self.reasons:
            self.reasons.append(code)
        if detail:
            self.details[code] = detail
        return self

    def to_wire(self) -> tuple[dict, list[bytes]]:
        """A JSON-safe dict plus the derivatives' bytes, to cross the sandbox's pipe."""
        blobs: list[bytes] = []
        out = asdict(self)
        for name in ("display", "thumbnail"):
            if out[name] is not None:
                blobs.append(out[name].pop("data"))
                out[name]["blob"] = len(blobs) - 1
        return out, blobs

    @classmethod
    def from_wire(cls, d: dict, blobs: list[bytes]) -> Inspection:
        for name in ("display", "thumbnail"):
            if d.get(name) is not None:
                blob = d[name].pop("blob")
                d[name] = Derivative(data=blobs[blob], **d[name])
        return cls(**d)


_prepared: list[bool] = []


def prepare() -> None:
    """Import the decoders once (a sandbox child inherits them instead of importing per photo)."""
    if _prepared:
        return
    _prepared.append(True)
    import numpy  # noqa: F401
    import pillow_heif
    from PIL import Image, JpegImagePlugin, PngImagePlugin, WebPImagePlugin  # noqa: F401

    pillow_heif.register_heif_opener(thumbnails=False, depth_images=False, aux_images=False)
    Image.init()
    # one small photo through every step, so that lazy imports and first-call set-ups happen here, once,
    # and not again in each sandbox child (a child's first pHash alone cost 12 ms before this)
    rehearse()


def rehearse() -> None:
    """One tiny photo through every step of ``inspect`` (both EXIF readers, the turn, pHash, both encodes).

    ``prepare`` runs it once; a fork server's spare child runs it again while it waits for its photo
    (``media.forkserver``), so that the pages those steps touch are copied from the server then, and
    not one page fault at a time during the photo's check.
    """
    if not _sample:
        from PIL import Image

        sample, exif_block = io.BytesIO(), Image.Exif()
        exif_block[0x0110], exif_block[0x0112] = "warm-up", 6
        Image.new("RGB", (64, 48), (90, 120, 150)).save(sample, "JPEG", exif=exif_block.tobytes())
        _sample.append(sample.getvalue())
    inspect(_sample[0], Limits(display_px=32, thumb_px=16))


_sample: list[bytes] = []  # the rehearsal's photo, made once


def inspect(
    data: bytes,
    limits: Limits = Limits(),  # noqa: B008 - frozen, immutable default
    declared_type: str | None = None,
) -> Inspection:
    """Check one file (against the content type its upload declared, when given); never raises for anything
    the file contains."""
    result = Inspection()
    if not data:
        return result.add("EMPTY_FILE")
    if len(data) > limits.max_bytes:
        return result.add("FILE_TOO_LARGE", size_bytes=len(data), max_bytes=limits.max_bytes)
    fmt = sniff(data[:64])
    if fmt is None:
        return result.add("UNSUPPORTED_TYPE")
    result.facts["format"] = fmt
    result.facts["media_type"] = MEDIA_TYPES[fmt]
    if declared_type is not None and not declared_matches(declared_type, fmt):
        result.add("TYPE_MISMATCH", declared=declared_type, found=MEDIA_TYPES[fmt])
    marker = _script_marker(data[:_SCAN]) or _script_marker(data[-_SCAN:])
    if marker:
        return result.add("EMBEDDED_SCRIPT", marker=marker)
    prepare()
    try:
        _decode(data, fmt, limits, result)
    except MemoryError:
        result.add("CHECK_OUT_OF_MEMORY")
    except Exception as exc:  # noqa: BLE001 - hostile files make Pillow raise almost anything
        result.add(_decode_reason(exc), error=type(exc).__name__)
    if result.verdict != reasons.REJECTED:
        _trailing(data, fmt, result)
    if result.verdict == reasons.REJECTED:
        result.display = result.thumbnail = result.phash = None
    return result


def _trailing(data: bytes, fmt: str, result: Inspection) -> None:
    """Bytes after the image's end that no phone appends (docs/photos.md#trailing-data) make it suspect."""
    end = ending(data, fmt)
    if end is not None and not end.allowed:
        result.add("TRAILING_DATA", image_end=end.image_end, trailing_bytes=end.trailing, kind=end.kind)


def _script_marker(chunk: bytes) -> str | None:
    hit = _MARKUP.search(chunk)
    if hit:
        return hit.group(0).decode("latin-1")
    return next((m.decode() for m in _SHEBANGS if m in chunk), None)


def inspect_isolated(
    data: bytes,
    limits: Limits = Limits(),  # noqa: B008
    *,
    declared_type: str | None = None,
    timeout_s: float = 60.0,
    memory_bytes: int = 1 << 30,
) -> Inspection:
    """``inspect`` in a forked child under a time and memory limit; a dead child is a rejection, not a crash."""
    from media.sandbox import SandboxError, run

    prepare()
    try:
        answer = run(_inspect_wire, data, limits, declared_type, timeout_s=timeout_s, memory_bytes=memory_bytes)
        return Inspection.from_wire(*answer)
    except SandboxError as exc:
        code = {"timeout": "CHECK_TIMEOUT", "memory": "CHECK_OUT_OF_MEMORY"}.get(exc.kind, "CORRUPT_IMAGE")
        return Inspection().add(code, error=exc.kind, detail=exc.detail[:200])


def _inspect_wire(data: bytes, limits: Limits, declared_type: str | None = None) -> tuple[dict, list[bytes]]:
    return inspect(data, limits, declared_type).to_wire()


def _decode_reason(exc: Exception) -> str:
    from PIL import Image

    if isinstance(exc, Image.DecompressionBombError):
        return "DECOMPRESSION_BOMB"
    text = str(exc).lower()
    if isinstance(exc, OSError) and ("truncated" in text or "broken data stream" in text):
        return "TRUNCATED_IMAGE"
    return "CORRUPT_IMAGE"


def draft_box(size: tuple[int, int], long_side: int) -> tuple[int, int]:
    """The size to ask ``Image.draft`` for so that the decoded long side is at least ``long_side``."""
    w, h = size
    scale = min(1.0, long_side / max(w, h))
    return max(1, int(w * scale)), max(1, int(h * scale))


def _decode(data: bytes, fmt: str, limits: Limits, result: Inspection) -> None:
    from PIL import Image

    guard = Image.MAX_IMAGE_PIXELS
    Image.MAX_IMAGE_PIXELS = limits.max_pixels  # Pillow's own guard raises beyond twice this
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            im = Image.open(io.BytesIO(data), formats=[PILLOW_FORMATS[fmt]])
    finally:
        Image.MAX_IMAGE_PIXELS = guard
    width, height = im.size
    result.facts.update(width=width, height=height)
    if width < 1 or height < 1:
        result.add("CORRUPT_IMAGE", error="zero size")
        return
    if width * height > limits.max_pixels:
        result.add("TOO_MANY_PIXELS", pixels=width * height, max_pixels=limits.max_pixels)
        return
    if fmt == "jpeg":
        im.draft("RGB", draft_box(im.size, limits.display_px))  # DCT scaling: decode no more than we keep
    im.load()
    facts = _exif_facts(data, im, result)
    if facts is None:
        return
    apply = _pillow_orientation(im) if fmt in ("heif", "avif") else facts.orientation
    display = _reduce(_rgb(im), limits.display_px)
    if apply in _TRANSPOSE:
        display = display.transpose(getattr(Image.Transpose, _TRANSPOSE[apply]))
    thumb = _reduce(display, limits.thumb_px)
    result.phash = phash(thumb)
    result.display = _encode(display, limits.display_quality)
    result.thumbnail = _encode(thumb, limits.thumb_quality)


def _reduce(im, least: int):
    """Shrink by the largest whole factor that keeps the long side at least ``least`` (box filter, fast)."""
    factor = max(im.size) // least
    return im.reduce(factor) if factor > 1 else im


def _exif_facts(data: bytes, im, result: Inspection) -> exif.ExifFacts | None:
    """Pillow's parser (already run by open) and exifread, merged; both failing rejects the file as malformed.

    Each misses blocks the other reads (exifread skips an EXIF segment that follows an XMP one; Pillow
    gives up on some Photoshop files), so a field missing from one is taken from the other; exifread is
    skipped only when Pillow already gave every fact we use.
    """
    found, failures = [], []
    for reader in (lambda: exif.read_pillow(im.getexif()), lambda: exif.read_exifread(data)):
        if found and exif.complete(found[0]):
            break
        try:
            found.append(reader())
        except Exception as exc:  # noqa: BLE001 - UnicodeDecodeError, IndexError, struct.error … on odd files
            failures.append(type(exc).__name__)
    if not found:
        result.add("CORRUPT_METADATA", error=failures[0])
        return None
    raw = exif.merge(*found)
    f = exif.facts(raw)
    result.facts.update(
        has_exif=f.has_exif,
        captured_at=f.captured_at.isoformat() if f.captured_at else None,
        capture_offset_known=f.offset_known,
        latitude=f.latitude,
        longitude=f.longitude,
        make=f.make,
        model=f.model,
        software=f.software,
        orientation=f.orientation,
    )
    if not f.has_exif:
        result.add("NO_EXIF")
        return f
    if f.captured_at is None:
        result.add("NO_CAPTURE_TIME")
    if not f.model:
        result.add("NO_CAMERA_MODEL")
    editor = editor_in(f.software)
    if editor:
        result.add("EDITING_SOFTWARE", editor=editor)
    return f


def _pillow_orientation(im) -> int:
    try:
        value = im.getexif().get(0x0112, 1)
    except Exception:  # noqa: BLE001
        return 1
    return value if isinstance(value, int) else 1


def _rgb(im):
    """An RGB copy: transparency flattened onto white, palettes and CMYK converted."""
    from PIL import Image

    if im.mode == "RGB":
        return im
    if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
        rgba = im.convert("RGBA")
        flat = Image.new("RGB", rgba.size, (255, 255, 255))
        flat.paste(rgba, mask=rgba.getchannel("A"))
        return flat
    if im.mode.startswith("I;16"):
        im = im.convert("I").point(lambda v: v * (1 / 256)).convert("L")
    return im.convert("RGB")


def _encode(im, quality: int) -> Derivative:
    """Re-encode the pixels alone as a baseline JPEG: no EXIF, ICC, XMP, comment or text of the original.

    Pillow's writers take metadata from the save call and, for some keys, from ``im.info`` (the JPEG writer
    copies ``info["comment"]``: a JPEG comment or a PNG text chunk named "comment" would reach every
    viewer), and every resize or transpose copies ``info``; so the image is saved with ``info`` empty.
    """
    out = io.BytesIO()
    kept, im.info = im.info, {}
    try:
        im.save(out, "JPEG", quality=quality, optimize=False, progressive=False)
    finally:
        im.info = kept
    return Derivative(out.getvalue(), im.width, im.height)


def parse_time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None
