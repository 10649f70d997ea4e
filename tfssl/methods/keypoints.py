"""KeypointGAN: Self-supervised Learning of Interpretable Keypoints from Unlabelled Videos (Jakab, Gupta, Bilen,
Vedaldi; CVPR 2020).

A pose detector learnt from unlabelled videos and an *unpaired* set of example poses (the empirical prior):
  - Phi maps a frame x to a skeleton image y (a UNet-like image-to-image network, no output activation);
  - the bottleneck re-renders y from K points: eta regresses the points (IMM's encoder + soft-argmax) and beta
    (`layers.skeleton.render_skeleton`) draws them, so no appearance can pass from x to the decoder;
  - Psi rebuilds x from beta(eta(y)) and another frame x' of the same video, which supplies the appearance;
  - a multi-scale PatchGAN D makes Phi's skeletons look like rendered prior poses beta(y_bar).
The points come out in the prior's own definition (joint i is joint i), so no regressor is needed at test time:
`detect_keypoints` is eta(Phi(x)).

Losses and order per step (spec): G (Phi and Psi): 10 LSGAN(D(Phi(x)) -> 1) + 10 perceptual(Psi(beta(eta(Phi(x))),
x'), x), gradients flowing through eta and beta into Phi but eta not updated; then D: 1/2 [LSGAN(D(beta(y_bar)) -> 1)
+ LSGAN(D(pooled fake) -> 0)] with a 50-image history pool of Phi's skeletons; then eta: 0.9 MSE(eta(beta(y_bar)),
y_bar) + 0.1 MSE(beta(eta(y)), y) on Phi's (pre-update) skeleton images. Each has its own optimizer (gin scopes
`generator`, `discriminator`, `eta`) and its gradient's global norm is clipped (1.0).

eta's pre-training (never released with the reference) is its own run: `phase='pretrain_eta'` trains eta alone on
rendered prior poses, MSE(eta(beta(y_bar)), y_bar); a joint run then starts eta from that run's checkpoint
(`eta_weights`, read once by `prepare_training` on a fresh run, never on a resume). One run with both phases
would need a branch on the step inside the traced step, and `tf.distribute` does not allow the updates' all-reduces
inside a `tf.cond`.

Batch in: image float32 [B, S, S, 3] in [0, 1] (x), appearance (x'), prior_points float32 [B, K, 2] in [-1, 1]
(unpaired poses), index int64 [B] (`tfssl.data.frame_pair_dataset(prior=...)`); `points` (x's ground truth) is
used only by the summaries.

Differences from the reference code (github.com/tomasjakab/keypointgan, PyTorch), and why:
  - Instance normalisation everywhere (Phi, eta, Psi, D) instead of batch norm in the generators: per-example, so a
    step is the same on any replica layout without synchronised statistics.
  - Gradient clipping acts on the global batch's gradient (all-reduced first), not on each replica's share.
  - The history pool sees the all-gathered batch with per-example random numbers (`layers.rng`), so every replica
    holds the same pool and one step on N replicas equals one step on one device.
  - Psi's output is a sigmoid (images in [0, 1]) rather than tanh in [-1, 1]; the same up to an affine map.
  - LSGAN terms sum over D's scales (pix2pixHD's GANLoss), each a mean over its patches.
  - The perceptual network is gin-selected (`layers.perceptual`): VGG-19 in paper-scale files, a frozen random conv
    stack in the embedded default (no download).
"""

from __future__ import annotations

import math
import os
from typing import Callable, Sequence

import keras
import tensorflow as tf

from tfssl.errors import ModelDirError
from tfssl.layers.history_pool import HistoryPool
from tfssl.layers.patchgan import multiscale_patchgan
from tfssl.layers.perceptual import NormalisedPerceptualLoss, load_pending_weights, random_conv_features
from tfssl.layers.rng import example_uniform
from tfssl.layers.skeleton import SIGMA, SoftArgmax, render_skeleton
from tfssl.layers.unet import scaled_widths
from tfssl.methods.base import Method, register

