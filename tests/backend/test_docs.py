"""The rules the code cites are in the repo: every ``docs/…md#anchor`` reference resolves, no file outside is cited."""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

from tests.conftest import ROOT

#: where the code, the API descriptions and the README cite the rules
CITING = ["backend", "mobile_api", "workers", "media", "tests", "bench", "README.md", "docs"]
REFERENCE = re.compile(r"docs/([\w.-]+\.md)(?:#([\w-]+))?")
#: documents that are not part of the repository (the old product brief and style sheet)
OUTSIDE = re.compile(r"\b(?:SPEC|STYLE|API)\.md\b")


def _files():
    for name in CITING:
        path = ROOT / name
        if path.is_file():
            yield path
            continue
        for f in sorted(path.rglob("*")):
            if f.suffix in (".py", ".md") and f.name != Path(__file__).name:
                yield f


def _slug(heading: str) -> str:
    """GitHub's anchor of a Markdown heading: lower case, punctuation dropped, spaces to hyphens."""
    text = unicodedata.normalize("NFC", heading.strip().lower())
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def _anchors(doc: Path) -> set[str]:
    return {_slug(m.group(1)) for m in re.finditer(r"^#{1,6}\s+(.+?)\s*$", doc.read_text(), re.M)}


def test_every_docs_reference_resolves():
    broken, seen = [], 0
    anchors: dict[str, set[str]] = {}
    for f in _files():
        for m in REFERENCE.finditer(f.read_text()):
            seen += 1
            doc = ROOT / "docs" / m.group(1)
            if not doc.exists():
                broken.append(f"{f.relative_to(ROOT)}: {m.group(0)} (no such file)")
                continue
            if m.group(2) and m.group(2) not in anchors.setdefault(doc.name, _anchors(doc)):
                broken.append(f"{f.relative_to(ROOT)}: {m.group(0)} (no such heading)")
    assert seen > 40, "the code cites its rules in docs/"
    assert broken == []


def test_no_citation_of_a_file_outside_the_repo():
    outside = [
        f"{f.relative_to(ROOT)}:{n}"
        for f in _files()
        if f.suffix == ".py"
        for n, line in enumerate(f.read_text().splitlines(), 1)
        if OUTSIDE.search(line)
    ]
    assert outside == []


def test_anchor_slugs_follow_github():
    assert _slug("Who decides what") == "who-decides-what"
    assert _slug("Check-in time") == "check-in-time"
    assert _slug("Reading the score (我要查分)") == "reading-the-score-我要查分"


def test_error_codes_document_matches_the_catalogue(app):
    """docs/error-codes.md lists every registered code as it is (``make readme`` rewrites it)."""
    import backend.registry  # noqa: F401 - every module registers its codes
    from backend.errors import catalogue_markdown

    assert (ROOT / "docs" / "error-codes.md").read_text() == catalogue_markdown()


def test_every_path_the_readme_points_at_exists():
    """The README's layout and "Where things live" tables name files and folders that exist."""
    readme = (ROOT / "README.md").read_text()
    named = set(re.findall(r"`((?:backend|mobile_api|workers|media|docs|tests|bench|migrations)/[\w./-]*)`", readme))
    missing = sorted(p for p in named if not (ROOT / p.rstrip("/")).exists())
    assert len(named) > 20
    assert missing == []
