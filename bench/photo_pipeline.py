"""Benchmark of the intrinsic photo checks against the least decoding any derivative needs.

    .venv/bin/python bench/photo_pipeline.py [--runs 21]

Phone-sized photos are generated (a real camera photo enlarged to 12 MP, with sensor-like noise, EXIF and
GPS, as a phone writes them). For each, in the same run and interleaved so that load on the machine hits
both alike, it times:

- floor: Pillow opening the file, ``draft()`` to the display size, and ``load()``;
- pipeline: ``media.checks.inspect_isolated``, the call the worker makes (sandboxed child, EXIF, pHash,
  display and thumbnail derivatives re-encoded without metadata), its child forked by the fork server
  (``media.forkserver``) as in the worker: a spare child forked and warmed ahead (its heap faulted in,
  the checks' code paths run once), handed the photo's bytes raw in a memory file;
- pipeline, caller forked: the same with the child forked from this process, as before the fork server;
  this process first imports what a work horse carries (the jobs' code, the face models) so that its fork
  costs what the horse's does;
- in-process: ``media.checks.inspect`` without the sandbox, to show what the isolation costs.

It reports medians, images per second per core (every step is single-threaded) and the ratio to the
floor; the goal is at most 1.4× for every orientation. The spare's warm-up is off the photo's path but
not free: ``*_cpu_ms`` is the CPU time of one check, all processes counted (for the pipeline: this
process, the fork server and its children, spares' warm-ups included), next to the in-process check's.
Then it measures the peak memory of one check of a 48 MP JPEG in a fresh process (goal: under 300 MB per
worker), and the real 12 MP iPhone HEIC from tests/photos.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from media import forkserver  # noqa: E402
from media.checks import Limits, draft_box, inspect, inspect_isolated, prepare  # noqa: E402
from media.sandbox import reap  # noqa: E402

SOURCE = ROOT / "tests" / "photos" / "metadata-extractor-images" / "Olympus PEN E-P3.jpg"
HEIC = ROOT / "tests" / "photos" / "metadata-extractor-images" / "exif-at-eof.heic"


def phone_jpeg(size: tuple[int, int], seed: int, orientation: int = 1) -> bytes:
    """A real photo enlarged to ``size`` with per-pixel noise (so it decodes like a camera file), EXIF + GPS."""
    import numpy as np
    from PIL import Image

    src = Image.open(SOURCE).convert("RGB").resize(size, Image.Resampling.BICUBIC)
    rng = np.random.default_rng(seed)
    arr = np.asarray(src, dtype=np.int16)
    arr = arr + rng.normal(0, 5, arr.shape).astype(np.int16)
    im = Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))
    ex = Image.Exif()
    ex[0x010F], ex[0x0110], ex[0x0131], ex[0x0112] = "Xiaomi", "Redmi K40", "MIUI 14.0.6", orientation
    sub = ex.get_ifd(0x8769)
    sub[0x9003], sub[0x9011] = "2026:11:25 09:30:00", "+08:00"
    gps = ex.get_ifd(0x8825)
    gps[1], gps[2], gps[3], gps[4] = "N", (30.0, 16.0, 26.7), "E", (120.0, 9.0, 18.3)
    out = io.BytesIO()
    im.save(out, "JPEG", quality=92, exif=ex.tobytes())
    return out.getvalue()


def floor(data: bytes, limits: Limits) -> None:
    from PIL import Image

    im = Image.open(io.BytesIO(data))
    if im.format == "JPEG":
        im.draft("RGB", draft_box(im.size, limits.display_px))
    im.load()


def timed(fn, *args, cpu: dict | None = None, name: str = "") -> float:
    """Wall time of ``fn(*args)``; with ``cpu``, adds this process's and its reaped children's CPU to ``name``."""
    t, c = time.perf_counter(), _own_cpu()
    fn(*args)
    elapsed = time.perf_counter() - t
    if cpu is not None:
        reap(wait=True)  # a child forked from here counts once it is collected
        cpu[name] += _own_cpu() - c
    return elapsed


def _own_cpu() -> float:
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def forking_the_caller(data: bytes, limits: Limits) -> None:
    """``inspect_isolated`` with the fork server set aside: the child is forked from this process."""
    server, forkserver._server = forkserver._server, None
    try:
        inspect_isolated(data, limits)
    finally:
        forkserver._server = server


def compare(name: str, data: bytes, runs: int, limits: Limits) -> dict:
    check = inspect_isolated(data, limits)
    assert check.verdict == "accepted" and check.display is not None, check.reasons
    for _ in range(2):  # warm caches and the allocator
        floor(data, limits), inspect_isolated(data, limits), inspect(data, limits), forking_the_caller(data, limits)
    f, p, q, c = [], [], [], []
    cpu = {"pipeline": 0.0, "in_process": 0.0, "caller_forked": 0.0}
    served_before = _server_cpu()
    for _ in range(runs):
        f.append(timed(floor, data, limits))
        p.append(timed(inspect_isolated, data, limits, cpu=cpu, name="pipeline"))
        q.append(timed(inspect, data, limits, cpu=cpu, name="in_process"))
        c.append(timed(forking_the_caller, data, limits, cpu=cpu, name="caller_forked"))
    reap(wait=True)
    cpu["pipeline"] += _server_cpu() - served_before  # the server and the children it reaped
    mf, mp, mq, mc = statistics.median(f), statistics.median(p), statistics.median(q), statistics.median(c)
    return {
        "photo": name,
        "bytes": len(data),
        "display": f"{check.display.width}x{check.display.height}",
        "floor_ms": round(mf * 1000, 1),
        "pipeline_ms": round(mp * 1000, 1),
        "in_process_ms": round(mq * 1000, 1),
        "floor_per_s": round(1 / mf, 1),
        "pipeline_per_s": round(1 / mp, 1),
        "ratio": round(mp / mf, 2),
        "ratio_in_process": round(mq / mf, 2),
        "caller_forked_ms": round(mc * 1000, 1),
        "ratio_caller_forked": round(mc / mf, 2),
        **{f"{k}_cpu_ms": round(v * 1000 / runs, 1) for k, v in cpu.items()},
    }


def _server_cpu() -> float:
    """CPU seconds of the fork server and of the children it has reaped (utime, stime, cutime, cstime)."""
    fields = Path(f"/proc/{forkserver._server['proc'].pid}/stat").read_text().rsplit(")", 1)[1].split()
    return sum(int(x) for x in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def memory_child(path: str) -> None:
    """Run in a fresh process: one sandboxed check of ``path``; print this process's and the child's peak RSS."""
    prepare()
    before = _vm_hwm_mb()
    data = Path(path).read_bytes()
    result = inspect_isolated(data, Limits())
    reap(wait=True)  # the child's peak counts once it is collected
    print(
        json.dumps(
            {
                "verdict": result.verdict,
                "reasons": result.reasons,
                "worker_before_check_mb": before,
                "worker_peak_mb": _vm_hwm_mb(),
                "check_child_peak_mb": round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, 1),
            }
        )
    )


def _vm_hwm_mb() -> float:
    """This process's peak resident memory (VmHWM: per address space, so not inherited across exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


