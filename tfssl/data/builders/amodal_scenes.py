"""What the real amodal datasets (COCOA, KINS) share: their TFDS features and the manual-files check.

The features mirror `tfssl_scenes` where the annotations allow, so `tfssl.data.scene_pair_dataset` (PCNet's
samples), the de-occlusion library and its evaluation read real and synthetic scenes alike: image, modal and amodal
masks [N, H, W], category [N], num_objects, index (and order [N, N] where the dataset annotates one). Images keep
their size and N varies per image (no padding). Instances whose visible mask is empty (fully occluded: nothing of
them is in the image, and PCNet works from visible masks) are dropped.
"""

from __future__ import annotations

import os
from typing import Sequence

import numpy as np
import tensorflow_datasets as tfds

from tfssl.errors import DataError


def features(with_order: bool) -> tfds.features.FeaturesDict:
    """The FeaturesDict of a real amodal dataset (variable image size and instance count)."""
    zlib = tfds.features.Encoding.ZLIB
    spec = {
        "image": tfds.features.Image(shape=(None, None, 3), encoding_format="jpeg"),
        "modal": tfds.features.Tensor(shape=(None, None, None), dtype=np.uint8, encoding=zlib,
                                      doc="visible masks {0, 1} [N, H, W]"),
        "amodal": tfds.features.Tensor(shape=(None, None, None), dtype=np.uint8, encoding=zlib,
                                       doc="full (amodal) masks {0, 1} [N, H, W]"),
        "category": tfds.features.Tensor(shape=(None,), dtype=np.int64, doc="category ids >= 1"),
        "num_objects": tfds.features.Scalar(np.int64, doc="N"),
        "index": tfds.features.Scalar(np.int64, doc="position of the image in its split"),
        "image_id": tfds.features.Scalar(np.int64, doc="the dataset's image id"),
    }
    if with_order:
        spec["order"] = tfds.features.Tensor(shape=(None, None), dtype=np.int8, encoding=zlib,
                                             doc="O[i, j] = 1: i occludes j; -1: j occludes i; 0: unknown")
    return tfds.features.FeaturesDict(spec)


def manual_root(dl_manager, dataset: str, required: Sequence[str]) -> str:
    """The manual_dir, after checking that every required file or folder is in it (else one DataError naming
    the missing ones and the folder)."""
    try:
        root = os.fspath(dl_manager.manual_dir)
    except AssertionError:  # TFDS: the manual folder does not exist at all
        root = os.fspath(getattr(dl_manager, "_manual_dir", None) or os.path.join(dl_manager.download_dir, "manual"))
    missing = [name for name in required if not os.path.exists(os.path.join(root, name))]
    if missing:
        raise DataError(f"dataset '{dataset}' needs {', '.join(missing)} in {root}; download them from the "
                        "dataset's website into that folder (or bind tfssl.data.load_builder.manual_dir)")
    return root


def scene_example(image_path: str, image_id: int, index: int, modal: np.ndarray, amodal: np.ndarray,
                  category: np.ndarray, order: np.ndarray | None = None) -> dict:
    """One example: drops instances with an empty visible mask (and their rows/columns of `order`).

    Args:
      image_path: the image file (TFDS encodes it).
      modal, amodal: uint8 [N, H, W] {0, 1}; category: int [N]; order: int [N, N] or None.
    """
    keep = np.asarray(modal).reshape(len(modal), -1).any(axis=1) if len(modal) else np.zeros(0, bool)
    height, width = (modal.shape[1:] if len(modal) else amodal.shape[1:])
    example = {
        "image": image_path,
        "modal": np.asarray(modal, np.uint8)[keep].reshape(-1, height, width),
        "amodal": np.asarray(amodal, np.uint8)[keep].reshape(-1, height, width),
        "category": np.asarray(category, np.int64)[keep],
        "num_objects": int(keep.sum()),
        "index": int(index),
        "image_id": int(image_id),
    }
    if order is not None:
        example["order"] = np.asarray(order, np.int8)[np.ix_(keep, keep)]
    return example
