"""身份证号 (GB 11643-1999): validation with the ISO 7064 MOD 11-2 check digit, and masking."""

from __future__ import annotations

import re
from datetime import date

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK = "10X98765432"
_SHAPE = re.compile(r"^[0-9]{17}[0-9X]$")  # ASCII only: \d would take other scripts' digits


def check_digit(first17: str) -> str:
    """The ISO 7064 MOD 11-2 check character of the first 17 digits."""
    return _CHECK[sum(int(c) * w for c, w in zip(first17, _WEIGHTS, strict=True)) % 11]


def normalise(raw: str) -> str:
    """Strip spaces and upper-case a trailing x."""
    return raw.strip().upper()


def is_valid(raw: str) -> bool:
    """18 characters, a real birth date, and a correct check digit."""
    value = normalise(raw)
    if not _SHAPE.match(value):
        return False
    try:
        born = date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
    except ValueError:
        return False
    if born.year < 1900 or born > date.today():
        return False
    return check_digit(value[:17]) == value[17]


def mask(value: str) -> str:
    """Keep the first 3 and last 4 characters: 330***********123X."""
    return value[:3] + "*" * (len(value) - 7) + value[-4:]


def make(region: str, born: date, seq: int) -> str:
    """Build a valid number (demo data and tests)."""
    body = f"{region}{born:%Y%m%d}{seq:03d}"
    return body + check_digit(body)
