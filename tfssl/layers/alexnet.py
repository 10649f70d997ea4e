"""AlexNet with BatchNorm: the feature network of LCI (Jenni, Jin, Favaro, CVPR 2020) and of most 2016-2020
self-supervised papers' linear-probe tables.

conv1 96 11x11/4, max-pool 3/2, conv2 256 5x5, max-pool 3/2, conv3 384 3x3, conv4 384 3x3, conv5 256 3x3, then
fc6 and fc7 (4096) written as convolutions; BatchNorm + ReLU after every one of them; no LRN, no dropout. fc6's
kernel covers conv5's whole spatial extent, so the network adapts to any input size (64 px on STL-10, 224 px on
ImageNet). Differences from the reference (sjenni/LCI models/alexnet.py): no two-group convolutions in conv2/4/5
(a 2012 two-GPU artefact the spec does not ask for), inputs [0, 1] rescaled to [-1, 1] instead of mean-subtracted
[0, 255] (BatchNorm after conv1 removes the difference), Keras' default initialisers.

The per-layer probe features are the ReLU outputs named `conv1` .. `conv5` (before pooling), read by
`tfssl.evaluation.layer_probes`.
"""

from __future__ import annotations

import gin
import keras

CONV_LAYERS = ("conv1", "conv2", "conv3", "conv4", "conv5")


def _conv_bn_relu(x, filters: int, kernel, strides: int, padding: str, synchronized: bool, name: str):
    x = keras.layers.Conv2D(filters, kernel, strides=strides, padding=padding, use_bias=False,
                            name=f"{name}_conv")(x)
    # Synchronized BN: batch statistics over the global batch, so N replicas train like one device.
    x = keras.layers.BatchNormalization(synchronized=synchronized, name=f"{name}_bn")(x)
    return keras.layers.ReLU(name=name)(x)


@gin.configurable(module="tfssl.layers")
def alexnet(image_size: int = 64, width: float = 1.0, fc_units: int = 4096, synchronized_bn: bool = True,
            name: str = "alexnet") -> keras.Model:
    """Builds the encoder.

    Args:
      image_size: input side in pixels (any; conv1 has stride 4 and two 3/2 max-pools follow, so conv3..conv5 see
        ceil(image_size / 16) pixels per side).
      width: multiplies every layer's channels (1.0 is the paper's; tests use narrow nets).
      fc_units: channels of fc6 and fc7 at width 1.
      synchronized_bn: all-reduce BN statistics across replicas.
    Returns:
      keras.Model: images float32 [B, image_size, image_size, 3] in [0, 1] -> fc7 features float32 [B, D],
      D = round(fc_units * width).
    """
    def channels(n: int) -> int:
        return max(1, int(round(n * width)))

    images = keras.Input((image_size, image_size, 3), name="images")
    x = keras.layers.Rescaling(2.0, offset=-1.0, name="to_signed")(images)
    x = _conv_bn_relu(x, channels(96), 11, 4, "same", synchronized_bn, "conv1")
    x = keras.layers.MaxPooling2D(3, 2, padding="same", name="pool1")(x)
    x = _conv_bn_relu(x, channels(256), 5, 1, "same", synchronized_bn, "conv2")
    x = keras.layers.MaxPooling2D(3, 2, padding="same", name="pool2")(x)
    x = _conv_bn_relu(x, channels(384), 3, 1, "same", synchronized_bn, "conv3")
    x = _conv_bn_relu(x, channels(384), 3, 1, "same", synchronized_bn, "conv4")
    x = _conv_bn_relu(x, channels(256), 3, 1, "same", synchronized_bn, "conv5")
    # fc6 as a convolution whose kernel is conv5's whole map: a dense layer that knows the input size.
    x = _conv_bn_relu(x, channels(fc_units), tuple(x.shape[1:3]), 1, "valid", synchronized_bn, "fc6")
    x = _conv_bn_relu(x, channels(fc_units), 1, 1, "valid", synchronized_bn, "fc7")
    features = keras.layers.Flatten(name="features")(x)
    return keras.Model(images, features, name=name)
