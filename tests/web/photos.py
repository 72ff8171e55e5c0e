"""Real camera JPEGs from tests/photos with their EXIF capture time set to now (Pillow writes the EXIF)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from PIL import Image

from tests.conftest import ROOT

PHOTOS = ROOT / "tests" / "photos"
#: camera originals (tests/photos/MANIFEST.tsv, category camera_dto): make, model, firmware, capture time
CAMERA = ["metadata-extractor-images/Olympus PEN E-P3.jpg", "exif-py/fujifilm-finepix40i.jpg"]
#: a phone photo with GPS (category gps)
PHONE = "metadata-extractor-images/Apple iPhone 4.jpg"
#: a camera original as it is: taken in 2000, so a check-in with it now is suspect (CAPTURE_TIME_MISMATCH)
OLD = "exif-py/fujifilm-finepix40i.jpg"


def original(name: str) -> Path:
    """The test photo ``name`` untouched (its own EXIF, capture time and all)."""
    return PHOTOS / name


def _dms(x: float) -> tuple[float, float, float]:
    x = abs(x)
    d = int(x)
    m = int((x - d) * 60)
    return float(d), float(m), round((x - d - m / 60) * 3600, 4)


def taken_now(name: str, out_dir: Path, gps: tuple[float, float] | None = None) -> Path:
    """The photo ``name`` as if taken now (Asia/Shanghai, like the phone), optionally at ``gps`` (lat, lon)."""
    now = datetime.now(ZoneInfo("Asia/Shanghai")).strftime("%Y:%m:%d %H:%M:%S")
    with Image.open(PHOTOS / name) as im:
        exif = im.getexif()
        sub = exif.get_ifd(0x8769)
        sub[0x9003] = now  # DateTimeOriginal
        sub[0x9004] = now  # DateTimeDigitized
        sub[0x9011] = "+08:00"  # OffsetTimeOriginal
        exif[0x0132] = now  # DateTime
        if gps is not None:
            g = exif.get_ifd(0x8825)
            g[1], g[2] = "N", _dms(gps[0])
            g[3], g[4] = "E", _dms(gps[1])
        out = out_dir / (Path(name).stem.replace(" ", "_") + ".jpg")
        im.save(out, "JPEG", quality=92, exif=exif.tobytes())
    return out
