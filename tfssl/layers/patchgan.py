"""Spectral-norm PatchGAN discriminator (Isola et al. 2017; Miyato et al. 2018), as PCNet-C uses it.

Five 4x4 convolutions, 64-128-256-512-1 channels with strides 2, 2, 2, 1, 1 and zero padding 1 (the reference's
`InpaintDiscriminator`), LeakyReLU(0.2) between them, spectral normalisation on every conv and no bias. The output
is one logit per overlapping patch (the reference applies a sigmoid and BCE; logits + BCE-from-logits is the same
loss, computed stably).

Spectral normalisation is `keras.layers.SpectralNormalization`: one power iteration per training-mode call, whose
state `vector_u` is a non-trainable weight (checkpointed, identical on every replica because every replica computes
it from the same kernel). Unlike PyTorch's `spectral_norm`, Keras writes the normalised kernel W / sigma back into
the kernel variable on each training call instead of differentiating through sigma: a projection after each update.
"""

from __future__ import annotations

from typing import Sequence

import gin
import keras

from tfssl.layers.unet import scaled_widths

PAPER_WIDTHS = (64, 128, 256, 512)
PAPER_STRIDES = (2, 2, 2, 1)


@gin.configurable(module="tfssl.layers")
def patchgan(image_size: int = 256, in_channels: int = 4, widths: Sequence[int] = PAPER_WIDTHS,
             strides: Sequence[int] = PAPER_STRIDES, width: float = 1.0, spectral_norm: bool = True,
             name: str = "patchgan") -> keras.Model:
    """Builds the discriminator.

    Args:
      image_size: input side.
      in_channels: PCNet-C: 4 = RGB + the modal channel it is conditioned on.
      widths, strides: the hidden convs (paper: 64-128-256-512, strides 2-2-2-1); a final stride-1 conv gives 1 logit.
      width: multiplier applied to every hidden width.
      spectral_norm: wrap every conv in keras.layers.SpectralNormalization.
    Returns:
      keras.Model: float32 [B, S, S, in_channels] -> patch logits float32 [B, P, P, 1] (P = 6 for S = 64).
    """
    if len(widths) != len(strides):
        raise ValueError(f"patchgan: {len(widths)} widths but {len(strides)} strides; give one stride per width")
    init = keras.initializers.RandomNormal(stddev=0.02)  # the reference's init

    def conv(filters: int, stride: int, label: str):
        layer = keras.layers.Conv2D(filters, 4, stride, use_bias=not spectral_norm, kernel_initializer=init,
                                    name=label)
        return keras.layers.SpectralNormalization(layer, name=f"{label}_sn") if spectral_norm else layer

    inputs = keras.Input((image_size, image_size, in_channels), name="image_and_modal")
    x = inputs
    for i, (filters, stride) in enumerate(zip(scaled_widths(widths, width), strides), start=1):
        x = keras.layers.ZeroPadding2D(1, name=f"pad{i}")(x)
        x = conv(filters, stride, f"conv{i}")(x)
        x = keras.layers.LeakyReLU(0.2, name=f"leaky_relu{i}")(x)
    x = keras.layers.ZeroPadding2D(1, name=f"pad{len(widths) + 1}")(x)
    logits = conv(1, 1, f"conv{len(widths) + 1}")(x)
    return keras.Model(inputs, logits, name=name)
