"""Image augmentations shared by several methods, as pure functions of the images and their random numbers.

The randomness stays outside: a method draws `u` per example with `tfssl.layers.rng.example_uniform(index, step,
stream)`, so one step is the same on any replica layout (the zoo's equivalence rule), and every function here can be
tested with hand-picked numbers.

  rotate_four           all four 90-degree rotations (Rotation, LCI)
  random_flip           left-right flip per example (Rotation, LCI, PIRL)
  random_resized_crop   Inception-style crop (PIRL)
  colour_jitter         SimCLR colour distortion with optional greyscale (PIRL)
  gaussian_blur, random_blur   SimCLR's blur (PIRL)
"""

from __future__ import annotations

import math

import tensorflow as tf

NUM_ROTATIONS = 4


def rotate_four(images: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """All four rotations of every image.

    Args:
      images: [B, H, W, C] with H == W.
    Returns:
      rotated: [4B, H, W, C], rotation-major: rows k*B .. (k+1)*B - 1 are the batch rotated by k*90 degrees
        counter-clockwise.
      labels: int32 [4B], the k of each row.
    """
    rotated = tf.concat([tf.image.rot90(images, k) for k in range(NUM_ROTATIONS)], axis=0)
    batch = tf.shape(images)[0]
    labels = tf.repeat(tf.range(NUM_ROTATIONS, dtype=tf.int32), batch)
    return rotated, labels


def random_flip(images: tf.Tensor, u: tf.Tensor) -> tf.Tensor:
    """Flips image i left-right where u[i] < 1/2: [B, H, W, C], [B] -> [B, H, W, C]."""
    return tf.where((u < 0.5)[:, None, None, None], tf.image.flip_left_right(images), images)


def random_resized_crop(images: tf.Tensor, u: tf.Tensor, area: tuple[float, float], size: int,
                        aspect: tuple[float, float] = (3 / 4, 4 / 3)) -> tf.Tensor:
    """Crops a random box of each image and resizes it to [size, size] (bilinear).

    Args:
      images: float32 [B, H, W, C].
      u: float32 [B, 4] in [0, 1): area fraction, log aspect ratio, vertical and horizontal position.
      area: (min, max) fraction of the image the box covers (before clipping a long side to the image).
      aspect: (min, max) width / height of the box.
    Returns:
      float32 [B, size, size, C].
    """
    fraction = area[0] + u[:, 0] * (area[1] - area[0])
    log_lo, log_hi = math.log(aspect[0]), math.log(aspect[1])
    ratio = tf.exp(log_lo + u[:, 1] * (log_hi - log_lo))
    height = tf.minimum(tf.sqrt(fraction / ratio), 1.0)
    width = tf.minimum(tf.sqrt(fraction * ratio), 1.0)
    top, left = u[:, 2] * (1.0 - height), u[:, 3] * (1.0 - width)
    boxes = tf.stack([top, left, top + height, left + width], axis=-1)
    box_indices = tf.range(tf.shape(images)[0])
    return tf.image.crop_and_resize(images, boxes, box_indices, [size, size])


def colour_jitter(images: tf.Tensor, u: tf.Tensor, strength: float, grayscale_probability: float = 0.0) -> tf.Tensor:
    """SimCLR-style colour distortion with per-image factors, vectorised.

    Args:
      images: float32 [N, H, W, 3] in [0, 1].
      u: float32 [N, 5] in [0, 1): brightness, contrast, saturation, hue, grayscale decisions.
      strength: s; brightness, contrast and saturation x[1-0.8s, 1+0.8s], hue +-0.2s of a full turn (SimCLR v2's
        multiplicative brightness: an additive shift of 0.8 would turn whole images black or white).
      grayscale_probability: chance of dropping colour altogether.
    Returns:
      float32 [N, H, W, 3] in [0, 1].
    """
    def signed(column):
        return (2.0 * u[:, column] - 1.0)[:, None, None, None]

    x = images * (1.0 + 0.8 * strength * signed(0))
    mean = tf.reduce_mean(x, axis=[1, 2, 3], keepdims=True)
    x = mean + (x - mean) * (1.0 + 0.8 * strength * signed(1))
    grey = tf.reduce_mean(x, axis=-1, keepdims=True)
    x = tf.clip_by_value(grey + (x - grey) * (1.0 + 0.8 * strength * signed(2)), 0.0, 1.0)
    hsv = tf.image.rgb_to_hsv(x)
    hue = tf.math.floormod(hsv[..., :1] + 0.2 * strength * signed(3), 1.0)
    x = tf.image.hsv_to_rgb(tf.concat([hue, hsv[..., 1:]], axis=-1))
    drop = (u[:, 4] < grayscale_probability)[:, None, None, None]
    x = tf.where(drop, tf.reduce_mean(x, axis=-1, keepdims=True) * tf.ones_like(x), x)
    return tf.clip_by_value(x, 0.0, 1.0)


def gaussian_blur(images: tf.Tensor, sigma: tf.Tensor, radius: int) -> tf.Tensor:
    """Blurs image i with an isotropic Gaussian of standard deviation sigma[i] pixels (SimCLR's blur), vectorised.

    One separable depthwise convolution for the whole batch: the B images become B * C channels of one image, so
    every image gets its own kernel. Borders are reflected, so a flat image stays flat.

    Args:
      images: float32 [B, H, W, C]; sigma: float32 [B] > 0; radius: kernel half-width (taps = 2 * radius + 1).
    Returns:
      float32 [B, H, W, C]; sigma -> 0 leaves the image unchanged.
    """
    shape = tf.shape(images)
    batch, channels = shape[0], images.shape[-1]
    taps = tf.cast(tf.range(-radius, radius + 1), tf.float32)
    kernel = tf.exp(-0.5 * tf.square(taps[None, :] / sigma[:, None]))  # [B, K]
    kernel /= tf.reduce_sum(kernel, axis=1, keepdims=True)
    kernel = tf.transpose(tf.repeat(kernel, channels, axis=0))[:, None, :, None]  # [K, 1, B*C, 1]
    x = tf.transpose(images, [1, 2, 0, 3])
    x = tf.reshape(x, [1, shape[1], shape[2], batch * channels])
    x = tf.pad(x, [[0, 0], [radius, radius], [radius, radius], [0, 0]], mode="REFLECT")
    x = tf.nn.depthwise_conv2d(x, kernel, [1, 1, 1, 1], "VALID")  # vertical
    x = tf.nn.depthwise_conv2d(x, tf.transpose(kernel, [1, 0, 2, 3]), [1, 1, 1, 1], "VALID")  # horizontal
    x = tf.reshape(x, [shape[1], shape[2], batch, channels])
    return tf.transpose(x, [2, 0, 1, 3])


def random_blur(images: tf.Tensor, u: tf.Tensor, probability: float, sigma: tuple[float, float]) -> tf.Tensor:
    """Blurs image i where u[i, 0] < probability, with sigma = sigma[0] + u[i, 1] * (sigma[1] - sigma[0]) pixels.

    Args:
      images: float32 [B, H, W, C]; u: float32 [B, 2] in [0, 1).
    Returns:
      float32 [B, H, W, C]; the images themselves when probability is 0 (no convolution is built).
    """
    if probability <= 0.0:
        return images
    radius = max(1, math.ceil(2 * sigma[1]))
    blurred = gaussian_blur(images, sigma[0] + u[:, 1] * (sigma[1] - sigma[0]), radius)
    return tf.where((u[:, 0] < probability)[:, None, None, None], blurred, images)
