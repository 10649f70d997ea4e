"""Diagonal-Gaussian latent codes: reparameterised samples, log densities, closed-form KL, and the minibatch-weighted
sampling (MWS) estimate of the mutual information between two codes (Chen, Li, Grosse, Duvenaud, "Isolating Sources
of Disentanglement in VAEs", NeurIPS 2018, eq. S4).

Every Gaussian is (mean, logvar): float32 tensors of one shape, logvar the natural log of the variance.
"""

from __future__ import annotations

import math

import tensorflow as tf

_LOG_2PI = math.log(2.0 * math.pi)


def reparameterize(mean: tf.Tensor, logvar: tf.Tensor, noise: tf.Tensor) -> tf.Tensor:
    """mean + exp(logvar / 2) * noise (noise standard normal, same shape): a sample with gradients to both."""
    return mean + tf.exp(0.5 * logvar) * noise


def gaussian_kl(mean_q: tf.Tensor, logvar_q: tf.Tensor, mean_p: tf.Tensor | float = 0.0,
                logvar_p: tf.Tensor | float = 0.0) -> tf.Tensor:
    """KL(N(mean_q, exp(logvar_q)) || N(mean_p, exp(logvar_p))) per dimension, closed form (nats, >= 0).

    Shapes broadcast; the default p is N(0, 1). Sum over the code's dimensions for a code's KL.
    """
    mean_p = tf.convert_to_tensor(mean_p, mean_q.dtype)
    logvar_p = tf.convert_to_tensor(logvar_p, mean_q.dtype)
    return 0.5 * (logvar_p - logvar_q + (tf.exp(logvar_q) + tf.square(mean_q - mean_p)) * tf.exp(-logvar_p) - 1.0)


def gaussian_log_density(x: tf.Tensor, mean: tf.Tensor, logvar: tf.Tensor) -> tf.Tensor:
    """log N(x; mean, exp(logvar)) per dimension (shapes broadcast): float32, nats."""
    return -0.5 * (_LOG_2PI + logvar + tf.square(x - mean) * tf.exp(-logvar))


def pairwise_log_density(samples: tf.Tensor, mean: tf.Tensor, logvar: tf.Tensor) -> tf.Tensor:
    """log q(z_i | x_j) for every sample i and every posterior j, summed over the code's dimensions.

    Args:
      samples: float32 [..., n, D] (sample i of the code; e.g. this replica's examples).
      mean, logvar: float32 [..., N, D] (posterior j; e.g. the global batch). Leading dimensions broadcast.
    Returns:
      float32 [..., n, N].
    """
    return tf.reduce_sum(gaussian_log_density(samples[..., :, None, :], mean[..., None, :, :],
                                              logvar[..., None, :, :]), axis=-1)


def mws_mutual_information(log_q_a: tf.Tensor, log_q_b: tf.Tensor) -> tf.Tensor:
    """Minibatch-weighted-sampling estimate of I(a; b), in nats, from pairwise posterior log densities.

    With log q(z) ~ logsumexp_j log q(z_i | x_j) - log(N M) for each of q(a), q(b) and q(a, b) (the reference's
    uniform weights over N batch examples of a dataset of M), log q(a, b) - log q(a) - log q(b) leaves
        logsumexp_j (A_ij + B_ij) - logsumexp_j A_ij - logsumexp_j B_ij + log(N M).
    The constant is kept as + log N, so the estimate is the mutual information of the empirical batch distribution:
    0 for independent codes and log K for two codes that are the same K-way function of the input (sharp posteriors
    on a full grid). The reference's extra log M only shifts the value, and its ReLU clamp hides a negative estimate
    and zeroes the gradient whenever the estimate is below 0; neither is used here.

    Args:
      log_q_a, log_q_b: float32 [..., n, N], log q(a_i | x_j) and log q(b_i | x_j) (`pairwise_log_density`);
        N (the columns) is the batch the marginals are estimated from.
    Returns:
      float32 scalar: the mean over the leading dimensions and the n samples.
    """
    size = tf.cast(tf.shape(log_q_a)[-1], log_q_a.dtype)
    estimate = (tf.reduce_logsumexp(log_q_a + log_q_b, axis=-1) - tf.reduce_logsumexp(log_q_a, axis=-1)
                - tf.reduce_logsumexp(log_q_b, axis=-1) + tf.math.log(size))
    return tf.reduce_mean(estimate)
