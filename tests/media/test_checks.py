"""Intrinsic checks on real third-party photos (tests/photos, see its MANIFEST.tsv) and on generated attacks."""

from __future__ import annotations

import csv
import io
import struct
import zlib
from datetime import datetime

import exifread
import pytest
from PIL import Image

from media import exif, reasons
from media.checks import Limits, inspect, inspect_isolated
from media.editors import editor_in
from media.phash import bands, distance, phash
from media.sniff import sniff
from tests.support.uploads import PHOTOS, exif_bytes, jpeg, scene

MANIFEST = list(csv.DictReader((PHOTOS / "MANIFEST.tsv").open(encoding="utf-8"), delimiter="\t"))
ORIENTATION = {"Horizontal (normal)": 1, "Rotated 90 CW": 6, "": 1}
#: where we read more than the manifest's exifread columns: exifread misses this file's EXIF segment
#: (it follows an XMP one), Pillow reads it, and the two readers are merged
READ_BEYOND_EXIFREAD = {"exif-py/no_exif.jpg": {"software": "Adobe Photoshop CC (Macintosh)"}}

#: what each real file must come to, and why (the manifest's columns say what the file holds)
EXPECTED = {
    "exif-py/Sony_alpha_a58.JPG": ("accepted", set()),  # Software is camera firmware
    "exif-py/fujifilm-finepix40i.jpg": ("accepted", set()),  # firmware string
    "metadata-extractor-images/Olympus PEN E-P3.jpg": ("accepted", set()),  # firmware 'Version 1.3'
    "Pillow/broken_exif_dpi.jpg": ("suspect", {"EDITING_SOFTWARE"}),  # Photoshop CC
    "exif-py/Canon_40D.jpg": ("suspect", {"EDITING_SOFTWARE"}),  # GIMP
    "exif-py/mountains.avif": ("suspect", {"EDITING_SOFTWARE"}),  # AVIF, GIMP
    "metadata-extractor-images/Canon EOS 7D.jpg": ("suspect", {"EDITING_SOFTWARE"}),  # Lightroom
    "exif-py/67-0_length_string.jpg": ("suspect", {"NO_CAPTURE_TIME"}),  # phone, GPS, no DateTimeOriginal
    "exif-py/DSCN0010.jpg": ("accepted", set()),  # 'Nikon Transfer' imports, it does not edit
    "metadata-extractor-images/Apple iPhone 4.jpg": ("accepted", set()),  # Software '4.1' is iOS
    "metadata-extractor-images/FujiFilm FinePixS1Pro (1).jpg": ("suspect", {"EDITING_SOFTWARE"}),  # Photoshop 7
    "metadata-extractor-images/Issue 473 (Java).webp": ("accepted", set()),  # WebP with iPhone X EXIF
    "metadata-extractor-images/Samsung GT-I9000 (Galaxy S).jpg": ("accepted", set()),  # GPS 0/0 = none
    "metadata-extractor-images/Sony DSC-HX5V (2).jpg": ("accepted", set()),
    "metadata-extractor-images/exif-at-eof.heic": ("accepted", set()),  # iPhone HEIC via pillow-heif
    "Pillow/crash-1152ec2d1a1a71395b6f2ce6721c38924d025bf3.tif": ("rejected", {"UNSUPPORTED_TYPE"}),
    "exif-py/DudleyLeavittUtah.tiff": ("rejected", {"UNSUPPORTED_TYPE"}),  # TIFF is no phone photo type
    "Pillow/truncated_jpeg.jpg": ("rejected", {"TRUNCATED_IMAGE"}),
    "metadata-extractor-images/NegativeArraySizeException.HeifReader.processBoxes.heif": (
        "rejected",
        {"CORRUPT_IMAGE"},
    ),
    # Photoshop-saved, EXIF that Pillow cannot parse but exifread can: no capture time, no camera
    "Pillow/invalid-exif.jpg": ("suspect", {"EDITING_SOFTWARE", "NO_CAPTURE_TIME", "NO_CAMERA_MODEL"}),
    # exifread misses its EXIF segment (it follows an XMP one); Pillow reads it: Photoshop, no camera
    "exif-py/no_exif.jpg": ("suspect", {"EDITING_SOFTWARE", "NO_CAPTURE_TIME", "NO_CAMERA_MODEL"}),
    "exif-py/landscape_6.jpg": ("suspect", {"NO_CAPTURE_TIME", "NO_CAMERA_MODEL"}),  # only Orientation=6
    "Pillow/exif.png": ("suspect", {"NO_CAPTURE_TIME", "NO_CAMERA_MODEL"}),  # eXIf chunk with Orientation only
}


