"""LCI: Steering Self-Supervised Feature Learning Beyond Local Pixel Statistics (Jenni, Jin, Favaro; CVPR 2020).

A classifier learns to tell which of six transformations an image went through. The transformations keep local
pixel statistics natural and change only global ones, so the classifier must look at whole objects:

  0  untransformed (half the originals, half with an *autoencoded* patch, so inpainter artefacts are no cue)
  1  Limited Context Inpainting: a patch's centre is erased except a thin border, an adversarially trained
     inpainter F fills it from the border alone, and the patch is pasted back (locally plausible, globally off)
  2-4 class 0 rotated by 90, 180, 270 degrees
  5  a smooth random warp (4 x 4 control points, each moved up to +-H/16)

Classes 0, 1 and 5 get an anti-shortcut augmentation first (half of them a small rotation up to +-0.07 pi, all a
random crop), and class 0 is rotated only after it. Three networks learn together, each with its
own optimizer, every step, from the same forward pass (as the reference applies all three updates at once):
  - the classifier (feature network + linear head): cross-entropy over the 6 classes;
  - the inpainter F (encoder-decoder, no skips): -mean D(fake) + 50 MSE on the border ring (LCI path)
    + 50 MSE on the whole patch (autoencoding path) - the classifier's cross-entropy;
  - the discriminator D (spectral norm, scores *pairs* of patches): hinge loss, real patch pairs vs. LCI pairs.

Differences from the reference code (github.com/sjenni/LCI, TF 1.15 + contrib), and why:
  - The warp upsamples a random 4 x 4 displacement grid with cubic B-splines (tfssl.layers.image_ops.warp) instead of
    contrib's sparse_image_warp from 16 random points: tensorflow-addons is gone, and B-splines keep every
    displacement within +-H/16 and the field smooth.
  - Spectral norm is keras.layers.SpectralNormalization, which writes the normalised kernel back into the variable
    on each training call and takes gradients w.r.t. it (the reference differentiates through sigma(W)).
  - Which examples are originals / autoencoded (class 0) and which pairs D scores are fixed by batch position
    (even/odd), and all random numbers are hashes of (example index, step): one step on N replicas equals one
    step on one device. The reference splits the batch in halves per GPU tower.
  - The anti-shortcut crop takes 80% of the side and resizes it back (one bilinear resampling together with the
    small rotation) instead of cropping 64 px out of 80 px inputs: tfssl's exports and probes feed the encoder
    images at the size the train input delivers.
  - `paste='center'` additionally pastes only F's centre (the border stays the original, exactly).
  - The classifier's AdamW decays BatchNorm scales and offsets too (the reference excludes them; at 1e-4 x lr the
    difference is negligible).
  - `flip` mirrors each source image left-right first (off by default, as in the reference; gin/lci.gin turns it
    on): on tfssl_objects/tc00, lit from one fixed direction, the shading alone otherwise tells the rotation and the
    classifier learns that instead of shapes (docs/notes/lci.md).
"""

from __future__ import annotations

import math
from typing import Callable, Sequence

import keras
import tensorflow as tf

from tfssl.layers import image_ops
from tfssl.layers.augment import random_flip, rotate_four
from tfssl.layers.resnet9 import resnet9
from tfssl.layers.rng import example_normal, example_uniform
from tfssl.methods.base import Method, register

ALL_CLASSES = (0, 1, 2, 3, 4, 5)
UNTRANSFORMED, LCI_CLASS, WARP_CLASS = 0, 1, 5
ROTATION_CLASSES = (2, 3, 4)
PASTE_MODES = ("full", "center")
CLASSIFIER_TERMS = ("all", "inpainted")

# Random streams of tfssl.layers.rng.example_uniform: one per use, so the draws are independent.
_PATCH_STREAM, _NOISE_STREAM, _WARP_STREAM = 11, 12, 13
_FLIP_STREAM = 1  # Rotation's flip stream: with the same flips LCI's rotation classes see Rotation's exact inputs
_AUGMENT_STREAMS = {UNTRANSFORMED: 14, LCI_CLASS: 15, WARP_CLASS: 16}


# ==== networks ======================================================================================================

