"""Image ops of the sample synthesis: exactness of crop / paste / erase / identity sampling, warp bounds, rotations."""

import numpy as np
import pytest
import tensorflow as tf

from tfssl.layers import image_ops


def _images(n=4, size=24, channels=3, seed=0):
    return tf.constant(np.random.RandomState(seed).uniform(-1, 1, [n, size, size, channels]).astype("float32"))


def test_crop_then_paste_of_an_unmodified_patch_is_bit_exact():
    images = _images()
    offsets = image_ops.random_offsets(tf.random.stateless_uniform([4, 2], seed=[1, 2]), 24 - 10)
    patches = image_ops.crop(images, offsets, 10)
    for i, (top, left) in enumerate(offsets.numpy()):
        np.testing.assert_array_equal(patches[i].numpy(), images[i, top:top + 10, left:left + 10].numpy())
    for margin in (0, 2):
        np.testing.assert_array_equal(image_ops.paste(images, patches, offsets, margin).numpy(), images.numpy())


def test_paste_writes_the_window_or_only_its_centre_and_nothing_else():
    images = _images(2)
    offsets = tf.constant([[0, 3], [14, 14]], tf.int32)
    patches = tf.fill([2, 10, 10, 3], 5.0)
    for margin in (0, 3):
        out = image_ops.paste(images, patches, offsets, margin).numpy()
        expected = images.numpy().copy()
        for i, (top, left) in enumerate(offsets.numpy()):
            expected[i, top + margin:top + 10 - margin, left + margin:left + 10 - margin] = 5.0
        np.testing.assert_array_equal(out, expected)


def test_paste_passes_gradients_into_the_patch_only_where_it_is_written():
    images, patches = _images(1), tf.zeros([1, 6, 6, 3])
    with tf.GradientTape() as tape:
        tape.watch(patches)
        total = tf.reduce_sum(image_ops.paste(images, patches, tf.constant([[2, 2]]), margin=1))
    grad = tape.gradient(total, patches).numpy()[0, ..., 0]
    expected = np.zeros([6, 6])
    expected[1:5, 1:5] = 1.0
    np.testing.assert_array_equal(grad, expected)


def test_erase_keeps_the_border_exactly_and_fills_the_centre_with_scaled_noise():
    patches = _images(3, size=16)
    noise = tf.random.stateless_normal([3, 16, 16, 3], seed=[3, 4])
    erased = image_ops.erase_center(patches, 10, noise, 0.1).numpy()
    inside = np.zeros([16, 16], bool)
    inside[3:13, 3:13] = True
    np.testing.assert_array_equal(erased[:, ~inside], patches.numpy()[:, ~inside])
    np.testing.assert_allclose(erased[:, inside], 0.1 * noise.numpy()[:, inside], rtol=1e-6)
    with pytest.raises(ValueError, match="equal border"):
        image_ops.center_mask(16, 9)


def test_bilinear_sampling_on_the_pixel_grid_is_an_exact_identity_and_interpolates_between():
    images = _images(2, size=8)
    grid = tf.tile(image_ops.pixel_grid(8, 8)[None], [2, 1, 1, 1])
    np.testing.assert_array_equal(image_ops.bilinear_sample(images, grid).numpy(), images.numpy())
    half = image_ops.bilinear_sample(images, grid[:, :-1, :-1] + 0.5).numpy()
    x = images.numpy()
    expected = (x[:, :-1, :-1] + x[:, 1:, :-1] + x[:, :-1, 1:] + x[:, 1:, 1:]) / 4
    np.testing.assert_allclose(half, expected, rtol=1e-5, atol=1e-6)
    far = tf.fill([2, 1, 1, 2], 100.0)
    np.testing.assert_array_equal(image_ops.bilinear_sample(images, far, fill_value=0.0).numpy(), 0.0)
    np.testing.assert_array_equal(image_ops.bilinear_sample(images, far).numpy()[:, 0, 0], x[:, -1, -1])


def test_bspline_weights_are_a_partition_of_unity():
    weights = image_ops.cubic_bspline_weights(72, 4)
    assert weights.shape == (72, 4) and weights.min() >= 0.0
    np.testing.assert_allclose(weights.sum(1), 1.0, rtol=1e-6)


def test_zero_displacement_warp_is_the_identity():
    images = _images()
    np.testing.assert_array_equal(image_ops.warp(images, tf.zeros([4, 4, 4, 2])).numpy(), images.numpy())


def test_warp_displacements_are_smooth_and_bounded_by_the_control_points():
    size, bound = 64, 64 / 16
    control = tf.random.stateless_uniform([16, 4, 4, 2], seed=[5, 6], minval=-bound, maxval=bound)
    field = image_ops.smooth_displacement(control, size, size).numpy()
    assert np.abs(field).max() <= bound + 1e-5
    assert np.abs(field).max() > 0.3 * bound, "the warp should move pixels"
    # Smooth: neighbouring pixels move almost alike (no jumps a classifier could spot).
    assert np.abs(np.diff(field, axis=1)).max() < 0.5 and np.abs(np.diff(field, axis=2)).max() < 0.5
    warped = image_ops.warp(_images(16, size), control)
    assert not np.allclose(warped.numpy(), _images(16, size).numpy())


def test_rotation_by_zero_is_exact_and_a_quarter_turn_matches_rot90():
    images = _images(2, size=9)
    np.testing.assert_array_equal(image_ops.rotate(images, tf.zeros([2])).numpy(), images.numpy())
    quarter = image_ops.rotate(images, tf.fill([2], np.pi / 2)).numpy()
    np.testing.assert_allclose(quarter, tf.image.rot90(images, 1).numpy(), atol=1e-5)
    turned = image_ops.rotate(_images(2, size=24), tf.constant([0.6, -0.6])).numpy()
    np.testing.assert_array_equal(turned[:, 0, 0], 0.0, err_msg="corners come from outside: the fill value")


def test_random_offsets_cover_the_valid_range():
    uniform = tf.constant([[0.0, 0.0], [0.999999, 0.999999], [0.5, 0.25]])
    np.testing.assert_array_equal(image_ops.random_offsets(uniform, 8).numpy(), [[0, 0], [8, 8], [4, 2]])


def test_rotated_crop_is_one_resampling_of_rotate_crop_and_resize():
    images = _images(2, size=16)
    np.testing.assert_array_equal(
        image_ops.rotated_crop(images, tf.zeros([2]), tf.zeros([2, 2], tf.int32), 16).numpy(), images.numpy())
    offsets = tf.constant([[0, 2], [3, 1]], tf.int32)
    zoomed = image_ops.rotated_crop(images, tf.zeros([2]), offsets, 12).numpy()
    crops = image_ops.crop(images, offsets, 12)
    expected = tf.compat.v1.image.resize(crops, [16, 16], align_corners=True).numpy()
    np.testing.assert_allclose(zoomed, expected, atol=1e-5)
    turned = image_ops.rotated_crop(images, tf.fill([2], np.pi / 2), tf.zeros([2, 2], tf.int32), 16).numpy()
    np.testing.assert_allclose(turned, tf.image.rot90(images, 1).numpy(), atol=1e-5)
