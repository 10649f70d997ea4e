"""DCGAN-64 frame encoder and decoder (Radford et al. 2016), as the sequential VAEs of Li & Mandt (DSVAE, ICML 2018)
and Zhu et al. (S3VAE, CVPR 2020) use them per frame.

Encoder: 4x4 stride-2 convolutions (64, 128, 256, 512 channels at 64 px), BatchNorm after all but the first,
LeakyReLU 0.2, then a convolution over the whole remaining map to a `feature_dim` vector, BatchNorm, tanh.
Decoder: the mirror image: a transposed convolution from the code to the smallest map, 4x4 stride-2 transposed
convolutions with BatchNorm + LeakyReLU 0.2, a last one to 3 channels and a sigmoid. Both adapt to any image size
that is the smallest map times 2 ** len(widths) (tests use 16 or 32 px with two or three levels).
"""

from __future__ import annotations

from typing import Sequence

import gin
import keras

from tfssl.errors import UserError


def _smallest_map(image_size: int, levels: int, what: str) -> int:
    size = image_size // 2 ** levels
    if size < 1 or size * 2 ** levels != image_size:
        raise UserError(f"{what}: image size {image_size} is not a multiple of 2 ** {levels} (one halving per width);"
                        " bind fewer widths or another image size")
    return size


@gin.configurable(module="tfssl.layers")
def dcgan_frame_encoder(image_size: int = 64, widths: Sequence[int] = (64, 128, 256, 512), feature_dim: int = 128,
                        synchronized_bn: bool = True, name: str = "frame_encoder") -> keras.Model:
    """images float32 [N, S, S, 3] in [0, 1] -> frame features float32 [N, feature_dim] in [-1, 1]."""
    size = _smallest_map(image_size, len(widths), "dcgan_frame_encoder")
    images = keras.Input((image_size, image_size, 3), name="images")
    x = keras.layers.Rescaling(2.0, offset=-1.0, name="to_signed")(images)
    for i, width in enumerate(widths):
        x = keras.layers.Conv2D(width, 4, strides=2, padding="same", use_bias=i == 0, name=f"conv{i + 1}")(x)
        if i > 0:  # DCGAN: no BatchNorm on the first layer
            x = keras.layers.BatchNormalization(synchronized=synchronized_bn, name=f"bn{i + 1}")(x)
        x = keras.layers.LeakyReLU(0.2, name=f"lrelu{i + 1}")(x)
    x = keras.layers.Conv2D(feature_dim, size, padding="valid", use_bias=False, name="to_feature")(x)
    x = keras.layers.BatchNormalization(synchronized=synchronized_bn, name="feature_bn")(x)
    x = keras.layers.Activation("tanh", name="feature_tanh")(x)
    return keras.Model(images, keras.layers.Flatten(name="features")(x), name=name)


@gin.configurable(module="tfssl.layers")
def dcgan_frame_decoder(image_size: int = 64, latent_dim: int = 288, widths: Sequence[int] = (512, 256, 128, 64),
                        synchronized_bn: bool = True, name: str = "frame_decoder") -> keras.Model:
    """codes float32 [N, latent_dim] -> frames float32 [N, S, S, 3] in [0, 1] (sigmoid)."""
    size = _smallest_map(image_size, len(widths), "dcgan_frame_decoder")
    codes = keras.Input((latent_dim,), name="codes")
    x = keras.layers.Reshape((1, 1, latent_dim), name="as_map")(codes)
    x = keras.layers.Conv2DTranspose(widths[0], size, padding="valid", use_bias=False, name="from_code")(x)
    x = keras.layers.BatchNormalization(synchronized=synchronized_bn, name="bn1")(x)
    x = keras.layers.LeakyReLU(0.2, name="lrelu1")(x)
    for i, width in enumerate(widths[1:], start=2):
        x = keras.layers.Conv2DTranspose(width, 4, strides=2, padding="same", use_bias=False, name=f"deconv{i}")(x)
        x = keras.layers.BatchNormalization(synchronized=synchronized_bn, name=f"bn{i}")(x)
        x = keras.layers.LeakyReLU(0.2, name=f"lrelu{i}")(x)
    x = keras.layers.Conv2DTranspose(3, 4, strides=2, padding="same", name="to_rgb")(x)
    frames = keras.layers.Activation("sigmoid", name="frames")(x)
    return keras.Model(codes, frames, name=name)