def inpainter(patch_size: int, depth: int = 5, width: int = 48, synchronized_bn: bool = True,
              name: str = "inpainter") -> keras.Model:
    """The inpainter / autoencoder F: an encoder-decoder without skip connections (paper Sec. 3, Fig. 2).

    3x3 conv (width), then depth - 1 stride-2 4x4 convs doubling the width (cap 512), mirrored stride-2 transposed
    convs, a 3x3 transposed conv to RGB and tanh. BatchNorm on all but the first and last layer, LeakyReLU 0.1.
    Without skips the centre can only be filled from what the whole border says.

    Returns:
      keras.Model: patches float32 [B, c, c, 3] in [-1, 1] -> [B, c, c, 3] in (-1, 1).
    """
    stride = 2 ** (depth - 1)
    if patch_size % stride:
        raise ValueError(f"the inpainter of depth {depth} halves the patch {depth - 1} times: patch_size "
                         f"({patch_size}) must be a multiple of {stride}; change patch_size or inpainter_depth")
    patches = keras.Input((patch_size, patch_size, 3), name="patches")
    x = keras.layers.Conv2D(width, 3, padding="same", name="conv0")(patches)
    x = keras.layers.LeakyReLU(0.1, name="conv0_act")(x)
    for i in range(1, depth):
        x = keras.layers.Conv2D(min(width * 2 ** i, 512), 4, 2, padding="same", use_bias=False, name=f"conv{i}")(x)
        x = keras.layers.BatchNormalization(synchronized=synchronized_bn, name=f"conv{i}_bn")(x)
        x = keras.layers.LeakyReLU(0.1, name=f"conv{i}_act")(x)
    for i in range(1, depth):
        x = keras.layers.Conv2DTranspose(min(width * 2 ** (depth - 1 - i), 512), 4, 2, padding="same",
                                         use_bias=False, name=f"deconv{i}")(x)
        x = keras.layers.BatchNormalization(synchronized=synchronized_bn, name=f"deconv{i}_bn")(x)
        x = keras.layers.LeakyReLU(0.1, name=f"deconv{i}_act")(x)
    x = keras.layers.Conv2DTranspose(3, 3, padding="same", name="to_rgb")(x)
    return keras.Model(patches, keras.layers.Activation("tanh", name="tanh")(x), name=name)


def pair_discriminator(patch_size: int, depth: int = 4, width: int = 64, name: str = "discriminator") -> keras.Model:
    """The patch discriminator D: spectral-norm convs on two patches stacked on channels, sum-pool, one logit.

    Per level a 3x3 and a stride-2 4x4 conv (widths width, 2 width, ... cap 512), then a 3x3 conv, LeakyReLU 0.1
    throughout, a sum over positions and a spectral-norm linear layer (reference: models/lci_nets.py). Scoring pairs
    lets D compare two patches, a cheap form of minibatch discrimination.

    Returns:
      keras.Model: pairs float32 [B, c, c, 6] in [-1, 1] -> logits [B, 1].
    """
    def sn(layer):
        return keras.layers.SpectralNormalization(layer, name=f"sn_{layer.name}")

    pairs = keras.Input((patch_size, patch_size, 6), name="pairs")
    x = pairs
    for i in range(1, depth):
        filters = min(width * 2 ** (i - 1), 512)
        x = sn(keras.layers.Conv2D(filters, 3, padding="same", name=f"conv{i}_0"))(x)
        x = keras.layers.LeakyReLU(0.1, name=f"conv{i}_0_act")(x)
        x = sn(keras.layers.Conv2D(filters, 4, 2, padding="same", name=f"conv{i}_1"))(x)
        x = keras.layers.LeakyReLU(0.1, name=f"conv{i}_1_act")(x)
    x = sn(keras.layers.Conv2D(min(width * 2 ** (depth - 1), 512), 3, padding="same", name=f"conv{depth}"))(x)
    x = keras.layers.LeakyReLU(0.1, name=f"conv{depth}_act")(x)
    x = keras.ops.sum(x, axis=(1, 2))
    return keras.Model(pairs, sn(keras.layers.Dense(1, name="logit"))(x), name=name)


# ==== sample synthesis (pure functions of images, example indices and step) ==========================================

def random_warp(images: tf.Tensor, index: tf.Tensor, step: tf.Tensor, control_points: int = 4,
                max_fraction: float = 1.0 / 16) -> tf.Tensor:
    """LCI's class 5: images [B, H, W, C] warped smoothly, each of control_points^2 points moved up to +-H*fraction."""
    height = images.shape[1]
    uniform = example_uniform(index, step, _WARP_STREAM, control_points * control_points * 2)
    control = tf.reshape((2.0 * uniform - 1.0) * (height * max_fraction), [-1, control_points, control_points, 2])
    return image_ops.warp(images, control)


