"""`tfssl_sprites`: 8-frame 64x64 clips of a character with 4 static attributes and 9 actions, rendered offline.

The procedural analogue of the Sprites data of Li & Mandt ("Disentangled Sequential Autoencoder", ICML 2018) used
by S3VAE (Zhu et al., CVPR 2020) and DSVAE: body, top, bottom and hair take 6 values each (1296 characters), the
action is one of walk / spellcast / slash facing front / left / right (`action = 3 * motion + direction`, Li &
Mandt's numbering). As in their data, 1000 characters are for training and the others are held out: validation and
test clips show attribute combinations never seen in training (`sprites.split_characters`). Examples 9k..9k+8 of a
split show one character in all 9 actions. Every example is a pure function of (split, index)
(`tfssl.data.render.sprites`); nothing is downloaded.

Configs: `default` (9000 / 720 / 1944 train / validation / test clips: every training character in every action,
as Li & Mandt's 9000), `small` (576 / 72 / 144, for tests). `small` is a prefix of `default`.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import tensorflow_datasets as tfds

from tfssl.data.builders.rendered import Rendered
from tfssl.data.render import sprites

IMAGE_SIZE = 64
SIZES = {"default": (9000, 720, 1944), "small": (576, 72, 144)}

_CITATION = """\
@inproceedings{li2018disentangled,
  title={Disentangled Sequential Autoencoder},
  author={Li, Yingzhen and Mandt, Stephan},
  booktitle={ICML},
  year={2018}
}"""


@dataclasses.dataclass(eq=False)
class TfsslSpritesConfig(tfds.core.BuilderConfig):
    """Split sizes (clips)."""

    num_train: int = 9000
    num_validation: int = 720
    num_test: int = 1944

    @property
    def split_sizes(self) -> dict[str, int]:
        return {"train": self.num_train, "validation": self.num_validation, "test": self.num_test}


class TfsslSprites(Rendered, tfds.core.GeneratorBasedBuilder):
    """Procedural Sprites clips with attribute and action labels (see the module docstring)."""

    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "Initial release."}
    BUILDER_CONFIGS = [
        TfsslSpritesConfig(name=name, description=f"{n[0]}/{n[1]}/{n[2]} train/validation/test clips.",
                           num_train=n[0], num_validation=n[1], num_test=n[2])
        for name, n in SIZES.items()
    ]
    DEFAULT_BUILDER_CONFIG_NAME = "default"
    UNIT = "clips"
    SECONDS_PER_EXAMPLE = 0.005  # render + zlib per 8-frame clip: the default (11,664 clips) took 52 s, shared

    def _info(self) -> tfds.core.DatasetInfo:
        s, t = IMAGE_SIZE, sprites.NUM_FRAMES
        attribute = lambda name: tfds.features.ClassLabel(  # noqa: E731
            num_classes=sprites.NUM_VALUES, doc=f"{name}, a static attribute")
        return self.dataset_info_from_configs(
            description=__doc__,
            features=tfds.features.FeaturesDict({
                # zlib-compressed raw frames: flat-colour sprites compress ~10x, and decoding is faster than PNG.
                "video": tfds.features.Tensor(shape=(t, s, s, 3), dtype=np.uint8,
                                              encoding=tfds.features.Encoding.ZLIB, doc="RGB frames"),
                "action": tfds.features.ClassLabel(names=sprites.ACTIONS),
                **{name: attribute(name) for name in sprites.ATTRIBUTES},
                "character": tfds.features.Scalar(np.int64, doc="attribute combination, 0..1295; disjoint across "
                                                                "splits"),
                "phase": tfds.features.Scalar(np.int64, doc="motion phase of frame 0, 0..7"),
                "index": tfds.features.Scalar(np.int64, doc="index within the split, 0..N-1"),
            }),
            supervised_keys=("video", "action"),
            citation=_CITATION,
        )

    def _split_generators(self, dl_manager):
        del dl_manager  # nothing to download: the data is rendered
        return {split: self._generate_examples(split, n) for split, n in self.builder_config.split_sizes.items()}

    def _generate_examples(self, split: str, num_examples: int):
        for index in range(num_examples):
            yield index, sprites.render_sprite_example(split, index, IMAGE_SIZE)
