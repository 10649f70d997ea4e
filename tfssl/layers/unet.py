"""PCNet-M's mask-completion UNet (Zhan et al., CVPR 2020, after Ronneberger et al. 2015).

Five encoder levels of "double conv" (two 3x3 convs, each + BN + ReLU) with 2x2 max-pooling between them; a decoder
that upsamples x2 bilinearly, concatenates the skip of the same level and applies a double conv; a final 1x1 conv
to the class logits. The paper's widths (the reference code's `unet2`) are 32-64-128-256-256 on the way down and
128-64-32-32 on the way up. `width` scales them all, because the embedded default trains on a 2-core CPU.

Differences from the reference (milesial's PyTorch UNet): convs followed by BN have no bias (it is redundant), and
bilinear upsampling uses half-pixel centres (Keras) rather than `align_corners=True`.
"""

from __future__ import annotations

from typing import Sequence

import gin
import keras

PAPER_WIDTHS = (32, 64, 128, 256, 256)


def scaled_widths(widths: Sequence[int], width: float) -> list[int]:
    """Channel counts `widths` times the multiplier `width`, at least 1 each."""
    return [max(1, int(round(w * width))) for w in widths]


def _double_conv(x, filters: int, synchronized: bool, name: str):
    for i in (1, 2):
        x = keras.layers.Conv2D(filters, 3, padding="same", use_bias=False, name=f"{name}_conv{i}")(x)
        # Synchronized BN: batch statistics span the global batch, so N replicas train like one device.
        x = keras.layers.BatchNormalization(synchronized=synchronized, name=f"{name}_bn{i}")(x)
        x = keras.layers.ReLU(name=f"{name}_relu{i}")(x)
    return x


@gin.configurable(module="tfssl.layers")
def unet(image_size: int = 64, in_channels: int = 2, num_classes: int = 2,
         widths: Sequence[int] = PAPER_WIDTHS, width: float = 1.0, synchronized_bn: bool = True,
         name: str = "unet") -> keras.Model:
    """Builds the UNet.

    Args:
      image_size: input side in pixels, a multiple of 2 ** (len(widths) - 1).
      in_channels: input channels (PCNet-M: 2 = modal mask [x category], eraser).
      num_classes: output logits per pixel (PCNet-M: 2 = background, foreground).
      widths: encoder channels per level, the deepest last (paper: 32, 64, 128, 256, 256).
      width: multiplier applied to every entry of `widths`.
      synchronized_bn: all-reduce BN statistics across replicas.
    Returns:
      keras.Model: float32 [B, S, S, in_channels] -> logits float32 [B, S, S, num_classes].
    """
    levels = scaled_widths(widths, width)
    factor = 2 ** (len(levels) - 1)
    if image_size % factor:
        raise ValueError(f"unet: image_size {image_size} must be a multiple of {factor} ({len(levels)} levels "
                         f"halve it {len(levels) - 1} times); choose another size or fewer widths")
    inputs = keras.Input((image_size, image_size, in_channels), name="masks")
    x = _double_conv(inputs, levels[0], synchronized_bn, "down0")
    skips = [x]
    for level, filters in enumerate(levels[1:], start=1):
        x = keras.layers.MaxPooling2D(2, name=f"down{level}_pool")(x)
        x = _double_conv(x, filters, synchronized_bn, f"down{level}")
        skips.append(x)
    # Decoder: level l outputs the width of level l - 1 (back to levels[0] at full resolution), as in `unet2`.
    for level in range(len(levels) - 2, -1, -1):
        x = keras.layers.UpSampling2D(2, interpolation="bilinear", name=f"up{level}_upsample")(x)
        x = keras.layers.Concatenate(name=f"up{level}_concat")([skips[level], x])
        x = _double_conv(x, levels[max(level - 1, 0)], synchronized_bn, f"up{level}")
    logits = keras.layers.Conv2D(num_classes, 1, name="logits")(x)
    return keras.Model(inputs, logits, name=name)