def memory(data: bytes) -> dict:
    with tempfile.NamedTemporaryFile(suffix=".jpg") as fh:
        fh.write(data)
        fh.flush()
        out = subprocess.run(
            [sys.executable, __file__, "--memory-of", fh.name], capture_output=True, text=True, check=True
        )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=21)
    parser.add_argument("--memory-of", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory_of:
        memory_child(args.memory_of)
        return
    prepare()
    import backend.registry  # noqa: F401 - what a work horse carries, so that forking this process costs as much
    import workers.jobs  # noqa: F401
    from media.faces import preload

    preload()
    assert forkserver.start(), "the fork server did not start"
    limits = Limits()
    rows = [
        compare("12 MP JPEG (4000x3000), EXIF+GPS", phone_jpeg((4000, 3000), 1), args.runs, limits),
        compare("12 MP JPEG, 2nd photo", phone_jpeg((4000, 3000), 2), args.runs, limits),
        compare("12 MP JPEG, Orientation=3", phone_jpeg((4000, 3000), 5, orientation=3), args.runs, limits),
        compare("12 MP JPEG, Orientation=6", phone_jpeg((4000, 3000), 3, orientation=6), args.runs, limits),
        compare("12 MP JPEG, Orientation=8", phone_jpeg((4000, 3000), 6, orientation=8), args.runs, limits),
        compare("12 MP iPhone HEIC (real file)", HEIC.read_bytes(), max(5, args.runs // 3), limits),
    ]
    cols = list(rows[0])
    print("\t".join(cols))
    for r in rows:
        print("\t".join(str(r[c]) for c in cols))
    big = phone_jpeg((8000, 6000), 4)
    print(f"48 MP JPEG ({len(big)} bytes), peak memory of one check:", json.dumps(memory(big)))
    print(json.dumps({"bench": "photo_pipeline", "photos": rows, "goal_ratio": 1.4}))
    forkserver.stop()


if __name__ == "__main__":
    main()