def test_every_manifest_file_has_an_expectation():
    assert {row["file"] for row in MANIFEST} == set(EXPECTED)


@pytest.fixture(scope="module")
def results() -> dict:
    """Each real file through the sandboxed pipeline once (the same call the worker makes)."""
    return {row["file"]: inspect_isolated((PHOTOS / row["file"]).read_bytes()) for row in MANIFEST}


@pytest.mark.parametrize("row", MANIFEST, ids=[r["file"] for r in MANIFEST])
def test_real_photo_verdict_and_facts(row, results):
    r = results[row["file"]]
    verdict, codes = EXPECTED[row["file"]]
    assert (r.verdict, set(r.reasons)) == (verdict, codes)
    if verdict == "rejected":
        assert r.display is None and r.thumbnail is None and r.phash is None
        return
    f = r.facts
    if row["gps"] == "yes" and (row["gps_lat"], row["gps_lon"]) != ("0.0", "0.0"):
        # the manifest gives 6 decimals; ours agree to 5 (and to the manifest's own rounding)
        assert f["latitude"] == pytest.approx(float(row["gps_lat"]), abs=1e-6)
        assert f["longitude"] == pytest.approx(float(row["gps_lon"]), abs=1e-6)
    else:  # no GPS, tags without coordinates, or the 0/0 placeholder
        assert f["latitude"] is None and f["longitude"] is None
    if row["DateTimeOriginal"]:
        taken = datetime.fromisoformat(f["captured_at"])
        assert taken.strftime("%Y:%m:%d %H:%M:%S") == row["DateTimeOriginal"]
        expected_offset = "-04:00" if row["file"].endswith(".heic") else "+08:00"  # OffsetTimeOriginal, else Shanghai
        assert taken.isoformat().endswith(expected_offset)
    else:
        assert f["captured_at"] is None
    for key, col in (("make", "Make"), ("model", "Model"), ("software", "Software")):
        expected = READ_BEYOND_EXIFREAD.get(row["file"], {}).get(key, row[col].strip() or None)
        assert f[key] == expected, key
    assert f["orientation"] == ORIENTATION[row["Orientation"]]
    w, h = (int(x) for x in row["pillow_dims"].split("x")) if row["pillow_dims"] else (f["width"], f["height"])
    assert (f["width"], f["height"]) == (w, h)


@pytest.mark.parametrize("name", [n for n, (v, _) in EXPECTED.items() if v != "rejected"])
def test_derivatives_are_oriented_reencoded_and_carry_no_metadata(name, results):
    r = results[name]
    portrait = r.facts["orientation"] in (5, 6, 7, 8)
    w, h = r.facts["width"], r.facts["height"]
    for d in (r.display, r.thumbnail):
        im = Image.open(io.BytesIO(d.data))
        assert im.format == "JPEG" and (im.width, im.height) == (d.width, d.height)
        assert (im.width > im.height) == ((h > w) if portrait else (w > h)) or w == h
        assert not {"exif", "icc_profile", "xmp", "XML:com.adobe.xmp", "comment", "photoshop"} & set(im.info)
        assert len(im.getexif()) == 0
        tags = exifread.process_file(io.BytesIO(d.data), details=False)
        assert not [k for k in tags if k.startswith("GPS")] and not tags
    assert r.thumbnail.width <= r.display.width
    assert max(r.thumbnail.width, r.thumbnail.height) < 2 * 320 or max(w, h) < 640


def test_gps_never_survives_into_a_derivative(results):
    with_gps = [n for n, r in results.items() if r.facts.get("latitude") is not None]
    assert len(with_gps) >= 7
    for name in with_gps:
        assert b"GPS" not in results[name].display.data and b"Exif" not in results[name].display.data


def test_heic_is_read_through_pillow_heif(results):
    r = results["metadata-extractor-images/exif-at-eof.heic"]
    assert r.facts["format"] == "heif" and r.facts["model"] == "iPhone 11 Pro"
    assert (r.display.width, r.display.height) == (756, 1008)  # 3024×4032 reduced by 4, portrait kept


def test_phash_is_imagehash_phash_bit_for_bit():
    import imagehash

    for row in MANIFEST:
        if EXPECTED[row["file"]][0] == "rejected":
            continue
        im = Image.open(PHOTOS / row["file"])
        im.load()
        assert phash(im) == str(imagehash.phash(im)), row["file"]


