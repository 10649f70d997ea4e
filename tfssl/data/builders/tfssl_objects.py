"""`tfssl_objects`: 64x64 single-object images with class, pose and mask ground truth, rendered offline.

A 2D analogue of the synthetic benchmark of Newell & Deng, "How Useful is Self-Supervised Pretraining for Visual
Tasks?" (CVPR 2020): ten shape classes with held-out shape models per split (their unseen ShapeNet models) and
16 configurations switching their four factors Texture, Colour, Viewpoint and Lighting on or off. Nothing is
downloaded: every example is a pure function of (config, split, index) (`tfssl.data.render.objects`), so a
config prepares to byte-identical examples on every machine.

Config names: a 4-character factor code in the order T, C, V, L (the lowercase letter when the factor is on, '0'
when off: `tc0l`, `tcvl`, `0000`, ...) plus a size suffix: none (20000/1000/2000 train/validation/test),
`_small` (512/128/256, for tests) or `_large` (100000/5000/10000). The default, `tc0l`, is the hard setting
that the spec asks of embedded defaults (raw pixels score low): textures, random colours and lighting on, shapes
upright. Configurations share their random streams, so example i of each factor code shows the same class,
shape model, position and pose bin, and `_small` is a prefix of the default size.

Appearance-pool configs (issue #21): `<code>_pool` plus the same size suffixes (`tc00_pool`, `tc00_pool_small`,
`tc0l_pool_large`, ...), for the 8 codes with Colour on. There every object's fill comes from a pool of 16 fills and
every background from a pool of 16 backgrounds, shared by all classes, instances and splits and drawn independently
of class and shape (`objects.sample_pool_appearance`), so appearance cannot identify an instance (or a class) while
the held-out shapes per split stay as usual. Example i shows the class, shape, placement, pose and lighting of
example i of the same code without the pool; with Lighting on the lighting is still each example's own. The
existing configs' examples are unchanged (the pool draws from its own streams).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import tensorflow_datasets as tfds

from tfssl.data.builders.rendered import Rendered
from tfssl.data.render import objects, shapes

IMAGE_SIZE = 64
DEFAULT_CONFIG = "tc0l"
POOL_SUFFIX = "_pool"  # the appearance-pool configs: <code>_pool<size suffix>
# suffix -> (train, validation, test) sizes
SIZES = {
    "": (20000, 1000, 2000),
    "_small": (512, 128, 256),
    "_large": (100000, 5000, 10000),
}

_CITATION = """\
@inproceedings{newell2020useful,
  title={How Useful is Self-Supervised Pretraining for Visual Tasks?},
  author={Newell, Alejandro and Deng, Jia},
  booktitle={CVPR},
  year={2020}
}"""


@dataclasses.dataclass(eq=False)
class TfsslObjectsConfig(tfds.core.BuilderConfig):
    """A factor setting (`objects.Factors`) and split sizes."""

    factors: objects.Factors = objects.Factors()
    appearance_pool: int = 0  # 0: each instance its own fill and background; K: from a pool of K of each
    num_train: int = 20000
    num_validation: int = 1000
    num_test: int = 2000

    @property
    def split_sizes(self) -> dict[str, int]:
        return {"train": self.num_train, "validation": self.num_validation, "test": self.num_test}


def _make_configs() -> list[TfsslObjectsConfig]:
    configs = []
    for suffix, (n_train, n_val, n_test) in SIZES.items():
        for factors in objects.ALL_FACTORS:
            configs.append(TfsslObjectsConfig(
                name=factors.code + suffix,
                description=(f"Factors T,C,V,L = {factors.code} ({factors.describe()}); "
                             f"{n_train}/{n_val}/{n_test} train/validation/test images."),
                factors=factors,
                num_train=n_train,
                num_validation=n_val,
                num_test=n_test,
            ))
    for suffix, (n_train, n_val, n_test) in SIZES.items():
        for factors in (f for f in objects.ALL_FACTORS if f.colour):
            configs.append(TfsslObjectsConfig(
                name=factors.code + POOL_SUFFIX + suffix,
                description=(f"Factors T,C,V,L = {factors.code} ({factors.describe()}), object fills and "
                             f"backgrounds from a pool of {objects.APPEARANCE_POOL} each shared by all classes and "
                             f"instances; {n_train}/{n_val}/{n_test} train/validation/test images."),
                factors=factors,
                appearance_pool=objects.APPEARANCE_POOL,
                num_train=n_train,
                num_validation=n_val,
                num_test=n_test,
            ))
    return configs


class TfsslObjects(Rendered, tfds.core.GeneratorBasedBuilder):
    """Procedural single-object images with Newell & Deng's T, C, V, L factors (see the module docstring)."""

    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "Initial release."}
    BUILDER_CONFIGS = _make_configs()
    DEFAULT_BUILDER_CONFIG_NAME = DEFAULT_CONFIG

    def _info(self) -> tfds.core.DatasetInfo:
        s = IMAGE_SIZE
        return self.dataset_info_from_configs(
            description=__doc__,
            features=tfds.features.FeaturesDict({
                "image": tfds.features.Image(shape=(s, s, 3)),
                "label": tfds.features.ClassLabel(names=shapes.CLASS_NAMES),
                "pose": tfds.features.ClassLabel(num_classes=objects.NUM_POSES),
                "mask": tfds.features.Image(shape=(s, s, 1), doc="object mask, values {0, 1}"),
                "index": tfds.features.Scalar(np.int64, doc="index within the split, 0..N-1"),
                "model_id": tfds.features.Scalar(np.int64, doc="shape model; disjoint across splits"),
                "angle": tfds.features.Scalar(np.float32, doc="in-plane rotation, degrees"),
            }),
            supervised_keys=("image", "label"),
            citation=_CITATION,
        )

    def _split_generators(self, dl_manager):
        del dl_manager  # nothing to download: the data is rendered
        return {split: self._generate_examples(split, n) for split, n in self.builder_config.split_sizes.items()}

    def _generate_examples(self, split: str, num_examples: int):
        factors, pool = self.builder_config.factors, self.builder_config.appearance_pool
        for index in range(num_examples):
            ex = objects.render_object_example(factors, split, index, IMAGE_SIZE, appearance_pool=pool)
            ex["angle"] = np.float32(ex["angle"])
            yield index, ex
