"""Partial convolution and the partial-convolution UNet (Liu et al., "Image Inpainting for Irregular Holes Using
Partial Convolutions", ECCV 2018): PCNet-C's generator (Zhan et al., CVPR 2020).

A partial convolution only looks at valid inputs. With X the features, M the validity mask of the window and
W, b the conv's kernel and bias:

    x' = W^T (X ⊙ M) · sum(1) / sum(M) + b     if sum(M) > 0
    x' = 0                                      otherwise
    m' = 1 if sum(M) > 0 else 0

sum(1) is the window size (kernel height x width x input channels) and sum(M) the count of valid values in it, so
a window that is half hole sees its valid half scaled up as if it were whole. Holes shrink with every layer: a
position becomes valid as soon as its window touches one valid input. Zero padding counts as hole.

Masks are per pixel: `valid` is float32 [B, H, W, 1] (shared by every channel) or [B, H, W, C] (one per input
channel, as when the decoder concatenates an upsampled map with an encoder skip of different validity).

Differences from the reference code (naoto0804's PyTorch port that PCNet's code uses): it divides by sum(M) without
the sum(1) factor; Liu et al.'s formula (used here) keeps activations at the scale of a fully valid window.
"""

from __future__ import annotations

from typing import Sequence

import gin
import keras
import tensorflow as tf

from tfssl.layers.unet import scaled_widths

PAPER_WIDTHS = (64, 128, 256, 512, 512, 512, 512)
PAPER_KERNEL_SIZES = (7, 5, 5, 3, 3, 3, 3)


