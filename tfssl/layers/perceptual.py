"""The normalised perceptual loss of KeypointGAN and the feature networks it can use.

Jakab et al. (CVPR 2020; the reference's `PerceptualLoss`) compare a reconstruction with its target on the pixels
and on VGG-19 features (conv1_2, conv2_2, conv3_2, conv4_2, conv5_2); each term's MSE is divided by its own running
mean (momentum 0.99, initialised to the first value) and the terms are averaged, so every layer counts about equally
whatever its scale, and the loss is exactly 1 at the first step (times its weight).

The feature network is gin-selected:
  - `random_conv_features` (the embedded default): a small VGG-like stack with fixed, seeded random weights. Random
    convolutional features are a usable perceptual metric (Ustyuzhaninov et al., "What does it take to generate
    natural textures?", ICLR 2017) and need no download.
  - `pixel_pyramid_features`: the image at 1/2, 1/4, ... resolution (no weights at all).
  - `vgg19_features`: the paper's network with ImageNet weights, read from a local file or fetched by Keras when
    online, when training starts (`load_pending_weights`; paper-scale gin files only; tests use `weights=None`).
"""

from __future__ import annotations

import os
from typing import Sequence

import gin
import keras
import tensorflow as tf

from tfssl.errors import UserError

VGG19_LAYERS = ("block1_conv2", "block2_conv2", "block3_conv2", "block4_conv2", "block5_conv2")
# Caffe-style VGG input: BGR in [0, 255] minus the ImageNet channel means (keras.applications' "caffe" mode).
_VGG_BGR_MEAN = (103.939, 116.779, 123.68)
_VGG19_NOTOP = "vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5"


@gin.configurable(module="tfssl.layers")
def vgg19_features(layers: Sequence[str] = VGG19_LAYERS, weights: str | None = "imagenet") -> keras.Model:
    """VGG-19 activations (the paper's perceptual network), frozen.

    The network is built with random weights; ImageNet weights are read by `load_pending_weights(network)` (a
    method calls it in `prepare_training`, when training starts), so building a config never needs the weights
    file or the network (the gin-file tests build every paper-scale config offline).

    Args:
      layers: Keras VGG19 layer names (conv1_2 ... conv5_2 by default).
      weights: "imagenet" (Keras' cached file ~/.keras/models/vgg19_..._notop.h5, downloaded by Keras only if
        missing and online), a path to that .h5 file, or None (random weights: tests only).
    Returns:
      keras.Model: float32 [B, H, W, 3] in [0, 1] -> a list of len(layers) feature maps; its `pending_weights`
      names the weights still to load (None once loaded).
    Raises:
      UserError: a local weights file does not exist (checked now, not when training starts).
    """
    if weights not in (None, "imagenet") and not os.path.isfile(weights):
        raise UserError(f"VGG-19 weights file {weights} does not exist; point tfssl.layers.vgg19_features.weights "
                        f"at a local copy of {_VGG19_NOTOP} or use 'imagenet' when online")
    vgg = keras.applications.VGG19(include_top=False, weights=None, input_shape=(None, None, 3))
    vgg.trainable = False
    inputs = keras.Input((None, None, 3), name="image")
    bgr = keras.layers.Lambda(lambda x: x[..., ::-1] * 255.0 - tf.constant(_VGG_BGR_MEAN), name="caffe_input")(inputs)
    taps = keras.Model(vgg.input, [vgg.get_layer(name).output for name in layers], name="vgg19_taps")
    network = keras.Model(inputs, list(taps(bgr)), name="vgg19_features")
    network.pending_weights = weights
    return network


def load_pending_weights(network: keras.Model) -> None:
    """Reads the weights a feature network was built to have (`vgg19_features`' `pending_weights`), once; a
    no-op for networks without pending weights. Call it in cross-replica context (`Method.prepare_training`), so an
    assignment reaches every replica's copy.

    Raises:
      UserError: the weights cannot be loaded (offline and not cached, a wrong file); the message names the fixes.
    """
    weights = getattr(network, "pending_weights", None)
    if weights is None:
        return
    try:
        source = keras.applications.VGG19(include_top=False, weights=weights, input_shape=(None, None, 3))
    except Exception as error:  # noqa: BLE001  (Keras raises many kinds when offline or on a bad file)
        raise UserError(f"could not load VGG-19 weights '{weights}' ({str(error).splitlines()[0][:120]}); put "
                        f"{_VGG19_NOTOP} in ~/.keras/models or bind tfssl.layers.vgg19_features.weights to a local "
                        "file, or use the embedded default tfssl.layers.random_conv_features") from error
    taps = network.get_layer("vgg19_taps")
    for layer in (layer for layer in taps.layers if layer.weights):
        for variable, value in zip(layer.weights, source.get_layer(layer.name).get_weights()):
            variable.assign(value)
    network.pending_weights = None


