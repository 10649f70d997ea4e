"""Motion pseudo-labels computed from the frames of a clip (no ground truth): which cells of a G x G grid move between
consecutive frames, and in which of 8 directions.

S3VAE (Zhu et al., CVPR 2020, sec. 3.2) predicts such labels from the dynamic codes z_t; the paper takes them from an
off-the-shelf optical-flow network. Here the flow of each cell is one Lucas-Kanade solve (a least-squares fit of
I_x u + I_y v + I_t = 0 over the cell's pixels) on 2x-smoothed grey frames: enough for the few-pixel motions of
Sprites and moving digits, and pure TensorFlow, so the labels are computed in the training graph.

Directions: bin k covers the angle k * 45 degrees +- 22.5, counter-clockwise from "right" with y pointing up on the
screen (bin 0 right, 2 up, 4 left, 6 down). Cells are numbered row-major from the top-left.
"""

from __future__ import annotations

import math

import tensorflow as tf

NUM_DIRECTIONS = 8


def _cell_means(x: tf.Tensor, grid: int) -> tf.Tensor:
    """[N, H, W] -> [N, grid * grid]: the mean of each cell (area resampling; H, W need not divide by grid)."""
    return tf.reshape(tf.image.resize(x[..., None], [grid, grid], method="area"), [tf.shape(x)[0], grid * grid])


def cell_flow(previous: tf.Tensor, current: tf.Tensor, grid: int = 3, ridge: float = 1e-4
              ) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
    """Lucas-Kanade flow of each grid cell between two grey frames, and how much the cell changed.

    Args:
      previous, current: float32 [N, H, W], grey levels in [0, 1].
      grid: cells per side.
      ridge: added to the 2x2 structure tensor's diagonal so flat cells give a flow of ~0, not a division by 0.
    Returns:
      u, v: float32 [N, grid * grid], the displacement in pixels (u to the right, v DOWN the image).
      change: float32 [N, grid * grid] >= 0, the mean |current - previous| over the cell.
    """
    average = 0.5 * (previous + current)
    padded = tf.pad(average, [[0, 0], [1, 1], [1, 1]], mode="SYMMETRIC")
    ix = 0.5 * (padded[:, 1:-1, 2:] - padded[:, 1:-1, :-2])
    iy = 0.5 * (padded[:, 2:, 1:-1] - padded[:, :-2, 1:-1])
    it = current - previous
    sxx, sxy, syy, sxt, syt = (_cell_means(t, grid) for t in (ix * ix, ix * iy, iy * iy, ix * it, iy * it))
    sxx, syy = sxx + ridge, syy + ridge
    det = sxx * syy - sxy * sxy
    u = (-syy * sxt + sxy * syt) / det
    v = (sxy * sxt - sxx * syt) / det
    return u, v, _cell_means(tf.abs(it), grid)


def direction_bins(u: tf.Tensor, v: tf.Tensor) -> tf.Tensor:
    """8-bin direction of displacements (u right, v down the image): int32 in [0, 8), 0 right, 2 up, 4 left, 6 down."""
    angle = tf.atan2(-v, u)  # counter-clockwise on the screen
    step = 2.0 * math.pi / NUM_DIRECTIONS
    return tf.math.floormod(tf.cast(tf.floor(angle / step + 0.5), tf.int32), NUM_DIRECTIONS)


def grid_motion_labels(videos: tf.Tensor, grid: int = 3, threshold: float = 0.01, smooth: int = 2
                       ) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
    """Per-frame motion pseudo-labels of clips.

    Frame t is labelled by the change from frame t - 1; frame 0 has no predecessor and is masked out.

    Args:
      videos: float32 [B, T, H, W, C] in [0, 1].
      grid: cells per side (S3VAE: 3).
      threshold: a cell moves when the mean |grey change| over it exceeds this (grey levels in [0, 1]).
      smooth: average-pooling factor before the flow (widens the range of displacements Lucas-Kanade resolves).
    Returns:
      moving: float32 [B, T, grid * grid] in {0, 1}.
      direction: int32 [B, T, grid * grid] in [0, 8) (meaningful where moving).
      valid: float32 [B, T] in {0, 1}: 0 for frame 0.
    """
    shape = tf.shape(videos)
    batch, frames = shape[0], shape[1]
    grey = tf.reduce_mean(tf.cast(videos, tf.float32), axis=-1, keepdims=True)
    grey = tf.reshape(grey, tf.concat([[batch * frames], shape[2:4], [1]], axis=0))
    if smooth > 1:
        grey = tf.nn.avg_pool2d(grey, smooth, smooth, "VALID")
    grey = tf.reshape(grey, tf.concat([[batch, frames], tf.shape(grey)[1:3]], axis=0))
    previous = tf.reshape(grey[:, :-1], tf.concat([[-1], tf.shape(grey)[2:]], axis=0))
    current = tf.reshape(grey[:, 1:], tf.shape(previous))
    u, v, change = cell_flow(previous, current, grid)
    cells = grid * grid

    def with_frame0(x):  # [B * (T - 1), cells] -> [B, T, cells], frame 0 zero
        x = tf.reshape(x, [batch, frames - 1, cells])
        return tf.concat([tf.zeros_like(x[:, :1]), x], axis=1)

    moving = with_frame0(tf.cast(change > threshold, tf.float32))
    direction = with_frame0(direction_bins(u, v))
    valid = tf.concat([tf.zeros([batch, 1]), tf.ones([batch, frames - 1])], axis=1)
    return moving, direction, valid
