"""What the real keypoint-video builders share (`simple_human36m`, `penn_action`): configs, features, the clip
layout, the person crop and the manual_dir checks.

Both builders give KeypointGAN (Jakab et al., CVPR 2020) what `tfssl_figures` gives it, so `frame_pair_dataset`,
`frame_dataset` and `pose_prior_dataset` read them unchanged:
  - video configs (`base`, `base_64`): clips {video uint8 [T, S, S, 3], joints float32 [T, K, 2] (x, y) in pixels
    of the S x S frame (pixel c centred at c + 0.5, x along the width, y down), index int64, and a class label};
  - prior configs (`prior`, `prior_64`): single poses {joints float32 [K, 2] in the same pixels, index int64}.

Clips. A real sequence has tens (Penn Action) to thousands (Human3.6M) of frames, too many to decode for every
pair. A sequence of N frames is cut into C = max(1, N // clip_length) interleaved clips, clip j holding frames
j, j + C, j + 2C, ... in time order: every frame is in exactly one clip, every clip spans the whole sequence (so the
two frames of a pair can be as far apart as in the reference, which draws them anywhere in the sequence), and a clip
has clip_length to 2 * clip_length - 1 frames (N when N < clip_length; sequences of fewer than 2 frames are
skipped: a pair needs two).

Frames are stored as JPEG (TFDS's Video feature), so pixels differ from the decoded source by JPEG noise.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Sequence

import numpy as np
import tensorflow_datasets as tfds
from PIL import Image

from tfssl.errors import DataError

CLIP_LENGTH = 16
# size suffix -> frame side S: the papers' 128 px, and 64 px for CPU-scale runs (the embedded default's size).
SIZES = {"": 128, "_64": 64}
VIDEO_VARIANT, PRIOR_VARIANT = "base", "prior"


@dataclasses.dataclass(eq=False)
class PoseVideoConfig(tfds.core.BuilderConfig):
    """Videos (`prior=False`) or prior poses (`prior=True`) at `image_size` pixels."""

    prior: bool = False
    image_size: int = 128
    clip_length: int = CLIP_LENGTH


def make_configs(what: str) -> list[PoseVideoConfig]:
    """`base`, `prior` (128 px) and `base_64`, `prior_64`; `what` names the data in the descriptions."""
    configs = []
    for suffix, size in SIZES.items():
        configs.append(PoseVideoConfig(
            name=VIDEO_VARIANT + suffix, image_size=size,
            description=f"{what}: clips of {CLIP_LENGTH} to {2 * CLIP_LENGTH - 1} frames, {size}x{size}, with joints"))
        configs.append(PoseVideoConfig(
            name=PRIOR_VARIANT + suffix, prior=True, image_size=size,
            description=f"{what}: single poses (joints only) in {size}x{size} frames, for the unpaired prior"))
    return configs


def features(config: PoseVideoConfig, num_joints: int, label: str, label_names: Sequence[str]) -> dict:
    """The FeaturesDict contents of a config (see the module docstring)."""
    s, k = config.image_size, num_joints
    common = {label: tfds.features.ClassLabel(names=list(label_names)),
              "index": tfds.features.Scalar(np.int64, doc="index within the split, 0..N-1")}
    if config.prior:
        return {**common, "joints": tfds.features.Tensor(
            shape=(k, 2), dtype=np.float32, doc=f"joints (x, y) in pixels of a {s}x{s} frame, y down")}
    return {**common,
            "video": tfds.features.Video(shape=(None, s, s, 3), encoding_format="jpeg"),
            "joints": tfds.features.Tensor(shape=(None, k, 2), dtype=np.float32,
                                           doc=f"per-frame joints (x, y) in pixels of the {s}x{s} frames, y down"),
            "visible": tfds.features.Tensor(shape=(None, k), dtype=np.bool_,
                                            doc="per-frame joint visibility (all true where not annotated)")}


def interleaved_clips(num_frames: int, clip_length: int = CLIP_LENGTH) -> list[list[int]]:
    """Positions 0..num_frames-1 cut into interleaved clips (module docstring); [] for fewer than 2 frames."""
    if num_frames < 2:
        return []
    count = max(1, num_frames // clip_length)
    return [list(range(j, num_frames, count)) for j in range(count)]


def halves(frames: Sequence) -> tuple[list, list]:
    """The first and second halves of a sequence's frames (the first is the shorter for odd lengths)."""
    frames = list(frames)
    return frames[:len(frames) // 2], frames[len(frames) // 2:]


def square_box(box: Sequence[float]) -> np.ndarray:
    """(x0, y0, x1, y1) -> the square of side max(w, h) with the same centre, as int64 (x0, y0, x1, y1) pixels.

    The square may reach outside the frame: `crop_square` pads with black there, so the person keeps its aspect
    ratio and its place in the crop."""
    x0, y0, x1, y1 = (float(v) for v in box)
    side = max(x1 - x0, y1 - y0, 1.0)
    cx, cy = (x0 + x1) / 2.0, (y0 + y1) / 2.0
    left, top = int(np.floor(cx - side / 2.0)), int(np.floor(cy - side / 2.0))
    side = int(np.ceil(side))
    return np.array([left, top, left + side, top + side], np.int64)


def crop_square(image: np.ndarray, box: Sequence[int], size: int) -> np.ndarray:
    """Crops uint8 [H, W, 3] to the integer square `box` (x0, y0, x1, y1), black outside the image, and resizes it
    to uint8 [size, size, 3] (PIL bilinear, which low-pass filters when shrinking)."""
    x0, y0, x1, y1 = (int(v) for v in box)
    h, w = image.shape[:2]
    out = np.zeros((y1 - y0, x1 - x0, 3), np.uint8)
    sx0, sy0, sx1, sy1 = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
    if sx1 > sx0 and sy1 > sy0:
        out[sy0 - y0:sy1 - y0, sx0 - x0:sx1 - x0] = image[sy0:sy1, sx0:sx1]
    return resize(out, size)


def resize(image: np.ndarray, size: int) -> np.ndarray:
    """uint8 [H, W, 3] -> uint8 [size, size, 3] (unchanged when already that size)."""
    if image.shape[0] == size and image.shape[1] == size:
        return image
    return np.asarray(Image.fromarray(image).resize((size, size), Image.BILINEAR))


def joints_in_crop(joints: np.ndarray, box: Sequence[int], size: int) -> np.ndarray:
    """Joints (x, y) in pixels of the source frame -> pixels of the crop `box` resized to size x size.

    Pixel coordinates are continuous with pixel c covering [c, c + 1), so the crop's left edge x0 maps to 0 and its
    right edge x1 to size."""
    x0, y0, x1, _ = (float(v) for v in box)
    scale = size / (x1 - x0)
    return ((np.asarray(joints, np.float64) - [x0, y0]) * scale).astype(np.float32)


def read_rgb(path: str) -> np.ndarray:
    """An image file -> uint8 [H, W, 3] (grey and RGBA converted). Raises DataError if it cannot be read."""
    try:
        with Image.open(path) as image:
            return np.asarray(image.convert("RGB"))
    except (OSError, ValueError) as error:
        raise DataError(f"cannot read image {path} ({error}); replace it with the dataset's original file") from error


def manual_root(dl_manager) -> str:
    """TFDS's manual_dir as a path (TFDS asserts that the folder exists and is not empty; here a missing folder is
    reported with the files the builder needs, so the message can say what to put where)."""
    try:
        return os.fspath(dl_manager.manual_dir)
    except AssertionError:
        return os.fspath(getattr(dl_manager, "_manual_dir", None) or os.path.join(dl_manager.download_dir, "manual"))


def require(root: str, required: Sequence[str], dataset: str, what: str) -> None:
    """Raises one DataError naming the first missing paths under root and what to put there."""
    missing = [name for name in required if not os.path.exists(os.path.join(root, name))]
    if missing:
        shown = ", ".join(missing[:3]) + (f" (and {len(missing) - 3} more)" if len(missing) > 3 else "")
        raise DataError(f"dataset '{dataset}' is missing {shown} in {root}; {what} (or bind "
                        "tfssl.data.load_builder.manual_dir to the folder that holds them)")
