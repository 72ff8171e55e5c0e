"""Where an image's own bytes end, and whether what follows them is something a phone legitimately appends.

Rules: docs/photos.md#trailing-data.

Pillow decodes an image and stops; it never says where the image ended, so the structure is walked here
by hand: JPEG segments and scans up to the EOI marker (the entropy-coded data of each scan skipped by a
search for the next real marker), the images an MPF (APP2 "MPF") index declares after the first one, PNG
chunks up to IEND, the RIFF size of WebP, the top-level boxes of HEIF and AVIF. After that end, only these
are allowed: nothing; zero or 0xFF padding; an MP4 (``ftyp`` box first, Google's and others' motion
photos); Samsung's trailer (a directory ``SEFH`` … ``SEFT`` at the very end that indexes everything after
the image). Anything else (a ZIP archive, another file) is ``TRAILING_DATA``.

Pure and bounded: one pass over the bytes, no decoding, no allocation beyond small slices.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

#: the end of a scan's entropy-coded data: 0xFF followed by anything but a stuffed zero, a restart marker or
#: a fill byte (a single literal first byte keeps the search at C speed: 10 ms for a 10 MB photo, where
#: "\xff+" took 150 ms); fill bytes before the marker are skipped by the segment walk
_SCAN_END = re.compile(rb"\xff[^\x00\xd0-\xd7\xff]")
_STANDALONE = frozenset({0x01, *range(0xD0, 0xD8)})  # TEM and RST0-7: markers without a length
_BOX_TYPE = re.compile(rb"[A-Za-z0-9 _\-]{4}")
_SEF_ENTRY = 12  # bytes of one Samsung directory entry: 2 padding, 2 type, 4 offset back, 4 length


@dataclass(frozen=True)
class Ending:
    """The end of the image (and of any MPF images it declares) and what follows it."""

    image_end: int
    trailing: int  # bytes after image_end
    kind: str  # none | padding | motion_photo | samsung_trailer (allowed); zip | unknown (TRAILING_DATA)

    @property
    def allowed(self) -> bool:
        return self.kind in ("none", "padding", "motion_photo", "samsung_trailer")


def ending(data: bytes, fmt: str) -> Ending | None:
    """What follows the image in ``data`` of format ``fmt``; None when its structure cannot be walked."""
    end = {"jpeg": _jpeg_with_mpf_end, "png": _png_end, "webp": _webp_end}.get(fmt, _bmff_end)(data)
    if end is None:
        return None
    return Ending(end, len(data) - end, classify(data, end))


def classify(data: bytes, start: int) -> str:
    """What the bytes from ``start`` to the end are."""
    if start >= len(data):
        return "none"
    if _padding(data, start, len(data)):
        return "padding"
    if _samsung_trailer(data, start):
        return "samsung_trailer"
    if _ftyp_at(data, start):
        return "motion_photo"
    if data[start : start + 4] in (b"PK\x03\x04", b"PK\x05\x06"):
        return "zip"
    return "unknown"


def _padding(data: bytes, start: int, stop: int) -> bool:
    """Only zero or only 0xFF bytes from ``start`` to ``stop`` (counted in place, nothing copied)."""
    size = stop - start
    if size <= 0:
        return True
    fill, head = data[start : start + 1], min(stop, start + 4096)  # most trailers differ within 4 KiB
    if fill not in (b"\x00", b"\xff") or data.count(fill, start, head) != head - start:
        return False
    return data.count(fill, start, stop) == size


# --- JPEG ---------------------------------------------------------------------------------------------------


def jpeg_end(data: bytes, start: int = 0) -> tuple[int, int | None, int | None] | None:
    """(offset just past EOI, MPF header offset, MPF APP2 end) of the JPEG starting at ``start``, or None."""
    n = len(data)
    if data[start : start + 2] != b"\xff\xd8":
        return None
    pos, mpf, mpf_end = start + 2, None, None
    while pos < n:
        if data[pos] != 0xFF:
            return None
        while pos < n and data[pos] == 0xFF:  # fill bytes before a marker
            pos += 1
        if pos >= n:
            return None
        code = data[pos]
        pos += 1
        if code == 0xD9:
            return pos, mpf, mpf_end
        if code in _STANDALONE:
            continue
        if code == 0xD8 or pos + 2 > n:
            return None
        length = int.from_bytes(data[pos : pos + 2], "big")
        seg_end = pos + length
        if length < 2 or seg_end > n:
            return None
        if code == 0xE2 and mpf is None and data[pos + 2 : pos + 6] == b"MPF\x00":
            mpf, mpf_end = pos + 6, seg_end
        if code == 0xDA:  # a scan: entropy-coded data up to the next marker that is not RST or stuffing
            hit = _SCAN_END.search(data, seg_end)
            if hit is None:
                return None
            pos = hit.start()
        else:
            pos = seg_end
    return None


def mpf_images(data: bytes, base: int, stop: int) -> list[tuple[int, int]]:
    """(start, size) of the images after the first that an MPF index at ``base`` declares (CIPA DC-007).

    The index is a TIFF structure: byte order, the first IFD, tag 0xB002 (MPEntry) with 16 bytes per image:
    attributes, size, offset from ``base`` (0 for the first image), two dependent-image entries.
    """
    head = data[base : base + 8]
    if head[:4] == b"II*\x00":
        order = "little"
    elif head[:4] == b"MM\x00*":
        order = "big"
    else:
        return []

    def u(at: int, size: int) -> int:
        return int.from_bytes(data[at : at + size], order)

    ifd = base + u(base + 4, 4)
    if ifd + 2 > stop:
        return []
    count = u(ifd, 2)
    for i in range(min(count, 64)):
        entry = ifd + 2 + 12 * i
        if entry + 12 > stop:
            return []
        if u(entry, 2) == 0xB002:
            length, where = u(entry + 4, 4), base + u(entry + 8, 4)
            images = []
            for k in range(min(length // 16, 64)):
                rec = where + 16 * k
                if rec + 16 > stop:
                    break
                size, offset = u(rec + 4, 4), u(rec + 8, 4)
                if offset:  # the first image is the one we are in (offset 0)
                    images.append((base + offset, size))
            return images
    return []


def _jpeg_with_mpf_end(data: bytes) -> int | None:
    """The end of the primary JPEG, extended over each MPF-declared image that really is a whole JPEG.

    A declared image counts only when it starts where the previous one ended (zero padding between is
    fine), starts with SOI and its own EOI falls within its declared size, the rest of which is padding.
    Whatever an index declares but does not hold stays after the end, and is judged as trailing data.
    """
    primary = jpeg_end(data)
    if primary is None:
        return None
    end, mpf, mpf_end = primary
    if mpf is None:
        return end
    for start, size in sorted(mpf_images(data, mpf, mpf_end)):
        if start < end or start + size > len(data) or not _padding(data, end, start):
            break
        inner = jpeg_end(data, start)
        if inner is None or inner[0] > start + size or not _padding(data, inner[0], start + size):
            break
        end = start + size
    return end


# --- other containers -----------------------------------------------------------------------------------------


def _png_end(data: bytes) -> int | None:
    pos, n = 8, len(data)
    while pos + 12 <= n:
        length = int.from_bytes(data[pos : pos + 4], "big")
        kind = data[pos + 4 : pos + 8]
        pos += 12 + length
        if pos > n:
            return None
        if kind == b"IEND":
            return pos
    return None


def _webp_end(data: bytes) -> int | None:
    size = int.from_bytes(data[4:8], "little")
    end = 8 + size + (size & 1)
    return end if end <= len(data) else None


def _bmff_end(data: bytes) -> int | None:
    """HEIF and AVIF: the end of the last well-formed top-level box."""
    pos, n = 0, len(data)
    while pos + 8 <= n:
        size, kind = int.from_bytes(data[pos : pos + 4], "big"), data[pos + 4 : pos + 8]
        if not _BOX_TYPE.fullmatch(kind):
            return pos  # not a box: the image ended here
        header = 8
        if size == 1:
            if pos + 16 > n:
                return None
            size, header = int.from_bytes(data[pos + 8 : pos + 16], "big"), 16
        elif size == 0:
            return n  # the box runs to the end of the file
        if size < header or pos + size > n:
            return None
        pos += size
    return pos


def _ftyp_at(data: bytes, at: int) -> bool:
    """An ISO BMFF file (MP4, MOV) starts here: a plausible ``ftyp`` box with a printable major brand."""
    size = int.from_bytes(data[at : at + 4], "big")
    return data[at + 4 : at + 8] == b"ftyp" and 16 <= size <= 4096 and bool(_BOX_TYPE.fullmatch(data[at + 8 : at + 12]))


def _samsung_trailer(data: bytes, start: int) -> bool:
    """Samsung's trailer: data blocks, then a directory ``SEFH``, its size (LE) and ``SEFT`` at the very end.

    Every directory entry points back from the directory to a block inside the trailer; the earliest block
    must begin where the image ended (after padding at most), so nothing unindexed hides in between.
    """
    n = len(data)
    if n - start < 24 or data[-4:] != b"SEFT":
        return False
    size = int.from_bytes(data[-8:-4], "little")
    head = n - 8 - size
    if size < 12 or head < start or data[head : head + 4] != b"SEFH":
        return False
    count = int.from_bytes(data[head + 8 : head + 12], "little")
    if count < 1 or 12 + count * _SEF_ENTRY > size:
        return False
    earliest = head
    for i in range(count):
        entry = head + 12 + i * _SEF_ENTRY
        back = int.from_bytes(data[entry + 4 : entry + 8], "little")
        length = int.from_bytes(data[entry + 8 : entry + 12], "little")
        block = head - back
        if block < start or block + length > head:
            return False
        earliest = min(earliest, block)
    return _padding(data, start, earliest)
