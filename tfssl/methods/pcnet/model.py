"""PCNet: Self-Supervised Scene De-occlusion (Zhan, Pan, Dai, Liu, Lin, Loy; CVPR 2020, arXiv 2004.02788).

Two networks learn to undo an occlusion that was *added* to a real instance A by a random surrogate occluder B, so
no amodal or ordering annotation is ever used (the samples come from `tfssl.methods.pcnet.samples`):

  PCNet-M (mask completion, a UNet): input (modal mask of A with B cut out [x category], eraser), target the modal
    mask of A; per-pixel 2-class cross-entropy, weight 5 inside the eraser. In case 2 (B behind A) nothing is cut
    out, which teaches it *not* to grow into an eraser that lies behind.
  PCNet-C (content completion, a partial-convolution UNet + spectral-norm PatchGAN): input the RGB with the hole
    A ∩ B zeroed and the modal channel A \\ B; L1 on the hole (x6) and the rest (x1), perceptual (x0.1) and style
    (x250) losses on three frozen feature stages for the output and the composite, total variation (x0.1) of the
    composite, and a non-saturating GAN loss (x0.1) from a discriminator conditioned on the modal channel.

Both are trained in every step, each with its own optimizer ('mask', 'content', 'discriminator'), from one batch;
`train_content=False` trains PCNet-M alone, and with `adversarial_weight=0` there is no discriminator at all (its
loss would not reach PCNet-C, so training it would only cost time). Inference (ordering, amodal completion,
content) lives in `tfssl.methods.pcnet.inference` (metrics in `tfssl.evaluation.deocclusion`) and uses only
`mask_probabilities` and `complete_content`.

Differences from the reference code (github.com/XiaohangZhan/deocclusion), and why:
  - Images are float32 in [0, 1]; the networks see them scaled to [-1, 1] (the reference normalises by ImageNet
    mean/std) and the losses are computed in [0, 1] units.
  - The perceptual network is a gin choice: 'vgg16' (Keras' ImageNet VGG16, pool1-3, as the paper; needs the
    weights file), 'random' (a small frozen random conv net: random features still carry texture statistics for the
    style loss, and it needs no download) or 'none'. Keras' VGG16 weights are the Caffe ones (BGR, 0-255 input),
    whose features are on a larger scale than torchvision's VGG16 that the paper's weights (0.1, 250) were set
    for; the weights are kept at the paper's values.
  - The discriminator is called once on [real; fake] (no BN in it, so this equals two calls) and both networks step
    from the same forward pass, as the reference (which updates D, then G with gradients through the pre-update D).
  - Keras' SpectralNormalization projects the kernel (see tfssl/layers/patchgan.py).
  - `mean_colour_prior` (tfssl's addition, off by default, on in the embedded default gin/pcnet.gin): PCNet-C
    predicts the residual over the instance's visible mean colour, so it starts from the mean-colour fill baseline.
"""

from __future__ import annotations

from typing import Callable, Sequence

import keras
import tensorflow as tf

from tfssl.errors import UserError
from tfssl.layers.partial_conv import partial_conv_encoder, partial_conv_unet
from tfssl.layers.patchgan import patchgan
from tfssl.layers.unet import unet
from tfssl.methods.base import Method, register

PERCEPTUAL_NETWORKS = ("vgg16", "random", "none")
VGG16_STAGES = ("block1_pool", "block2_pool", "block3_pool")
VGG16_NOTOP_FILE = "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5"


# ---------------------------------------------------------------------------------------------------------------
# Losses (pure functions of tensors)
# ---------------------------------------------------------------------------------------------------------------


