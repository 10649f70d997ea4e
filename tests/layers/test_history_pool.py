"""The image history pool: CycleGAN's semantics, as a pure function and as a stateful layer."""

import numpy as np
import tensorflow as tf

from tests.method_checks import strategy as shared_strategy

from tfssl.layers.history_pool import HistoryPool, history_pool_query


def _images(values):
    return np.array(values, np.float32).reshape(-1, 1, 1, 1) * np.ones((1, 2, 2, 1), np.float32)


def _reference(pool, count, images, uniforms):
    """CycleGAN's ImagePool.query, written plainly."""
    pool, out = list(pool), []
    for image, (u0, u1) in zip(images, uniforms):
        if count < len(pool):
            pool[count] = image
            count += 1
            out.append(image)
        elif u0 >= 0.5:
            slot = min(int(u1 * len(pool)), len(pool) - 1)
            out.append(pool[slot])
            pool[slot] = image
        else:
            out.append(image)
    return np.stack(out), np.stack(pool), count


def test_fills_then_swaps_like_cyclegan():
    rng = np.random.default_rng(0)
    pool, count = np.zeros((5, 2, 2, 1), np.float32), 0
    for step in range(6):
        images = _images(100 * step + np.arange(4))
        uniforms = rng.uniform(0.0, 1.0, (4, 2)).astype(np.float32)
        out, new_pool, new_count = history_pool_query(tf.constant(pool), tf.constant(count), images, uniforms)
        want_out, want_pool, want_count = _reference(pool, count, images, uniforms)
        np.testing.assert_array_equal(out, want_out)
        np.testing.assert_array_equal(new_pool, want_pool)
        assert int(new_count) == want_count == min(5, 4 * (step + 1))
        pool, count = new_pool.numpy(), int(new_count)
    # While filling, everything passes through; once full, about half are swapped for older images.
    images = _images(np.arange(1000, 1200))
    out, _, _ = history_pool_query(tf.constant(pool), tf.constant(count), images,
                                   rng.uniform(0, 1, (200, 2)).astype(np.float32))
    swapped = (out.numpy()[:, 0, 0, 0] != images[:, 0, 0, 0]).mean()
    assert 0.35 < swapped < 0.65  # about half of the images are exchanged for one from the pool


def test_layer_keeps_state_and_passes_through_when_disabled():
    layer = HistoryPool(size=3)
    a = _images([1, 2])
    out = layer(a, tf.zeros((2, 2)))
    np.testing.assert_array_equal(out, a)
    assert int(layer.count.numpy()) == 2
    layer(_images([3, 4]), tf.fill((2, 2), 0.99))  # 3 fills the pool; 4 swaps with the last slot (holding 3)
    np.testing.assert_array_equal(layer.pool.numpy()[:, 0, 0, 0], [1, 2, 4])
    assert all(not w.trainable for w in layer.weights)
    off = HistoryPool(size=0)
    np.testing.assert_array_equal(off(a, tf.ones((2, 2))), a)


def test_works_in_a_tf_function():
    layer = HistoryPool(size=4)
    step = tf.function(lambda x, u: layer(x, u))
    for i in range(3):
        out = step(_images([i, i + 10]), tf.fill((2, 2), 0.7))
    assert out.shape == (2, 2, 2, 1) and int(layer.count.numpy()) == 4


def test_replicas_given_the_same_global_batch_hold_the_same_pool():
    strategy = shared_strategy("mirrored")  # one per process: a second one collides with its collective keys
    with strategy.scope():
        layer = HistoryPool(size=3)
        layer.build((None, 2, 2, 1))  # as a method builds every network in the strategy scope
    images, uniforms = _images([1, 2, 3, 4, 5]), tf.fill((5, 2), 0.8)
    strategy.run(tf.function(lambda: layer(images, uniforms)))
    pools = [p.numpy() for p in strategy.experimental_local_results(layer.pool.value)]
    assert len(pools) == 2
    np.testing.assert_array_equal(pools[0], pools[1])
    np.testing.assert_array_equal(pools[0][:, 0, 0, 0], [1, 2, 5])
