"""COCO-style instance masks without pycocotools: run-length encodings (RLE) and polygons.

COCOA and KINS store masks the COCO way (format facts from the COCO mask API's documentation and the PCNet
reference readers; the code is tfssl's own):
  - RLE: {"size": [height, width], "counts": ...}; counts alternate runs of 0s and 1s (starting with 0s) over the
    image in column-major order. "counts" is a list of ints (uncompressed) or a string (compressed: each count is
    written in 5-bit groups as characters offset by 48, 0x20 = more groups follow, the last group is sign-
    extended from bit 0x10, and from the fourth count on the value stored is the difference to the count two
    before).
  - Polygons: a list of polygons [[x1, y1, x2, y2, ...], ...] in pixel coordinates (or one flat polygon); the
    mask is their union. A pixel is inside when its centre is (even-odd rule per polygon).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np


def decode_counts(counts: str | bytes) -> list[int]:
    """Compressed RLE counts string -> run lengths."""
    if isinstance(counts, bytes):
        counts = counts.decode("ascii")
    runs: list[int] = []
    p = 0
    while p < len(counts):
        value, shift, more = 0, 0, True
        while more:
            c = ord(counts[p]) - 48
            value |= (c & 0x1F) << shift
            more = bool(c & 0x20)
            p += 1
            shift += 5
            if not more and (c & 0x10):
                value |= -1 << shift  # negative: sign-extend
        if len(runs) > 2:
            value += runs[-2]
        runs.append(value)
    return runs


def encode_counts(runs: Sequence[int]) -> str:
    """Run lengths -> compressed RLE counts string (the inverse of `decode_counts`)."""
    out = []
    for i, run in enumerate(runs):
        value = int(run) - (int(runs[i - 2]) if i > 2 else 0)
        more = True
        while more:
            c = value & 0x1F
            value >>= 5
            more = not ((value == 0 and not c & 0x10) or (value == -1 and c & 0x10))
            if more:
                c |= 0x20
            out.append(chr(c + 48))
    return "".join(out)


def decode_rle(rle: dict) -> np.ndarray:
    """An RLE dict (compressed or not) -> uint8 [height, width] in {0, 1}."""
    height, width = (int(v) for v in rle["size"])
    counts = rle["counts"]
    runs = decode_counts(counts) if isinstance(counts, (str, bytes)) else [int(c) for c in counts]
    if sum(runs) != height * width:
        raise ValueError(f"RLE runs cover {sum(runs)} pixels, not {height}x{width}")
    values = np.zeros(len(runs), np.uint8)
    values[1::2] = 1
    flat = np.repeat(values, runs)
    return flat.reshape(width, height).T.copy()  # column-major


def encode_rle(mask: np.ndarray) -> dict:
    """uint8/bool [height, width] -> compressed RLE dict (for fixtures and round trips)."""
    flat = np.asarray(mask).astype(bool).T.reshape(-1)
    change = np.flatnonzero(np.diff(flat.astype(np.int8))) + 1
    bounds = np.concatenate([[0], change, [flat.size]])
    runs = np.diff(bounds).tolist()
    if flat.size and flat[0]:
        runs = [0] + runs  # runs start with 0s
    return {"size": [int(mask.shape[0]), int(mask.shape[1])], "counts": encode_counts(runs)}


def decode_polygons(polygons, height: int, width: int) -> np.ndarray:
    """COCO polygons (a list of flat [x1, y1, ...] lists, or one flat list) -> uint8 [height, width] union."""
    if len(polygons) and not isinstance(polygons[0], (list, tuple, np.ndarray)):
        polygons = [polygons]
    mask = np.zeros((height, width), bool)
    x, y = np.meshgrid(np.arange(width) + 0.5, np.arange(height) + 0.5)
    for polygon in polygons:
        points = np.asarray(polygon, np.float64).reshape(-1, 2)
        if len(points) < 3:
            continue
        inside = np.zeros((height, width), bool)
        for (x0, y0), (x1, y1) in zip(points, np.roll(points, -1, axis=0)):
            if y0 == y1:
                continue  # a horizontal edge never crosses a scanline
            crosses = ((y0 <= y) != (y1 <= y)) & (x < x0 + (y - y0) * (x1 - x0) / (y1 - y0))
            inside ^= crosses
        mask |= inside
    return mask.astype(np.uint8)


def decode_mask(segmentation, height: int, width: int) -> np.ndarray:
    """Any COCO segmentation (RLE dict, list of RLE dicts, or polygons) -> uint8 [height, width] in {0, 1}."""
    if isinstance(segmentation, dict):
        mask = decode_rle(segmentation)
    elif len(segmentation) and isinstance(segmentation[0], dict):
        mask = np.any([decode_rle(r) for r in segmentation], axis=0).astype(np.uint8)
    else:
        return decode_polygons(segmentation, height, width)
    if mask.shape != (height, width):
        raise ValueError(f"mask is {mask.shape[1]}x{mask.shape[0]}, its image {width}x{height}")
    return mask
