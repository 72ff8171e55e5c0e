"""EXIF facts: capture time with its offset, GPS in decimal degrees, make, model, software, orientation.

Two readers feed one normaliser: exifread (primary; it reads JPEG, PNG, WebP, HEIF and AVIF containers)
and Pillow's own EXIF parser (fallback when exifread raises or finds nothing). Both are given hostile
files, so every value is checked before it is believed: 0/0 rationals, empty GPS blocks, missing refs,
out-of-range coordinates, blank or impossible dates.
"""

from __future__ import annotations

import io
import logging
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

DEFAULT_TZ = ZoneInfo("Asia/Shanghai")
_DATE = re.compile(rb"^\s*(\d{4})[:\-/](\d{2})[:\-/](\d{2})[ T](\d{2}):(\d{2}):(\d{2})")
_OFFSET = re.compile(r"^\s*([+-])(\d{2}):(\d{2})\s*$")

# exifread logs every odd tag it meets at WARNING; photos made to hurt would flood the worker log
logging.getLogger("exifread").setLevel(logging.ERROR)


@dataclass
class RawExif:
    """The tags we use, as read (strings, ints and (numerator, denominator) pairs), before any checks."""

    present: bool = False
    make: str | None = None
    model: str | None = None
    software: str | None = None
    orientation: int | None = None
    original: bytes | None = None
    digitized: bytes | None = None
    offset_original: str | None = None
    offset: str | None = None
    lat: list[tuple[int, int]] | None = None
    lat_ref: str | None = None
    lon: list[tuple[int, int]] | None = None
    lon_ref: str | None = None


@dataclass
class ExifFacts:
    has_exif: bool
    captured_at: datetime | None  # timezone-aware
    offset_known: bool  # True when OffsetTimeOriginal (or OffsetTime) gave the offset
    latitude: float | None
    longitude: float | None
    make: str | None
    model: str | None
    software: str | None
    orientation: int  # 1–8, 1 when absent or invalid


def _text(value) -> str | None:
    if value is None:
        return None
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    text = str(value).replace("\x00", "").strip()
    return text[:200] or None


def _pairs(values) -> list[tuple[int, int]] | None:
    try:
        return [(int(v.numerator), int(v.denominator)) for v in values]
    except (AttributeError, TypeError, ValueError):
        return None


def read_exifread(data: bytes) -> RawExif:
    """Tags through exifread, without maker notes or thumbnails (they cost time and carry no facts we use)."""
    import exifread

    tags = exifread.process_file(io.BytesIO(data), details=False, extract_thumbnail=False)
    raw = RawExif(present=any(not k.startswith(("JPEGThumbnail", "TIFFThumbnail")) for k in tags))

    def val(key: str):
        tag = tags.get(key)
        return None if tag is None else tag.values

    raw.make, raw.model, raw.software = (
        _text(val("Image Make")),
        _text(val("Image Model")),
        _text(val("Image Software")),
    )
    orientation = val("Image Orientation")
    if isinstance(orientation, list) and orientation and isinstance(orientation[0], int):
        raw.orientation = orientation[0]
    for attr, key in (("original", "EXIF DateTimeOriginal"), ("digitized", "EXIF DateTimeDigitized")):
        v = val(key)
        setattr(raw, attr, v.encode("latin-1", "replace") if isinstance(v, str) else v)
    raw.offset_original = _text(val("EXIF OffsetTimeOriginal"))
    raw.offset = _text(val("EXIF OffsetTime"))
    lat, lon = val("GPS GPSLatitude"), val("GPS GPSLongitude")
    raw.lat = _pairs(lat) if isinstance(lat, list) else None
    raw.lon = _pairs(lon) if isinstance(lon, list) else None
    raw.lat_ref, raw.lon_ref = _text(val("GPS GPSLatitudeRef")), _text(val("GPS GPSLongitudeRef"))
    return raw