def test_software_strings_of_phones_and_cameras_are_not_editors():
    firmware = [r["Software"].strip() for r in MANIFEST if r["Software"] and EXPECTED[r["file"]][0] == "accepted"]
    assert {"4.1", "11.4.1", "13.4.1", "Nikon Transfer 1.1 W", "fw 05.15 prm 07.53"} <= set(firmware)
    assert [s for s in firmware if editor_in(s)] == []
    for s in ("HUAWEI P40 10.1.0", "MIUI 14", "Android 13", "HarmonyOS 4.0", "iOS 17.2", "G998BXXU3AUJ1"):
        assert editor_in(s) is None
    for s in ("Adobe Photoshop 25.0", "GIMP 2.10", "Snapseed 2.0", "美图秀秀", "醒图 9.0", "Meitu 9.9", "PicsArt"):
        assert editor_in(s), s


# --- generated cases -------------------------------------------------------------------------------------


def _png_claiming(width: int, height: int) -> bytes:
    """A tiny valid PNG whose header claims a huge size: the classic decompression bomb."""
    out = io.BytesIO()
    Image.new("L", (8, 8)).save(out, "PNG")
    data = bytearray(out.getvalue())
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    data[16:29] = ihdr
    data[29:33] = struct.pack(">I", zlib.crc32(b"IHDR" + ihdr))
    return bytes(data)


def test_a_decompression_bomb_is_rejected_before_decoding():
    r = inspect_isolated(_png_claiming(40000, 40000))
    assert r.verdict == "rejected" and r.reasons == ["DECOMPRESSION_BOMB"]
    r = inspect(jpeg(scene(size=(200, 100))), Limits(max_pixels=15000))  # over the limit, under Pillow's 2×
    assert r.reasons == ["TOO_MANY_PIXELS"] and r.details["TOO_MANY_PIXELS"]["pixels"] == 20000


