"""Which EXIF Software strings name a photo editor (a phone OS or camera firmware string never does)."""

from __future__ import annotations

import re

#: editors and beauty/retouch apps, matched case-insensitively as words; extend as new ones turn up
EDITORS = (
    "photoshop",
    "lightroom",
    "gimp",
    "snapseed",
    "picsart",
    "pixelmator",
    "affinity photo",
    "paint.net",
    "paintshop",
    "corel",
    "acdsee",
    "picasa",
    "photoscape",
    "fotor",
    "vsco",
    "facetune",
    "canva",
    "polarr",
    "luminar",
    "darktable",
    "rawtherapee",
    "capture one",
    "photodirector",
    "youcam",
    "meitu",
    "美图",
    "醒图",
    "hypic",
    "xingtu",
    "轻颜",
    "ulike",
    "黄油相机",
    "天天p图",
    "pitu",
    "b612",
    "faceu",
    "beautycam",
    "camera360",
    "photo editor",
    "imagemagick",
    "graphicsmagick",
    "photopea",
    "krita",
    "inkscape",
)
_PATTERN = re.compile(
    "|".join(rf"(?<![a-z0-9]){re.escape(e)}(?![a-z])" if e.isascii() else re.escape(e) for e in EDITORS), re.I
)


def editor_in(software: str | None) -> str | None:
    """The editor a Software tag names, or None (firmware such as 'fw 05.15' or an iOS version such as '11.4.1')."""
    if not software:
        return None
    m = _PATTERN.search(software)
    return m.group(0) if m else None
