"""What follows an image's end, the declared type against the content, and derivatives with no metadata.

Rules: docs/photos.md#trailing-data, docs/photos.md#intrinsic-checks, docs/photos.md#derivatives-and-links.
"""

from __future__ import annotations

import io
import struct
import zipfile
from datetime import datetime

import numpy as np
import pytest
from PIL import Image, PngImagePlugin

from media.checks import inspect, inspect_isolated
from media.trailer import ending, jpeg_end
from tests.support.uploads import PHOTOS, exif_bytes, jpeg, scene

TAKEN = datetime(2026, 11, 25, 9, 30)
SECRET = "30.0512N 119.9501E home"


def a_zip() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("contacts.csv", "name,phone\n" + "someone,13800000000\n" * 200)
    return out.getvalue()


def mpo(exif: bytes | None = None) -> bytes:
    """A two-image MPO as Pillow writes it (MPF index in APP2 of the first image; how phones store a
    depth map, an HDR gain map or the second view of a stereo pair)."""
    out = io.BytesIO()
    scene().save(
        out,
        "MPO",
        save_all=True,
        append_images=[scene(seed=2)],
        exif=exif if exif is not None else exif_bytes(taken=TAKEN),
    )
    return out.getvalue()


def samsung_trailer(blocks: list[tuple[int, bytes, bytes]]) -> bytes:
    """Samsung's trailer: blocks (type, name, data) each with its small header, then the SEFH directory
    (entries point back from the directory), its size and SEFT."""
    body, entries = b"", []
    for kind, name, data in blocks:
        block = b"\x00\x00" + struct.pack("<HI", kind, len(name)) + name + data
        entries.append((kind, len(body), len(block)))
        body += block
    directory = b"SEFH" + struct.pack("<II", 106, len(entries))
    for kind, at, length in entries:
        directory += struct.pack("<HHII", 0, kind, len(body) - at, length)
    return body + directory + struct.pack("<I", len(directory)) + b"SEFT"


def a_video(n: int = 50_000) -> bytes:
    return b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2" + np.random.default_rng(5).bytes(n)


# --- where the image ends ----------------------------------------------------------------------------------


def test_a_jpeg_with_a_zip_appended_is_suspect_and_says_where_the_image_ended():
    photo = jpeg(taken=TAKEN)
    r = inspect_isolated(photo + a_zip())
    assert r.verdict == "suspect" and r.reasons == ["TRAILING_DATA"]
    assert r.details["TRAILING_DATA"] == {"image_end": len(photo), "trailing_bytes": len(a_zip()), "kind": "zip"}
    assert r.display is not None  # still an image: derivatives are made, a person reviews it
    assert inspect(photo + b"\x01\x02 some bytes that are no known trailer").reasons == ["TRAILING_DATA"]


def test_an_mpo_written_by_pillow_is_accepted_and_its_declared_images_are_not_trailing_data():
    data = mpo()
    assert Image.open(io.BytesIO(data)).format == "MPO"
    primary_end = jpeg_end(data)[0]
    assert primary_end < len(data)  # the second image follows the first one's EOI …
    assert ending(data, "jpeg").image_end == len(data)  # … and the MPF index declares it
    r = inspect_isolated(data)
    assert r.verdict == "accepted", r.reasons
    assert (r.display.width, r.display.height) == (640, 480)
    # a ZIP after the declared images is still trailing data
    assert inspect(data + a_zip()).reasons == ["TRAILING_DATA"]
    # an index that declares an image where a ZIP sits instead does not cover it
    bogus = data[:primary_end] + a_zip()
    r = inspect(bogus)
    assert r.reasons == ["TRAILING_DATA"] and r.details["TRAILING_DATA"]["image_end"] == primary_end


def test_what_phones_append_is_recognised_and_allowed():
    photo = jpeg(taken=TAKEN)
    motion = a_video()
    samsung = samsung_trailer([(0x0A30, b"MotionPhoto_Data", motion), (0x0A01, b"Image_UTC_Data", b"1764034200000")])
    cases = {
        "motion photo (MP4 after the image)": (photo + motion, "motion_photo"),
        "Samsung trailer with a motion photo": (photo + samsung, "samsung_trailer"),
        "zero padding": (photo + b"\x00" * 4096, "padding"),
        "nothing": (photo, "none"),
    }
    for name, (data, kind) in cases.items():
        assert ending(data, "jpeg").kind == kind, name
        assert inspect(data).verdict == "accepted", name
    assert inspect(mpo() + samsung).verdict == "accepted"  # MPF images, then the trailer


def test_a_fake_samsung_trailer_does_not_cover_what_it_does_not_index():
    photo = jpeg(taken=TAKEN)
    only_utc = samsung_trailer([(0x0A01, b"Image_UTC_Data", b"1764034200000")])
    assert inspect(photo + only_utc).verdict == "accepted"
    r = inspect(photo + a_zip() + only_utc)  # the ZIP lies before the first indexed block
    assert r.reasons == ["TRAILING_DATA"] and r.details["TRAILING_DATA"]["kind"] == "zip"
    broken = bytearray(photo + only_utc)
    broken[-8:-4] = struct.pack("<I", 10_000_000)  # a directory size that points outside the file
    assert inspect(bytes(broken)).reasons == ["TRAILING_DATA"]


