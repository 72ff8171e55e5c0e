"""Benchmark of the check-in face check (issue 7): face checks per second per worker process, next to the floor.

    .venv/bin/python bench/face_check.py [--rounds 3]

Inputs: the portraits in tests/faces made into 12 MP phone selfies (4032×3024 sensor pixels stored sideways
with EXIF orientation 6, JPEG quality 92, sensor-like noise: about 2 MB), as a phone sends them. Measured in
one process, one thread, one after the other, in the same run:

- floor: detection + one descriptor on an image already decoded at 640 px (``media.faces.analyse``);
- full check from the original: decode (DCT-reduced) + orientation + detect + describe + compare with 5
  references (``load_pixels`` + ``analyse`` + ``distances``);
- full check from the display derivative: what the ``check_face`` job reads (the photo pipeline's own
  upright, metadata-free JPEG at its display size), decoded to 640 px and checked the same way;
- the photo pipeline's own decode of the same original (``media.checks`` reduces it to the display size).

Goal: full ≤ 1.5 × floor + the pipeline's decode. The model's load time and resident memory are measured
in a fresh child process (nothing else loaded but numpy, Pillow and dlib). Prints a table and a JSON line.
"""

from __future__ import annotations

import argparse
import io
import json
import statistics
import subprocess
import sys
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

from media import checks, faces  # noqa: E402

PORTRAITS = ["obama.jpg", "obama2.jpg", "obama3.jpg", "biden.jpg"]
SENSOR = (4032, 3024)  # 12.2 MP


def phone_selfie(name: str) -> bytes:
    """An upright portrait scaled to 3024×4032 and stored as the sensor wrote it: sideways, EXIF orientation 6."""
    upright = Image.open(ROOT / "tests" / "faces" / name).convert("RGB")
    w, h = SENSOR[1], SENSOR[0]
    scale = min(w / upright.width, h / upright.height)  # fit, then fill the rest of the frame with a wall
    fitted = upright.resize((round(upright.width * scale), round(upright.height * scale)), Image.Resampling.BICUBIC)
    big = Image.new("RGB", (w, h), (188, 180, 170))
    big.paste(fitted, ((w - fitted.width) // 2, (h - fitted.height) // 2))
    grain = np.random.default_rng(len(name)).normal(0, 3, (h, w, 3))  # sensor noise: a phone's file size
    big = Image.fromarray(np.clip(np.asarray(big, dtype=np.float32) + grain, 0, 255).astype(np.uint8))
    big = big.transpose(Image.Transpose.ROTATE_90)
    exif = Image.Exif()
    exif[0x0112], exif[0x010F], exif[0x0110] = 6, "Xiaomi", "Redmi K40"
    out = io.BytesIO()
    big.save(out, "JPEG", quality=92, exif=exif.tobytes())
    return out.getvalue()


def timed(fn, rounds: int) -> list[float]:
    out = []
    for _ in range(rounds):
        start = time.perf_counter()
        fn()
        out.append(time.perf_counter() - start)
    return out


def model_cost() -> dict:
    """Load time and resident memory of the models, in a fresh process."""
    script = textwrap.dedent(
        """
        import json, time
        def rss():
            for line in open("/proc/self/status"):
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
        import numpy, PIL.Image, dlib
        before = rss()
        start = time.perf_counter()
        from media import faces
        faces.models()
        print(json.dumps({"load_s": time.perf_counter() - start, "rss_before_mb": before, "rss_after_mb": rss()}))
        """
    )
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True)
    return json.loads(done.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="passes over the selfies (default 3)")
    args = parser.parse_args()
    cost = model_cost()
    faces.models()
    checks.prepare()
    selfies = [phone_selfie(n) for n in PORTRAITS]
    displays = [checks.inspect(s).display.data for s in selfies]  # the pipeline's derivative, as stored
    references = [faces.analyse_bytes(s).descriptor for s in selfies]
    references.append(references[0] + 0.01)  # five references
    pre = [faces.load_pixels(s) for s in selfies]
    for p in pre:  # warm up: first inference allocates the network's buffers
        faces.analyse(p)

    def full(data: bytes):
        def run():
            found = faces.analyse(faces.load_pixels(data))
            assert found.outcome == faces.ONE
            faces.distances(found.descriptor, references)

        return run

    def pipeline_decode(data: bytes):
        def run():
            im = Image.open(io.BytesIO(data))
            im.draft("RGB", checks.draft_box(im.size, checks.Limits().display_px))
            im.load()

        return run

    r = args.rounds
    floor = [t for p in pre for t in timed(lambda p=p: faces.analyse(p), r)]
    original = [t for s in selfies for t in timed(full(s), r)]
    derived = [t for d in displays for t in timed(full(d), r)]
    decode = [t for s in selfies for t in timed(pipeline_decode(s), r)]
    m = {k: statistics.mean(v) for k, v in {"floor": floor, "original": original, "derived": derived}.items()}
    m["pipeline_decode"] = statistics.mean(decode)
    budget = 1.5 * m["floor"] + m["pipeline_decode"]
    size_mb = statistics.mean(len(s) for s in selfies) / 2**20
    shown = Image.open(io.BytesIO(displays[0])).size
    print(f"12 MP phone selfies: {len(selfies)} × {r} rounds, mean {size_mb:.1f} MB, 5 references; display {shown}")
    print(f"{'measure':<44}{'ms/check':>10}{'checks/s':>10}{'× floor':>9}")
    rows = [
        ("floor: detect + describe, pre-decoded 640 px", m["floor"]),
        ("full check from the 12 MP original", m["original"]),
        ("full check from the display derivative", m["derived"]),
        ("photo pipeline's own decode (12 MP → display)", m["pipeline_decode"]),
        ("goal: 1.5 × floor + pipeline decode", budget),
    ]
    for label, sec in rows:
        print(f"{label:<44}{sec * 1000:>10.1f}{1 / sec:>10.2f}{sec / m['floor']:>9.2f}")
    verdict = "met" if max(m["original"], m["derived"]) <= budget else "NOT met"
    grown = cost["rss_after_mb"] - cost["rss_before_mb"]
    print(f"goal {verdict}; model load {cost['load_s']:.2f} s, resident memory +{grown:.0f} MB")
    print(
        json.dumps(
            {
                "ms": {k: round(v * 1000, 2) for k, v in m.items()},
                "budget_ms": round(budget * 1000, 2),
                "ratio_original": round(m["original"] / m["floor"], 3),
                "ratio_derived": round(m["derived"] / m["floor"], 3),
                "model": cost,
            }
        )
    )


if __name__ == "__main__":
    main()
