"""media.faces on real photos (tests/faces, see its README): detection, descriptors, distances, model loading."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from backend.services.evidence.face_check import classify
from media import faces

FACES = Path(__file__).resolve().parents[1] / "faces"
LANDSCAPE = Path(__file__).resolve().parents[1] / "photos" / "exif-py" / "DSCN0010.jpg"  # trees and houses, no one
ROOT = Path(__file__).resolve().parents[2]


def read(name: str) -> bytes:
    return (FACES / name).read_bytes()


@pytest.fixture(scope="module")
def obama() -> np.ndarray:
    found = faces.analyse_bytes(read("obama.jpg"))
    assert found.outcome == faces.ONE and found.descriptor.shape == (128,)
    return found.descriptor


def jpeg_bytes(im: Image.Image, orientation: int = 1) -> bytes:
    out, exif = io.BytesIO(), Image.Exif()
    exif[0x0112] = orientation
    im.save(out, "JPEG", quality=90, exif=exif.tobytes())
    return out.getvalue()


def small_face() -> bytes:
    """obama.jpg shrunk to a corner of a large plain photo: a face of about 40 px on the 640 px copy."""
    portrait = Image.open(FACES / "obama.jpg").convert("RGB")
    canvas = Image.new("RGB", (1600, 1200), (120, 140, 160))
    canvas.paste(portrait.resize((portrait.width // 4, portrait.height // 4)), (600, 400))
    return jpeg_bytes(canvas)


@pytest.mark.parametrize("name", ["obama2.jpg", "obama3.jpg", "obama_partial_face.jpg"])
def test_other_photos_of_obama_match_his_reference(obama, name):
    found = faces.analyse_bytes(read(name))
    assert found.outcome == faces.ONE and found.face.size >= faces.MIN_FACE_PX
    (d,) = faces.distances(found.descriptor, [obama])
    assert 0.1 < d < 0.45, d  # the README measured 0.24–0.35; a distance of 0 would mean the same photo
    assert classify(d, 0.6, 0.05) == "MATCH"


def test_biden_does_not_match_obama(obama):
    found = faces.analyse_bytes(read("biden.jpg"))
    assert found.outcome == faces.ONE
    (d,) = faces.distances(found.descriptor, [obama])
    assert d > 0.75, d
    assert classify(d, 0.6, 0.05) == "FACE_MISMATCH"


def test_two_people_are_multiple_faces_without_a_descriptor():
    found = faces.analyse_bytes(read("two_people.jpg"))
    assert found.outcome == faces.MULTIPLE and len(found.faces) == 2
    assert found.descriptor is None and found.face is None


def test_a_landscape_has_no_face():
    found = faces.analyse_bytes(LANDSCAPE.read_bytes())
    assert found.outcome == faces.NONE and found.faces == [] and found.descriptor is None


def test_a_distant_face_is_too_small_to_describe():
    found = faces.analyse_bytes(small_face())
    assert found.outcome == faces.TOO_SMALL and found.descriptor is None
    assert 0 < max(b.size for b in found.faces) < faces.MIN_FACE_PX


def test_detection_runs_on_a_640_px_copy_of_a_12_mp_photo(obama):
    portrait = Image.open(FACES / "obama.jpg").convert("RGB")
    big = portrait.resize((3000, 3748))  # about 11 MP
    pixels = faces.load_pixels(jpeg_bytes(big))
    assert max(pixels.shape[:2]) == faces.DETECT_PX
    found = faces.analyse(pixels)
    assert found.outcome == faces.ONE and faces.distances(found.descriptor, [obama])[0] < 0.3


def test_orientation_is_applied_before_detection(obama):
    """A phone stores the sensor's pixels turned and says so in EXIF (6 = rotate 90° clockwise to view)."""
    turned = Image.open(FACES / "obama.jpg").convert("RGB").transpose(Image.Transpose.ROTATE_90)
    data = jpeg_bytes(turned, orientation=6)
    upright = faces.analyse_bytes(data)
    assert upright.outcome == faces.ONE and faces.distances(upright.descriptor, [obama])[0] < 0.2
    assert upright.height > upright.width  # portrait again
    assert faces.analyse_bytes(data, orientation=1).outcome == faces.NONE  # the frontal detector needs it upright


def test_descriptors_round_trip_through_their_stored_form(obama):
    raw = faces.to_bytes(obama)
    assert len(raw) == 512
    assert np.array_equal(faces.from_bytes(raw), obama.astype(np.float32))
    with pytest.raises(ValueError):
        faces.to_bytes(obama[:64])
    with pytest.raises(ValueError):
        faces.from_bytes(raw[:-4])
    assert faces.distances(obama, []) == []


def test_the_descriptor_is_kept_out_of_reprs():
    found = faces.analyse_bytes(read("obama.jpg"))
    assert "descriptor" not in repr(found) and f"{found.descriptor[0]:.4f}" not in repr(found)


@pytest.mark.parametrize(
    ("distance", "expected"),
    [(0.0, "MATCH"), (0.55, "MATCH"), (0.5501, "FACE_UNCERTAIN"), (0.6, "FACE_UNCERTAIN"), (0.6001, "FACE_MISMATCH")],
)
def test_threshold_and_uncertain_band(distance, expected):
    assert classify(distance, 0.6, 0.05) == expected


def test_the_models_come_from_the_package_files_without_importing_it():
    folder = faces.model_dir()
    assert (folder / faces.MODEL_FILES["shape"]).name == "shape_predictor_5_face_landmarks.dat"
    assert faces.models() is faces.models()  # once per process
    assert "face_recognition_models" not in sys.modules  # its __init__ needs pkg_resources, gone from setuptools


def test_missing_model_package_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(faces.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(faces.ModelMissing, match="face-recognition-models"):
        faces.model_dir()


def test_a_worker_loads_the_models_once_and_its_work_horses_inherit_them():
    """workers.worker (rq's parent process) preloads them; a forked child finds them loaded, as every job does."""
    script = textwrap.dedent(
        """
        import os, sys
        import workers.worker
        from media import faces
        before = faces.models.cache_info()
        assert before.currsize == 1, before
        pid = os.fork()
        if pid == 0:
            faces.models()
            after = faces.models.cache_info()
            os._exit(0 if (after.misses, after.hits) == (before.misses, before.hits + 1) else 3)
        _, status = os.waitpid(pid, 0)
        sys.exit(os.waitstatus_to_exitcode(status))
        """
    )
    env = {**os.environ, "ZHIJIAO_ENV": "test"}
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, timeout=120)
    assert done.returncode == 0, done.stderr.decode()[-2000:]