def anti_shortcut(images: tf.Tensor, index: tf.Tensor, step: tf.Tensor, stream: int, crop_fraction: float = 0.8,
                  max_angle: float = 0.07 * math.pi, rotated_fraction: float = 0.5) -> tf.Tensor:
    """A small random rotation for `rotated_fraction` of the examples, and for all a random crop of crop_fraction
    of the side, resized back: images [B, S, S, C] in [-1, 1] -> same shape.

    Removes shortcuts such as absolute patch positions or the sharpness of the image corners. The reference crops
    64 px from 80 px STL-10 images (crop_fraction 0.8) without resizing; here the classifier sees images at the size
    the train input delivers (the exports and probes use that size too), so the window is resized back.
    """
    size = images.shape[1]
    crop_size = int(round(size * crop_fraction))
    uniform = example_uniform(index, step, stream, 4)
    angles = tf.where(uniform[:, 0] < rotated_fraction, (2.0 * uniform[:, 1] - 1.0) * max_angle, 0.0)
    offsets = image_ops.random_offsets(uniform[:, 2:4], size - crop_size)
    return image_ops.rotated_crop(images, angles, offsets, crop_size, fill_value=0.0)


def pair_patches(patches: tf.Tensor) -> tf.Tensor:
    """Stacks neighbours (2i, 2i+1) on channels: [B, c, c, C] -> [B/2, c, c, 2C] (B even)."""
    return tf.concat([patches[0::2], patches[1::2]], axis=-1)


# ==== losses ==========================================================================================================

def hinge_discriminator_loss(real_logits: tf.Tensor, fake_logits: tf.Tensor) -> tf.Tensor:
    """mean(relu(1 - D(real))) + mean(relu(1 + D(fake)))."""
    return tf.reduce_mean(tf.nn.relu(1.0 - real_logits)) + tf.reduce_mean(tf.nn.relu(1.0 + fake_logits))


def hinge_generator_loss(fake_logits: tf.Tensor) -> tf.Tensor:
    """-mean(D(fake))."""
    return -tf.reduce_mean(fake_logits)


def masked_mse(target: tf.Tensor, prediction: tf.Tensor, mask: tf.Tensor) -> tf.Tensor:
    """Mean squared error over the elements where the (broadcast) mask is 1 (tf1's SUM_BY_NONZERO_WEIGHTS)."""
    mask = tf.broadcast_to(mask, tf.shape(target))
    return tf.reduce_sum(mask * tf.square(target - prediction)) / tf.maximum(tf.reduce_sum(mask), 1.0)


def masked_mean(values: tf.Tensor, mask: tf.Tensor) -> tf.Tensor:
    """Mean of values [N] where mask [N] (bool) holds; 0 when it holds nowhere."""
    weights = tf.cast(mask, values.dtype)
    return tf.reduce_sum(weights * values) / tf.maximum(tf.reduce_sum(weights), 1.0)


def inpainted_examples(class_ids: tf.Tensor, count: tf.Tensor) -> tf.Tensor:
    """Which classifier inputs show F's output unrotated: the LCI class and the autoencoded half of class 0.

    Args:
      class_ids: int32 [len(classes) * count], the class of each input, class-major (`LCI.synthesize`'s layout).
      count: source images per class; odd positions of class 0 carry the autoencoded patch.
    Returns:
      bool [len(classes) * count].
    """
    position = tf.range(tf.shape(class_ids)[0]) % count
    return (class_ids == LCI_CLASS) | ((class_ids == UNTRANSFORMED) & (position % 2 == 1))


# ==== the method ======================================================================================================

