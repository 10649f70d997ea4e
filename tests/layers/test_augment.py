"""tfssl.layers.augment: the shared augmentations, as pure functions of images and their random numbers."""

import numpy as np
import tensorflow as tf

from tfssl.layers import augment
from tfssl.layers.rng import example_uniform


def _batch(n=8, size=32, seed=0):
    rs = np.random.RandomState(seed)
    return {"image": rs.rand(n, size, size, 3).astype("float32"), "index": np.arange(n, dtype="int64") * 7}


def _flip(images, index, step):
    """The way every method flips: one uniform per example from (index, step)."""
    return augment.random_flip(images, example_uniform(index, tf.constant(step), stream=1)[:, 0]).numpy()


def test_rotating_four_times_returns_the_original():
    images = tf.constant(_batch(3)["image"])
    x = images
    for _ in range(4):
        x = tf.image.rot90(x)
    np.testing.assert_array_equal(x.numpy(), images.numpy())


def test_rotate_four_layout_and_labels():
    images = tf.constant(_batch(5)["image"])
    rotated, labels = augment.rotate_four(images)
    assert rotated.shape == (20, 32, 32, 3)
    np.testing.assert_array_equal(labels.numpy(), np.repeat(np.arange(4), 5))
    for k in range(4):
        # Each row k*B + i is image i rotated by k quarter turns: every image appears at all four rotations.
        expected = np.rot90(images.numpy(), k, axes=(1, 2))
        np.testing.assert_array_equal(rotated.numpy()[k * 5:(k + 1) * 5], expected)


def test_random_flip_with_example_uniform_depends_on_index_and_step_not_on_batch_layout():
    batch = _batch(16)
    images, index = tf.constant(batch["image"]), tf.constant(batch["index"])
    whole = _flip(images, index, 3)
    halves = np.concatenate([_flip(images[:8], index[:8], 3),
                             _flip(images[8:], index[8:], 3)])
    np.testing.assert_array_equal(whole, halves)
    flipped = [not np.array_equal(whole[i], batch["image"][i]) for i in range(16)]
    assert 2 <= sum(flipped) <= 14, "flips should be random per example"
    for i in range(16):
        assert np.array_equal(whole[i], batch["image"][i]) or np.array_equal(whole[i], batch["image"][i][:, ::-1])
    other_step = _flip(images, index, 4)
    assert not np.array_equal(other_step, whole), "a new step should draw new flips"


def _numpy_blur(image, sigma, radius):
    """Reference: separable Gaussian with reflected borders, written out tap by tap."""
    taps = np.arange(-radius, radius + 1)
    kernel = np.exp(-0.5 * (taps / sigma) ** 2)
    kernel /= kernel.sum()
    padded = np.pad(image, ((radius, radius), (radius, radius), (0, 0)), mode="reflect")
    rows = sum(k * padded[j:j + image.shape[0]] for j, k in enumerate(kernel))
    return sum(k * rows[:, j:j + image.shape[1]] for j, k in enumerate(kernel))


def test_gaussian_blur_gives_each_image_its_own_sigma():
    x = np.random.default_rng(0).uniform(size=(3, 20, 17, 3)).astype(np.float32)
    sigma = np.array([0.5, 1.0, 2.0], np.float32)
    blurred = augment.gaussian_blur(tf.constant(x), tf.constant(sigma), radius=4).numpy()
    for image, s, out in zip(x, sigma, blurred):
        np.testing.assert_allclose(out, _numpy_blur(image, s, 4), atol=1e-5)
    # Mean preserved, detail removed: a stronger blur leaves less variance.
    assert np.var(blurred[2]) < np.var(blurred[0]) < np.var(x[0])
    np.testing.assert_allclose(augment.gaussian_blur(tf.constant(x), tf.constant([1e-3] * 3), 2).numpy(), x, atol=1e-6)


def test_random_blur_applies_with_its_probability_only():
    x = tf.constant(np.random.default_rng(1).uniform(size=(4, 16, 16, 3)).astype(np.float32))
    u = tf.constant([[0.1, 0.5], [0.9, 0.5], [0.3, 0.0], [0.7, 0.9]], tf.float32)
    out = augment.random_blur(x, u, probability=0.5, sigma=(0.5, 1.5)).numpy()
    np.testing.assert_array_equal(out[[1, 3]], x.numpy()[[1, 3]])  # u >= p: untouched
    np.testing.assert_allclose(out[0], _numpy_blur(x.numpy()[0], 1.0, 3), atol=1e-5)  # sigma 0.5 + 0.5 * 1.0
    np.testing.assert_allclose(out[2], _numpy_blur(x.numpy()[2], 0.5, 3), atol=1e-5)
    assert augment.random_blur(x, u, probability=0.0, sigma=(0.5, 1.5)) is x
