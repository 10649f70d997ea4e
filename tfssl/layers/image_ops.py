"""Pure, differentiable image ops for sample synthesis: bilinear sampling, smooth warps, small rotations, and the
patch crop / erase / paste of Limited Context Inpainting.

Everything works on batches in the graph with per-example parameters passed in (offsets, angles, control grids),
so the randomness stays outside (drawn with `tfssl.layers.rng.example_uniform`) and each op is a pure function that
can be property-tested. tensorflow-addons (`sparse_image_warp`, `rotate`, `transform`) is gone from TF 2.16+; these
replace the parts LCI's reference code used.

Conventions: images are float [B, H, W, C]; pixel (y, x) is the centre of row y, column x; coordinates are in
pixels, (y, x) order; offsets are int32 [B, 2] = (top, left) of a window.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

__all__ = ["bilinear_sample", "pixel_grid", "cubic_bspline_weights", "smooth_displacement", "warp", "rotate",
           "rotate_coords", "rotated_crop", "crop", "paste", "center_mask", "erase_center", "random_offsets"]


# ---- sampling -----------------------------------------------------------------------------------------------------

def pixel_grid(height: int, width: int) -> tf.Tensor:
    """float32 [H, W, 2]: the (y, x) coordinates of every pixel centre."""
    ys, xs = tf.meshgrid(tf.range(height, dtype=tf.float32), tf.range(width, dtype=tf.float32), indexing="ij")
    return tf.stack([ys, xs], axis=-1)


def bilinear_sample(images: tf.Tensor, coords: tf.Tensor, fill_value: float | None = None) -> tf.Tensor:
    """Samples `images` at real-valued pixel coordinates with bilinear interpolation.

    Args:
      images: float [B, H, W, C].
      coords: float32 [B, h, w, 2], (y, x) in pixels of `images`.
      fill_value: None replicates the border for points outside the image (as tfa's dense_image_warp); a number
        blends towards that constant outside (as tfa's rotate with fill_mode='constant').
    Returns:
      [B, h, w, C]. At integer coordinates inside the image the result equals the input bit-exactly (the other
      corners get weight exactly 0), so an identity grid is an exact identity.
    """
    if fill_value is not None:
        # One ring of the fill value around the image: clamping into the padded image then blends to the constant.
        images = tf.pad(images, [[0, 0], [1, 1], [1, 1], [0, 0]], constant_values=fill_value)
        coords = coords + 1.0
    batch, height, width = tf.shape(images)[0], tf.shape(images)[1], tf.shape(images)[2]
    channels = images.shape[-1]
    y = tf.clip_by_value(coords[..., 0], 0.0, tf.cast(height - 1, tf.float32))
    x = tf.clip_by_value(coords[..., 1], 0.0, tf.cast(width - 1, tf.float32))
    y0f, x0f = tf.floor(y), tf.floor(x)
    wy, wx = (y - y0f)[..., None], (x - x0f)[..., None]
    y0, x0 = tf.cast(y0f, tf.int32), tf.cast(x0f, tf.int32)
    y1, x1 = tf.minimum(y0 + 1, height - 1), tf.minimum(x0 + 1, width - 1)
    flat = tf.reshape(images, [-1, channels])
    base = (tf.range(batch) * height * width)[:, None, None]

    def at(yy, xx):
        return tf.gather(flat, base + yy * width + xx)

    top = at(y0, x0) * (1.0 - wx) + at(y0, x1) * wx
    bottom = at(y1, x0) * (1.0 - wx) + at(y1, x1) * wx
    return top * (1.0 - wy) + bottom * wy


# ---- smooth random warp (LCI's class 5) -------------------------------------------------------------------------

def cubic_bspline_weights(size: int, num_control: int) -> np.ndarray:
    """float32 [size, num_control]: uniform cubic B-spline weights of `num_control` knots spread over `size` pixels.

    Row i holds the weights with which the control values combine at pixel i. The weights are non-negative and every
    row sums to 1 (indices past the ends are clamped to the end knots), so an interpolated field never exceeds its
    largest control value, and it is twice continuously differentiable: smooth, with no kinks a classifier could
    spot. (tfa's sparse_image_warp used a polyharmonic spline, which can overshoot its control values.)
    """
    if num_control < 2:
        raise ValueError(f"a warp needs at least 2 control points per side, got {num_control}")
    u = np.arange(size, dtype=np.float64) * (num_control - 1) / max(size - 1, 1)
    i = np.minimum(np.floor(u).astype(int), num_control - 2)
    f = u - i
    basis = np.stack([(1 - f) ** 3, 3 * f ** 3 - 6 * f ** 2 + 4, -3 * f ** 3 + 3 * f ** 2 + 3 * f + 1, f ** 3], 1) / 6
    weights = np.zeros([size, num_control])
    for k in range(4):
        np.add.at(weights, (np.arange(size), np.clip(i - 1 + k, 0, num_control - 1)), basis[:, k])
    return weights.astype(np.float32)


def smooth_displacement(control: tf.Tensor, height: int, width: int) -> tf.Tensor:
    """Upsamples a coarse displacement grid to every pixel with cubic B-splines.

    Args:
      control: float32 [B, K, L, 2], (dy, dx) displacements in pixels at K x L control points.
      height, width: output size.
    Returns:
      float32 [B, height, width, 2]; |displacement| <= max |control| per component.
    """
    wy = tf.constant(cubic_bspline_weights(height, control.shape[1]))
    wx = tf.constant(cubic_bspline_weights(width, control.shape[2]))
    return tf.einsum("hk,bklc,wl->bhwc", wy, control, wx)


def warp(images: tf.Tensor, control: tf.Tensor) -> tf.Tensor:
    """Smoothly warps every image: out(p) = in(p + d(p)), d = `smooth_displacement(control)`, border replicated.

    Args:
      images: float [B, H, W, C].
      control: float32 [B, K, L, 2] displacements in pixels (LCI: K = L = 4, uniform in +-H/16).
    Returns:
      [B, H, W, C]. Zero control points return the images exactly.
    """
    height, width = images.shape[1], images.shape[2]
    coords = pixel_grid(height, width)[None] + smooth_displacement(control, height, width)
    return bilinear_sample(images, coords)


# ---- small rotations (LCI's anti-shortcut augmentation) ----------------------------------------------------------

def rotate_coords(coords: tf.Tensor, angles: tf.Tensor, center: tf.Tensor) -> tf.Tensor:
    """Where output coordinates of a counter-clockwise rotation about `center` come from (backward mapping).

    Args:
      coords: float32 [B, h, w, 2], (y, x) output pixel coordinates.
      angles: float32 [B], radians, counter-clockwise on screen (as tf.image.rot90).
      center: float32 [2], (y, x).
    Returns:
      float32 [B, h, w, 2] source coordinates, for `bilinear_sample`.
    """
    cos, sin = tf.cos(angles)[:, None, None], tf.sin(angles)[:, None, None]
    dy, dx = coords[..., 0] - center[0], coords[..., 1] - center[1]
    # Rows grow downwards, so turning back a counter-clockwise rotation is (y, x) -> (y cos + x sin, x cos - y sin).
    return tf.stack([cos * dy + sin * dx, cos * dx - sin * dy], axis=-1) + center


def rotate(images: tf.Tensor, angles: tf.Tensor, fill_value: float = 0.0) -> tf.Tensor:
    """Rotates each image about its centre by its angle (radians, counter-clockwise), bilinear, constant fill.

    Args:
      images: float [B, H, W, C].
      angles: float32 [B].
      fill_value: value of pixels that come from outside the image (LCI: 0, mid-grey in [-1, 1]).
    Returns:
      [B, H, W, C]. An angle of 0 returns the image exactly; pi / 2 equals tf.image.rot90(images, 1).
    """
    height, width = images.shape[1], images.shape[2]
    center = tf.constant([(height - 1) / 2.0, (width - 1) / 2.0], tf.float32)
    return bilinear_sample(images, rotate_coords(pixel_grid(height, width)[None], angles, center), fill_value)


def rotated_crop(images: tf.Tensor, angles: tf.Tensor, offsets: tf.Tensor, crop_size: int,
                 fill_value: float = 0.0) -> tf.Tensor:
    """Rotates each image about its centre, cuts a crop_size window at `offsets` and resizes it back to the image
    size, in ONE bilinear resampling (less blur than three).

    Args:
      images: float [B, H, W, C] (H == W).
      angles: float32 [B], radians, counter-clockwise.
      offsets: int32 [B, 2], (top, left) of the window, in [0, H - crop_size].
      crop_size: window side in pixels.
    Returns:
      [B, H, W, C]. With angle 0 and crop_size == H the images come back exactly.
    """
    size = images.shape[1]
    center = tf.constant([(size - 1) / 2.0, (size - 1) / 2.0], tf.float32)
    scale = (crop_size - 1) / max(size - 1, 1)
    window = pixel_grid(size, size)[None] * scale + tf.cast(offsets, tf.float32)[:, None, None, :]
    return bilinear_sample(images, rotate_coords(window, angles, center), fill_value)


# ---- windows: crop, paste, erase ---------------------------------------------------------------------------------

def random_offsets(uniform: tf.Tensor, max_offset: tuple[int, int] | int) -> tf.Tensor:
    """Maps uniform numbers [B, 2] in [0, 1) to integer window offsets (top, left) uniform in [0, max_offset]."""
    max_y, max_x = (max_offset, max_offset) if isinstance(max_offset, int) else max_offset
    limits = tf.constant([max_y + 1, max_x + 1], tf.float32)
    return tf.cast(tf.floor(uniform * limits), tf.int32)


def _window_indices(offsets: tf.Tensor, size: tuple[int, int]):
    rows = offsets[:, 0:1] + tf.range(size[0])[None]  # [B, h]
    cols = offsets[:, 1:2] + tf.range(size[1])[None]  # [B, w]
    return rows, cols


def crop(images: tf.Tensor, offsets: tf.Tensor, size: int | tuple[int, int]) -> tf.Tensor:
    """Cuts one window per image: images [B, H, W, C], offsets int32 [B, 2] (top, left) -> [B, h, w, C].

    A pure gather, hence bit-exact and differentiable. Windows must lie inside the image.
    """
    size = (size, size) if isinstance(size, int) else tuple(size)
    rows, cols = _window_indices(offsets, size)
    out = tf.gather(images, rows, axis=1, batch_dims=1)
    return tf.gather(out, cols, axis=2, batch_dims=1)


def paste(images: tf.Tensor, patches: tf.Tensor, offsets: tf.Tensor, margin: int = 0) -> tf.Tensor:
    """Writes each patch back into its image at `offsets`; everything else is the input, exactly.

    Args:
      images: [B, H, W, C].
      patches: [B, h, w, C] (gradients flow into them).
      offsets: int32 [B, 2], (top, left) of the window.
      margin: pixels at the patch's edge that are NOT written (LCI's paste='center' keeps the original border:
        margin = (patch - erase) / 2); 0 writes the whole window (the reference's paste).
    Returns:
      [B, H, W, C]. `paste(x, crop(x, o, s), o)` is x bit-exactly.
    """
    height, width = images.shape[1], images.shape[2]
    h, w = patches.shape[1], patches.shape[2]
    # Position of every image pixel inside the window (negative or >= size: outside).
    local_y = tf.range(height)[None] - offsets[:, 0:1]  # [B, H]
    local_x = tf.range(width)[None] - offsets[:, 1:2]  # [B, W]
    inside_y = (local_y >= margin) & (local_y < h - margin)
    inside_x = (local_x >= margin) & (local_x < w - margin)
    spread = tf.gather(patches, tf.clip_by_value(local_y, 0, h - 1), axis=1, batch_dims=1)
    spread = tf.gather(spread, tf.clip_by_value(local_x, 0, w - 1), axis=2, batch_dims=1)  # [B, H, W, C]
    inside = (inside_y[:, :, None] & inside_x[:, None, :])[..., None]
    return tf.where(inside, spread, images)


def center_mask(size: int, erase_size: int) -> tf.Tensor:
    """float32 [1, size, size, 1]: 1 on the centred erase_size x erase_size square, 0 on the border ring."""
    if (size - erase_size) % 2 or not 0 < erase_size <= size:
        raise ValueError(f"the erased centre ({erase_size} px) must fit the patch ({size} px) with an equal border "
                         "on each side: choose sizes whose difference is even")
    border = (size - erase_size) // 2
    mask = np.zeros([1, size, size, 1], np.float32)
    mask[:, border:border + erase_size, border:border + erase_size] = 1.0
    return tf.constant(mask)


def erase_center(patches: tf.Tensor, erase_size: int, noise: tf.Tensor, noise_scale: float = 0.1) -> tf.Tensor:
    """LCI's erase: the centre erase_size x erase_size of each patch becomes `noise_scale * noise`.

    Args:
      patches: float [B, c, c, C] in [-1, 1].
      erase_size: p, side of the erased centre ((c - p) even).
      noise: float [B, c, c, C] standard-normal numbers (only the centre is used).
    Returns:
      [B, c, c, C]: the border ring of (c - p) / 2 pixels is the input exactly, the centre is scaled noise.
    """
    mask = center_mask(patches.shape[1], erase_size)
    return tf.where(mask > 0, noise_scale * noise, patches)
