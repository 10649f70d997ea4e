"""Diagonal-Gaussian codes: closed-form KL against Monte Carlo, and the MWS mutual-information estimate."""

import math

import numpy as np
import pytest
import tensorflow as tf

from tfssl.layers.gaussian import (gaussian_kl, gaussian_log_density, mws_mutual_information, pairwise_log_density,
                                   reparameterize)


def test_closed_form_kl_equals_a_monte_carlo_estimate():
    rs = np.random.RandomState(0)
    mean_q, logvar_q = rs.randn(4).astype("float32"), rs.uniform(-1, 1, 4).astype("float32")
    mean_p, logvar_p = rs.randn(4).astype("float32"), rs.uniform(-1, 1, 4).astype("float32")
    noise = rs.randn(200_000, 4).astype("float32")
    z = reparameterize(mean_q, logvar_q, noise)
    monte_carlo = tf.reduce_mean(gaussian_log_density(z, mean_q, logvar_q) - gaussian_log_density(z, mean_p, logvar_p),
                                 axis=0).numpy()
    closed = gaussian_kl(mean_q, logvar_q, mean_p, logvar_p).numpy()
    np.testing.assert_allclose(closed, monte_carlo, atol=0.03)
    assert np.all(closed > 0.0)


def test_kl_is_zero_when_q_equals_p_and_the_default_prior_is_standard_normal():
    rs = np.random.RandomState(1)
    mean, logvar = rs.randn(3, 5).astype("float32"), rs.randn(3, 5).astype("float32")
    np.testing.assert_allclose(gaussian_kl(mean, logvar, mean, logvar).numpy(), 0.0, atol=1e-6)
    np.testing.assert_allclose(gaussian_kl(np.zeros(2, "float32"), np.zeros(2, "float32")).numpy(), 0.0, atol=1e-7)
    # KL(N(1, 1) || N(0, 1)) = 1/2.
    assert float(gaussian_kl(np.ones(1, "float32"), np.zeros(1, "float32"))[0]) == pytest.approx(0.5)


def _grid_codes(k, shared, scale=10.0, logvar=-8.0, repeats=1):
    """Sharp posteriors of two codes over the full K x K grid of two factors (a, b), each pair `repeats` times:
    code A = a-th one-hot * scale; code B depends on b (independent) or on a (shared)."""
    a, b = np.meshgrid(np.arange(k), np.arange(k), indexing="ij")
    a, b = np.tile(a.ravel(), repeats), np.tile(b.ravel(), repeats)
    mean_a = np.eye(k)[a] * scale
    mean_b = np.eye(k)[a if shared else b] * scale
    logvar_a = np.full_like(mean_a, logvar)
    return [tf.constant(x, tf.float32) for x in (mean_a, logvar_a, mean_b, np.full_like(mean_b, logvar))]


def _mi(mean_a, logvar_a, mean_b, logvar_b):
    # Samples at the means: the posteriors are sharp, so a sample is its mean up to exp(-4) noise.
    return float(mws_mutual_information(pairwise_log_density(mean_a, mean_a, logvar_a),
                                        pairwise_log_density(mean_b, mean_b, logvar_b)))


@pytest.mark.parametrize("k", [2, 3, 5])
def test_mws_mutual_information_is_zero_for_independent_and_log_k_for_a_shared_factor(k):
    assert _mi(*_grid_codes(k, shared=False)) == pytest.approx(0.0, abs=1e-3)
    assert _mi(*_grid_codes(k, shared=True)) == pytest.approx(math.log(k), abs=1e-3)
    # The + log N offset is kept: with every sample repeated the estimate does not move.
    assert _mi(*_grid_codes(k, shared=True, repeats=2)) == pytest.approx(math.log(k), abs=1e-3)


def test_mws_estimate_can_be_negative_no_relu_clamp():
    # Samples that pair example 0's static posterior with example 1's dynamic one (and vice versa): a joint density
    # far below the product of the marginals, reported as the negative number it is (a ReLU would show 0).
    means = tf.constant([[0.0], [3.0]])
    logvar = tf.zeros([2, 1])
    log_q_a = pairwise_log_density(means, means, logvar)
    log_q_b = pairwise_log_density(means[::-1], means, logvar)
    assert float(mws_mutual_information(log_q_a, log_q_b)) < -0.5


def test_minimising_the_mws_estimate_lowers_it():
    mean_a, logvar_a, mean_b, logvar_b = _grid_codes(3, shared=True, scale=2.0, logvar=0.0)
    mean_b = tf.Variable(mean_b)
    optimizer = tf.keras.optimizers.SGD(0.5)

    def estimate():
        return mws_mutual_information(pairwise_log_density(mean_a, mean_a, logvar_a),
                                      pairwise_log_density(mean_b, mean_b, logvar_b))

    first = float(estimate())
    for _ in range(100):
        with tf.GradientTape() as tape:
            loss = estimate()
        optimizer.apply_gradients([(tape.gradient(loss, mean_b), mean_b)])
    assert float(estimate()) < 0.5 * first
