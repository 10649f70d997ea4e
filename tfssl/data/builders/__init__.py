"""tfssl's TFDS builders. Importing this package registers every builder with TFDS, so that e.g.
`tfds.builder("tfssl_objects/tc0l_small", data_dir=...)` works after `import tfssl.data.builders`."""

import logging

from tfssl.data.builders.tfssl_objects import TfsslObjects, TfsslObjectsConfig
from tfssl.data.builders.tfssl_scenes import TfsslScenes, TfsslScenesConfig
from tfssl.data.builders.tfssl_sprites import TfsslSprites, TfsslSpritesConfig
from tfssl.data.builders.tfssl_moving_digits import TfsslMovingDigits, TfsslMovingDigitsConfig
from tfssl.data.builders.tfssl_figures import TfsslFigures, TfsslFiguresConfig
from tfssl.data.builders.cocoa import Cocoa
from tfssl.data.builders.kins import Kins
from tfssl.data.builders.sprites_npy import SpritesNpy
from tfssl.data.builders.simple_human36m import SimpleHuman36m
from tfssl.data.builders.penn_action import PennAction


class _DropTfdsDtypeDeprecation(logging.Filter):
    """Drops TFDS's "`FeatureConnector.dtype` is deprecated" warning, nothing else.

    TFDS's own `Tensor` feature reads its deprecated `.dtype` when it decodes an encoded (e.g. ZLIB) tensor, as every
    clip of tfssl_sprites is, so each sequence run printed the warning for code that is not the user's (nor ours)
    to change.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        return "`FeatureConnector.dtype` is deprecated" not in record.getMessage()


logging.getLogger("absl").addFilter(_DropTfdsDtypeDeprecation())  # TFDS logs through absl.logging
