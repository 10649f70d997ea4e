"""PatchGAN discriminators: spectral-norm (Isola et al. 2017; Miyato et al. 2018) as PCNet-C uses it, and the
instance-norm multi-scale one (Wang et al., pix2pixHD, CVPR 2018) that KeypointGAN's D is.

Five 4x4 convolutions, 64-128-256-512-1 channels with strides 2, 2, 2, 1, 1 and zero padding 1 (the reference's
`InpaintDiscriminator`), LeakyReLU(0.2) between them, spectral normalisation on every conv and no bias. The output
is one logit per overlapping patch (the reference applies a sigmoid and BCE; logits + BCE-from-logits is the same
loss, computed stably).

Spectral normalisation is `keras.layers.SpectralNormalization`: one power iteration per training-mode call, whose
state `vector_u` is a non-trainable weight (checkpointed, identical on every replica because every replica computes
it from the same kernel). Unlike PyTorch's `spectral_norm`, Keras writes the normalised kernel W / sigma back into
the kernel variable on each training call instead of differentiating through sigma: a projection after each update.

`instance_norm=True` normalises every hidden conv but the first (pix2pix's `NLayerDiscriminator`: InstanceNorm
without affine parameters, PyTorch's default); `multiscale_patchgan` applies one such PatchGAN to the image and to
its 1/2, 1/4, ... average-pooled copies (KeypointGAN: 3 scales, logit maps of 14, 6 and 2 patches a side at 128 px).
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
             instance_norm: bool = False, name: str = "patchgan", input_name: str = "image_and_modal") -> keras.Model:
    """Builds the discriminator.

    Args:
      image_size: input side.
      in_channels: PCNet-C: 4 = RGB + the modal channel it is conditioned on.
      widths, strides: the hidden convs (paper: 64-128-256-512, strides 2-2-2-1); a final stride-1 conv gives 1 logit.
      width: multiplier applied to every hidden width.
      spectral_norm: wrap every conv in keras.layers.SpectralNormalization.
      instance_norm: instance-normalise (no affine) the output of every hidden conv but the first.
      input_name: the input layer's name.
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

    inputs = keras.Input((image_size, image_size, in_channels), name=input_name)
    x = inputs
    for i, (filters, stride) in enumerate(zip(scaled_widths(widths, width), strides), start=1):
        x = keras.layers.ZeroPadding2D(1, name=f"pad{i}")(x)
        x = conv(filters, stride, f"conv{i}")(x)
        if instance_norm and i > 1:
            x = keras.layers.GroupNormalization(groups=-1, epsilon=1e-5, center=False, scale=False,
                                                name=f"instance_norm{i}")(x)
        x = keras.layers.LeakyReLU(0.2, name=f"leaky_relu{i}")(x)
    x = keras.layers.ZeroPadding2D(1, name=f"pad{len(widths) + 1}")(x)
    logits = conv(1, 1, f"conv{len(widths) + 1}")(x)
    return keras.Model(inputs, logits, name=name)


@gin.configurable(module="tfssl.layers")
def multiscale_patchgan(image_size: int = 128, in_channels: int = 1, num_scales: int = 3,
                        widths: Sequence[int] = PAPER_WIDTHS, strides: Sequence[int] = PAPER_STRIDES,
                        width: float = 1.0, instance_norm: bool = True, spectral_norm: bool = False,
                        name: str = "multiscale_patchgan") -> keras.Model:
    """One PatchGAN per scale, applied to the image and its 1/2, 1/4, ... copies (pix2pixHD's discriminator).

    Downsampling is pix2pixHD's 3x3 stride-2 average pooling that ignores the padding (Keras 'same' pads one
    pixel after, not one on each side: the pooled copy is shifted by half a pixel, harmless for a discriminator).

    Args:
      image_size: input side, divisible by 2^(num_scales - 1).
      in_channels: 1 for KeypointGAN's skeleton images.
      num_scales: how many scales (the paper: 3).
      widths, strides, width, instance_norm, spectral_norm: each scale's `patchgan` (the paper: 64-128-256-512,
        strides 2-2-2-1, instance norm, no spectral norm); the scales do not share weights.
    Returns:
      keras.Model: float32 [B, S, S, in_channels] -> a list of num_scales logit maps, float32 [B, P_i, P_i, 1]
      (P = 14, 6, 2 for S = 128).
    """
    if num_scales < 1 or image_size % (2 ** (num_scales - 1)):
        raise ValueError(f"multiscale_patchgan: image_size {image_size} must be divisible by 2^(num_scales - 1) "
                         f"with num_scales >= 1 (got {num_scales})")
    inputs = keras.Input((image_size, image_size, in_channels), name="image")
    x, outputs = inputs, []
    for i in range(num_scales):
        size = image_size // 2 ** i
        d = patchgan(size, in_channels, widths, strides, width, spectral_norm, instance_norm, name=f"scale{i}",
                     input_name=f"scale{i}_image")
        outputs.append(d(x))
        if i + 1 < num_scales:
            x = keras.layers.AveragePooling2D(3, 2, padding="same", name=f"downsample{i + 1}")(x)
    return keras.Model(inputs, outputs, name=name)