@gin.configurable(module="tfssl.layers")
def random_conv_features(widths: Sequence[int] = (16, 32, 64), seed: int = 0) -> keras.Model:
    """A frozen VGG-like stack with seeded random weights: per stage two 3x3 conv + ReLU (the second is tapped, as
    VGG's convN_2), then 2x2 average pooling. He-normal weights, zero biases.

    Returns:
      keras.Model: float32 [B, H, W, 3] in [0, 1] -> a list of len(widths) feature maps (H / 2^i a side).
    """
    inputs = keras.Input((None, None, 3), name="image")
    x, taps = keras.layers.Rescaling(2.0, offset=-1.0, name="centre")(inputs), []
    for i, w in enumerate(widths, start=1):
        if i > 1:
            x = keras.layers.AveragePooling2D(2, name=f"pool{i - 1}")(x)
        for j in (1, 2):
            init = keras.initializers.HeNormal(seed=seed * 1000 + 10 * i + j)
            x = keras.layers.Conv2D(w, 3, padding="same", activation="relu", kernel_initializer=init,
                                    name=f"conv{i}_{j}")(x)
        taps.append(x)
    model = keras.Model(inputs, taps, name="random_conv_features")
    model.trainable = False
    return model


@gin.configurable(module="tfssl.layers")
def pixel_pyramid_features(levels: int = 3) -> keras.Model:
    """The image at 1/2, 1/4, ... resolution (2x2 average pooling): a perceptual network without weights.

    Returns:
      keras.Model: float32 [B, H, W, 3] -> a list of `levels` images, H / 2^i a side (i = 1..levels).
    """
    inputs = keras.Input((None, None, 3), name="image")
    x, taps = inputs, []
    for i in range(1, levels + 1):
        x = keras.layers.AveragePooling2D(2, name=f"pool{i}")(x)
        taps.append(x)
    return keras.Model(inputs, taps, name="pixel_pyramid_features")


def _as_list(outputs) -> list:
    """A Keras model with one output returns a tensor, not a list of one."""
    return list(outputs) if isinstance(outputs, (list, tuple)) else [outputs]


class NormalisedPerceptualLoss(keras.layers.Layer):
    """Per-example normalised perceptual loss: mean over terms l of MSE_l / m_l.

    Terms: the pixels (`include_input`) and each output of `network`. m_l is the running mean of term l's
    batch-mean MSE over the GLOBAL batch (all-reduced across replicas), momentum `momentum`, initialised to the
    first value; it is a constant for the gradient. It is updated on every training-mode call (before dividing,
    so the first training call gives exactly 1 per term on average).

    Args:
      network: a frozen feature network (images in [0, 1] -> list of maps); None: `random_conv_features()`.
      momentum: running-mean momentum (the paper: 0.99).
      include_input: include the pixel MSE as a term (the paper does).
    """

    def __init__(self, network: keras.Model | None = None, momentum: float = 0.99, include_input: bool = True,
                 **kwargs):
        super().__init__(**kwargs)
        self.network = network if network is not None else random_conv_features()
        self.network.trainable = False
        self.momentum = float(momentum)
        self.include_input = bool(include_input)
        self.num_terms = len(self.network.outputs) + int(self.include_input)
        self.running_means = self.add_weight(shape=(self.num_terms,), initializer="ones", trainable=False,
                                             name="running_means", aggregation="only_first_replica")
        self.initialised = self.add_weight(shape=(), initializer="zeros", trainable=False, name="initialised",
                                           aggregation="only_first_replica")

    def term_errors(self, prediction: tf.Tensor, target: tf.Tensor) -> tf.Tensor:
        """Per-example MSE of every term: float32 [B, num_terms] (features of the target carry no gradient)."""
        prediction, target = tf.cast(prediction, tf.float32), tf.stop_gradient(tf.cast(target, tf.float32))
        pairs = list(zip(_as_list(self.network(prediction)), _as_list(self.network(target))))
        if self.include_input:
            pairs = [(prediction, target)] + pairs
        return tf.stack([tf.reduce_mean(tf.square(tf.cast(p, tf.float32) - tf.cast(t, tf.float32)), axis=[1, 2, 3])
                         for p, t in pairs], axis=1)

    def call(self, prediction, target, training=False):
        """prediction, target: float32 [B, H, W, 3] in [0, 1] -> float32 [B], the normalised loss per example."""
        errors = self.term_errors(prediction, target)
        means = tf.convert_to_tensor(self.running_means)
        if training:
            batch_mean = tf.stop_gradient(tf.reduce_mean(errors, axis=0))
            context = tf.distribute.get_replica_context()
            if context is not None and context.num_replicas_in_sync > 1:
                batch_mean = context.all_reduce(tf.distribute.ReduceOp.MEAN, batch_mean)
            means = tf.where(self.initialised > 0.5,
                             self.momentum * means + (1.0 - self.momentum) * batch_mean, batch_mean)
            self.running_means.assign(means)
            self.initialised.assign(1.0)
        else:
            means = tf.where(self.initialised > 0.5, means, tf.stop_gradient(tf.reduce_mean(errors, axis=0)))
        return tf.reduce_mean(errors / tf.maximum(means, 1e-12), axis=1)

    def get_config(self):
        return {**super().get_config(), "momentum": self.momentum, "include_input": self.include_input}


@gin.configurable(module="tfssl.layers")
def normalised_perceptual_loss(network: keras.Model | None = None, momentum: float = 0.99,
                               include_input: bool = True,
                               name: str = "perceptual_loss") -> NormalisedPerceptualLoss:
    """The gin door to `NormalisedPerceptualLoss` (gin cannot wrap a Keras layer class: Keras inspects its __init__).

    Bind the network as `normalised_perceptual_loss.network = @tfssl.layers.vgg19_features()` (paper scale) or
    leave it to the embedded default `random_conv_features()`.
    """
    return NormalisedPerceptualLoss(network=network, momentum=momentum, include_input=include_input, name=name)
