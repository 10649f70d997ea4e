"""tfssl's TFDS builders. Importing this package registers every builder with TFDS, so that e.g.
`tfds.builder("tfssl_objects/tc0l_small", data_dir=...)` works after `import tfssl.data.builders`."""

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
