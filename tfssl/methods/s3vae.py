"""S3VAE: Self-Supervised Sequential VAE for Representation Disentanglement and Data Generation (Zhu, Min, Kadav,
Graf; CVPR 2020, arXiv 2005.11437), and its baseline DSVAE (Li & Mandt, ICML 2018) as the same class with the three
regularisers' weights at 0 (gin/dsvae.gin).

A clip x_1:T is split into one static code z_f (appearance) and per-frame dynamic codes z_1:T (motion):

  frames --DCGAN encoder--> features --bi-LSTM--> q(z_f | x_1:T) from the last forward + first backward output
                                              \\--> RNN --> q(z_t | .) per frame
  p(z_f) = N(0, I);  p(z_t | z_<t) from a 2-layer LSTM fed the previous code (teacher-forced with posterior samples
  in training, fed its own samples when generating);  x_t ~ DCGAN decoder([z_t, z_f]).

Loss per sequence (mean over the batch):
  ELBO:  sum of squared errors over all pixels and frames + KL(q(z_f) || N(0, I)) + sum_t KL(q(z_t) || p(z_t | z_<t))
  + triplet_weight   * max(0, |mu_f(x) - mu_f(shuffle(x))| - |mu_f(x) - mu_f(x')| + margin)   (static consistency)
  + motion_weight    * BCE(which grid cells move)  + direction_weight * CE(8-bin direction of moving cells)
                       predicted from z_t, labels from the frames (tfssl.layers.motion), frame 0 masked
  + mi_weight        * I(z_f; z_t) (minibatch-weighted sampling over the global batch): the MI is MINIMISED.

Choices, and where they differ from the reference code (jithendaraa/ODE-RL code_sprite, "the original code"):
  - `causal_dynamic_posterior`: False (the reference) runs q(z_t)'s RNN over both halves of the bi-LSTM, so z_t sees
    the whole clip; True (the paper's q(z_t | x_<=t)) runs it over the forward half only. Tested both ways.
  - The triplet positive is the SAME clip with its frames permuted in time (never the identity permutation); the
    negative is the next clip of the global batch, so it is always another clip. Since the frame encoder sees one
    frame at a time (and the shuffled clip holds the same frames, so BatchNorm statistics agree), the positive's
    frame features are the anchor's features permuted: one encoder pass serves both.
  - The MI estimate keeps its + log N offset (N = global batch) and has no ReLU clamp (tfssl.layers.gaussian).
  - Per-example noise (reparameterisation, permutations) is a hash of (example index, step), and the negatives and
    the MI's marginals come from the all-gathered global batch, so 2 replicas train like one device.
  - Motion labels come from a per-cell Lucas-Kanade flow instead of a flow network (no download).
  - The dynamic-factor head reads posterior samples of z_t (what the decoder reads).
"""

from __future__ import annotations

from typing import Callable

import keras
import numpy as np
import tensorflow as tf

from tfssl.core.distribute import gather_replicas, replica_offset
from tfssl.layers.dcgan import dcgan_frame_decoder, dcgan_frame_encoder
from tfssl.layers.gaussian import (gaussian_kl, mws_mutual_information, pairwise_log_density, reparameterize)
from tfssl.layers.motion import NUM_DIRECTIONS, grid_motion_labels
from tfssl.layers.recurrent import LSTMCell, SimpleRNNCell, unroll, unroll_stack
from tfssl.layers.rng import example_normal, example_uniform
from tfssl.methods.base import Method, register

_STATIC_NOISE_STREAM = 1
_DYNAMIC_NOISE_STREAM = 2
_SHUFFLE_STREAM = 3


# ---------------------------------------------------------------------------------------------------------------
# Pure functions
# ---------------------------------------------------------------------------------------------------------------


