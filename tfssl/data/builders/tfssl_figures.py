"""`tfssl_figures`: videos of one articulated 2D figure with ground-truth joints, and an unpaired pose prior.

The embedded data of KeypointGAN (Jakab, Gupta, Bilen, Vedaldi, "Self-supervised Learning of Interpretable
Keypoints from Unlabelled Videos", CVPR 2020), which trains on frame pairs (x, x') of the same video and an
*unpaired* set of example poses. Rendering: `tfssl.data.render.figures` (15 joints, 14 limbs, six periodic motions
with noise, textured clothes and backgrounds); every example is a pure function of (config, split, index).

Two kinds of config:
  - `base` (videos): clips of `NUM_FRAMES` 64x64 frames with `joints` [T, 15, 2] in pixels. Splits train /
    validation / test; each split draws its figures and motions from its own pool, so the test videos show figures
    and motions never seen in training.
  - `prior` (poses only): single poses `joints` [15, 2] from sequences of a fourth pool of figures and motions,
    disjoint from every video split's: the unpaired prior (train) and held-out poses (validation) for checking a
    keypoint regressor on rendered skeletons.
Sizes follow tfssl's `<variant>[_size]` naming: `base` 1000/50/200 clips (about two minutes to prepare on two
cores), `base_small` 32/8/16 (tests; a prefix of `base`), `base_large` 5000/250/1000; `prior` 20000/1000 poses,
`prior_small` 512/128, `prior_large` 100000/5000. Name them `tfssl_figures/base` and `tfssl_figures/prior` in gin
so that gin/smoke.gin's `dataset_size = 'small'` picks the `_small` ones.

Joint coordinates: (x, y) in pixels, x along the width, y down, pixel (row r, column c) centred at (c + 0.5,
r + 0.5). `tfssl.data.pipelines` turns them into [-1, 1] coordinates for the skeleton renderer.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import tensorflow_datasets as tfds

from tfssl.data.builders.rendered import Rendered
from tfssl.data.render import figures

IMAGE_SIZE = 64
NUM_FRAMES = 16
VIDEO_VARIANT, PRIOR_VARIANT = "base", "prior"
# suffix -> (train, validation, test) clips, and (train, validation) prior poses
VIDEO_SIZES = {"": (1000, 50, 200), "_small": (32, 8, 16), "_large": (5000, 250, 1000)}
PRIOR_SIZES = {"": (20000, 1000), "_small": (512, 128), "_large": (100000, 5000)}

_CITATION = """\
@inproceedings{jakab2020self,
  title={Self-supervised Learning of Interpretable Keypoints from Unlabelled Videos},
  author={Jakab, Tomas and Gupta, Ankush and Bilen, Hakan and Vedaldi, Andrea},
  booktitle={CVPR},
  year={2020}
}"""


@dataclasses.dataclass(eq=False)
class TfsslFiguresConfig(tfds.core.BuilderConfig):
    """Videos (`prior=False`: train/validation/test clips) or prior poses (`prior=True`: train/validation)."""

    prior: bool = False
    num_train: int = 1000
    num_validation: int = 50
    num_test: int = 200

    @property
    def split_sizes(self) -> dict[str, int]:
        sizes = {"train": self.num_train, "validation": self.num_validation}
        return sizes if self.prior else {**sizes, "test": self.num_test}


def _make_configs() -> list[TfsslFiguresConfig]:
    configs = [TfsslFiguresConfig(
        name=VIDEO_VARIANT + suffix, num_train=n_train, num_validation=n_val, num_test=n_test,
        description=f"{n_train}/{n_val}/{n_test} train/validation/test clips of {NUM_FRAMES} frames, "
                    f"{IMAGE_SIZE}x{IMAGE_SIZE}, one figure each, with its joints per frame")
        for suffix, (n_train, n_val, n_test) in VIDEO_SIZES.items()]
    configs += [TfsslFiguresConfig(
        name=PRIOR_VARIANT + suffix, prior=True, num_train=n_train, num_validation=n_val, num_test=0,
        description=f"{n_train}/{n_val} train/validation poses (joints only) from figures and motions disjoint "
                    "from the videos'")
        for suffix, (n_train, n_val) in PRIOR_SIZES.items()]
    return configs


class TfsslFigures(Rendered, tfds.core.GeneratorBasedBuilder):
    """Articulated-figure videos with 2D joints, and an unpaired pose prior (see the module docstring)."""

    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "Initial release."}
    BUILDER_CONFIGS = _make_configs()
    DEFAULT_BUILDER_CONFIG_NAME = VIDEO_VARIANT

    @property
    def UNIT(self) -> str:  # noqa: N802  (the Rendered mixin's class attribute, per config here)
        return "poses" if self.builder_config.prior else f"clips of {NUM_FRAMES} frames"

    @property
    def SECONDS_PER_EXAMPLE(self) -> float:  # noqa: N802
        # Measured on a shared 2-core CPU: ~0.06 s to render a clip, ~0.03 s to encode its 16 PNGs; ~1 ms per pose.
        return 0.002 if self.builder_config.prior else 0.1

    def _info(self) -> tfds.core.DatasetInfo:
        s, t, k = IMAGE_SIZE, NUM_FRAMES, figures.NUM_JOINTS
        common = {
            "figure_id": tfds.features.Scalar(np.int64, doc="figure (proportions, clothes); pools disjoint per split"),
            "motion_id": tfds.features.Scalar(np.int64, doc="motion parameters; pools disjoint per split"),
            "motion": tfds.features.ClassLabel(names=figures.MOTIONS),
            "index": tfds.features.Scalar(np.int64, doc="index within the split, 0..N-1"),
        }
        if self.builder_config.prior:
            features = {**common, "joints": tfds.features.Tensor(
                shape=(k, 2), dtype=np.float32, doc="joints (x, y) in pixels of a 64x64 frame, y down")}
        else:
            features = {**common,
                        "video": tfds.features.Video(shape=(t, s, s, 3)),
                        "joints": tfds.features.Tensor(shape=(t, k, 2), dtype=np.float32,
                                                       doc="per-frame joints (x, y) in pixels, y down")}
        return self.dataset_info_from_configs(
            description=__doc__, features=tfds.features.FeaturesDict(features), citation=_CITATION)

    def _split_generators(self, dl_manager):
        del dl_manager  # nothing to download: the data is rendered
        return {split: self._generate_examples(split, n) for split, n in self.builder_config.split_sizes.items()}

    def _generate_examples(self, split: str, num_examples: int):
        for index in range(num_examples):
            if self.builder_config.prior:
                yield index, figures.prior_pose_example(split, index, IMAGE_SIZE, NUM_FRAMES)
            else:
                yield index, figures.render_clip_example(split, index, NUM_FRAMES, IMAGE_SIZE)
