"""The skeleton renderer beta and soft-argmax: the spec's exact values and properties."""

import math

import numpy as np
import pytest
import tensorflow as tf

from tfssl.layers.skeleton import SIGMA, render_skeleton, soft_argmax, unit_grid

H = 128
PIXEL = 2.0 / (H - 1)


def _unit(pixel):
    """Pixel index (centre) -> [-1, 1] coordinate."""
    return -1.0 + pixel * PIXEL


def _value(image):
    """The renderer's map before 2v - 1."""
    return (np.asarray(image)[..., 0] + 1.0) / 2.0


def _expected(k):
    return math.exp(-math.sqrt((2.0 * k / (H - 1)) ** 2 + 1e-6) / SIGMA**2)


def test_values_at_k_pixels_from_a_limb_match_the_formula():
    # A horizontal limb along row 40 from column 30 to 90.
    points = np.array([[[_unit(30), _unit(40)], [_unit(90), _unit(40)]]], np.float32)
    v = _value(render_skeleton(points, limbs=[(0, 1)], height=H))
    for k in (0, 1, 2, 5, 10):
        np.testing.assert_allclose(v[0, 40 + k, 60], _expected(k), rtol=1e-4)
        np.testing.assert_allclose(v[0, 40 - k, 60], _expected(k), rtol=1e-4)
    # The spec's numbers, including a fractional distance (k = 2.54: the limb sits 0.54 px off row 42).
    np.testing.assert_allclose([_expected(k) for k in (0, 1, 2.54, 10)], [0.975, 0.674, 0.368, 0.0195], atol=5e-4)
    shifted = points.copy()
    shifted[..., 1] = _unit(40 - 0.54)
    np.testing.assert_allclose(_value(render_skeleton(shifted, limbs=[(0, 1)], height=H))[0, 42, 60], 0.368,
                               atol=5e-4)
    # Past the end of the segment the distance is to the end point.
    np.testing.assert_allclose(v[0, 40, 95], _expected(5), rtol=1e-4)
    assert render_skeleton(points, limbs=[(0, 1)], height=H).shape == (1, H, H, 1)


def test_symmetric_in_the_limb_ends_and_max_over_limbs():
    rng = np.random.default_rng(0)
    points = rng.uniform(-0.9, 0.9, (3, 4, 2)).astype(np.float32)
    ab = render_skeleton(points, limbs=[(0, 1)], height=32)
    ba = render_skeleton(points, limbs=[(1, 0)], height=32)
    np.testing.assert_allclose(ab, ba, atol=1e-5)  # float32 rounding of t vs 1 - t
    limbs = [(0, 1), (1, 2), (2, 3)]
    each = np.stack([render_skeleton(points, limbs=[limb], height=32) for limb in limbs])
    np.testing.assert_array_equal(render_skeleton(points, limbs=limbs, height=32), each.max(axis=0))


def test_integer_translation_equivariance():
    points = np.array([[[-0.4, -0.3], [0.1, 0.2], [0.3, -0.5]]], np.float32)
    limbs = [(0, 1), (1, 2)]
    dx, dy = 5, -3
    moved = points + np.array([dx, dy], np.float32) * (2.0 / 63)
    a = np.asarray(render_skeleton(points, limbs=limbs, height=64))[0, ..., 0]
    b = np.asarray(render_skeleton(moved, limbs=limbs, height=64))[0, ..., 0]
    # b[r, c] = a[r - dy, c - dx] wherever both are inside the frame.
    np.testing.assert_allclose(b[10:50, 10:50], a[10 - dy:50 - dy, 10 - dx:50 - dx], atol=1e-5)


def test_gradients_are_finite_and_match_finite_differences():
    rng = np.random.default_rng(1)
    points = tf.constant(rng.uniform(-0.7, 0.7, (2, 3, 2)), tf.float64)
    weights = tf.constant(rng.uniform(0.0, 1.0, (2, 24, 24, 1)), tf.float64)
    limbs = [(0, 1), (1, 2)]

    def f(p):
        return tf.reduce_sum(tf.cast(render_skeleton(tf.cast(p, tf.float32), limbs=limbs, height=24), tf.float64)
                             * weights)

    with tf.GradientTape() as tape:
        tape.watch(points)
        y = f(points)
    grad = tape.gradient(y, points).numpy()
    assert np.isfinite(grad).all() and np.abs(grad).max() > 0
    eps = 1e-3
    numeric = np.zeros_like(grad)
    for idx in np.ndindex(*grad.shape):
        delta = np.zeros(grad.shape)
        delta[idx] = eps
        numeric[idx] = (f(points + delta) - f(points - delta)).numpy() / (2 * eps)
    np.testing.assert_allclose(grad, numeric, rtol=2e-2, atol=2e-2 * np.abs(numeric).max())


def test_a_point_on_a_limb_end_has_a_finite_gradient():
    points = tf.constant([[[0.0, 0.0], [0.0, 0.0]]])  # zero-length limb exactly on a pixel centre
    with tf.GradientTape() as tape:
        tape.watch(points)
        y = tf.reduce_sum(render_skeleton(points, limbs=[(0, 1)], height=9))
    assert np.isfinite(tape.gradient(y, points).numpy()).all()


def test_soft_argmax():
    uniform = np.zeros((2, 16, 16, 3), np.float32)
    np.testing.assert_allclose(soft_argmax(uniform), np.zeros((2, 3, 2)), atol=1e-6)
    logits = np.zeros((1, 16, 12, 2), np.float32)
    logits[0, 3, 9, 0] = 1000.0  # row 3, column 9: x from the width axis
    logits[0, 15, 0, 1] = 1000.0
    points = np.asarray(soft_argmax(logits))
    grid = np.asarray(unit_grid(16, 12))
    np.testing.assert_allclose(points[0, 0], grid[3, 9], atol=1e-4)
    np.testing.assert_allclose(points[0, 1], [-1.0, 1.0], atol=1e-4)
    assert abs(points[0, 0, 0] - (-1 + 9 * 2 / 11)) < 1e-4 and abs(points[0, 0, 1] - (-1 + 3 * 2 / 15)) < 1e-4


def test_no_limbs_is_an_error():
    with pytest.raises(ValueError, match="at least one limb"):
        render_skeleton(np.zeros((1, 2, 2), np.float32), limbs=[], height=8)