def time_permutations(uniform: tf.Tensor) -> tf.Tensor:
    """One permutation of the T frames per clip from uniform numbers, never the identity (T >= 2).

    Args:
      uniform: float32 [B, T] in [0, 1) (e.g. `example_uniform(index, step, stream, T)`).
    Returns:
      int32 [B, T]: row b is a permutation of 0..T-1; an argsort that came out as the identity is replaced by the
      cyclic shift (1, 2, ..., T-1, 0), so a positive is never the anchor itself.
    """
    permutation = tf.argsort(uniform, axis=-1, stable=True, direction="ASCENDING")
    identity = tf.range(tf.shape(uniform)[-1], dtype=permutation.dtype)
    is_identity = tf.reduce_all(tf.equal(permutation, identity[None]), axis=-1, keepdims=True)
    return tf.where(is_identity, tf.roll(identity, -1, axis=0)[None], permutation)


def shuffle_in_time(x: tf.Tensor, permutations: tf.Tensor) -> tf.Tensor:
    """x[b, permutations[b, t]] for every clip b and frame t: [B, T, ...] -> [B, T, ...] (the triplet positive)."""
    return tf.gather(x, permutations, axis=1, batch_dims=1)


def triplet_loss(anchor: tf.Tensor, positive: tf.Tensor, negative: tf.Tensor, margin: float = 1.0) -> tf.Tensor:
    """max(0, |a - p| - |a - n| + margin) per example (Euclidean distances): [B, D] x 3 -> [B]."""
    def distance(x, y):  # the epsilon keeps the gradient of |0| finite
        return tf.sqrt(tf.reduce_sum(tf.square(x - y), axis=-1) + 1e-12)
    return tf.nn.relu(distance(anchor, positive) - distance(anchor, negative) + margin)


def next_clip(global_size: tf.Tensor, offset: tf.Tensor, local_size: tf.Tensor) -> tf.Tensor:
    """Global-batch row of each local clip's negative: the next clip of the global batch (cyclically).

    int32 [local_size]; never the clip itself when global_size >= 2.
    """
    return tf.math.floormod(offset + tf.range(local_size) + 1, global_size)


def total_loss(terms: dict, weights: dict) -> tf.Tensor:
    """The objective: reconstruction + KLs (the negative ELBO) + the weighted regularisers.

    terms: {"reconstruction", "kl_static", "kl_dynamic", "triplet", "motion", "direction", "mutual_information"}
    (per-sequence means); weights: {"triplet", "motion", "direction", "mutual_information"}. The mutual information
    enters with a + sign: minimising the loss minimises I(z_f; z_t).
    """
    loss = terms["reconstruction"] + terms["kl_static"] + terms["kl_dynamic"]
    for name, weight in weights.items():
        if weight:
            loss += weight * terms[name]
    return loss


def global_masked_mean(values: tf.Tensor, mask: tf.Tensor) -> tf.Tensor:
    """This replica's share of sum(mask * values) / sum(mask) over the GLOBAL batch.

    Returns local_sum * replicas / global_count: the trainer averages replicas (and `minimize` divides gradients by
    the replica count), so the replicas together give exactly the global masked mean, however the mask is split.
    """
    context = tf.distribute.get_replica_context()
    count = context.all_reduce(tf.distribute.ReduceOp.SUM, tf.reduce_sum(mask))
    replicas = tf.cast(context.num_replicas_in_sync, values.dtype)
    return tf.reduce_sum(mask * values) * replicas / tf.maximum(count, 1.0)


# ---------------------------------------------------------------------------------------------------------------
# The method
# ---------------------------------------------------------------------------------------------------------------


