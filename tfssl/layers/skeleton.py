"""Keypoints <-> images: KeypointGAN's differentiable skeleton renderer beta and IMM's soft-argmax.

Jakab et al., "Self-supervised Learning of Interpretable Keypoints from Unlabelled Videos" (CVPR 2020), Sec. 3: the
bottleneck re-renders a skeleton image from K points, so no appearance can pass through it; the points come from
a soft-argmax over heatmaps (Jakab et al., "Unsupervised Learning of Object Landmarks through Conditional Image
Generation", NeurIPS 2018, the IMM encoder's `get_coord`).

Coordinates: points are (x, y) in [-1, 1], x along the width, y down the height; -1 and 1 are the centres of the
first and last pixels (a linspace(-1, 1, size) grid per axis), so one pixel is 2 / (size - 1).
"""

from __future__ import annotations

from typing import Sequence

import gin
import keras
import tensorflow as tf

SIGMA = 0.2  # the paper's limb width: maps fall off as exp(-d / sigma^2) with d in [-1, 1] units
_EPSILON = 1e-6  # inside the square root: keeps the gradient finite on the limb itself (the paper's value)


def unit_grid(height: int, width: int) -> tf.Tensor:
    """Pixel centres in [-1, 1]: float32 [height, width, 2] of (x, y)."""
    x = tf.linspace(-1.0, 1.0, width)
    y = tf.linspace(-1.0, 1.0, height)
    gx, gy = tf.meshgrid(x, y)
    return tf.stack([gx, gy], axis=-1)


def limb_distances(points: tf.Tensor, limbs: Sequence[Sequence[int]], height: int, width: int) -> tf.Tensor:
    """The distance d of every pixel to every limb segment, with the paper's epsilon.

    Args:
      points: float32 [B, K, 2], (x, y) in [-1, 1].
      limbs: L pairs (a, b) of joint indices.
      height, width: the image size.
    Returns:
      float32 [B, L, H, W]: sqrt(|u - s|^2 + 1e-6), s the point of segment a-b nearest to pixel u (projection t
      clamped to [0, 1]).
    """
    limbs = tf.constant(limbs, tf.int32)
    a = tf.gather(points, limbs[:, 0], axis=1)[:, :, None, None, :]  # [B, L, 1, 1, 2]
    b = tf.gather(points, limbs[:, 1], axis=1)[:, :, None, None, :]
    u = unit_grid(height, width)[None, None]  # [1, 1, H, W, 2]
    ab = b - a
    length2 = tf.reduce_sum(tf.square(ab), axis=-1)  # [B, L, 1, 1]
    # A zero-length limb (a == b) projects every pixel onto a: t = 0 (the 1e-12 only avoids 0 / 0).
    t = tf.clip_by_value(tf.reduce_sum((u - a) * ab, axis=-1) / (length2 + 1e-12), 0.0, 1.0)
    s = a + t[..., None] * ab
    return tf.sqrt(tf.reduce_sum(tf.square(u - s), axis=-1) + _EPSILON)


@gin.configurable(module="tfssl.layers")
def render_skeleton(points: tf.Tensor, limbs: Sequence[Sequence[int]] = gin.REQUIRED, height: int = 128,
                    width: int | None = None, sigma: float = SIGMA) -> tf.Tensor:
    """beta: the skeleton image of K points, differentiable in the points.

    Each limb's map is exp(-d / sigma^2) (exponential in the distance d, not a Gaussian in d^2, as the reference
    code); limbs combine by max, and the result is mapped from [0, 1] to [-1, 1] by 2v - 1.

    Args:
      points: float32 [B, K, 2], (x, y) in [-1, 1] (points outside still render, as limbs leaving the frame).
      limbs: L >= 1 pairs (a, b) of joint indices in [0, K).
      height, width: the image size (width defaults to height).
      sigma: limb width in [-1, 1] units.
    Returns:
      float32 [B, H, W, 1] in (-1, 1): about 0.95 on a limb, -1 far from every limb.
    """
    if not limbs:
        raise ValueError("render_skeleton needs at least one limb (a pair of joint indices)")
    width = width or height
    d = limb_distances(tf.cast(points, tf.float32), limbs, height, width)
    v = tf.reduce_max(tf.exp(-d / (sigma * sigma)), axis=1)  # [B, H, W]
    return (2.0 * v - 1.0)[..., None]


def soft_argmax(logits: tf.Tensor) -> tf.Tensor:
    """Heatmap logits -> K points, IMM's way: average the logits over the other axis, softmax over each axis's bins,
    expectation over linspace(-1, 1, bins).

    Args:
      logits: float [B, h, w, K].
    Returns:
      float32 [B, K, 2], (x, y) in [-1, 1] with x from the width axis. Uniform logits give (0, 0).
    """
    logits = tf.cast(logits, tf.float32)
    height, width = tf.shape(logits)[1], tf.shape(logits)[2]
    px = tf.nn.softmax(tf.reduce_mean(logits, axis=1), axis=1)  # [B, w, K]
    py = tf.nn.softmax(tf.reduce_mean(logits, axis=2), axis=1)  # [B, h, K]
    x = tf.reduce_sum(px * tf.linspace(-1.0, 1.0, width)[None, :, None], axis=1)
    y = tf.reduce_sum(py * tf.linspace(-1.0, 1.0, height)[None, :, None], axis=1)
    return tf.stack([x, y], axis=-1)


class SoftArgmax(keras.layers.Layer):
    """`soft_argmax` as a Keras layer (for functional models): logits [B, h, w, K] -> points [B, K, 2] in [-1, 1]."""

    def call(self, logits):
        return soft_argmax(logits)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[-1], 2)