_POOL_STREAM = 31  # tfssl.layers.rng stream of the history pool's draws
PHASES = ("joint", "pretrain_eta")
NETWORKS = ("eta", "generator", "discriminator")  # optimizer names (gin scopes); eta first: it steps every step


# ==== networks ======================================================================================================

def _instance_norm(x, name: str, affine: bool = True):
    return keras.layers.GroupNormalization(groups=-1, epsilon=1e-5, center=affine, scale=affine, name=name)(x)


def _conv(x, filters: int, kernel: int, name: str, stride: int = 1, norm: bool = True):
    x = keras.layers.Conv2D(filters, kernel, stride, padding="same", name=name)(x)
    if norm:
        x = _instance_norm(x, f"{name}_in")
        x = keras.layers.ReLU(name=f"{name}_relu")(x)
    return x


def _halvings(image_size: int, target: int, what: str) -> int:
    n = int(round(math.log2(image_size / target))) if image_size >= target else -1
    if n < 0 or target * 2**n != image_size:
        raise ValueError(f"{what}: image_size {image_size} must be {target} times a power of 2; change image_size or "
                         f"the {what} size")
    return n


def skeleton_encoder(image_size: int = 128, widths: Sequence[int] = (32, 64, 128, 256), width: float = 1.0,
                     name: str = "phi") -> keras.Model:
    """Phi: image -> skeleton image. Conv stages widths[0..] (each halves the size after the first: 128 -> 16 with
    four stages), then bilinear x2 upsampling with the skip of the same size and a conv, back to full size; a 3x3
    conv to one channel, no activation.

    Returns:
      keras.Model: float32 [B, S, S, 3] in [0, 1] -> float32 [B, S, S, 1] (unbounded; D compares it with beta's
      [-1, 1] images).
    """
    levels = scaled_widths(widths, width)
    if image_size % 2 ** (len(levels) - 1):
        raise ValueError(f"phi: image_size {image_size} must be divisible by 2^{len(levels) - 1}")
    inputs = keras.Input((image_size, image_size, 3), name="images")
    x = keras.layers.Rescaling(2.0, offset=-1.0, name="to_signed")(inputs)
    skips = []
    for i, w in enumerate(levels):
        if i:
            x = _conv(x, w, 3, f"down{i}_0", stride=2)
        x = _conv(x, w, 3, f"down{i}_1")
        skips.append(x)
    for i in range(len(levels) - 2, -1, -1):
        x = keras.layers.UpSampling2D(2, interpolation="bilinear", name=f"up{i}_upsample")(x)
        x = keras.layers.Concatenate(name=f"up{i}_concat")([x, skips[i]])
        x = _conv(x, levels[i], 3, f"up{i}")
    skeleton = keras.layers.Conv2D(1, 3, padding="same", name="skeleton")(x)
    return keras.Model(inputs, skeleton, name=name)


def keypoint_regressor(image_size: int = 128, num_points: int = 15, heatmap_size: int = 16,
                       widths: Sequence[int] = (64, 128, 256), width: float = 1.0, name: str = "eta") -> keras.Model:
    """eta: skeleton image -> K points. IMM's encoder (7x7 conv 32, 3x3 conv 32, stages of two 3x3 convs at
    widths 64, 128, 256, the first conv of a stage stride 2 while the map is larger than heatmap_size), instance
    norm + ReLU, a 1x1 conv to K heatmaps, then soft-argmax.

    Returns:
      keras.Model: float32 [B, S, S, 1] -> points float32 [B, K, 2], (x, y) in [-1, 1].
    """
    halvings = _halvings(image_size, heatmap_size, "eta heatmap")
    stem, levels = scaled_widths((32,), width)[0], scaled_widths(widths, width)
    inputs = keras.Input((image_size, image_size, 1), name="skeletons")
    x = _conv(inputs, stem, 7, "conv0_0")
    x = _conv(x, stem, 3, "conv0_1")
    for i, w in enumerate(levels, start=1):
        x = _conv(x, w, 3, f"conv{i}_0", stride=2 if i <= halvings else 1)
        x = _conv(x, w, 3, f"conv{i}_1")
    for i in range(len(levels) + 1, halvings + 1):  # more halvings than stages: keep the last width
        x = _conv(x, levels[-1], 3, f"conv{i}_0", stride=2)
    heatmaps = keras.layers.Conv2D(num_points, 1, name="heatmaps")(x)
    return keras.Model(inputs, SoftArgmax(name="soft_argmax")(heatmaps), name=name)