@register
class S3VAE(Method):
    """Sequential VAE with static/dynamic codes and S3VAE's three self-supervised regularisers.

    Batch in: {"video": float32 [B, T, S, S, 3] in [0, 1], "index": int64 [B]} (labels, if present, are unused).

    Args:
      image_size: S; frames: T.
      static_dim / dynamic_dim: sizes of z_f and of each z_t (paper, Sprites: 256, 32).
      feature_dim: frame feature size (128); hidden_dim: LSTM/RNN units (256).
      causal_dynamic_posterior: q(z_t | x_<=t) (True, the paper) or q(z_t | x_1:T) (False, the reference code).
      frame_encoder / frame_decoder: network builders (tfssl.layers.dcgan_*; widths gin-bound there).
      triplet_weight, triplet_margin, motion_weight, direction_weight, mi_weight: the regularisers (reference
        values); all three weights 0 is DSVAE.
      motion_grid / motion_threshold: the pseudo-labels' grid and "moves" threshold (tfssl.layers.motion).
    """

    def __init__(self, image_size: int = 64, frames: int = 8, static_dim: int = 256, dynamic_dim: int = 32,
                 feature_dim: int = 128, hidden_dim: int = 256, causal_dynamic_posterior: bool = False,
                 frame_encoder: Callable[..., keras.Model] = dcgan_frame_encoder,
                 frame_decoder: Callable[..., keras.Model] = dcgan_frame_decoder,
                 triplet_weight: float = 100.0, triplet_margin: float = 1.0, motion_weight: float = 0.1,
                 direction_weight: float = 0.1, mi_weight: float = 0.01, motion_grid: int = 3,
                 motion_threshold: float = 0.01, name: str = "s3vae"):
        super().__init__(name=name)
        self.image_size, self.frames = image_size, frames
        self.static_dim, self.dynamic_dim = static_dim, dynamic_dim
        self.causal_dynamic_posterior = causal_dynamic_posterior
        self.triplet_margin = triplet_margin
        self.regulariser_weights = {"triplet": triplet_weight, "motion": motion_weight, "direction": direction_weight,
                         "mutual_information": mi_weight}
        self.motion_grid, self.motion_threshold = motion_grid, motion_threshold
        self.hidden_dim = hidden_dim

        self.encoder = frame_encoder(image_size=image_size, feature_dim=feature_dim)
        self.decoder = frame_decoder(image_size=image_size, latent_dim=static_dim + dynamic_dim)
        self.posterior_forward = LSTMCell(hidden_dim, name="posterior_forward_lstm")
        self.posterior_backward = LSTMCell(hidden_dim, name="posterior_backward_lstm")
        self.static_posterior = keras.layers.Dense(2 * static_dim, name="static_posterior")
        self.dynamic_rnn = SimpleRNNCell(hidden_dim, name="dynamic_rnn")
        self.dynamic_posterior = keras.layers.Dense(2 * dynamic_dim, name="dynamic_posterior")
        self.prior_lstm1 = LSTMCell(hidden_dim, name="prior_lstm1")
        self.prior_lstm2 = LSTMCell(hidden_dim, name="prior_lstm2")
        self.prior_head = keras.layers.Dense(2 * dynamic_dim, name="prior_head")
        cells = motion_grid * motion_grid
        self.motion_head = keras.Sequential([keras.layers.Dense(hidden_dim, activation="relu", name="motion_hidden"),
                                             keras.layers.Dense(cells * (1 + NUM_DIRECTIONS), name="motion_logits")],
                                            name="motion_head")
        # Every variable exists before the optimizer is built (Keras 3 optimizers know only those).
        zeros = tf.zeros([1, frames, image_size, image_size, 3])
        posterior = self.posteriors(zeros)
        self.prior(posterior["z_t"])
        self.decode(posterior["z_f"], posterior["z_t"])
        self.motion_head(posterior["z_t"])
        self.add_optimizer("model", self.trainable_variables)
        self.built = True

    # ---- the networks --------------------------------------------------------------------------------------
    def frame_features(self, videos: tf.Tensor, training: bool = False) -> tf.Tensor:
        """videos float32 [B, T, S, S, 3] in [0, 1] -> frame features [B, T, feature_dim] (frames independently)."""
        shape = tf.shape(videos)
        features = self.encoder(tf.reshape(videos, [-1, self.image_size, self.image_size, 3]), training=training)
        return tf.reshape(features, [shape[0], shape[1], features.shape[-1]])

    def posteriors_from_features(self, features: tf.Tensor, training: bool = False) -> dict:
        """Posterior parameters from frame features [B, T, F].

        Returns: {"static_mean", "static_logvar": [B, static_dim], "dynamic_mean", "dynamic_logvar":
        [B, T, dynamic_dim]}.
        """
        # The bi-LSTM: [B, T, 2H], the backward half time-aligned (its output at t has read x_t .. x_T).
        outputs = tf.concat([unroll(self.posterior_forward, features),
                             unroll(self.posterior_backward, features, reverse=True)], axis=-1)
        h = self.hidden_dim
        # The forward LSTM's last output and the backward LSTM's last output (at t = 0) each summarise the clip.
        summary = tf.concat([outputs[:, -1, :h], outputs[:, 0, h:]], axis=-1)
        static_mean, static_logvar = tf.split(self.static_posterior(summary), 2, axis=-1)
        # Causal: only the forward half, whose output at t has seen x_<=t.
        rnn_input = outputs[..., :h] if self.causal_dynamic_posterior else outputs
        dynamic = self.dynamic_posterior(unroll(self.dynamic_rnn, rnn_input))
        dynamic_mean, dynamic_logvar = tf.split(dynamic, 2, axis=-1)
        return {"static_mean": static_mean, "static_logvar": static_logvar, "dynamic_mean": dynamic_mean,
                "dynamic_logvar": dynamic_logvar}

    def posteriors(self, videos: tf.Tensor, training: bool = False, static_noise: tf.Tensor | None = None,
                   dynamic_noise: tf.Tensor | None = None) -> dict:
        """`posteriors_from_features` of the clips, plus samples "z_f" [B, static_dim], "z_t" [B, T, dynamic_dim]
        (the means when no noise is given)."""
        posterior = self.posteriors_from_features(self.frame_features(videos, training), training)
        return self._with_samples(posterior, static_noise, dynamic_noise)

    @staticmethod
    def _with_samples(posterior, static_noise, dynamic_noise):
        def sample(kind, noise):
            mean, logvar = posterior[f"{kind}_mean"], posterior[f"{kind}_logvar"]
            return mean if noise is None else reparameterize(mean, logvar, noise)
        return {**posterior, "z_f": sample("static", static_noise), "z_t": sample("dynamic", dynamic_noise)}

    def prior(self, z_t: tf.Tensor, training: bool = False) -> tuple[tf.Tensor, tf.Tensor]:
        """p(z_t | z_<t), teacher-forced: codes [B, T, Dt] -> (mean, logvar) [B, T, Dt].

        Step t reads z_0 = 0, z_1 .. z_{t-1} only (the input is the code sequence shifted right by one), so the
        parameters at t never depend on z_t or later codes.
        """
        shifted = tf.concat([tf.zeros_like(z_t[:, :1]), z_t[:, :-1]], axis=1)
        mean, logvar = tf.split(self.prior_head(unroll_stack([self.prior_lstm1, self.prior_lstm2], shifted)), 2, axis=-1)
        return mean, logvar

    def sample_prior(self, noise: tf.Tensor) -> dict:
        """Dynamic codes generated by the prior, each step fed the previous step's own sample.

        Args:
          noise: float32 [B, T, Dt] standard normal (z_t = mean_t + exp(logvar_t / 2) * noise_t).
        Returns:
          {"z_t", "mean", "logvar"}: float32 [B, T, Dt].
        """
        batch = tf.shape(noise)[0]
        state1, state2 = self.prior_lstm1.initial_state(batch), self.prior_lstm2.initial_state(batch)
        previous = tf.zeros([batch, self.dynamic_dim], noise.dtype)
        codes, means, logvars = [], [], []
        for t in range(self.frames):
            output, state1 = self.prior_lstm1(previous, state1)
            output, state2 = self.prior_lstm2(output, state2)
            mean, logvar = tf.split(self.prior_head(output), 2, axis=-1)
            previous = reparameterize(mean, logvar, noise[:, t])
            codes.append(previous)
            means.append(mean)
            logvars.append(logvar)
        return {"z_t": tf.stack(codes, 1), "mean": tf.stack(means, 1), "logvar": tf.stack(logvars, 1)}

    def decode(self, z_f: tf.Tensor, z_t: tf.Tensor, training: bool = False) -> tf.Tensor:
        """Codes z_f [B, Df], z_t [B, T, Dt] -> frames float32 [B, T, S, S, 3] in [0, 1]; frame t from [z_t, z_f]."""
        shape = tf.shape(z_t)
        static = tf.broadcast_to(z_f[:, None, :], tf.concat([shape[:2], [self.static_dim]], axis=0))
        codes = tf.reshape(tf.concat([z_t, static], axis=-1), [-1, self.dynamic_dim + self.static_dim])
        frames = self.decoder(codes, training=training)
        return tf.reshape(frames, tf.concat([shape[:2], [self.image_size, self.image_size, 3]], axis=0))

    def generate(self, static_noise: tf.Tensor, dynamic_noise: tf.Tensor) -> tf.Tensor:
        """Clips sampled from the priors: z_f = static_noise ~ N(0, I) [B, Df], z_t from `sample_prior(dynamic_noise)`
        [B, T, Dt] -> float32 [B, T, S, S, 3] in [0, 1]."""
        return self.decode(static_noise, self.sample_prior(dynamic_noise)["z_t"])

    def motion_logits(self, z_t: tf.Tensor, training: bool = False) -> tuple[tf.Tensor, tf.Tensor]:
        """z_t [B, T, Dt] -> (moving logits [B, T, G*G], direction logits [B, T, G*G, 8])."""
        cells = self.motion_grid * self.motion_grid
        logits = self.motion_head(z_t, training=training)
        moving, direction = logits[..., :cells], logits[..., cells:]
        shape = tf.shape(z_t)
        return moving, tf.reshape(direction, tf.concat([shape[:2], [cells, NUM_DIRECTIONS]], axis=0))

    # ---- training ------------------------------------------------------------------------------------------
    def losses_and_outputs(self, batch: dict, training: bool = True) -> tuple[dict, tf.Tensor]:
        """Every loss term of one per-replica batch ({"video", "index"}): (terms, total loss)."""
        videos = tf.cast(batch["video"], tf.float32)
        index, step = batch["index"], self.step
        local = tf.shape(videos)[0]
        static_noise = example_normal(index, step, _STATIC_NOISE_STREAM, [self.static_dim])
        dynamic_noise = example_normal(index, step, _DYNAMIC_NOISE_STREAM, [self.frames, self.dynamic_dim])
        permutations = time_permutations(example_uniform(index, step, _SHUFFLE_STREAM, self.frames))

        features = self.frame_features(videos, training)
        # Anchor and positive through the posterior networks in one call.
        both = self.posteriors_from_features(tf.concat([features, shuffle_in_time(features, permutations)], 0),
                                             training)
        posterior = self._with_samples({k: v[:local] for k, v in both.items()}, static_noise, dynamic_noise)
        positive_mean = both["static_mean"][local:]
        z_f, z_t = posterior["z_f"], posterior["z_t"]

        terms = {}
        reconstruction = self.decode(z_f, z_t, training)
        terms["reconstruction"] = tf.reduce_mean(tf.reduce_sum(tf.square(reconstruction - videos), axis=[1, 2, 3, 4]))
        terms["kl_static"] = tf.reduce_mean(tf.reduce_sum(
            gaussian_kl(posterior["static_mean"], posterior["static_logvar"]), axis=-1))
        prior_mean, prior_logvar = self.prior(z_t, training)  # teacher-forced with the posterior samples
        terms["kl_dynamic"] = tf.reduce_mean(tf.reduce_sum(
            gaussian_kl(posterior["dynamic_mean"], posterior["dynamic_logvar"], prior_mean, prior_logvar),
            axis=[1, 2]))

        # Static consistency: negatives and the MI's marginals come from the global batch.
        global_static_mean = gather_replicas(posterior["static_mean"])
        global_size = tf.shape(global_static_mean)[0]
        negative = tf.gather(global_static_mean, next_clip(global_size, replica_offset(local), local))
        terms["triplet"] = tf.reduce_mean(triplet_loss(posterior["static_mean"], positive_mean, negative,
                                                       self.triplet_margin))

        moving, direction, valid = grid_motion_labels(videos, self.motion_grid, self.motion_threshold)
        moving_logits, direction_logits = self.motion_logits(z_t, training)
        valid_cells = tf.broadcast_to(valid[..., None], tf.shape(moving))
        terms["motion"] = global_masked_mean(
            tf.nn.sigmoid_cross_entropy_with_logits(labels=moving, logits=moving_logits), valid_cells)
        terms["direction"] = global_masked_mean(
            tf.nn.sparse_softmax_cross_entropy_with_logits(labels=direction, logits=direction_logits),
            valid_cells * moving)

        # I(z_f; z_t) per time step: sample i of this replica against the posteriors j of the global batch.
        log_q_f = pairwise_log_density(z_f, global_static_mean, gather_replicas(posterior["static_logvar"]))
        to_time_major = lambda x: tf.transpose(x, [1, 0, 2])  # noqa: E731
        log_q_t = pairwise_log_density(to_time_major(z_t), to_time_major(gather_replicas(posterior["dynamic_mean"])),
                                       to_time_major(gather_replicas(posterior["dynamic_logvar"])))
        terms["mutual_information"] = mws_mutual_information(log_q_f[None], log_q_t)
        return terms, total_loss(terms, self.regulariser_weights)

    def train_step(self, batch):
        with tf.GradientTape() as tape:
            terms, loss = self.losses_and_outputs(batch, training=True)
        self.minimize("model", loss, tape)
        return {"loss": loss, "elbo": -(terms["reconstruction"] + terms["kl_static"] + terms["kl_dynamic"]),
                **terms}

    # ---- what a person and a user see ----------------------------------------------------------------------
    def sample_images(self, batch: dict) -> np.ndarray:
        """The frame encoder's inputs from a batch: the clips' frames, float32 [B * T, S, S, 3] in [0, 1]."""
        return np.reshape(np.asarray(batch["video"], np.float32), [-1, self.image_size, self.image_size, 3])

    def summaries(self, batch):
        """Up to 4 clips, frames left to right: each as [original; reconstruction; content of this clip with the
        motion of the next one; generated from the priors] stacked vertically."""
        videos = tf.convert_to_tensor(np.asarray(batch["video"][:4], np.float32))
        posterior = self.posteriors(videos)
        reconstruction = self.decode(posterior["z_f"], posterior["z_t"])
        swapped = self.decode(posterior["z_f"], tf.roll(posterior["z_t"], -1, axis=0))
        count = tf.shape(videos)[0]
        index = tf.range(count, dtype=tf.int64)
        generated = self.generate(example_normal(index, 0, _STATIC_NOISE_STREAM, [self.static_dim]),
                                  example_normal(index, 0, _DYNAMIC_NOISE_STREAM, [self.frames, self.dynamic_dim]))

        def strip(clips):  # [N, T, S, S, 3] -> [N, S, T * S, 3]
            return tf.concat(tf.unstack(clips, axis=1), axis=2)

        rows = [strip(v) for v in (videos, reconstruction, swapped, generated)]
        return {"clips": tf.concat(rows, axis=1)}

    def serving_endpoints(self):
        s, t = self.image_size, self.frames
        videos = [tf.TensorSpec([None, t, s, s, 3], tf.float32, name="videos")]
        codes = [tf.TensorSpec([None, self.static_dim], tf.float32, name="static_code"),
                 tf.TensorSpec([None, t, self.dynamic_dim], tf.float32, name="dynamic_codes")]
        noise = [tf.TensorSpec([None, self.static_dim], tf.float32, name="static_noise"),
                 tf.TensorSpec([None, t, self.dynamic_dim], tf.float32, name="dynamic_noise")]
        return {
            # Posterior means: z_f [B, static_dim] and z_1:T [B, T, dynamic_dim].
            "static_code": (lambda v: self.posteriors(v)["static_mean"], videos),
            "dynamic_codes": (lambda v: self.posteriors(v)["dynamic_mean"], videos),
            # Codes -> frames [B, T, S, S, 3] in [0, 1].
            "decode": (self.decode, codes),
            # Standard-normal noise -> clips sampled from p(z_f) p(z_1:T) [B, T, S, S, 3] in [0, 1].
            "generate": (self.generate, noise),
        }