@register
class LCI(Method):
    """Transformation classification with Limited Context Inpainting, warps and rotations.

    Batch in: {"image": float32 [B, image_size, image_size, 3] in [0, 1], "index": int64 [B]}; B per replica even.

    Args:
      image_size: side of the training images and of the classifier's inputs.
      encoder_fn: the feature network, `encoder_fn(image_size=...) -> keras.Model` ([0, 1] images -> [B, D]).
      classes: which of the six transformation classes to use (the ablation): (0, 2, 3, 4) rotation only,
        (0, 2, 3, 4, 5) with warps, all six with LCI. Without class 1 there is no F, no D and no autoencoding.
      patch_size / erase_size: LCI's window c and erased centre p, border (c - p) / 2 (STL-10: 48 / 42).
      paste: 'full' pastes F's whole window (reference), 'center' only its centre.
      inpainter_depth / inpainter_width: F's number of scales and first width (STL-10: 4, 48); D has one level less.
      discriminator_width: D's first width.
      warp_points / warp_fraction: control points per side, and their largest displacement as a fraction of S.
      crop_fraction / max_angle / rotated_fraction: the anti-shortcut crop (0.8 = 64 of 80 px) and rotation.
      noise_scale: std of the noise that fills the erased centre.
      flip: mirror each source image left-right with probability 1/2 first (as tfssl's Rotation; not in the
        reference). On data with a fixed light direction it stops shading from giving the rotation away.
      reconstruction_weight, adversarial_weight, classifier_weight: F's loss terms (50, 1, 1). classifier_weight=0
        trains F without fooling the classifier at all.
      classifier_term: which of the classifier's decisions F is rewarded for confusing. 'all' (the reference):
        minus the cross-entropy of the whole batch, so F also gains from making the rotation classes ambiguous,
        since half of every rotation class carries its autoencoded patch. 'inpainted': minus the cross-entropy of
        the images F produced for the decision the paper means it for, the LCI class against the autoencoded half of
        class 0 (unrotated); the rotation classes no longer reward F.
    """

    def __init__(self, image_size: int = 64, encoder_fn: Callable[..., keras.Model] = resnet9,
                 classes: Sequence[int] = ALL_CLASSES, patch_size: int = 80, erase_size: int = 64,
                 paste: str = "full", inpainter_depth: int = 5, inpainter_width: int = 48,
                 discriminator_width: int = 64, warp_points: int = 4, warp_fraction: float = 1.0 / 16,
                 crop_fraction: float = 0.8, max_angle: float = 0.07 * math.pi, rotated_fraction: float = 0.5,
                 noise_scale: float = 0.1, flip: bool = False,
                 reconstruction_weight: float = 50.0, adversarial_weight: float = 1.0,
                 classifier_weight: float = 1.0, classifier_term: str = "all", name: str = "lci"):
        super().__init__(name=name)
        classes = tuple(int(c) for c in classes)
        if UNTRANSFORMED not in classes or len(set(classes)) != len(classes) or not set(classes) <= set(ALL_CLASSES):
            raise ValueError(f"LCI.classes must be distinct classes from {ALL_CLASSES} including 0 (untransformed), "
                             f"got {classes}; e.g. (0, 2, 3, 4) for rotation only")
        if paste not in PASTE_MODES:
            raise ValueError(f"LCI.paste must be one of {PASTE_MODES}, got '{paste}'")
        if classifier_term not in CLASSIFIER_TERMS:
            raise ValueError(f"LCI.classifier_term must be one of {CLASSIFIER_TERMS}, got '{classifier_term}'")
        self.image_size = image_size
        self.classes = classes
        self.patch_size, self.erase_size, self.paste = patch_size, erase_size, paste
        self.warp_points, self.warp_fraction = warp_points, warp_fraction
        self.crop_fraction, self.max_angle, self.rotated_fraction = crop_fraction, max_angle, rotated_fraction
        self.noise_scale = noise_scale
        self.flip = flip
        self.reconstruction_weight = reconstruction_weight
        self.adversarial_weight = adversarial_weight
        self.classifier_weight = classifier_weight
        self.classifier_term = classifier_term

        self.encoder = encoder_fn(image_size=image_size)
        self.head = keras.layers.Dense(len(classes), name="transformation_head")
        self.head.build(self.encoder.output.shape)
        # The classifier's optimizer comes first: `self.step` is its update count, in every ablation.
        self.add_optimizer("encoder", self.encoder.trainable_variables + self.head.trainable_variables)
        if self.uses_lci:
            self._border_mask = 1.0 - image_ops.center_mask(patch_size, erase_size)
            self.inpainter = inpainter(patch_size, inpainter_depth, inpainter_width)
            self.discriminator = pair_discriminator(patch_size, inpainter_depth - 1, discriminator_width)
            self.add_optimizer("discriminator", self.discriminator.trainable_variables)
            self.add_optimizer("inpainter", self.inpainter.trainable_variables)
        self.built = True

    @property
    def uses_lci(self) -> bool:
        return LCI_CLASS in self.classes

    @property
    def networks(self) -> tuple[str, ...]:
        """Optimizer names, in the order their updates are applied."""
        return ("discriminator", "inpainter", "encoder") if self.uses_lci else ("encoder",)

    # ---- sample synthesis --------------------------------------------------------------------------------------
    def limited_context_inpaint(self, images: tf.Tensor, index: tf.Tensor, step: tf.Tensor,
                                training: bool = False) -> dict[str, tf.Tensor]:
        """LCI and the autoencoded twin of every image.

        Args:
          images: float32 [B, S, S, 3] in [-1, 1].
        Returns: a dict, patches [B, c, c, 3] and images [B, S, S, 3], all in [-1, 1]:
          real_patch (the crop), erased_patch, inpainted_patch / autoencoded_patch (F's raw outputs),
          fake_patch (what is pasted for LCI, D's fake), lci_image (class 1), autoencoded_image.
        """
        height = images.shape[1]
        if height < self.patch_size:
            raise ValueError(f"LCI.patch_size ({self.patch_size}) exceeds the training images ({height} px); "
                             "choose a smaller patch or larger images (train/tfssl.data.image_dataset.image_size)")
        offsets = image_ops.random_offsets(example_uniform(index, step, _PATCH_STREAM, 2), height - self.patch_size)
        real = image_ops.crop(images, offsets, self.patch_size)
        noise = example_normal(index, step, _NOISE_STREAM, [self.patch_size, self.patch_size, 3])
        erased = image_ops.erase_center(real, self.erase_size, noise, self.noise_scale)
        # One call on [real; erased]: BatchNorm normalises both paths with the same statistics (as the reference).
        autoencoded, inpainted = tf.split(self.inpainter(tf.concat([real, erased], 0), training=training), 2)
        margin = 0 if self.paste == "full" else (self.patch_size - self.erase_size) // 2
        center = image_ops.center_mask(self.patch_size, self.erase_size) > 0
        fake = inpainted if self.paste == "full" else tf.where(center, inpainted, real)
        return {"real_patch": real, "erased_patch": erased, "inpainted_patch": inpainted,
                "autoencoded_patch": autoencoded, "fake_patch": fake,
                "lci_image": image_ops.paste(images, inpainted, offsets, margin),
                "autoencoded_image": image_ops.paste(images, autoencoded, offsets, margin)}

    def synthesize(self, images: tf.Tensor, index: tf.Tensor, step: tf.Tensor,
                   training_inpainter: bool = False) -> dict[str, tf.Tensor]:
        """The classifier's inputs for one batch.

        Args:
          images: float32 [B, S, S, 3] in [0, 1]; index: int [B]; step: int scalar.
        Returns:
          {"inputs": float32 [N, image_size, image_size, 3] in [-1, 1], "labels": int32 [N] (positions in
          `self.classes`), "class_ids": int32 [N] (the paper's 0..5)} plus LCI's patches and images; blocks of B
          rows per class in the order of `self.classes`.
        """
        batch = images.shape[0]
        if images.shape[1] != self.image_size:
            raise ValueError(f"LCI was built for {self.image_size} px images but the batch has {images.shape[1]} px; "
                             "bind the train input's image_size (or LCI.image_size) so they agree")
        if batch is not None and batch % 2:
            raise ValueError(f"LCI needs an even batch per replica (got {batch}): half of class 0 is autoencoded "
                             "and D scores pairs; choose a global batch divisible by 2 x replicas")
        if self.flip:
            images = random_flip(images, example_uniform(index, step, _FLIP_STREAM)[:, 0])
        x = 2.0 * images - 1.0
        out: dict[str, tf.Tensor] = {}
        untransformed = x
        if self.uses_lci:
            out.update(self.limited_context_inpaint(x, index, step, training=training_inpainter))
            # Odd batch positions show the autoencoded patch, so F's artefacts alone cannot reveal class 1.
            odd = (tf.range(tf.shape(x)[0]) % 2 == 1)[:, None, None, None]
            untransformed = tf.where(odd, out["autoencoded_image"], x)

        def augment(images_, cls):
            return anti_shortcut(images_, index, step, _AUGMENT_STREAMS[cls], self.crop_fraction, self.max_angle,
                                 self.rotated_fraction)

        count = tf.shape(x)[0]
        groups = {UNTRANSFORMED: augment(untransformed, UNTRANSFORMED)}
        if set(ROTATION_CLASSES) & set(self.classes):
            # Rotations of the augmented class-0 images, so they share its autoencoded patches and crops.
            rotated, _ = rotate_four(groups[UNTRANSFORMED])
            for k, cls in enumerate(ROTATION_CLASSES, start=1):
                groups[cls] = rotated[k * count:(k + 1) * count]
        if self.uses_lci:
            groups[LCI_CLASS] = augment(out["lci_image"], LCI_CLASS)
        if WARP_CLASS in self.classes:
            out["warped_image"] = random_warp(x, index, step, self.warp_points, self.warp_fraction)
            groups[WARP_CLASS] = augment(out["warped_image"], WARP_CLASS)
        out["inputs"] = tf.concat([groups[c] for c in self.classes], 0)
        out["labels"] = tf.repeat(tf.range(len(self.classes), dtype=tf.int32), count)
        out["class_ids"] = tf.repeat(tf.constant(self.classes, tf.int32), count)
        return out

    def transformation_logits(self, inputs: tf.Tensor, training: bool = False) -> tf.Tensor:
        """inputs float32 [N, image_size, image_size, 3] in [-1, 1] -> logits [N, len(classes)]."""
        return self.head(self.encoder((inputs + 1.0) / 2.0, training=training))

    # ---- losses and updates ------------------------------------------------------------------------------------
    def compute_losses(self, batch: dict, update: Sequence[str] = ()) -> dict[str, tf.Tensor]:
        """All losses on a batch; the networks named in `update` run in training mode (BatchNorm batch statistics,
        spectral-norm power iteration), the others in inference mode and unchanged.

        Returns per-replica means: "loss" (classifier cross-entropy), "classifier_accuracy" and per-class
        accuracies, and with LCI "discriminator_loss", "inpainter_loss" and its terms.
        """
        step = self.step
        views = self.synthesize(batch["image"], batch["index"], step, training_inpainter="inpainter" in update)
        logits = self.transformation_logits(views["inputs"], training="encoder" in update)
        labels = views["labels"]
        per_example = keras.losses.sparse_categorical_crossentropy(labels, logits, from_logits=True)
        cross_entropy = tf.reduce_mean(per_example)
        correct = tf.cast(tf.equal(tf.argmax(logits, -1, output_type=tf.int32), labels), tf.float32)
        losses = {"loss": cross_entropy, "classifier_accuracy": tf.reduce_mean(correct)}
        for cls, name in ((LCI_CLASS, "lci"), (WARP_CLASS, "warp")):
            if cls in self.classes:
                losses[f"{name}_accuracy"] = tf.reduce_mean(tf.boolean_mask(correct, views["class_ids"] == cls))
        if self.uses_lci and ("inpainter" in update or "discriminator" in update):
            real, fake = pair_patches(views["real_patch"]), pair_patches(views["fake_patch"])
            # One call on [real; fake]: a single spectral-norm power iteration per step.
            real_logits, fake_logits = tf.split(
                self.discriminator(tf.concat([real, fake], 0), training="discriminator" in update), 2)
            border = masked_mse(views["real_patch"], views["inpainted_patch"], self._border_mask)
            whole = tf.reduce_mean(tf.square(views["real_patch"] - views["autoencoded_patch"]))
            adversarial = hinge_generator_loss(fake_logits)
            losses.update({
                "discriminator_loss": hinge_discriminator_loss(real_logits, fake_logits),
                "inpainter_adversarial": adversarial, "inpainter_border_mse": border,
                "inpainter_autoencoder_mse": whole,
                # F's own terms; its full loss also subtracts the classifier's cross-entropy (below).
                "inpainter_reconstruction": self.reconstruction_weight * (border + whole),
            })
            fooled = cross_entropy
            if self.classifier_term == "inpainted":
                fooled = masked_mean(per_example, inpainted_examples(views["class_ids"], tf.shape(batch["image"])[0]))
                losses["inpainter_classifier_term"] = fooled
            losses["inpainter_loss"] = (self.adversarial_weight * adversarial + losses["inpainter_reconstruction"]
                                        - self.classifier_weight * fooled)
        return losses

    def update_step(self, batch: dict, update: Sequence[str]) -> dict[str, tf.Tensor]:
        """One step that updates the networks named in `update` (a subset of `self.networks`) from one forward.

        F's gradient is d(its own terms) - classifier_weight * d(cross-entropy); with classifier_term='all' the
        cross-entropy's gradient w.r.t. the classifier and F comes from one backward pass through the classifier.
        """
        unknown = set(update) - set(self.networks)
        if unknown:
            raise ValueError(f"LCI.update_step: unknown networks {sorted(unknown)}; use some of {self.networks}")
        scale = 1.0 / tf.distribute.get_strategy().num_replicas_in_sync
        with tf.GradientTape(persistent=True) as tape:
            losses = self.compute_losses(batch, update)
            if "inpainter" in update:
                own = self.adversarial_weight * losses["inpainter_adversarial"] + losses["inpainter_reconstruction"]

        def gradient(loss, variables):
            # Keras variables report their dtype as a string, which tape.gradient's UnconnectedGradients.ZERO
            # cannot use; unconnected variables (none in a well-formed step) get zeros here instead.
            grads = tape.gradient(loss, variables)
            return [tf.zeros(v.shape, v.dtype) if g is None else g for g, v in zip(grads, variables)]

        grads = {}
        classifier_vars = self.optimizer_variables("encoder") if "encoder" in update else []
        inpainter_vars = self.optimizer_variables("inpainter") if "inpainter" in update else []
        if classifier_vars or inpainter_vars:
            ce_grads = gradient(losses["loss"], classifier_vars + inpainter_vars)
            grads["encoder"], ce_inpainter = ce_grads[:len(classifier_vars)], ce_grads[len(classifier_vars):]
        if inpainter_vars:
            if self.classifier_term == "inpainted":  # F's term is another cross-entropy than the classifier's
                ce_inpainter = gradient(losses["inpainter_classifier_term"], inpainter_vars)
            grads["inpainter"] = [g - self.classifier_weight * c
                                  for g, c in zip(gradient(own, inpainter_vars), ce_inpainter)]
        if "discriminator" in update:
            grads["discriminator"] = gradient(losses["discriminator_loss"], self.optimizer_variables("discriminator"))
        del tape
        for name in self.networks:
            if name in update:
                # Keras 3 all-reduces gradients with SUM: scale each replica's share so they add up to the mean.
                self.optimizers[name].apply_gradients(
                    zip([g * scale for g in grads[name]], self.optimizer_variables(name)))
        return losses

    def train_step(self, batch):
        return self.update_step(batch, self.networks)

    # ---- what a person and a user see ----------------------------------------------------------------------------
    def summaries(self, batch):
        """Up to 8 examples: LCI's patches (real, erased, inpainted, autoencoded), the LCI / autoencoded / warped
        images and the classifier's inputs per class, all in [0, 1]."""
        images = tf.constant(batch["image"][:8], tf.float32)
        index = tf.constant(batch["index"][:8])
        count = images.shape[0] - images.shape[0] % 2
        views = self.synthesize(images[:count], index[:count], self.step)
        show = {key: views[key] for key in ("real_patch", "erased_patch", "inpainted_patch", "autoencoded_patch",
                                            "lci_image", "autoencoded_image", "warped_image") if key in views}
        for position, cls in enumerate(self.classes):
            show[f"class_{cls}"] = views["inputs"][position * count:(position + 1) * count]
        return {name: (value + 1.0) / 2.0 for name, value in show.items()}

    def serving_endpoints(self):
        endpoints = {}
        images = [tf.TensorSpec([None, self.image_size, self.image_size, 3], tf.float32, name="images")]
        endpoints["predict_transformation"] = (
            lambda x: tf.nn.softmax(self.transformation_logits(2.0 * x - 1.0)), images)
        if self.uses_lci:
            size = self.patch_size
            patches = [tf.TensorSpec([None, size, size, 3], tf.float32, name="patches")]
            endpoints["inpaint_patch"] = (self.inpaint_patch, patches)
        return endpoints

    def inpaint_patch(self, patches: tf.Tensor) -> tf.Tensor:
        """Serving: patches float32 [N, c, c, 3] in [0, 1] -> the same with the centre erased and re-filled by F
        from the border alone, in [0, 1]. The centre is erased to zeros (the noise's mean), so it is deterministic;
        with paste='center' the border is returned unchanged."""
        x = 2.0 * patches - 1.0
        erased = image_ops.erase_center(x, self.erase_size, tf.zeros_like(x), self.noise_scale)
        inpainted = self.inpainter(erased, training=False)
        if self.paste == "center":
            inpainted = tf.where(image_ops.center_mask(self.patch_size, self.erase_size) > 0, inpainted, x)
        return (inpainted + 1.0) / 2.0
