"""ResNet9, the encoder Newell & Deng (CVPR 2020) pretrain and evaluate; tfssl's shared backbone.

Myrtle-style: a 3x3 stem, three stages (conv + 2x2 max-pool + BN + activation), residual blocks of two 3x3
convs after the first and third stage, an optional per-location linear layer (Newell & Deng's variant,
512 -> 256 at full width) and global average pooling. `width` scales every stage (64 is the paper's), because
full width trains at ~10 images/s on a 2-core CPU: the embedded defaults use a narrow encoder.
"""

from __future__ import annotations

import gin
import keras


def _conv_bn_act(x, filters: int, activation: str, synchronized: bool, pool: bool, name: str):
    x = keras.layers.Conv2D(filters, 3, padding="same", use_bias=False, name=f"{name}_conv")(x)
    if pool:
        x = keras.layers.MaxPooling2D(2, name=f"{name}_pool")(x)
    # Synchronized BN makes batch statistics span the global batch, so N replicas train like one device.
    x = keras.layers.BatchNormalization(synchronized=synchronized, name=f"{name}_bn")(x)
    return keras.layers.Activation(activation, name=f"{name}_act")(x)


def _residual(x, filters: int, activation: str, synchronized: bool, name: str):
    y = _conv_bn_act(x, filters, activation, synchronized, False, f"{name}_a")
    y = _conv_bn_act(y, filters, activation, synchronized, False, f"{name}_b")
    return keras.layers.Add(name=f"{name}_add")([x, y])


@gin.configurable(module="tfssl.layers")
def resnet9(image_size: int = 64, width: int = 64, activation: str = "relu", projection: bool = True,
            synchronized_bn: bool = True, name: str = "resnet9") -> keras.Model:
    """Builds the encoder.

    Args:
      image_size: input side in pixels (any multiple of 8).
      width: channels of the stem; stages use 2x, 4x, 8x (64 -> 64/128/256/512 as in the paper).
      activation: "relu", or "celu" as in Newell & Deng's code (slower on CPU).
      projection: add the per-location linear layer 8w -> 4w before pooling (Newell & Deng's variant).
      synchronized_bn: all-reduce BN statistics across replicas.
    Returns:
      keras.Model: images float32 [B, image_size, image_size, 3] in [0, 1] -> features float32 [B, D],
      D = 4 * width with the projection, else 8 * width.
    """
    images = keras.Input((image_size, image_size, 3), name="images")
    x = keras.layers.Rescaling(2.0, offset=-1.0, name="to_signed")(images)
    x = _conv_bn_act(x, width, activation, synchronized_bn, False, "stem")
    x = _conv_bn_act(x, 2 * width, activation, synchronized_bn, True, "stage1")
    x = _residual(x, 2 * width, activation, synchronized_bn, "res1")
    x = _conv_bn_act(x, 4 * width, activation, synchronized_bn, True, "stage2")
    x = _conv_bn_act(x, 8 * width, activation, synchronized_bn, True, "stage3")
    x = _residual(x, 8 * width, activation, synchronized_bn, "res3")
    if projection:
        x = keras.layers.Conv2D(4 * width, 1, name="projection")(x)
    features = keras.layers.GlobalAveragePooling2D(name="pool")(x)
    return keras.Model(images, features, name=name)