def read_pillow(exif) -> RawExif:
    """Tags through Pillow's ``Image.getexif()`` (already parsed when the image was opened)."""
    raw = RawExif(present=len(exif) > 0)
    raw.make, raw.model, raw.software = _text(exif.get(0x010F)), _text(exif.get(0x0110)), _text(exif.get(0x0131))
    orientation = exif.get(0x0112)
    raw.orientation = orientation if isinstance(orientation, int) else None
    sub = exif.get_ifd(0x8769)
    for attr, tag in (("original", 0x9003), ("digitized", 0x9004)):
        v = sub.get(tag)
        setattr(raw, attr, v.encode("latin-1", "replace") if isinstance(v, str) else v)
    raw.offset_original, raw.offset = _text(sub.get(0x9011)), _text(sub.get(0x9010))
    gps = exif.get_ifd(0x8825)
    raw.lat_ref, raw.lon_ref = _text(gps.get(1)), _text(gps.get(3))
    raw.lat = _pairs(gps.get(2)) if isinstance(gps.get(2), tuple | list) else None
    raw.lon = _pairs(gps.get(4)) if isinstance(gps.get(4), tuple | list) else None
    raw.present = raw.present or bool(sub) or bool(gps)
    return raw


def complete(raw: RawExif) -> bool:
    """Every fact we use is there (make and software may be absent on a real phone photo, GPS may not)."""
    return raw.present and bool(raw.model) and raw.original is not None and gps(raw) != (None, None)


def merge(first: RawExif, *others: RawExif) -> RawExif:
    """Fields of ``first``, with gaps filled from the others; GPS is taken as one block, never mixed."""
    out = RawExif(**vars(first))
    for other in others:
        out.present = out.present or other.present
        for name in ("make", "model", "software", "orientation", "original", "digitized", "offset_original", "offset"):
            if getattr(out, name) is None:
                setattr(out, name, getattr(other, name))
        if gps(out) == (None, None) and gps(other) != (None, None):
            out.lat, out.lat_ref, out.lon, out.lon_ref = other.lat, other.lat_ref, other.lon, other.lon_ref
    return out


def _offset(text: str | None) -> timezone | None:
    m = _OFFSET.match(text or "")
    if not m:
        return None
    hours, minutes = int(m.group(2)), int(m.group(3))
    if hours > 14 or minutes > 59:
        return None
    delta = timedelta(hours=hours, minutes=minutes)
    return timezone(-delta if m.group(1) == "-" else delta)


def capture_time(raw: RawExif) -> tuple[datetime | None, bool]:
    """DateTimeOriginal (else DateTimeDigitized) with OffsetTimeOriginal when present, else Asia/Shanghai."""
    for value in (raw.original, raw.digitized):
        m = _DATE.match(value or b"") if isinstance(value, bytes) else None
        if not m:
            continue
        try:
            naive = datetime(*(int(g) for g in m.groups()))
        except ValueError:  # 0000:00:00 00:00:00 and other impossible dates
            continue
        tz = _offset(raw.offset_original) or _offset(raw.offset)
        return naive.replace(tzinfo=tz or DEFAULT_TZ), tz is not None
    return None, False


def _degrees(parts: list[tuple[int, int]] | None) -> float | None:
    """Degrees, minutes, seconds as rationals → decimal degrees; 0/0 counts as 0, x/0 as unreadable."""
    if not parts or len(parts) > 3:
        return None
    total = 0.0
    for (num, den), scale in zip(parts, (1, 60, 3600), strict=False):
        if den == 0:
            if num != 0:
                return None
            continue
        value = num / den
        if value < 0:
            return None
        total += value / scale
    return total


def gps(raw: RawExif) -> tuple[float | None, float | None]:
    """(latitude, longitude) in decimal degrees, or (None, None) when absent, unreadable or 0/0."""
    lat, lon = _degrees(raw.lat), _degrees(raw.lon)
    lat_ref, lon_ref = (raw.lat_ref or "").upper()[:1], (raw.lon_ref or "").upper()[:1]
    if lat is None or lon is None or lat_ref not in ("N", "S") or lon_ref not in ("E", "W"):
        return None, None
    lat, lon = (-lat if lat_ref == "S" else lat), (-lon if lon_ref == "W" else lon)
    if abs(lat) > 90 or abs(lon) > 180 or (abs(lat) < 1e-9 and abs(lon) < 1e-9):
        return None, None
    return lat, lon


def facts(raw: RawExif) -> ExifFacts:
    captured_at, offset_known = capture_time(raw)
    lat, lon = gps(raw)
    orientation = raw.orientation if raw.orientation in range(1, 9) else 1
    return ExifFacts(raw.present, captured_at, offset_known, lat, lon, raw.make, raw.model, raw.software, orientation)