@pytest.mark.parametrize(
    "name, fmt",
    [
        ("metadata-extractor-images/exif-at-eof.heic", "heif"),
        ("metadata-extractor-images/Issue 473 (Java).webp", "webp"),
        ("Pillow/exif.png", "png"),
        ("exif-py/mountains.avif", "avif"),
    ],
)
def test_other_formats_end_where_their_structure_says(name, fmt):
    data = (PHOTOS / name).read_bytes()
    assert ending(data, fmt).kind == "none"
    before = inspect(data)
    after = inspect(data + a_zip())
    assert "TRAILING_DATA" not in before.reasons
    assert after.reasons == [*before.reasons, "TRAILING_DATA"]
    assert after.details["TRAILING_DATA"]["image_end"] == len(data)


def test_progressive_and_restart_marker_jpegs_end_at_their_eoi():
    for options in ({"progressive": True}, {"restart_marker_blocks": 4}, {"optimize": True, "quality": 30}):
        out = io.BytesIO()
        scene(size=(800, 600)).save(out, "JPEG", exif=exif_bytes(taken=TAKEN), **options)
        data = out.getvalue()
        assert jpeg_end(data)[0] == len(data), options
        assert inspect(data).verdict == "accepted", options
        assert inspect(data + a_zip()).reasons == ["TRAILING_DATA"], options


def test_a_png_declared_as_jpeg_is_a_type_mismatch():
    out = io.BytesIO()
    scene().save(out, "PNG")
    png = out.getvalue()
    r = inspect_isolated(png, declared_type="image/jpeg")
    assert r.verdict == "suspect" and r.reasons == ["TYPE_MISMATCH", "NO_EXIF"]
    assert r.details["TYPE_MISMATCH"] == {"declared": "image/jpeg", "found": "image/png"}
    assert inspect(png, declared_type="image/png").reasons == ["NO_EXIF"]
    assert inspect(png).reasons == ["NO_EXIF"]  # nothing declared, nothing to compare
    heic = (PHOTOS / "metadata-extractor-images" / "exif-at-eof.heic").read_bytes()
    for declared in ("image/heic", "image/heif", "image/heic-sequence"):
        assert inspect(heic, declared_type=declared).reasons == [], declared
    assert inspect(heic, declared_type="image/avif").reasons == ["TYPE_MISMATCH"]
    photo = jpeg(taken=TAKEN)
    assert inspect(photo, declared_type="image/jpeg; q=1").reasons == []
    assert inspect(photo, declared_type="image/webp").reasons == ["TYPE_MISMATCH"]


# --- derivatives carry nothing of the original's metadata ----------------------------------------------------

XMP = (
    b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
    b'<rdf:Description xmlns:exif="http://ns.adobe.com/exif/1.0/" exif:GPSLatitude="30,3.072N" '
    b'exif:GPSLongitude="119,57.006E" xmlns:dc="http://purl.org/dc/elements/1.1/" dc:description="'
    + SECRET.encode()
    + b'"/></rdf:RDF></x:xmpmeta>'
)


def _markers(data: bytes) -> list[int]:
    """The JPEG markers of a derivative up to its first scan (an independent walk, for the test)."""
    assert data[:2] == b"\xff\xd8"
    pos, found = 2, []
    while True:
        assert data[pos] == 0xFF
        code = data[pos + 1]
        found.append(code)
        if code == 0xDA:
            return found
        pos += 2 + int.from_bytes(data[pos + 2 : pos + 4], "big")


def _assert_bare(r) -> None:
    for d in (r.display, r.thumbnail):
        assert SECRET.encode() not in d.data and b"119" not in d.data.split(b"\xff\xda")[0]
        for needle in (b"Exif", b"xmpmeta", b"ICC_PROFILE", b"MPF", b"home"):
            assert needle not in d.data, needle
        # SOI is followed by JFIF APP0, quantisation and Huffman tables, the frame and the scan: nothing else
        assert set(_markers(d.data)) <= {0xE0, 0xDB, 0xC0, 0xC4, 0xDA}
        im = Image.open(io.BytesIO(d.data))
        assert not {"exif", "icc_profile", "xmp", "comment", "Comment", "XML:com.adobe.xmp", "mpinfo"} & set(im.info)


def test_a_jpeg_comment_xmp_and_icc_profile_do_not_reach_the_derivatives():
    from PIL import ImageCms

    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    out = io.BytesIO()
    scene().save(
        out, "JPEG", exif=exif_bytes(taken=TAKEN, gps=(30.0512, 119.9501)), comment=SECRET, xmp=XMP, icc_profile=icc
    )
    data = out.getvalue()
    original = Image.open(io.BytesIO(data))
    assert original.info["comment"] == SECRET.encode() and "xmp" in original.info and "icc_profile" in original.info
    r = inspect_isolated(data)
    assert r.verdict == "accepted" and r.facts["latitude"] == pytest.approx(30.0512, abs=1e-4)
    _assert_bare(r)


def test_png_text_chunks_do_not_reach_the_derivatives():
    text = PngImagePlugin.PngInfo()
    text.add_text("comment", SECRET)
    text.add_text("Comment", SECRET)
    text.add_text("Description", SECRET, zip=True)
    text.add_itxt("XML:com.adobe.xmp", XMP.decode())
    out = io.BytesIO()
    scene().save(out, "PNG", pnginfo=text, exif=exif_bytes(taken=TAKEN))
    data = out.getvalue()
    assert Image.open(io.BytesIO(data)).info["comment"] == SECRET
    r = inspect_isolated(data, declared_type="image/png")
    assert r.verdict == "accepted", r.reasons
    _assert_bare(r)


def test_an_mpo_derivative_is_a_single_bare_jpeg():
    r = inspect_isolated(mpo(exif_bytes(taken=TAKEN, gps=(30.0512, 119.9501))))
    _assert_bare(r)
    assert Image.open(io.BytesIO(r.display.data)).format == "JPEG"