def weighted_mask_loss(logits: tf.Tensor, target: tf.Tensor, eraser: tf.Tensor, in_eraser_weight: float = 5.0,
                       out_eraser_weight: float = 1.0) -> tf.Tensor:
    """PCNet-M's loss: (w_in * sum of CE inside the eraser + w_out * sum of CE outside) / (N * H * W).

    Args:
      logits: float32 [N, H, W, 2] (background, foreground).
      target: float32 [N, H, W, 1] or [N, H, W] in {0, 1}.
      eraser: float32, same shape as target, in {0, 1}.
    Returns:
      float32 scalar; equals the plain mean cross-entropy when the eraser is empty and out_eraser_weight is 1.
    """
    target = tf.reshape(tf.cast(target, tf.int32), tf.shape(logits)[:-1])
    eraser = tf.reshape(tf.cast(eraser, logits.dtype), tf.shape(logits)[:-1])
    ce = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=target, logits=logits)
    weights = in_eraser_weight * eraser + out_eraser_weight * (1.0 - eraser)
    return tf.reduce_mean(weights * ce)


def global_ratio(numerator: tf.Tensor, denominator: tf.Tensor) -> tf.Tensor:
    """numerator / denominator summed over all replicas (so every replica reports the global-batch value)."""
    context = tf.distribute.get_replica_context()
    if context is not None:
        numerator, denominator = context.all_reduce(tf.distribute.ReduceOp.SUM, [numerator, denominator])
    return tf.math.divide_no_nan(numerator, denominator)