class PartialConv2D(keras.layers.Layer):
    """A partial convolution: `(features, valid) -> (features', valid')`.

    Args:
      filters: output channels.
      kernel_size: odd square kernel side k; inputs are zero padded by k // 2 on every side (PyTorch's padding).
      strides: 1 or 2.
      use_bias: add b where the window has a valid input.
    Call:
      features: float32 [B, H, W, C]; values at invalid positions are ignored.
      valid: float32 [B, H, W, 1] or [B, H, W, C] in {0, 1}.
    Returns:
      features': float32 [B, H', W', filters], exactly 0 where valid' is 0.
      valid': float32 [B, H', W', 1] in {0, 1}; H' = ceil(H / strides).
    """

    def __init__(self, filters: int, kernel_size: int, strides: int = 1, use_bias: bool = False,
                 kernel_initializer="he_normal", **kwargs):
        super().__init__(**kwargs)
        if kernel_size % 2 != 1:
            raise ValueError(f"PartialConv2D: kernel_size must be odd, got {kernel_size}")
        self.filters = filters
        self.kernel_size = kernel_size
        self.strides = strides
        self.use_bias = use_bias
        self.kernel_initializer = keras.initializers.get(kernel_initializer)

    def build(self, features_shape, valid_shape=None):
        channels = int(features_shape[-1])
        self.kernel = self.add_weight(name="kernel", shape=(self.kernel_size, self.kernel_size, channels, self.filters),
                                      initializer=self.kernel_initializer)
        self.bias = (self.add_weight(name="bias", shape=(self.filters,), initializer="zeros")
                     if self.use_bias else None)
        self.window_size = float(self.kernel_size * self.kernel_size * channels)

    def _pad(self, x):
        p = self.kernel_size // 2
        return tf.pad(x, [[0, 0], [p, p], [p, p], [0, 0]])

    def valid_count(self, features, valid):
        """Valid input values per output window: float32 [B, H', W', 1], exact integers."""
        channels = features.shape[-1]
        per_pixel = valid * float(channels) if valid.shape[-1] == 1 else tf.reduce_sum(valid, -1, keepdims=True)
        ones = tf.ones((self.kernel_size, self.kernel_size, 1, 1), per_pixel.dtype)
        count = tf.nn.conv2d(self._pad(per_pixel), ones, self.strides, "VALID")
        # Sums of small integers; rounding removes any reassociation error of the conv kernel.
        return tf.stop_gradient(tf.round(count))

    def call(self, features, valid):
        valid = tf.cast(valid, features.dtype)
        raw = tf.nn.conv2d(self._pad(features * valid), tf.cast(self.kernel, features.dtype), self.strides, "VALID")
        count = self.valid_count(features, valid)
        any_valid = tf.cast(count > 0, features.dtype)
        out = raw * (self.window_size / tf.maximum(count, 1.0))
        if self.bias is not None:
            out = out + tf.cast(self.bias, features.dtype)
        return out * any_valid, any_valid

    def compute_output_shape(self, features_shape, valid_shape=None):
        def side(n):
            return None if n is None else -(-n // self.strides)
        batch, height, width = features_shape[0], side(features_shape[1]), side(features_shape[2])
        return (batch, height, width, self.filters), (batch, height, width, 1)

    def get_config(self):
        return {**super().get_config(), "filters": self.filters, "kernel_size": self.kernel_size,
                "strides": self.strides, "use_bias": self.use_bias,
                "kernel_initializer": keras.initializers.serialize(self.kernel_initializer)}


class PartialConvBlock(keras.layers.Layer):
    """PartialConv2D, then optional BatchNorm and activation (the reference's `PCBActiv`): `(x, valid) -> (x', valid')`.

    BN and the activation act on hole positions too (as in the reference); the next partial conv ignores them.
    """

    def __init__(self, filters: int, kernel_size: int, strides: int, batch_norm: bool, activation: str | None,
                 use_bias: bool = False, synchronized_bn: bool = True, **kwargs):
        super().__init__(**kwargs)
        self.conv = PartialConv2D(filters, kernel_size, strides, use_bias=use_bias, name="pconv")
        self.bn = keras.layers.BatchNormalization(synchronized=synchronized_bn, name="bn") if batch_norm else None
        if activation == "leaky_relu":
            self.activation = keras.layers.LeakyReLU(0.2, name="leaky_relu")
        elif activation == "relu":
            self.activation = keras.layers.ReLU(name="relu")
        elif activation is None:
            self.activation = None
        else:
            raise ValueError(f"PartialConvBlock: unknown activation '{activation}'; use 'relu', 'leaky_relu' or None")

    def build(self, features_shape, valid_shape=None):
        self.conv.build(features_shape, valid_shape)
        if self.bn is not None:
            self.bn.build(self.conv.compute_output_shape(features_shape)[0])

    def call(self, features, valid, training=False):
        x, valid = self.conv(features, valid)
        if self.bn is not None:
            x = self.bn(x, training=training)
        if self.activation is not None:
            x = self.activation(x)
        return x, valid

    def compute_output_shape(self, features_shape, valid_shape=None):
        return self.conv.compute_output_shape(features_shape, valid_shape)


def _per_channel(valid: tf.Tensor, channels: int) -> tf.Tensor:
    """[B, H, W, 1] or [B, H, W, channels] -> [B, H, W, channels]."""
    return valid if valid.shape[-1] == channels else tf.repeat(valid, channels, axis=-1)


class PartialConvUNet(keras.Model):
    """Liu et al.'s partial-convolution UNet: `(features, valid) -> (output, valid')`.

    Encoder level l (1..L) is a stride-2 partial conv (kernel k_l, no BN on level 1, ReLU). Decoder level l upsamples
    the deeper map and its mask x2 (nearest), concatenates encoder level l - 1 (level 0 = the input) and applies a
    3x3 partial conv + BN + LeakyReLU(0.2); the last one (to `out_channels`) has a bias and neither BN nor activation.

    Use `partial_conv_unet(...)` (gin-configurable) to build one.
    """

    def __init__(self, image_size: int, in_channels: int, out_channels: int, widths: Sequence[int],
                 kernel_sizes: Sequence[int], synchronized_bn: bool = True, name: str = "partial_conv_unet"):
        super().__init__(name=name)
        self.image_size = image_size
        self.in_channels = in_channels
        self.widths = list(widths)
        self.depth = len(widths)
        # Blocks are attributes (enc1.., dec1.., the reference's names), not list items: tf.train.Checkpoint follows
        # attributes of a subclassed Keras 3 model but not the lists Keras wraps them in.
        for level, (w, k) in enumerate(zip(widths, kernel_sizes), start=1):
            setattr(self, f"enc{level}", PartialConvBlock(w, k, 2, batch_norm=level > 1, activation="relu",
                                                          synchronized_bn=synchronized_bn, name=f"enc{level}"))
        # Decoder level l outputs the width of encoder level l - 1; level 1 outputs the image.
        self.dec1 = PartialConvBlock(out_channels, 3, 1, batch_norm=False, activation=None, use_bias=True,
                                     synchronized_bn=synchronized_bn, name="dec1")
        for level in range(2, self.depth + 1):
            setattr(self, f"dec{level}", PartialConvBlock(widths[level - 2], 3, 1, batch_norm=True,
                                                          activation="leaky_relu", synchronized_bn=synchronized_bn,
                                                          name=f"dec{level}"))
        self.upsample = keras.layers.UpSampling2D(2, interpolation="nearest", name="upsample")

    @property
    def encoder_blocks(self) -> list[PartialConvBlock]:
        """enc1 .. encL, input side first."""
        return [getattr(self, f"enc{level}") for level in range(1, self.depth + 1)]

    @property
    def decoder_blocks(self) -> list[PartialConvBlock]:
        """dec1 .. decL: dec1 makes the output, decL is applied first."""
        return [getattr(self, f"dec{level}") for level in range(1, self.depth + 1)]

    def encode(self, features: tf.Tensor, valid: tf.Tensor, training=False) -> list[tuple[tf.Tensor, tf.Tensor]]:
        """[(input, valid), (enc1, valid1), ..., (encL, validL)]: every level's features and validity mask."""
        levels = [(features, valid)]
        for block in self.encoder_blocks:
            levels.append(block(*levels[-1], training=training))
        return levels

    def call(self, inputs, training=False):
        """inputs = (features float32 [B, S, S, in_channels], valid float32 [B, S, S, 1 or in_channels]).

        Returns (output float32 [B, S, S, out_channels], valid' [B, S, S, 1]).
        """
        features, valid = inputs
        levels = self.encode(features, valid, training=training)
        x, x_valid = levels[-1]
        for level in range(len(self.encoder_blocks), 0, -1):
            skip, skip_valid = levels[level - 1]
            x, x_valid = self.upsample(x), self.upsample(x_valid)
            merged_valid = tf.concat([_per_channel(x_valid, x.shape[-1]), _per_channel(skip_valid, skip.shape[-1])],
                                     axis=-1)
            x, x_valid = self.decoder_blocks[level - 1](tf.concat([x, skip], axis=-1), merged_valid,
                                                        training=training)
        return x, x_valid


@gin.configurable(module="tfssl.layers")
def partial_conv_unet(image_size: int = 256, in_channels: int = 4, out_channels: int = 3,
                      widths: Sequence[int] = PAPER_WIDTHS, kernel_sizes: Sequence[int] = PAPER_KERNEL_SIZES,
                      depth: int | None = None, width: float = 1.0, synchronized_bn: bool = True,
                      name: str = "partial_conv_unet") -> PartialConvUNet:
    """Builds (and initialises) a partial-convolution UNet.

    Args:
      image_size: input side, a multiple of 2 ** depth (paper: 256 with depth 7).
      in_channels: PCNet-C: 4 = RGB with the hole zeroed + the modal channel.
      out_channels: 3 (RGB).
      widths, kernel_sizes: per encoder level (paper: 64-128-256-512-512-512-512, kernels 7-5-5-3-3-3-3).
      depth: use the first `depth` levels (None: all), so 64 px inputs can stop at a 2x2 bottleneck (depth 5).
      width: multiplier applied to every width.
      synchronized_bn: all-reduce BN statistics across replicas.
    Returns:
      A built PartialConvUNet: (features [B, S, S, in_channels], valid [B, S, S, 1]) -> (output [B, S, S,
      out_channels], valid' [B, S, S, 1]).
    """
    depth = len(widths) if depth is None else depth
    if not 1 <= depth <= min(len(widths), len(kernel_sizes)):
        raise ValueError(f"partial_conv_unet: depth {depth} needs that many widths and kernel_sizes "
                         f"(got {len(widths)} and {len(kernel_sizes)})")
    if image_size % 2 ** depth:
        raise ValueError(f"partial_conv_unet: image_size {image_size} must be a multiple of 2 ** depth = {2 ** depth}; "
                         "choose another size or a smaller depth")
    model = PartialConvUNet(image_size, in_channels, out_channels, scaled_widths(widths[:depth], width),
                            kernel_sizes[:depth], synchronized_bn=synchronized_bn, name=name)
    model((tf.zeros((1, image_size, image_size, in_channels)), tf.ones((1, image_size, image_size, 1))))
    return model


def partial_conv_encoder(unet: PartialConvUNet, name: str = "partial_conv_encoder") -> keras.Model:
    """The transferable part of a PartialConvUNet: RGB images -> pooled bottleneck features.

    The image is fed as fully valid (an all-ones mask) with an empty modal channel (no target instance), i.e. the
    generator's encoder seeing a whole scene. Shares its layers (weights) with `unet`.

    Returns:
      keras.Model: float32 [B, S, S, 3] in [0, 1] -> float32 [B, widths[-1]].
    """
    images = keras.Input((unet.image_size, unet.image_size, 3), name="images")
    x = keras.layers.Rescaling(2.0, offset=-1.0, name="to_signed")(images)
    extra = unet.in_channels - 3
    if extra:
        x = keras.layers.Concatenate(name="empty_modal")([x, keras.ops.zeros_like(x[..., :1])] +
                                                         [keras.ops.zeros_like(x[..., :1])] * (extra - 1))
    valid = keras.ops.ones_like(images[..., :1])
    for block in unet.encoder_blocks:
        x, valid = block(x, valid)
    features = keras.layers.GlobalAveragePooling2D(name="pool")(x)
    return keras.Model(images, features, name=name)
