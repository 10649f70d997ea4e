"""Moving digits: Moving-MNIST-style clips of scikit-learn's bundled handwritten digits, with digit and direction.

Moving MNIST (Srivastava et al., 2015) moves 28x28 MNIST digits in a 64x64 frame. MNIST is a download; the 1,797
8x8 digits that ship inside scikit-learn (`sklearn.datasets.load_digits`, the UCI optical-recognition test set) are
not, so tfssl upscales those (bilinear, 8 -> 24 pixels) and moves one per clip. Unlike Moving MNIST the digit does
not bounce: it moves in a straight line, so the clip's direction is one well-defined label.

- digit: 0..9 (example index mod 10, so classes are balanced).
- direction: 0..7, `DIRECTIONS` (multiples of 45 degrees, counter-clockwise from "right", y up on screen):
  (index // 10) mod 8, so every digit moves in every direction equally often.
- speed: 2..4 pixels per frame along each moving axis for T = 8 (at most 40 // (T - 1), so the digit stays
  inside the frame); the start position is random among those that keep the whole path inside.
Digit images are split by their scikit-learn index (i mod 10 in 0..7: train, 8: validation, 9: test), so test
clips show handwriting never seen in training. Pixels are only copied and blended with fixed weights, so a clip
is byte-identical on every machine.
"""

from __future__ import annotations

import dataclasses
import functools

import numpy as np

from tfssl.data.render.objects import example_rng

SEED = 20150204  # the root of every tfssl_moving_digits example
SIZE = 64
DIGIT_SIZE = 24  # 8x8 upscaled 3x, close to Moving MNIST's 28 pixels in 64
DIRECTIONS = ("right", "up_right", "up", "up_left", "left", "down_left", "down", "down_right")
NUM_DIRECTIONS = len(DIRECTIONS)
# Unit steps (dx, dy) in pixels per frame, image coordinates (y grows downwards).
_STEPS = ((1, 0), (1, -1), (0, -1), (-1, -1), (-1, 0), (-1, 1), (0, 1), (1, 1))
_SPLIT_OF_REMAINDER = {**{r: "train" for r in range(8)}, 8: "validation", 9: "test"}
_STREAM_CLIP = 0


@functools.cache
def digit_images() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's bundled digits: (images float64 [1797, 8, 8] in [0, 1], labels int64 [1797] in 0..9)."""
    from sklearn.datasets import load_digits  # a file inside the package: nothing is downloaded

    digits = load_digits()
    return digits.images / 16.0, digits.target.astype(np.int64)


@functools.cache
def split_image_ids(split: str, digit: int) -> np.ndarray:
    """The scikit-learn indices of `digit` images that `split` uses; disjoint across splits."""
    if split not in _SPLIT_OF_REMAINDER.values():
        raise ValueError(f"Unknown split {split!r}; expected train, validation or test.")
    _, labels = digit_images()
    ids = np.arange(len(labels))
    keep = np.array([_SPLIT_OF_REMAINDER[i % 10] == split for i in ids]) & (labels == digit)
    out = ids[keep]
    out.flags.writeable = False  # cached: shared by every caller
    return out


def upscale(image: np.ndarray, factor: int = DIGIT_SIZE // 8) -> np.ndarray:
    """Bilinear upscaling with pixel-centre alignment: float [h, w] -> float [h * factor, w * factor]."""
    def axis(n):
        u = np.clip((np.arange(n * factor) + 0.5) / factor - 0.5, 0.0, n - 1.0)
        i0 = np.minimum(np.floor(u).astype(np.int64), n - 2)
        return i0, u - i0
    (r0, wr), (c0, wc) = axis(image.shape[0]), axis(image.shape[1])
    rows = image[r0] * (1.0 - wr)[:, None] + image[r0 + 1] * wr[:, None]
    return rows[:, c0] * (1.0 - wc)[None, :] + rows[:, c0 + 1] * wc[None, :]


def max_speed(num_frames: int) -> int:
    """The fastest speed (pixels per frame per axis) that keeps a straight path of `num_frames` inside the frame."""
    speed = min(4, (SIZE - DIGIT_SIZE) // max(num_frames - 1, 1))
    if speed < 1:
        raise ValueError(f"num_frames={num_frames} is too long for a {SIZE}-pixel frame; use at most "
                         f"{SIZE - DIGIT_SIZE + 1}")
    return speed


@dataclasses.dataclass(frozen=True)
class DigitClipSpec:
    digit: int
    direction: int
    image_id: int  # index into scikit-learn's digits
    speed: int
    start_x: int  # top-left corner of the digit in frame 0, pixels
    start_y: int


def sample_digit_clip(split: str, index: int, num_frames: int) -> DigitClipSpec:
    """Example `index` of `split` (see the module docstring for how labels follow the index)."""
    digit, direction = index % 10, (index // 10) % NUM_DIRECTIONS
    rng = example_rng(SEED, split, index, _STREAM_CLIP)
    ids = split_image_ids(split, digit)
    image_id = int(ids[rng.integers(len(ids))])
    top = max_speed(num_frames)
    speed = int(rng.integers(max(1, top // 2), top + 1))
    dx, dy = _STEPS[direction]
    travel = speed * (num_frames - 1)
    free = SIZE - DIGIT_SIZE

    def start(step: int) -> int:  # any start from which the whole path stays inside [0, free]
        lo, hi = (0, free - travel) if step > 0 else (travel, free) if step < 0 else (0, free)
        return int(rng.integers(lo, hi + 1))
    return DigitClipSpec(digit, direction, image_id, speed, start(dx), start(dy))


def render_digit_clip(spec: DigitClipSpec, num_frames: int) -> np.ndarray:
    """uint8 [T, 64, 64, 1]: the upscaled digit pasted along its path on black."""
    images, _ = digit_images()
    digit = np.floor(np.clip(upscale(images[spec.image_id]), 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
    dx, dy = _STEPS[spec.direction]
    video = np.zeros((num_frames, SIZE, SIZE, 1), np.uint8)
    for t in range(num_frames):
        x, y = spec.start_x + dx * spec.speed * t, spec.start_y + dy * spec.speed * t
        video[t, y:y + DIGIT_SIZE, x:x + DIGIT_SIZE, 0] = digit
    return video


def render_moving_digit_example(split: str, index: int, num_frames: int = 8) -> dict:
    """Example `index` of `split` as the `tfssl_moving_digits` builder stores it: video uint8 [T, 64, 64, 1],
    digit 0..9, direction 0..7, speed, image_id (scikit-learn index; disjoint across splits), index."""
    spec = sample_digit_clip(split, index, num_frames)
    return {"video": render_digit_clip(spec, num_frames), "digit": spec.digit, "direction": spec.direction,
            "speed": spec.speed, "image_id": spec.image_id, "index": int(index)}
