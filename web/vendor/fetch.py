#!/usr/bin/env python3
"""Fetch the app's third-party browser builds from the npm registry, verify them, and write them here.

Every file under web/vendor/ comes from one of the pinned packages below: the tarball is downloaded from the
npm registry, its sha512 checked against the ``integrity`` the registry published for that version (the
same string a package-lock.json records), and only the listed files (the browser build and its licence) are
written. Nothing is built: the app loads these files as they are (docs: README.md, "The H5 app").

    python web/vendor/fetch.py          # re-fetch, verify, write
    python web/vendor/fetch.py --check  # re-fetch, verify, and fail if a file here differs from the tarball's
"""

from __future__ import annotations

import base64
import hashlib
import io
import re
import sys
import tarfile
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
REGISTRY = "https://registry.npmjs.org"

#: package → (version, sha512 integrity of its tarball, {path in the tarball: file name here})
PINS: dict[str, tuple[str, str, dict[str, str]]] = {
    "vue": (
        "3.5.47",
        "sha512-eb2WX28Y895u9wSVVDXr5pvipHb3U8wSvYqoT5UUqG5idmNjT169BDnhigOfkEP+zI6nDVnhHqZgrERpJ90M0w==",
        # the runtime-only build: no template compiler, so nothing needs 'unsafe-eval'
        {"package/dist/vue.runtime.global.prod.js": "vue.runtime.global.prod.js", "package/LICENSE": "LICENSE"},
    ),
    "vant": (
        "4.10.2",
        "sha512-7lm1KtFub11ozleFqQ6rL8oa3Z8i33G3IUEuJGWBXlQwPTRfu8BYWGGZ/GhA5QdWhERp5mtBq6TjpYEmLcwwow==",
        {"package/lib/vant.min.js": "vant.min.js", "package/lib/index.css": "index.css", "package/LICENSE": "LICENSE"},
    ),
    "echarts": (
        "6.1.0",
        "sha512-q0yaFPggC9FUdsWH4blavRWFmxdrIodbkoKNAjJudAI6CA9gNPxHtV2RcZNEepZVlk4yvBYkOkbk6HIVpIyHZA==",
        {"package/dist/echarts.min.js": "echarts.min.js", "package/LICENSE": "LICENSE", "package/NOTICE": "NOTICE"},
    ),
}


def tarball(name: str, version: str, integrity: str) -> bytes:
    url = f"{REGISTRY}/{name}/-/{name}-{version}.tgz"
    with urllib.request.urlopen(url, timeout=120) as resp:  # noqa: S310 - a fixed https URL
        data = resp.read()
    algo, _, want = integrity.partition("-")
    got = base64.b64encode(hashlib.new(algo, data).digest()).decode()
    if got != want:
        raise SystemExit(f"{name}@{version}: integrity mismatch (got {algo}-{got})")
    return data


def files_of(name: str) -> dict[Path, bytes]:
    version, integrity, wanted = PINS[name]
    out: dict[Path, bytes] = {}
    with tarfile.open(fileobj=io.BytesIO(tarball(name, version, integrity)), mode="r:gz") as tar:
        for member, target in wanted.items():
            f = tar.extractfile(member)
            if f is None:
                raise SystemExit(f"{name}@{version}: {member} is not in the tarball")
            out[HERE / name / target] = f.read()
    return out


def local_css(vant_css: bytes) -> bytes:
    """Vant's stylesheet without the CDN copy of its icon font (the embedded woff2 stays): never load it."""
    cdn = re.compile(rb',url\(//at\.alicdn\.com/[^)]*\) format\("woff"\)')
    out, n = cdn.subn(b"", vant_css)
    if n != 1 or re.search(rb"url\(['\"]?(https?:)?//", out):
        raise SystemExit(f"vant: expected one CDN font source in index.css, found {n}")
    return out


def sums(files: dict[Path, bytes]) -> bytes:
    """SHA256SUMS: one ``<sha256>  <path>`` line per vendored file (tests check the files offline against it)."""
    lines = sorted(f"{hashlib.sha256(d).hexdigest()}  {p.relative_to(HERE).as_posix()}" for p, d in files.items())
    return ("\n".join(lines) + "\n").encode()


def main(argv: list[str]) -> int:
    check = "--check" in argv
    every: dict[Path, bytes] = {}
    for name, (version, _, _) in PINS.items():
        files = files_of(name)
        if name == "vant":
            files[HERE / "vant" / "index.local.css"] = local_css(files[HERE / "vant" / "index.css"])
        every |= files
        print(f"{name}@{version}: verified")
    every[HERE / "SHA256SUMS"] = sums(every)
    if check:
        differ = [str(p.relative_to(HERE)) for p, d in every.items() if not p.exists() or p.read_bytes() != d]
        if differ:
            print("differ from the registry's tarballs: " + ", ".join(differ), file=sys.stderr)
            return 1
        return 0
    for path, data in every.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
