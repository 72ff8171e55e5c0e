"""Faces in a photo (docs/photos.md#face-check): detection, 128-d descriptors and distances with dlib.

Pure: bytes or pixels in, facts out; nothing here touches the database, Flask or the network. The models
are dlib's HOG frontal face detector, the 5-point landmark model and the ResNet face recognition model of
the ``face-recognition-models`` package, read from disk once per process (``models()``); a forked child
(an RQ work horse) inherits them already loaded. Detection runs on a copy whose long side is about 640 px,
with the photo's orientation applied first. A descriptor is a secret of its own (biometric data): this
module returns it to the caller and never logs or prints it.
"""

from __future__ import annotations

import importlib.util
import io
import logging
import time
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import numpy as np

DETECT_PX = 640
#: least short side, in pixels of the 640 px copy, of a face we describe: smaller faces are FACE_TOO_SMALL.
#: The HOG detector finds faces down to about 70 px at this scale (80 px window); a second pass at twice
#: the size, run only when the first finds nothing, finds the smaller ones so that they can be named.
MIN_FACE_PX = 60
DESCRIPTOR_DIM = 128
MODEL = "dlib_resnet_v1+shape_5"  # recorded with each reference: descriptors of other models do not compare
MODEL_FILES = {
    "shape": "shape_predictor_5_face_landmarks.dat",
    "encoder": "dlib_face_recognition_resnet_model_v1.dat",
}
# outcomes of ``analyse``; the face check turns them into reason codes
ONE, NONE, MULTIPLE, TOO_SMALL = "one", "none", "multiple", "too_small"
_TRANSPOSE = {2: "FLIP_LEFT_RIGHT", 3: "ROTATE_180", 4: "FLIP_TOP_BOTTOM", 5: "TRANSPOSE", 6: "ROTATE_270"}
_TRANSPOSE |= {7: "TRANSVERSE", 8: "ROTATE_90"}


class ModelMissing(RuntimeError):
    """The face model files are not installed (the face-recognition-models package)."""


@dataclass(frozen=True)
class Models:
    detector: object
    shape: object
    encoder: object
    load_s: float


@dataclass(frozen=True)
class Box:
    """A face's box on the detection copy (pixels; may reach past the edges, as dlib reports it)."""

    left: int
    top: int
    width: int
    height: int

    @property
    def size(self) -> int:
        return min(self.width, self.height)

    def to_json(self) -> dict:
        return {"left": self.left, "top": self.top, "width": self.width, "height": self.height}


@dataclass
class Analysis:
    """What one photo holds: every face found and, when exactly one is usable, its descriptor."""

    outcome: str
    width: int
    height: int
    faces: list[Box] = field(default_factory=list)
    face: Box | None = None
    descriptor: np.ndarray | None = field(default=None, repr=False)  # never in a repr, hence never in a log


def model_dir() -> Path:
    """The folder of the model files, found without importing the package (its ``__init__`` needs pkg_resources)."""
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise ModelMissing("the face-recognition-models package is not installed")
    folder = Path(next(iter(spec.submodule_search_locations))) / "models"
    missing = [name for name in MODEL_FILES.values() if not (folder / name).is_file()]
    if missing:
        raise ModelMissing(f"face model files missing from {folder}: {', '.join(missing)}")
    return folder


@cache
def models() -> Models:
    """Load the detector and both models once per process (about 0.3 s and 35 MB)."""
    import dlib

    folder, start = model_dir(), time.perf_counter()
    shape = dlib.shape_predictor(str(folder / MODEL_FILES["shape"]))
    encoder = dlib.face_recognition_model_v1(str(folder / MODEL_FILES["encoder"]))
    return Models(dlib.get_frontal_face_detector(), shape, encoder, time.perf_counter() - start)