def test_a_truncated_jpeg_is_rejected_at_every_length():
    data = jpeg(taken=datetime(2026, 1, 1, 10, 0))
    assert inspect(data).verdict == "accepted"
    cuts = sorted({*range(0, len(data), max(1, len(data) // 97)), *range(len(data) - 8, len(data))})
    outcomes = {n: inspect(data[:n]) for n in cuts}
    assert all(r.verdict == "rejected" for r in outcomes.values())
    assert {c for r in outcomes.values() for c in r.reasons} <= {
        "EMPTY_FILE",
        "UNSUPPORTED_TYPE",
        "TRUNCATED_IMAGE",
        "CORRUPT_IMAGE",
    }
    assert sum("TRUNCATED_IMAGE" in r.reasons for r in outcomes.values()) > len(cuts) // 2
    assert inspect_isolated(data[: len(data) // 2]).reasons == ["TRUNCATED_IMAGE"]


@pytest.mark.parametrize(
    "tail", [b"<script>alert(document.cookie)</script>", b"<?php system($_GET['c']); ?>", b"#!/bin/sh\nrm -rf /\n"]
)
def test_a_polyglot_with_a_trailing_script_is_rejected(tail):
    r = inspect(jpeg(taken=datetime(2026, 1, 1, 10, 0)) + tail)
    assert r.verdict == "rejected" and r.reasons == ["EMBEDDED_SCRIPT"]


def test_trailing_binary_data_such_as_a_motion_photo_is_not_a_rejection():
    import numpy as np

    video = np.random.default_rng(3).integers(0, 256, 200_000, dtype=np.uint8).tobytes()
    r = inspect(jpeg(taken=datetime(2026, 1, 1, 10, 0)) + b"\x00\x00\x00\x18ftypmp42" + video)
    assert r.verdict == "accepted", r.reasons


def test_type_is_decided_by_content_not_by_name():
    out = io.BytesIO()
    scene().save(out, "PNG")
    r = inspect(out.getvalue())
    assert r.facts["format"] == "png" and r.verdict == "suspect" and r.reasons == ["NO_EXIF"]
    assert sniff(b"GIF89a" + b"\0" * 40) is None and inspect(b"GIF89a" + b"\0" * 40).reasons == ["UNSUPPORTED_TYPE"]
    assert inspect(b"<svg xmlns='http://www.w3.org/2000/svg'/>").reasons == ["UNSUPPORTED_TYPE"]


def test_an_empty_or_oversized_file_is_rejected():
    assert inspect(b"").reasons == ["EMPTY_FILE"]
    assert inspect(jpeg(), Limits(max_bytes=1000)).reasons == ["FILE_TOO_LARGE"]


def test_parsers_run_under_a_time_and_memory_limit_without_sigalrm(monkeypatch):
    import media.checks
    from media.sandbox import SandboxError, run

    data = jpeg(scene(size=(2000, 1500)), taken=datetime(2026, 1, 1))
    assert inspect_isolated(data, timeout_s=0).reasons == ["CHECK_TIMEOUT"]
    assert inspect_isolated(data).verdict == "accepted"

    def hog(*_args):
        return {"size": len(bytearray(1 << 30))}, []

    with pytest.raises(SandboxError) as err:
        run(hog, memory_bytes=64 << 20)
    assert err.value.kind == "memory"
    monkeypatch.setattr(media.checks, "_inspect_wire", hog)  # a decoder that wants a gigabyte
    assert inspect_isolated(data, memory_bytes=64 << 20).reasons == ["CHECK_OUT_OF_MEMORY"]


def test_a_crashing_decoder_kills_only_the_sandbox():
    from media.sandbox import SandboxError, run

    def segfault():
        import ctypes

        ctypes.string_at(0)

    with pytest.raises(SandboxError) as err:
        run(segfault)
    assert err.value.kind == "crashed" and err.value.detail == "SIGSEGV"


def test_exif_rationals_refs_and_dates_are_checked_before_they_are_believed():
    raw = exif.RawExif(present=True, lat=[(30, 1), (15, 1), (0, 0)], lat_ref="N", lon=[(120, 1), (0, 0), (0, 0)])
    raw.lon_ref = "E"
    assert exif.gps(raw) == (30.25, 120.0)  # 0/0 seconds count as 0
    assert exif.gps(exif.RawExif(lat=[(30, 0)], lat_ref="N", lon=[(120, 1)], lon_ref="E")) == (None, None)
    assert exif.gps(exif.RawExif(lat=[(30, 1)], lat_ref=None, lon=[(120, 1)], lon_ref="E")) == (None, None)
    assert exif.gps(exif.RawExif(lat=[(0, 1)], lat_ref="N", lon=[(0, 1)], lon_ref="E")) == (None, None)
    assert exif.gps(exif.RawExif(lat=[(95, 1)], lat_ref="N", lon=[(10, 1)], lon_ref="E")) == (None, None)
    assert exif.gps(exif.RawExif(lat=[], lat_ref="N", lon=[], lon_ref="E")) == (None, None)
    assert exif.capture_time(exif.RawExif(original=b"0000:00:00 00:00:00")) == (None, False)
    assert exif.capture_time(exif.RawExif(original=b"    :  :     :  :  ")) == (None, False)
    taken, known = exif.capture_time(exif.RawExif(original=b"2026:02:30 10:00:00", digitized=b"2026:02:28 10:00:00"))
    assert taken.isoformat() == "2026-02-28T10:00:00+08:00" and not known
    taken, known = exif.capture_time(exif.RawExif(original=b"2026:03:01 10:00:00", offset_original="+15:00"))
    assert known is False and taken.utcoffset().total_seconds() == 8 * 3600  # impossible offset ignored


def test_generated_phone_photo_facts_round_trip():
    taken = datetime(2026, 11, 25, 9, 30, 5)
    r = inspect(jpeg(taken=taken, offset="+09:00", gps=(30.274085, 120.155070), orientation=6))
    assert r.verdict == "accepted"
    assert r.facts["captured_at"] == "2026-11-25T09:30:05+09:00"
    assert r.facts["latitude"] == pytest.approx(30.274085, abs=1e-6)
    assert r.facts["longitude"] == pytest.approx(120.155070, abs=1e-6)
    assert (r.display.width, r.display.height) == (480, 640)  # rotated upright
    assert "NO_CAMERA_MODEL" in inspect(jpeg(model=None, taken=taken)).reasons
    assert inspect(jpeg(exif=b"")).reasons == ["NO_EXIF"]
    assert inspect(jpeg(exif=exif_bytes(taken=None))).reasons == ["NO_CAPTURE_TIME"]


def test_hash_bands_put_near_hashes_in_a_shared_band():
    a = "f0e1d2c3b4a59687"
    flipped = f"{int(a, 16) ^ sum(1 << (6 * i + 1) for i in range(10)):016x}"  # one bit in each of ten bands
    assert distance(a, flipped) == 10
    assert set(enumerate(bands(a, 11))) & set(enumerate(bands(flipped, 11)))


def test_every_reason_has_both_messages():
    assert all(r.message and r.message_en for r in reasons.REASONS.values())
    assert reasons.verdict(["NO_EXIF", "CORRUPT_IMAGE"]) == "rejected"
    assert reasons.verdict(["NO_EXIF"]) == "suspect" and reasons.verdict([]) == "accepted"
