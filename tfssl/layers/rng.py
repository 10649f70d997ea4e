"""Per-example randomness that does not depend on how a batch is split over replicas.

`tf.random` ops draw per call, so two replicas holding half a batch each would draw differently from one device
holding the whole batch, breaking the 2-replica == 1-replica equivalence every method is tested for. Instead, an
example's random numbers are a hash of (seed, step, example index, stream): the same example at the same step gets
the same numbers wherever it runs.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import tensorflow as tf


def _mix32(x: tf.Tensor) -> tf.Tensor:
    """A bijective 32-bit integer hash with good avalanche (C. Wellons' "lowbias32")."""
    x = tf.bitwise.bitwise_xor(x, tf.bitwise.right_shift(x, 16))
    x = x * tf.constant(0x7FEB352D, tf.uint32)
    x = tf.bitwise.bitwise_xor(x, tf.bitwise.right_shift(x, 15))
    x = x * tf.constant(0x846CA68B, tf.uint32)
    return tf.bitwise.bitwise_xor(x, tf.bitwise.right_shift(x, 16))


def example_uniform(index: tf.Tensor, step: tf.Tensor, stream: int, num: int = 1, seed: int = 0) -> tf.Tensor:
    """Uniform numbers in [0, 1) that are a pure function of (seed, step, index, stream).

    Args:
      index: int [B], the examples' dataset indices.
      step: int scalar, the training step (so an example is augmented differently every time it is seen).
      stream: an integer naming the use (flip, crop, ...), so different augmentations are independent.
      num: numbers per example.
      seed: a run-level seed.
    Returns:
      float32 [B, num] in [0, 1).
    """
    index = tf.cast(tf.cast(index, tf.int64) & 0xFFFFFFFF, tf.uint32)
    step = tf.cast(tf.cast(step, tf.int64) & 0xFFFFFFFF, tf.uint32)
    xor = tf.bitwise.bitwise_xor
    key = _mix32(xor(_mix32(xor(_mix32(tf.constant(seed * 7919 + stream, tf.uint32)), step)), index))
    counters = tf.cast(tf.range(num), tf.uint32)
    bits = _mix32(key[:, None] + _mix32(counters + tf.constant(0x9E3779B9, tf.uint32))[None, :])
    # 24 high bits fill a float32 mantissa exactly, so the result is < 1.
    return tf.cast(tf.bitwise.right_shift(bits, 8), tf.float32) / float(1 << 24)


def normal_from_uniform(uniform: tf.Tensor) -> tf.Tensor:
    """Inverse normal CDF of example_uniform's numbers (k / 2^24, k in [0, 2^24)), always finite (|x| <= 5.4).

    The ends are clipped to one step inside (0, 1): ndtri(0) = -inf, and k / 2^24 plus half a step rounds to 1.0 in
    float32 for the largest k (ndtri(1) = +inf), which happens once in ~10^7 draws: a NaN within a few hundred steps.
    """
    return tf.math.ndtri(tf.clip_by_value(uniform, 2.0 ** -24, 1.0 - 2.0 ** -24))


def example_normal(index: tf.Tensor, step: tf.Tensor, stream: int, shape: Sequence[int]) -> tf.Tensor:
    """Standard-normal numbers [B, *shape], a pure function of (index, step, stream) like example_uniform."""
    uniform = example_uniform(index, step, stream, int(np.prod(shape)))
    return tf.reshape(normal_from_uniform(uniform), [-1, *shape])
