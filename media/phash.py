"""Perceptual hash (the DCT pHash of imagehash, bit for bit, on numpy alone) and its index bands."""

from __future__ import annotations

from functools import lru_cache

HASH_SIZE = 8
_IMG = HASH_SIZE * 4  # 32×32 grey image, as imagehash.phash


@lru_cache(maxsize=1)
def _dct_rows():
    """The first 8 rows of scipy.fftpack's unnormalised DCT-II matrix for 32 samples."""
    import numpy as np

    n = np.arange(_IMG)
    k = np.arange(HASH_SIZE)[:, None]
    return 2.0 * np.cos(np.pi * k * (2 * n + 1) / (2 * _IMG))


def phash(image) -> str:
    """64-bit perceptual hash of a Pillow image as 16 hex digits (equal to ``str(imagehash.phash(image))``)."""
    import numpy as np
    from PIL import Image

    grey = image.convert("L").resize((_IMG, _IMG), Image.Resampling.LANCZOS)
    pixels = np.asarray(grey, dtype=np.float64)
    c = _dct_rows()
    low = np.round(c @ pixels @ c.T, 6)  # drop float noise: a flat image must hash as scipy's exact zeros
    bits = (low > np.median(low)).flatten()
    value = 0
    for bit in bits:
        value = (value << 1) | int(bit)
    return f"{value:016x}"


def distance(a: str, b: str) -> int:
    """Hamming distance between two hex hashes."""
    return (int(a, 16) ^ int(b, 16)).bit_count()


def bands(h: str, count: int) -> list[int]:
    """Split the 64 bits into ``count`` near-equal bands; hashes within count−1 bits share at least one band."""
    value, out, start = int(h, 16), [], 0
    for i in range(count):
        width = 64 // count + (1 if i < 64 % count else 0)
        out.append((value >> (64 - start - width)) & ((1 << width) - 1))
        start += width
    return out