def conditional_decoder(image_size: int = 128, bottleneck_size: int = 16, widths: Sequence[int] = (32, 64, 128, 256),
                        width: float = 1.0, name: str = "psi") -> keras.Model:
    """Psi: (skeleton image, appearance frame) -> image. Two encoders (7x7 conv, stride-2 3x3 convs down to
    bottleneck_size, a 3x3 conv to widths[-1]) concatenated, then a decoder of bilinear x2 upsampling + two 3x3
    convs per level, and a 3x3 conv to RGB with a sigmoid.

    Returns:
      keras.Model: [float32 [B, S, S, 1] in [-1, 1], float32 [B, S, S, 3] in [0, 1]] -> float32 [B, S, S, 3] in
      (0, 1).
    """
    halvings = _halvings(image_size, bottleneck_size, "psi bottleneck")
    levels = scaled_widths(widths, width)

    def level_width(i):
        return levels[min(i, len(levels) - 1)]

    def encoder(x, prefix):
        x = _conv(x, level_width(0), 7, f"{prefix}_conv0")
        for i in range(1, halvings + 1):
            x = _conv(x, level_width(i), 3, f"{prefix}_down{i}", stride=2)
        return _conv(x, levels[-1], 3, f"{prefix}_out")

    skeleton = keras.Input((image_size, image_size, 1), name="skeletons")
    appearance = keras.Input((image_size, image_size, 3), name="appearance")
    a = keras.layers.Rescaling(2.0, offset=-1.0, name="appearance_signed")(appearance)
    x = keras.layers.Concatenate(name="bottleneck")([encoder(skeleton, "pose"), encoder(a, "appearance")])
    x = _conv(x, levels[-1], 3, "merge")
    for i in range(halvings, 0, -1):
        x = keras.layers.UpSampling2D(2, interpolation="bilinear", name=f"up{i}_upsample")(x)
        x = _conv(x, level_width(i - 1), 3, f"up{i}_0")
        x = _conv(x, level_width(i - 1), 3, f"up{i}_1")
    rgb = keras.layers.Conv2D(3, 3, padding="same", activation="sigmoid", name="rgb")(x)
    return keras.Model([skeleton, appearance], rgb, name=name)


# ==== losses ========================================================================================================

def scales(logits) -> list:
    """D's outputs as a list of per-scale logit maps (a one-scale Keras model returns a bare tensor)."""
    return list(logits) if isinstance(logits, (list, tuple)) else [logits]


def lsgan_loss(logits: Sequence[tf.Tensor], target: float) -> tf.Tensor:
    """Least-squares GAN loss summed over D's scales, each the mean of (D - target)^2 over its patches."""
    return tf.add_n([tf.reduce_mean(tf.square(tf.cast(x, tf.float32) - target)) for x in scales(logits)])


def unit_to_pixels(points: tf.Tensor, size: int) -> tf.Tensor:
    """[-1, 1] points (the renderer's grid) -> pixels (x, y) of a size x size image, pixel c centred at c + 0.5."""
    return (points + 1.0) * (0.5 * (size - 1)) + 0.5


# ==== the method ====================================================================================================