def preload() -> Models | None:
    """Load the models now, in a worker's parent process, so that every forked work horse inherits them.

    Missing model files are logged, not raised: the worker still runs every other job, and face checks
    fail (and are retried by the outbox relay) until the package is installed.
    """
    try:
        return models()
    except ModelMissing as exc:
        logging.getLogger(__name__).warning("face models not loaded", extra={"error": str(exc)})
        return None


def load_pixels(data: bytes, orientation: int | None = None, long_side: int = DETECT_PX) -> np.ndarray:
    """Decode a photo into an upright RGB array whose long side is at most ``long_side``.

    JPEG is decoded at a reduced DCT scale (no full-size decode of a 12 MP photo). ``orientation`` is
    the EXIF orientation the photo checks found; None reads it from the file.
    """
    from PIL import Image

    from media.checks import draft_box, prepare

    prepare()  # HEIF opener registered, decoders imported once
    with Image.open(io.BytesIO(data)) as im:
        if orientation is None:
            orientation = _orientation(im)
        if im.format == "JPEG":
            im.draft("RGB", draft_box(im.size, long_side))
        rgb = im.convert("RGB")
    if max(rgb.size) > long_side:
        scale = long_side / max(rgb.size)
        size = (max(1, round(rgb.width * scale)), max(1, round(rgb.height * scale)))
        rgb = rgb.resize(size, Image.Resampling.BILINEAR, reducing_gap=2.0)
    if orientation in _TRANSPOSE:
        rgb = rgb.transpose(getattr(Image.Transpose, _TRANSPOSE[orientation]))
    return np.ascontiguousarray(np.asarray(rgb, dtype=np.uint8))


def _orientation(im) -> int:
    try:
        value = im.getexif().get(0x0112, 1)
    except Exception:  # noqa: BLE001 - a broken EXIF block means no orientation, not a failed check
        return 1
    return value if isinstance(value, int) else 1


def analyse(pixels: np.ndarray) -> Analysis:
    """Find the faces and describe the one usable face; several usable faces are MULTIPLE, none usable TOO_SMALL."""
    m = models()
    height, width = pixels.shape[:2]
    rects = m.detector(pixels, 0)
    if len(rects) == 0:
        rects = m.detector(pixels, 1)  # upsampled once: finds faces down to about 40 px
    boxes = [Box(r.left(), r.top(), r.width(), r.height()) for r in rects]
    usable = [i for i, b in enumerate(boxes) if b.size >= MIN_FACE_PX]
    result = Analysis(NONE, width, height, boxes)
    if not boxes:
        return result
    if len(usable) > 1:
        result.outcome = MULTIPLE
        return result
    if not usable:
        result.outcome = TOO_SMALL
        return result
    rect = rects[usable[0]]
    landmarks = m.shape(pixels, rect)
    result.outcome, result.face = ONE, boxes[usable[0]]
    result.descriptor = np.asarray(m.encoder.compute_face_descriptor(pixels, landmarks), dtype=np.float32)
    return result


def analyse_bytes(data: bytes, orientation: int | None = None) -> Analysis:
    """``load_pixels`` then ``analyse``."""
    return analyse(load_pixels(data, orientation))


def distances(descriptor: np.ndarray, references: list[np.ndarray]) -> list[float]:
    """Euclidean distance from a descriptor to each reference (same order)."""
    if not references:
        return []
    diff = np.stack(references).astype(np.float32) - descriptor.astype(np.float32)
    return [float(d) for d in np.linalg.norm(diff, axis=1)]


def to_bytes(descriptor: np.ndarray) -> bytes:
    """The descriptor as 128 little-endian float32 (512 bytes), to be encrypted before it is stored."""
    arr = np.asarray(descriptor, dtype="<f4")
    if arr.shape != (DESCRIPTOR_DIM,):
        raise ValueError("a face descriptor has 128 values")
    return arr.tobytes()


def from_bytes(raw: bytes) -> np.ndarray:
    if len(raw) != DESCRIPTOR_DIM * 4:
        raise ValueError("a stored face descriptor is 512 bytes")
    return np.frombuffer(raw, dtype="<f4").astype(np.float32)
