"""`tfssl_scenes`: 64x64 scenes of 2-4 overlapping textured objects with full de-occlusion ground truth.

The embedded data of PCNet (Zhan et al., "Self-Supervised Scene De-occlusion", CVPR 2020). PCNet trains on the
image and the *modal* masks only; the amodal masks, object layers, depth ranks and order matrix are there to
measure what it recovers (ordering accuracy, amodal mIoU, content completion), which COCOA and KINS annotate only
in part. Rendering: `tfssl.data.render.scenes` (hard edges, no drop shadows, held-out shape models per split).

Objects are stored as padded tensors of `MAX_OBJECTS` slots (fixed shapes keep tf.data simple); slots at and
after `num_objects` are zero, with category 0 and depth -1. Slot order is painting order (slot 0 is farthest),
which leaks depth: consumers that must not know it (ordering inference) receive the masks only.

Configs follow tfssl's `<variant>[_size]` naming (`tfssl.data.dataset_size` appends the size): `base` (the
default: 8000/500/1000 train/validation/test scenes, prepares in about a minute), `base_small` (256/64/128, for
tests and smoke runs; a prefix of `base`) and `base_large` (50000/2000/5000). Name the dataset
`tfssl_scenes/base` in gin so that gin/smoke.gin's `dataset_size = 'small'` picks `base_small`.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import tensorflow_datasets as tfds

from tfssl.data.builders.rendered import Rendered
from tfssl.data.render import scenes

IMAGE_SIZE = 64
MAX_OBJECTS = scenes.MAX_OBJECTS
VARIANT = "base"  # one scene variant so far (64 px, 2-4 objects); sizes are suffixes as in tfssl_objects
SIZES = {"": (8000, 500, 1000), "_small": (256, 64, 128), "_large": (50000, 2000, 5000)}

_CITATION = """\
@inproceedings{zhan2020self,
  title={Self-Supervised Scene De-occlusion},
  author={Zhan, Xiaohang and Pan, Xingang and Dai, Bo and Liu, Ziwei and Lin, Dahua and Loy, Chen Change},
  booktitle={CVPR},
  year={2020}
}"""


@dataclasses.dataclass(eq=False)
class TfsslScenesConfig(tfds.core.BuilderConfig):
    """Split sizes and the object-count range."""

    num_train: int = 8000
    num_validation: int = 500
    num_test: int = 1000
    min_objects: int = 2
    max_objects: int = MAX_OBJECTS

    @property
    def split_sizes(self) -> dict[str, int]:
        return {"train": self.num_train, "validation": self.num_validation, "test": self.num_test}


def _make_configs() -> list[TfsslScenesConfig]:
    return [TfsslScenesConfig(name=VARIANT + suffix, description=f"{n_train}/{n_val}/{n_test} train/validation/"
                              f"test scenes of 2-{MAX_OBJECTS} objects, {IMAGE_SIZE}x{IMAGE_SIZE}",
                              num_train=n_train, num_validation=n_val, num_test=n_test)
            for suffix, (n_train, n_val, n_test) in SIZES.items()]


def scene_example(split: str, index: int, config: TfsslScenesConfig) -> dict:
    """Example `index` of `split` as the builder stores it (numpy; objects padded to MAX_OBJECTS slots)."""
    s = IMAGE_SIZE
    scene = scenes.render_scene(split, index, s, config.min_objects, config.max_objects)
    n = len(scene.category)
    depth = scenes.depth_rank(n)
    order = scenes.order_matrix(scene.modal, scene.amodal, depth)

    def pad(array, value=0):
        out = np.full((MAX_OBJECTS,) + array.shape[1:], value, array.dtype)
        out[:n] = array
        return out

    order_padded = np.zeros((MAX_OBJECTS, MAX_OBJECTS), np.int8)
    order_padded[:n, :n] = order
    return {
        "image": scene.image,
        "background": scene.background,
        "modal": pad(scene.modal),
        "amodal": pad(scene.amodal),
        "layers": pad(scene.layers),
        "category": pad(scene.category),
        "depth": pad(depth, -1),
        "order": order_padded,
        "model_id": pad(scene.model_id, -1),
        "num_objects": n,
        "index": int(index),
    }


class TfsslScenes(Rendered, tfds.core.GeneratorBasedBuilder):
    """Procedural multi-object scenes with modal/amodal masks, layers and occlusion order (module docstring)."""

    UNIT = "scenes"
    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "Initial release."}
    BUILDER_CONFIGS = _make_configs()
    DEFAULT_BUILDER_CONFIG_NAME = VARIANT

    def _info(self) -> tfds.core.DatasetInfo:
        s, k = IMAGE_SIZE, MAX_OBJECTS
        zlib = tfds.features.Encoding.ZLIB

        def masks(doc):
            return tfds.features.Tensor(shape=(k, s, s), dtype=np.uint8, encoding=zlib, doc=doc)

        return self.dataset_info_from_configs(
            description=__doc__,
            features=tfds.features.FeaturesDict({
                "image": tfds.features.Image(shape=(s, s, 3)),
                "background": tfds.features.Image(shape=(s, s, 3), doc="the scene without objects"),
                "modal": masks("visible masks {0, 1}, disjoint, per object slot"),
                "amodal": masks("full masks {0, 1} per object slot"),
                "layers": tfds.features.Tensor(shape=(k, s, s, 3), dtype=np.uint8, encoding=zlib,
                                               doc="each object's full RGB alone, 0 outside its amodal mask"),
                "category": tfds.features.Tensor(shape=(k,), dtype=np.int64, doc="1..10, 0 = empty slot"),
                "depth": tfds.features.Tensor(shape=(k,), dtype=np.int64, doc="0 = front, -1 = empty slot"),
                "order": tfds.features.Tensor(shape=(k, k), dtype=np.int8,
                                              doc="O[i, j] = 1: i hides part of j; -1: j hides part of i"),
                "model_id": tfds.features.Tensor(shape=(k,), dtype=np.int64, doc="shape model, -1 = empty"),
                "num_objects": tfds.features.Scalar(np.int64, doc="objects in the scene, in slots 0..n-1"),
                "index": tfds.features.Scalar(np.int64, doc="index within the split, 0..N-1"),
            }),
            citation=_CITATION,
        )

    def _split_generators(self, dl_manager):
        del dl_manager  # nothing to download: the data is rendered
        return {split: self._generate_examples(split, n) for split, n in self.builder_config.split_sizes.items()}

    def _generate_examples(self, split: str, num_examples: int):
        for index in range(num_examples):
            yield index, scene_example(split, index, self.builder_config)