@register
class KeypointGAN(Method):
    """Keypoints from unlabelled videos and an unpaired pose prior (see the module docstring).

    Args:
      image_size: frame side S (the paper: 128; the embedded default: 64).
      limbs: the prior's skeleton, pairs of joint indices (`@tfssl.data.skeleton_limbs()` in gin).
      num_points: K, the joints of the prior.
      sigma: beta's limb width in [-1, 1] units (0.2).
      phi_widths, eta_widths, psi_widths: network widths (the paper's: 32-64-128-256, 64-128-256, 32-64-128-256);
        width: a multiplier for all of them.
      heatmap_size: eta's heatmap side and Psi's bottleneck side (16).
      discriminator_scales, discriminator_width: D's scales (the paper: 3 at 128 px; 2 at 64 px) and width
        multiplier (1.0 = 64-128-256-512).
      adversarial_weight, perceptual_weight: G's terms (10, 10).
      eta_prior_weight, eta_image_weight: eta's terms during joint training (0.9, 0.1).
      pool_size: the history pool (50; 0 turns it off).
      clip_norm: global gradient-norm clip of every update (1.0; None for none).
      phase: 'joint' (G, D, eta every step) or 'pretrain_eta' (eta alone on rendered prior poses).
      eta_weights: a model_dir (or checkpoint prefix) of a 'pretrain_eta' run whose eta starts this run; None
        keeps eta's initialisation.
      perceptual_network: builds the perceptual loss's frozen feature network (gin: a configurable such as
        `@tfssl.layers.random_conv_features` or `@tfssl.layers.vgg19_features`).
      perceptual_momentum: the perceptual normaliser's running-mean momentum (0.99).
    """

    def __init__(self, image_size: int = 64, limbs: Sequence[Sequence[int]] = (), num_points: int = 15,
                 sigma: float = SIGMA, phi_widths: Sequence[int] = (32, 64, 128, 256),
                 eta_widths: Sequence[int] = (64, 128, 256), psi_widths: Sequence[int] = (32, 64, 128, 256),
                 width: float = 1.0, heatmap_size: int = 16, discriminator_scales: int = 2,
                 discriminator_width: float = 1.0, adversarial_weight: float = 10.0, perceptual_weight: float = 10.0,
                 eta_prior_weight: float = 0.9, eta_image_weight: float = 0.1, pool_size: int = 50,
                 clip_norm: float | None = 1.0, phase: str = "joint", eta_weights: str | None = None,
                 perceptual_network: Callable[[], keras.Model] = random_conv_features,
                 perceptual_momentum: float = 0.99, name: str = "keypointgan"):
        super().__init__(name=name)
        limbs = tuple((int(a), int(b)) for a, b in limbs)
        if not limbs or any(not (0 <= j < num_points) for limb in limbs for j in limb):
            raise ValueError(f"KeypointGAN.limbs must be pairs of joint indices in [0, num_points={num_points}), got "
                             f"{limbs or 'none'}; bind them with @tfssl.data.skeleton_limbs()")
        self.image_size, self.num_points, self.limbs, self.sigma = int(image_size), int(num_points), limbs, sigma
        self.adversarial_weight, self.perceptual_weight = float(adversarial_weight), float(perceptual_weight)
        self.eta_prior_weight, self.eta_image_weight = float(eta_prior_weight), float(eta_image_weight)
        self.clip_norm = None if clip_norm is None else float(clip_norm)
        if phase not in PHASES:
            raise ValueError(f"KeypointGAN.phase must be one of {PHASES}, got {phase!r}")
        self.phase, self.eta_weights = phase, eta_weights

        s = self.image_size
        self.phi = skeleton_encoder(s, phi_widths, width)
        self.eta = keypoint_regressor(s, self.num_points, heatmap_size, eta_widths, width)
        self.psi = conditional_decoder(s, heatmap_size, psi_widths, width)
        self.discriminator = multiscale_patchgan(s, 1, discriminator_scales, width=discriminator_width,
                                                 name="discriminator")
        self.pool = HistoryPool(size=pool_size, name="history_pool")
        self.pool.build((None, s, s, 1))
        self.perceptual = NormalisedPerceptualLoss(network=perceptual_network(), momentum=perceptual_momentum,
                                                   name="perceptual_loss")
        images = keras.Input((s, s, 3), name="images")
        flat = keras.layers.Reshape((2 * self.num_points,), name="flatten_points")(self.eta(self.phi(images)))
        # The transferable network: eta(Phi(x)), the K points flattened to [B, 2K] in [-1, 1].
        self.encoder = keras.Model(images, flat, name="keypoint_encoder")

        self.add_optimizer("eta", self.eta.trainable_variables)
        self.add_optimizer("generator", self.phi.trainable_variables + self.psi.trainable_variables)
        self.add_optimizer("discriminator", self.discriminator.trainable_variables)

    # ---- pieces ----------------------------------------------------------------------------------------------------
    def render(self, points: tf.Tensor) -> tf.Tensor:
        """beta: points [B, K, 2] in [-1, 1] -> skeleton images float32 [B, S, S, 1] in (-1, 1)."""
        return render_skeleton(points, limbs=self.limbs, height=self.image_size, sigma=self.sigma)

    def keypoints(self, images: tf.Tensor, training: bool = False) -> tf.Tensor:
        """eta(Phi(x)): images float32 [B, S, S, 3] in [0, 1] -> points float32 [B, K, 2] in [-1, 1]."""
        return self.eta(self.phi(images, training=training), training=training)

    def detect_keypoints(self, images: tf.Tensor) -> tf.Tensor:
        """Serving: images float32 [B, S, S, 3] in [0, 1] -> K points float32 [B, K, 2], (x, y) in pixels (pixel c
        centred at c + 0.5), in the prior's joint order."""
        return unit_to_pixels(self.keypoints(images), self.image_size)

    def _apply(self, name: str, loss: tf.Tensor, tape: tf.GradientTape) -> None:
        """Updates optimizer `name` from a per-replica mean loss, its global gradient's norm clipped to clip_norm.

        Keras clips each replica's share before the all-reduce; here every replica computes the global gradient's
        norm (one all-reduce) and scales its share by the same factor, so the summed update is the clipped mean.
        """
        optimizer, variables = self._optimizers[name]
        context = tf.distribute.get_replica_context()
        replicas = context.num_replicas_in_sync if context is not None else 1
        grads = tape.gradient(loss, variables)
        grads = [tf.zeros(v.shape, v.dtype) if g is None else g / replicas for g, v in zip(grads, variables)]
        if self.clip_norm is not None:
            total = context.all_reduce(tf.distribute.ReduceOp.SUM, grads) if replicas > 1 else grads
            norm = tf.linalg.global_norm(total)
            factor = self.clip_norm / tf.maximum(norm, self.clip_norm)
            grads = [g * factor for g in grads]
        optimizer.apply_gradients(zip(grads, variables))

    def pooled_fakes(self, fakes: tf.Tensor, index: tf.Tensor, step: tf.Tensor) -> tf.Tensor:
        """Phi's skeletons [b, S, S, 1] (this replica's) through the history pool, on the global batch."""
        context = tf.distribute.get_replica_context()
        replicas = context.num_replicas_in_sync if context is not None else 1
        if replicas > 1:
            every, every_index = context.all_gather(fakes, axis=0), context.all_gather(index, axis=0)
        else:
            every, every_index = fakes, index
        pooled = self.pool(every, example_uniform(every_index, step, _POOL_STREAM, 2))
        if replicas == 1:
            return pooled
        size = tf.shape(fakes)[0]
        return tf.slice(pooled, [tf.cast(context.replica_id_in_sync_group, tf.int32) * size, 0, 0, 0],
                        tf.shape(fakes))

    # ---- losses and updates ----------------------------------------------------------------------------------------
    def eta_prior_error(self, prior: tf.Tensor, training: bool) -> tf.Tensor:
        """MSE(eta(beta(y_bar)), y_bar): eta's regression error on rendered prior poses."""
        return tf.reduce_mean(tf.square(self.eta(self.render(prior), training=training) - prior))

    def pretrain_step(self, batch: dict) -> dict[str, tf.Tensor]:
        """eta alone on rendered prior poses (the first `eta_pretrain_steps` steps)."""
        with tf.GradientTape() as tape:
            error = self.eta_prior_error(batch["prior_points"], training=True)
        self._apply("eta", error, tape)
        zero = tf.zeros([])  # the joint step's outputs, so both phases log the same names
        return {"loss": error, "eta_loss": error, "eta_prior_mse": error, "eta_image_mse": zero,
                "generator_loss": zero, "generator_adversarial": zero, "perceptual": zero,
                "discriminator_loss": zero}

    def generator_losses(self, x: tf.Tensor, appearance: tf.Tensor, training: bool = True) -> dict[str, tf.Tensor]:
        """G's forward: Phi's skeletons y, the reconstruction Psi(beta(eta(y)), x') and the loss terms.

        Psi sees x only through the K points eta(y) (the bottleneck); eta and D run in inference mode and are not
        updated by G's loss, though its gradient flows through them into Phi.
        """
        y = self.phi(x, training=training)
        reconstruction = self.psi([self.render(self.eta(y, training=False)), appearance], training=training)
        adversarial = lsgan_loss(self.discriminator(y, training=False), 1.0)
        perceptual = tf.reduce_mean(self.perceptual(reconstruction, x, training=training))
        return {"skeletons": y, "reconstruction": reconstruction, "adversarial": adversarial,
                "perceptual": perceptual,
                "generator_loss": self.adversarial_weight * adversarial + self.perceptual_weight * perceptual}

    def joint_step(self, batch: dict) -> dict[str, tf.Tensor]:
        """G, then D, then eta (the spec's order), each its own update."""
        prior, step = batch["prior_points"], self.step
        with tf.GradientTape() as tape:
            g = self.generator_losses(batch["image"], batch["appearance"], training=True)
        self._apply("generator", g["generator_loss"], tape)
        y, generator_loss, adversarial, perceptual = (g[k] for k in ("skeletons", "generator_loss", "adversarial",
                                                                     "perceptual"))

        fakes = self.pooled_fakes(tf.stop_gradient(y), batch["index"], step)
        with tf.GradientTape() as tape:
            logits = self.discriminator(tf.concat([self.render(prior), fakes], 0), training=True)
            real, fake = zip(*(tf.split(scale, 2) for scale in scales(logits)))
            discriminator_loss = 0.5 * (lsgan_loss(real, 1.0) + lsgan_loss(fake, 0.0))
        self._apply("discriminator", discriminator_loss, tape)

        skeletons = tf.stop_gradient(y)
        with tf.GradientTape() as tape:
            prior_mse = self.eta_prior_error(prior, training=True)
            image_mse = tf.reduce_mean(tf.square(self.render(self.eta(skeletons, training=True)) - skeletons))
            eta_loss = self.eta_prior_weight * prior_mse + self.eta_image_weight * image_mse
        self._apply("eta", eta_loss, tape)
        return {"loss": generator_loss, "generator_loss": generator_loss, "generator_adversarial": adversarial,
                "perceptual": perceptual, "discriminator_loss": discriminator_loss, "eta_loss": eta_loss,
                "eta_prior_mse": prior_mse, "eta_image_mse": image_mse}

    def train_step(self, batch):
        return self.pretrain_step(batch) if self.phase == "pretrain_eta" else self.joint_step(batch)

    def prepare_training(self) -> None:
        """Reads the perceptual network's pending weights (VGG-19's ImageNet weights; not needed to pre-train eta),
        and on a fresh run (step 0) with `eta_weights`, starts eta from that pre-training run's checkpoint."""
        if self.phase == "joint":
            load_pending_weights(self.perceptual.network)
        if not self.eta_weights or int(self.step.numpy()) > 0:
            return
        path = self.eta_weights
        if os.path.isdir(path):
            path = tf.train.latest_checkpoint(os.path.join(path, "ckpt")) or tf.train.latest_checkpoint(path)
        if not path or not tf.io.gfile.exists(path + ".index"):
            raise ModelDirError(f"no checkpoint in {self.eta_weights} to start eta from; train one with "
                                "KeypointGAN.phase='pretrain_eta' (gin/keypoints_eta.gin) into that model_dir")
        try:
            # Only the `eta` child of the saved method is read; the rest of that run's checkpoint is ignored.
            status = tf.train.Checkpoint(method=tf.train.Checkpoint(eta=self.eta)).restore(path)
            status.expect_partial()
            status.assert_existing_objects_matched()
        except (AssertionError, ValueError, tf.errors.OpError) as error:
            raise ModelDirError(f"checkpoint {path} has no eta for this model ({str(error).splitlines()[0][:120]}); "
                                "pre-train eta with the same image_size, num_points and widths") from error

    # ---- what a person and a user see ------------------------------------------------------------------------------
    def summaries(self, batch):
        """Up to 8 examples: frames, Phi's skeletons, the re-rendered beta(eta(Phi(x))), predicted skeletons drawn on
        the frames (and the ground truth's, when the batch has `points`), reconstructions, rendered prior poses."""
        if "image" not in batch:  # eta pre-training: prior poses only
            prior = tf.constant(batch["prior_points"][:8], tf.float32)
            rendered = self.render(prior)
            return {"prior_samples": tf.tile((rendered + 1.0) / 2.0, [1, 1, 1, 3]),
                    "eta_round_trip": tf.tile((self.render(self.eta(rendered)) + 1.0) / 2.0, [1, 1, 1, 3])}
        x = tf.constant(batch["image"][:8], tf.float32)
        y = self.phi(x, training=False)
        points = self.eta(y, training=False)
        rendered = self.render(points)

        def grey(skeleton):
            return tf.tile(tf.clip_by_value((skeleton + 1.0) / 2.0, 0.0, 1.0), [1, 1, 1, 3])

        def overlay(skeleton):
            alpha = tf.clip_by_value((skeleton + 1.0) / 2.0, 0.0, 1.0)
            return x * (1.0 - alpha) + tf.constant([1.0, 0.1, 0.1]) * alpha

        show = {"frames": x, "phi_skeletons": grey(y), "rendered_skeletons": grey(rendered),
                "predicted_on_frames": overlay(rendered)}
        if "appearance" in batch:
            appearance = tf.constant(batch["appearance"][:8], tf.float32)
            show["reconstructions"] = self.psi([rendered, appearance], training=False)
        if "prior_points" in batch:
            show["prior_samples"] = grey(self.render(tf.constant(batch["prior_points"][:8], tf.float32)))
        if "points" in batch:
            show["ground_truth_on_frames"] = overlay(self.render(tf.constant(batch["points"][:8], tf.float32)))
        return show

    def serving_endpoints(self):
        spec = [tf.TensorSpec([None, self.image_size, self.image_size, 3], tf.float32, name="images")]
        return {"detect_keypoints": (self.detect_keypoints, spec)}

    def tflite_endpoints(self):
        """`detect_keypoints.tflite`: images float32 [B, S, S, 3] in [0, 1] -> points in pixels [B, K, 2]."""
        spec = [tf.TensorSpec([None, self.image_size, self.image_size, 3], tf.float32, name="images")]
        return {"detect_keypoints": (self.detect_keypoints, spec)}
