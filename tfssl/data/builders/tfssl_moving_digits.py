"""`tfssl_moving_digits`: Moving-MNIST-style clips of scikit-learn's bundled digits with digit and direction labels.

S3VAE (Zhu et al., CVPR 2020) evaluates on Moving MNIST, whose digits are a download; this builder moves
scikit-learn's bundled 8x8 digits instead (`tfssl.data.render.moving_digits`), one per clip, in a straight line in
one of 8 directions, so that the static factor (digit) and the dynamic one (direction) are both labelled. Test
clips use handwriting never seen in training. Every example is a pure function of (config, split, index).

Configs: `default` and `small` have T = 8 frames (10000 / 1000 / 2000 and 512 / 128 / 256 train / validation /
test clips); `t15` and `t15_small` have the paper's T = 15. Frames are stored grey ([T, 64, 64, 1]); the clip
pipeline turns them into RGB.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import tensorflow_datasets as tfds

from tfssl.data.builders.rendered import Rendered
from tfssl.data.render import moving_digits

SIZES = {"": (10000, 1000, 2000), "_small": (512, 128, 256)}
FRAMES = {"default": 8, "t15": 15}

_CITATION = """\
@inproceedings{srivastava2015unsupervised,
  title={Unsupervised Learning of Video Representations using LSTMs},
  author={Srivastava, Nitish and Mansimov, Elman and Salakhutdinov, Ruslan},
  booktitle={ICML},
  year={2015}
}"""


@dataclasses.dataclass(eq=False)
class TfsslMovingDigitsConfig(tfds.core.BuilderConfig):
    """Frames per clip and split sizes."""

    num_frames: int = 8
    num_train: int = 10000
    num_validation: int = 1000
    num_test: int = 2000

    @property
    def split_sizes(self) -> dict[str, int]:
        return {"train": self.num_train, "validation": self.num_validation, "test": self.num_test}


def _make_configs() -> list[TfsslMovingDigitsConfig]:
    configs = []
    for base, frames in FRAMES.items():
        for suffix, (n_train, n_val, n_test) in SIZES.items():
            name = ("small" if base == "default" and suffix else base + suffix)
            configs.append(TfsslMovingDigitsConfig(
                name=name, description=f"{frames} frames; {n_train}/{n_val}/{n_test} train/validation/test clips.",
                num_frames=frames, num_train=n_train, num_validation=n_val, num_test=n_test))
    return configs


class TfsslMovingDigits(Rendered, tfds.core.GeneratorBasedBuilder):
    """Moving handwritten digits with digit and direction labels (see the module docstring)."""

    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "Initial release."}
    BUILDER_CONFIGS = _make_configs()
    DEFAULT_BUILDER_CONFIG_NAME = "default"
    UNIT = "clips"
    SECONDS_PER_EXAMPLE = 0.002

    def _info(self) -> tfds.core.DatasetInfo:
        t, s = self.builder_config.num_frames, moving_digits.SIZE
        return self.dataset_info_from_configs(
            description=__doc__,
            features=tfds.features.FeaturesDict({
                "video": tfds.features.Tensor(shape=(t, s, s, 1), dtype=np.uint8,
                                              encoding=tfds.features.Encoding.ZLIB, doc="grey frames"),
                "digit": tfds.features.ClassLabel(num_classes=10),
                "direction": tfds.features.ClassLabel(names=moving_digits.DIRECTIONS),
                "speed": tfds.features.Scalar(np.int64, doc="pixels per frame along each moving axis"),
                "image_id": tfds.features.Scalar(np.int64, doc="scikit-learn digit index; disjoint across splits"),
                "index": tfds.features.Scalar(np.int64, doc="index within the split, 0..N-1"),
            }),
            supervised_keys=("video", "digit"),
            citation=_CITATION,
        )

    def _split_generators(self, dl_manager):
        del dl_manager  # nothing to download: the data is rendered
        return {split: self._generate_examples(split, n) for split, n in self.builder_config.split_sizes.items()}

    def _generate_examples(self, split: str, num_examples: int):
        frames = self.builder_config.num_frames
        for index in range(num_examples):
            yield index, moving_digits.render_moving_digit_example(split, index, frames)