def eraser_accuracy_and_iou(logits: tf.Tensor, target: tf.Tensor, eraser: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """PCNet-M's pixel accuracy and foreground IoU restricted to the eraser (where completion happens).

    Args: as `weighted_mask_loss`. Returns: two float32 scalars in [0, 1] over the global batch.
    """
    predicted = tf.cast(tf.argmax(logits, -1) == 1, tf.float32)
    target = tf.reshape(tf.cast(target, tf.float32), tf.shape(predicted))
    eraser = tf.reshape(tf.cast(eraser, tf.float32), tf.shape(predicted))
    correct = tf.reduce_sum(eraser * tf.cast(tf.equal(predicted, target), tf.float32))
    accuracy = global_ratio(correct, tf.reduce_sum(eraser))
    intersection = tf.reduce_sum(eraser * predicted * target)
    union = tf.reduce_sum(eraser * tf.maximum(predicted, target))
    return accuracy, global_ratio(intersection, union)


def composite(image: tf.Tensor, output: tf.Tensor, hole: tf.Tensor) -> tf.Tensor:
    """visible * image + hole * output, exactly `image` on visible pixels.

    Args:
      image, output: float32 [B, H, W, 3]; hole: float32 [B, H, W, 1] in {0, 1}.
    """
    return tf.where(hole > 0.5, output, image)


def visible_mean_colour(image: tf.Tensor, content_modal: tf.Tensor, hole: tf.Tensor) -> tf.Tensor:
    """The mean colour of each instance's visible pixels (of every non-hole pixel when none is visible).

    Args:
      image: float32 [B, S, S, 3]; content_modal: float32 [B, S, S, 1] (> 0 on the instance); hole: float32
        [B, S, S, 1] in {0, 1}.
    Returns:
      float32 [B, 1, 1, 3]; the colour the mean-colour fill baseline (`tfssl.methods.pcnet.inference.mean_colour_fill`) paints.
    """
    known = 1.0 - tf.cast(hole > 0.5, tf.float32)
    visible = tf.cast(content_modal > 0, tf.float32) * known
    has_visible = tf.reduce_any(visible > 0, axis=[1, 2, 3], keepdims=True)
    weights = tf.where(has_visible, visible, known)
    total = tf.reduce_sum(image * weights, axis=[1, 2], keepdims=True)
    return total / tf.maximum(tf.reduce_sum(weights, axis=[1, 2], keepdims=True), 1.0)


def hole_and_valid_l1(output: tf.Tensor, target: tf.Tensor, hole: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """Mean |hole * (output - target)| and mean |(1 - hole) * (output - target)| over all B*H*W*3 values."""
    error = tf.abs(output - target)
    return tf.reduce_mean(hole * error), tf.reduce_mean((1.0 - hole) * error)


def gram_matrix(features: tf.Tensor) -> tf.Tensor:
    """[B, H, W, C] -> [B, C, C], F^T F / (C * H * W) (the style statistics of Gatys et al.)."""
    shape = tf.shape(features)
    size = tf.cast(shape[1] * shape[2] * shape[3], features.dtype)
    return tf.einsum("bhwc,bhwd->bcd", features, features) / size


def perceptual_and_style_losses(output_features: Sequence[tf.Tensor], composite_features: Sequence[tf.Tensor],
                                target_features: Sequence[tf.Tensor]) -> tuple[tf.Tensor, tf.Tensor]:
    """Sums over stages of mean L1 between features (perceptual) and between Gram matrices (style), each for the
    raw output and for the composite against the target."""
    perceptual, style = 0.0, 0.0
    for out, comp, target in zip(output_features, composite_features, target_features):
        target = tf.stop_gradient(target)
        perceptual += tf.reduce_mean(tf.abs(out - target)) + tf.reduce_mean(tf.abs(comp - target))
        gram_target = gram_matrix(target)
        style += (tf.reduce_mean(tf.abs(gram_matrix(out) - gram_target))
                  + tf.reduce_mean(tf.abs(gram_matrix(comp) - gram_target)))
    return tf.convert_to_tensor(perceptual), tf.convert_to_tensor(style)


def total_variation(image: tf.Tensor) -> tf.Tensor:
    """Mean absolute difference of horizontal neighbours plus that of vertical neighbours: [B, H, W, C] -> scalar."""
    return (tf.reduce_mean(tf.abs(image[:, :, 1:] - image[:, :, :-1]))
            + tf.reduce_mean(tf.abs(image[:, 1:] - image[:, :-1])))


def _bce(logits: tf.Tensor, label: float) -> tf.Tensor:
    return tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(labels=tf.fill(tf.shape(logits), label),
                                                                  logits=logits))


def discriminator_loss(real_logits: tf.Tensor, fake_logits: tf.Tensor) -> tf.Tensor:
    """(BCE(D(real), 1) + BCE(D(fake), 0)) / 2, from patch logits."""
    return 0.5 * (_bce(real_logits, 1.0) + _bce(fake_logits, 0.0))


def generator_adversarial_loss(fake_logits: tf.Tensor) -> tf.Tensor:
    """Non-saturating GAN loss of the generator: BCE(D(fake), 1)."""
    return _bce(fake_logits, 1.0)


# ---------------------------------------------------------------------------------------------------------------
# Frozen perceptual networks
# ---------------------------------------------------------------------------------------------------------------


def vgg16_stages(image_size: int) -> keras.Model:
    """Keras' VGG16 up to pool3 (weights loaded later): images in [0, 1] -> [pool1, pool2, pool3] features."""
    vgg = keras.applications.VGG16(include_top=False, weights=None, input_shape=(image_size, image_size, 3))
    images = keras.Input((image_size, image_size, 3), name="images")
    # Keras' VGG16 weights expect Caffe preprocessing: BGR in [0, 255] minus the ImageNet channel means.
    x = keras.layers.Lambda(lambda t: keras.applications.vgg16.preprocess_input(t * 255.0), name="caffe")(images)
    stages = keras.Model(vgg.input, [vgg.get_layer(name).output for name in VGG16_STAGES], name="vgg16_pool1_3")
    model = keras.Model(images, stages(x), name="vgg16_perceptual")
    model.trainable = False
    return model


def load_vgg16_weights(stages: keras.Model, weights: str) -> None:
    """Copies ImageNet VGG16 weights into `vgg16_stages`' layers.

    Args:
      weights: 'imagenet' (Keras downloads the notop file into ~/.keras/models on first use) or a local path to the
        notop weights file (`.h5` as Keras publishes it, or `.weights.h5`).
    Raises:
      UserError: the weights cannot be loaded (offline and not cached, wrong file); the message names the fixes.
    """
    size = int(stages.input.shape[1])
    try:
        vgg = keras.applications.VGG16(include_top=False, weights=weights, input_shape=(size, size, 3))
    except Exception as error:  # download (URL/OS) errors, a missing or incompatible file
        raise UserError(
            f"could not load VGG16 weights '{weights}' for PCNet's perceptual loss "
            f"({str(error).splitlines()[0][:160]});"
            f" put {VGG16_NOTOP_FILE} into ~/.keras/models/ (or bind tfssl.methods.PCNet.perceptual_weights = "
            "'/path/to/it.h5'), or train without it: tfssl.methods.PCNet.perceptual = 'random' or 'none'") from error
    inner = stages.get_layer("vgg16_pool1_3")
    for layer in (layer for layer in inner.layers if layer.weights):
        for variable, value in zip(layer.weights, vgg.get_layer(layer.name).get_weights()):
            variable.assign(value)  # cross-replica context (Method.prepare_training): reaches every replica's copy


def random_features(image_size: int, widths: Sequence[int] = (16, 32, 64)) -> keras.Model:
    """A frozen random conv net with three stages (3x3 conv + ReLU + 2x2 max-pool), a download-free perceptual net.

    Returns: keras.Model images [B, S, S, 3] in [0, 1] -> three feature maps at 1/2, 1/4, 1/8 resolution.
    """
    images = keras.Input((image_size, image_size, 3), name="images")
    x = keras.layers.Rescaling(2.0, offset=-1.0, name="to_signed")(images)
    outputs = []
    for i, filters in enumerate(widths, start=1):
        x = keras.layers.Conv2D(filters, 3, padding="same", activation="relu", kernel_initializer="he_normal",
                                name=f"stage{i}_conv")(x)
        x = keras.layers.MaxPooling2D(2, name=f"stage{i}_pool")(x)
        outputs.append(x)
    model = keras.Model(images, outputs, name="random_perceptual")
    model.trainable = False
    return model


def perceptual_network(kind: str, image_size: int) -> keras.Model | None:
    """The frozen feature network of the perceptual and style losses: 'vgg16', 'random' or 'none' (None)."""
    if kind == "vgg16":
        return vgg16_stages(image_size)
    if kind == "random":
        return random_features(image_size)
    return None


# ---------------------------------------------------------------------------------------------------------------
# The method
# ---------------------------------------------------------------------------------------------------------------


def _to_signed(images: tf.Tensor) -> tf.Tensor:
    return images * 2.0 - 1.0


@register
class PCNet(Method):
    """PCNet-M and PCNet-C, trained together.

    Batch in (see tfssl.methods.pcnet_sample), S = image_size:
      "image" float32 [B, S, S, 3] in [0, 1]; "mask_input", "eraser", "target", "content_modal", "content_hole"
      float32 [B, S, S, 1] (mask_input and content_modal times the category id when use_category, else {0, 1}).

    Args:
      image_size: S.
      use_category: whether the pipeline multiplies modal masks by the category id (inference callers must too).
      mask_network / content_network / discriminator: builders called with (image_size, in_channels, ...).
      perceptual: 'vgg16' | 'random' | 'none' (drops the perceptual and style terms).
      perceptual_weights: for 'vgg16': 'imagenet' (Keras download/cache) or a local weights file; loaded at the
        first training step, so building the method (gin checks, inference) never needs them.
      train_content: False trains PCNet-M only (no 'content' / 'discriminator' optimizers).
      adversarial_weight: 0 builds no discriminator and no 'discriminator' optimizer (nothing would use them).
      mean_colour_prior: PCNet-C predicts the residual over the mean colour of the instance's visible pixels
        instead of the colour itself (tfssl's addition, off in the paper files): the network starts from the
        mean-colour fill and learns what the visible context adds (shading, texture), which a narrow network
        trained for minutes on a CPU otherwise does not reach (docs/notes/pcnet.md).
      *_weight: the loss weights (paper values as defaults).
    """

    def __init__(self, image_size: int = 64, use_category: bool = False,
                 mask_network: Callable[..., keras.Model] = unet,
                 content_network: Callable[..., keras.Model] = partial_conv_unet,
                 discriminator: Callable[..., keras.Model] = patchgan,
                 perceptual: str = "vgg16", perceptual_weights: str = "imagenet", train_content: bool = True,
                 mean_colour_prior: bool = False,
                 in_eraser_weight: float = 5.0, hole_weight: float = 6.0, valid_weight: float = 1.0,
                 perceptual_weight: float = 0.1, style_weight: float = 250.0, tv_weight: float = 0.1,
                 adversarial_weight: float = 0.1, name: str = "pcnet"):
        super().__init__(name=name)
        if perceptual not in PERCEPTUAL_NETWORKS:
            raise UserError(f"PCNet: unknown perceptual network '{perceptual}'; bind tfssl.methods.PCNet.perceptual "
                            f"to one of {', '.join(PERCEPTUAL_NETWORKS)}")
        self.image_size = image_size
        self.use_category = use_category
        self.train_content = train_content
        self.mean_colour_prior = mean_colour_prior
        self.in_eraser_weight = in_eraser_weight
        self.content_weights = {"hole": hole_weight, "valid": valid_weight, "perceptual": perceptual_weight,
                                "style": style_weight, "tv": tv_weight, "adversarial": adversarial_weight}

        self.mask_net = mask_network(image_size=image_size, in_channels=2, num_classes=2)
        self.content_net = content_network(image_size=image_size, in_channels=4, out_channels=3)
        self.discriminator = None
        if train_content and adversarial_weight > 0:
            self.discriminator = discriminator(image_size=image_size, in_channels=4)
            self.discriminator(tf.zeros((1, image_size, image_size, 4)))
        self.encoder = partial_conv_encoder(self.content_net)
        self.perceptual_weights = perceptual_weights
        self.perceptual = perceptual_network(perceptual, image_size)
        self._perceptual_loaded = perceptual != "vgg16"  # VGG16's weights are read when training starts

        # Inference entry points compiled once (batch sizes vary per scene, hence reduce_retracing).
        self._compiled_mask_probabilities = tf.function(self._mask_probabilities, reduce_retracing=True)
        self._compiled_complete_content = tf.function(self._complete_content, reduce_retracing=True)

        self.add_optimizer("mask", self.mask_net.trainable_variables)  # first: its step count is `self.step`
        if train_content:
            self.add_optimizer("content", self.content_net.trainable_variables)
        if self.discriminator is not None:
            self.add_optimizer("discriminator", self.discriminator.trainable_variables)
        self.built = True

    # ---- PCNet-M ---------------------------------------------------------------------------------------------
    def mask_logits(self, mask_input: tf.Tensor, eraser: tf.Tensor, training: bool = False) -> tf.Tensor:
        """[B, S, S, 1] x 2 -> logits [B, S, S, 2] (background, foreground)."""
        return self.mask_net(tf.concat([mask_input, eraser], axis=-1), training=training)

    def mask_probabilities(self, mask_input: tf.Tensor, eraser: tf.Tensor) -> tf.Tensor:
        """PCNet-M's foreground probability in [0, 1]: [B, S, S] (inference mode).

        Args:
          mask_input: float32 [B, S, S, 1] (or [B, S, S]): the modal mask, times the category id if use_category.
          eraser: float32 [B, S, S, 1] (or [B, S, S]) in {0, 1}: where the instance may be occluded.
        """
        if tf.executing_eagerly():  # evaluation calls this per scene: a compiled call is ~4x faster than eager
            return self._compiled_mask_probabilities(mask_input, eraser)
        return self._mask_probabilities(mask_input, eraser)

    def _mask_probabilities(self, mask_input, eraser):
        mask_input, eraser = (tf.reshape(tf.cast(m, tf.float32), (-1, self.image_size, self.image_size, 1))
                              for m in (mask_input, eraser))
        return tf.nn.softmax(self.mask_logits(mask_input, eraser))[..., 1]

    # ---- PCNet-C ---------------------------------------------------------------------------------------------
    def content_output(self, image: tf.Tensor, content_modal: tf.Tensor, hole: tf.Tensor,
                       training: bool = False) -> tf.Tensor:
        """PCNet-C's raw output in [0, 1] units (unclipped): [B, S, S, 3].

        The hole is zeroed in the input and marked invalid for the partial convolutions, so the output never depends
        on the hidden pixels. With `mean_colour_prior` the network's output is added to the instance's visible mean
        colour (in the network's [-1, 1] units).
        """
        visible = 1.0 - hole
        features = tf.concat([_to_signed(image) * visible, content_modal * visible], axis=-1)
        output, _ = self.content_net((features, visible), training=training)
        if self.mean_colour_prior:
            output += _to_signed(visible_mean_colour(image, content_modal, hole))
        return (output + 1.0) / 2.0

    def complete_content(self, image: tf.Tensor, content_modal: tf.Tensor, hole: tf.Tensor) -> tf.Tensor:
        """PCNet-C's RGB for every pixel, clipped to [0, 1]: [B, S, S, 3] (callers composite it into the hole).

        Args:
          image: float32 [B, S, S, 3] in [0, 1] (values in the hole are ignored).
          content_modal: float32 [B, S, S, 1]: the visible part of the instance (times category if use_category).
          hole: float32 [B, S, S, 1] in {0, 1}: the pixels to fill.
        """
        if tf.executing_eagerly():
            return self._compiled_complete_content(image, content_modal, hole)
        return self._complete_content(image, content_modal, hole)

    def _complete_content(self, image, content_modal, hole):
        image, content_modal, hole = (tf.cast(t, tf.float32) for t in (image, content_modal, hole))
        return tf.clip_by_value(self.content_output(image, content_modal, hole), 0.0, 1.0)

    def prepare_training(self) -> None:
        """Reads VGG16's ImageNet weights (once), so that building a config never needs the weights file."""
        if not self._perceptual_loaded:
            load_vgg16_weights(self.perceptual, self.perceptual_weights)
            self._perceptual_loaded = True

    def perceptual_features(self, images: tf.Tensor) -> list[tf.Tensor]:
        """The frozen network's three stages for [B, S, S, 3] images in [0, 1]."""
        return list(self.perceptual(images, training=False))

    def content_losses(self, image: tf.Tensor, modal: tf.Tensor, hole: tf.Tensor,
                       training: bool = True) -> tuple[dict, tf.Tensor, tf.Tensor | None]:
        """All PCNet-C terms for one batch.

        Returns:
          terms: {"hole", "valid", "perceptual", "style", "tv", "adversarial"} unweighted scalars ("perceptual" and
            "style" only with a perceptual network, "adversarial" only with a discriminator).
          generator_loss: the weighted sum.
          discriminator_loss: (BCE(real, 1) + BCE(fake, 0)) / 2, or None without a discriminator.
        """
        output = self.content_output(image, modal, hole, training=training)
        comp = composite(image, output, hole)
        terms = {}
        terms["hole"], terms["valid"] = hole_and_valid_l1(output, image, hole)
        if self.perceptual is not None:
            batch = tf.shape(image)[0]
            features = self.perceptual_features(tf.concat([output, comp, image], axis=0))
            split = [[f[:batch] for f in features], [f[batch:2 * batch] for f in features],
                     [f[2 * batch:] for f in features]]
            terms["perceptual"], terms["style"] = perceptual_and_style_losses(*split)
        terms["tv"] = total_variation(comp)
        d_loss = None
        if self.discriminator is not None:
            # One discriminator call on [real; fake], both conditioned on the modal channel.
            logits = self.discriminator(tf.concat([tf.concat([_to_signed(image), modal], -1),
                                                   tf.concat([_to_signed(output), modal], -1)], axis=0),
                                        training=training)
            real_logits, fake_logits = tf.split(logits, 2, axis=0)
            terms["adversarial"] = generator_adversarial_loss(fake_logits)
            d_loss = discriminator_loss(real_logits, fake_logits)
        generator_loss = tf.add_n([self.content_weights[k] * v for k, v in terms.items()])
        return terms, generator_loss, d_loss

    # ---- training --------------------------------------------------------------------------------------------
    def train_step(self, batch):
        mask_input, eraser, target = batch["mask_input"], batch["eraser"], batch["target"]
        with tf.GradientTape(persistent=True) as tape:
            logits = self.mask_logits(mask_input, eraser, training=True)
            mask_loss = weighted_mask_loss(logits, target, eraser, self.in_eraser_weight)
            if self.train_content:
                terms, generator_loss, d_loss = self.content_losses(batch["image"], batch["content_modal"],
                                                                    batch["content_hole"])
        self.minimize("mask", mask_loss, tape)
        accuracy, iou = eraser_accuracy_and_iou(logits, target, eraser)
        outputs = {"mask_loss": mask_loss, "mask_eraser_accuracy": accuracy, "mask_eraser_iou": iou}
        if self.train_content:
            if d_loss is not None:
                # The paper's order: D, then G (G's gradient goes through the discriminator of this forward pass).
                self.minimize("discriminator", d_loss, tape)
                outputs["discriminator_loss"] = d_loss
            self.minimize("content", generator_loss, tape)
            outputs.update({f"content_{k}": v for k, v in terms.items()})
            outputs["content_loss"] = generator_loss
        del tape
        return outputs

    # ---- what a person and a user see ------------------------------------------------------------------------
    def summaries(self, batch):
        """Up to 4 examples each: [mask input | eraser | PCNet-M prediction | target] and
        [input with hole | PCNet-C output | composite | ground truth]."""
        def rgb(mask):
            mask = tf.cast(mask[:4], tf.float32)
            return tf.image.grayscale_to_rgb(mask / tf.maximum(tf.reduce_max(mask), 1.0))

        mask_input, eraser = batch["mask_input"][:4], batch["eraser"][:4]
        prediction = self.mask_probabilities(mask_input, eraser)[..., None]
        masks = tf.concat([rgb(mask_input), rgb(eraser), rgb(prediction), rgb(batch["target"])], axis=2)
        image, modal, hole = (tf.cast(batch[k][:4], tf.float32) for k in ("image", "content_modal", "content_hole"))
        output = self.complete_content(image, modal, hole)
        shown_hole = tf.where(hole > 0.5, tf.ones_like(image) * 0.5, image)
        content = tf.concat([shown_hole, output, composite(image, output, hole), image], axis=2)
        return {"mask_completion": masks, "content_completion": content}

    def serving_endpoints(self):
        size = self.image_size
        mask = [tf.TensorSpec([None, size, size, 1], tf.float32, name="mask_input"),
                tf.TensorSpec([None, size, size, 1], tf.float32, name="eraser")]
        content = [tf.TensorSpec([None, size, size, 3], tf.float32, name="image"),
                   tf.TensorSpec([None, size, size, 1], tf.float32, name="content_modal"),
                   tf.TensorSpec([None, size, size, 1], tf.float32, name="hole")]
        return {"complete_mask": (self.mask_probabilities, mask),
                "complete_content": (self.complete_content, content)}

    def tflite_endpoints(self):
        """PCNet-M on device, exported as `pcnet_m.tflite`: masks float32 [B, S, S, 2] (mask_input, eraser
        stacked on the channel axis; TF-Lite models here take one input) -> foreground probability [B, S, S]."""
        spec = [tf.TensorSpec([None, self.image_size, self.image_size, 2], tf.float32, name="masks")]
        return {"pcnet_m": ((lambda masks: tf.nn.softmax(self.mask_net(masks, training=False))[..., 1]), spec)}
