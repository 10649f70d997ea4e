"""`sprites_npy`: Li & Mandt's Sprites clips (ICML 2018), read from the npy files their generator writes.

The user generates the data with Li & Mandt's public Sprites scripts (Liberated Pixel Cup sprite sheets) and puts
the `npy/` folder (or its contents) in manual_dir. For each action in walk, spellcard, slash and direction in
front, left, right there are four files:

  {action}_{direction}_frames_{split}.npy      float [N, 8, 64, 64, 3], values in [0, 1]
  {action}_{direction}_attributes_{split}.npy  one-hot [N, 8, 4, 6]: per frame, body, bottom, top, hair

with split in train, test (9000 / 2664 clips: 1000 / 296 characters in 9 actions). The action label is
3 * action + direction in that order (the numbering of their loaders, which tfssl_sprites shares), and the
attributes are those of frame 0 (they never change within a clip). Frames are stored as uint8: values that are
multiples of 1/256 (the generator divides by 256) map to k exactly, others are rounded from x * 255.
"""

from __future__ import annotations

import os

import numpy as np
import tensorflow_datasets as tfds

from tfssl.data.render import sprites

ACTION_FILES = ("walk", "spellcard", "slash")  # the generator's names; tfssl_sprites calls the second spellcast
DIRECTION_FILES = ("front", "left", "right")
FILE_ATTRIBUTES = ("body", "bottom", "top", "hair")  # the order of the attribute axis in the files
SPLITS = ("train", "test")


def file_names(split: str) -> list[tuple[int, str, str]]:
    """[(action label, frames file, attributes file)] of a split, in label order."""
    return [(3 * a + d, f"{action}_{direction}_frames_{split}.npy", f"{action}_{direction}_attributes_{split}.npy")
            for a, action in enumerate(ACTION_FILES) for d, direction in enumerate(DIRECTION_FILES)]


def find_folder(manual_dir: str) -> str:
    """manual_dir/npy if it exists, else manual_dir."""
    nested = os.path.join(manual_dir, "npy")
    return nested if os.path.isdir(nested) else manual_dir


def missing_files(folder: str) -> list[str]:
    return [name for split in SPLITS for _, frames, attrs in file_names(split) for name in (frames, attrs)
            if not os.path.exists(os.path.join(folder, name))]


def to_uint8(frames: np.ndarray) -> np.ndarray:
    """Frames as stored (float in [0, 1], or uint8) -> uint8 [..., 3]."""
    if frames.dtype == np.uint8:
        return frames
    x = np.asarray(frames, np.float64)
    steps = x * 256.0
    scale = 256.0 if np.all(np.abs(steps - np.round(steps)) < 1e-3) and x.max() <= 255.5 / 256.0 else 255.0
    return np.clip(np.round(x * scale), 0, 255).astype(np.uint8)


def attribute_labels(attributes: np.ndarray) -> dict[str, np.ndarray]:
    """One-hot [N, T, 4, 6] (body, bottom, top, hair) -> {name: int64 [N]} from frame 0."""
    if attributes.ndim != 4 or attributes.shape[2:] != (len(FILE_ATTRIBUTES), sprites.NUM_VALUES):
        raise ValueError(f"attributes must be one-hot [N, T, 4, 6], got shape {attributes.shape}")
    first = np.argmax(attributes[:, 0], axis=-1)  # [N, 4]
    return {name: first[:, i].astype(np.int64) for i, name in enumerate(FILE_ATTRIBUTES)}


class SpritesNpy(tfds.core.GeneratorBasedBuilder):
    """Li & Mandt's Sprites from manual_dir (see the module docstring)."""

    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "Initial release."}
    MANUAL_DOWNLOAD_INSTRUCTIONS = (
        "Generate Sprites with Li & Mandt's scripts and place the npy/ folder (36 files: "
        "{walk,spellcard,slash}_{front,left,right}_{frames,attributes}_{train,test}.npy) in manual_dir.")

    def _info(self) -> tfds.core.DatasetInfo:
        t, s = sprites.NUM_FRAMES, 64
        return tfds.core.DatasetInfo(
            builder=self,
            description=__doc__,
            features=tfds.features.FeaturesDict({
                "video": tfds.features.Tensor(shape=(t, s, s, 3), dtype=np.uint8,
                                              encoding=tfds.features.Encoding.ZLIB, doc="RGB frames"),
                "action": tfds.features.ClassLabel(names=sprites.ACTIONS),
                **{name: tfds.features.ClassLabel(num_classes=sprites.NUM_VALUES) for name in sprites.ATTRIBUTES},
                "index": tfds.features.Scalar(np.int64, doc="index within the split, 0..N-1"),
            }),
            supervised_keys=("video", "action"),
        )

    def _split_generators(self, dl_manager):
        folder = find_folder(dl_manager.manual_dir)
        missing = missing_files(folder)
        if missing:
            raise FileNotFoundError(f"{len(missing)} Sprites files missing from {folder}, e.g. "
                                    f"{', '.join(missing[:3])}; generate them with Li & Mandt's Sprites scripts")
        return {split: self._generate_examples(folder, split) for split in SPLITS}

    def _generate_examples(self, folder: str, split: str):
        index = 0
        for action, frames_file, attributes_file in file_names(split):
            frames = np.load(os.path.join(folder, frames_file), mmap_mode="r")
            labels = attribute_labels(np.load(os.path.join(folder, attributes_file)))
            if frames.ndim != 5 or frames.shape[1:] != (sprites.NUM_FRAMES, 64, 64, 3):
                raise ValueError(f"{frames_file}: frames must be [N, 8, 64, 64, 3], got {frames.shape}")
            if len(frames) != len(labels["body"]):
                raise ValueError(f"{frames_file} has {len(frames)} clips but {attributes_file} has "
                                 f"{len(labels['body'])}")
            for n in range(len(frames)):
                yield index, {"video": to_uint8(np.asarray(frames[n])), "action": action, "index": index,
                              **{k: int(v[n]) for k, v in labels.items()}}
                index += 1
