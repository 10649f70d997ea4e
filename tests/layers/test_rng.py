"""Per-example randomness: a pure function of (seed, step, index, stream), uniform, independent of batch layout."""

import numpy as np
import tensorflow as tf

from tfssl.layers.rng import example_normal, example_uniform, normal_from_uniform


def test_same_example_same_numbers_whatever_the_batch():
    whole = example_uniform(tf.range(100), 5, stream=2, num=3).numpy()
    part = example_uniform(tf.range(40, 60), 5, stream=2, num=3).numpy()
    np.testing.assert_array_equal(whole[40:60], part)


def test_values_are_uniform_in_unit_interval():
    u = example_uniform(tf.range(20000), 0, stream=0, num=1).numpy().ravel()
    assert u.min() >= 0.0 and u.max() < 1.0
    histogram, _ = np.histogram(u, bins=10, range=(0, 1))
    chi_square = ((histogram - 2000) ** 2 / 2000).sum()
    assert chi_square < 27.9  # p = 0.001 at 9 degrees of freedom


def test_steps_streams_and_columns_are_independent():
    base = example_uniform(tf.range(5000), 1, stream=1, num=2).numpy()
    other_step = example_uniform(tf.range(5000), 2, stream=1, num=2).numpy()
    other_stream = example_uniform(tf.range(5000), 1, stream=2, num=2).numpy()
    for other in (other_step[:, 0], other_stream[:, 0], base[:, 1]):
        assert abs(np.corrcoef(base[:, 0], other)[0, 1]) < 0.05


def test_example_normal_is_standard_normal_and_finite_even_at_the_uniform_extremes():
    extremes = tf.constant([0.0, (2 ** 24 - 1) / 2 ** 24, 0.5])
    values = normal_from_uniform(extremes).numpy()
    assert np.all(np.isfinite(values)) and values[0] < -5 and values[1] > 5 and values[2] == 0.0
    noise = example_normal(tf.range(64, dtype=tf.int64), tf.constant(1), 12, [20, 20, 3]).numpy()
    assert noise.shape == (64, 20, 20, 3) and np.all(np.isfinite(noise))
    assert abs(noise.mean()) < 0.02 and abs(noise.std() - 1.0) < 0.02
