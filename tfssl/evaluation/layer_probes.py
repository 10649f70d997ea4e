"""Linear probes on every conv layer of a frozen encoder: the AlexNet protocol of LCI, RotNet and Zhang et al.

Each named layer's feature map is average-pooled to a grid small enough that grid^2 x channels <= `max_dim` (the
reference pools conv1..conv5 to about 9k dimensions), flattened, and a separate linear classifier is trained on
each (BatchNorm in inference mode; the encoder is frozen). All layers come out of one pass over the data: the probe
model concatenates the pooled layers and the columns are split again here. The linear probe itself is
`tfssl.evaluation.linear_probe` (same SGD, standardisation and flip augmentation as `classification_probes`).
"""

from __future__ import annotations

import math
from typing import Sequence

import gin
import keras
import numpy as np

from tfssl.data import pipelines
from tfssl.evaluation.classification import labelled_images
from tfssl.evaluation.features import extract_features
from tfssl.evaluation.linear_probe import evaluate_linear_probe

__all__ = ["pool_size_for", "pooled_layers_model", "layer_probes"]


def pool_size_for(height: int, width: int, channels: int, max_dim: int) -> int:
    """Smallest average-pool window (= stride, 'same' padding) whose pooled map has <= max_dim values."""
    for size in range(1, max(height, width) + 1):
        if math.ceil(height / size) * math.ceil(width / size) * channels <= max_dim:
            return size
    return max(height, width)


def pooled_layers_model(encoder: keras.Model, layers: Sequence[str],
                        max_dim: int = 9216) -> tuple[keras.Model, dict[str, slice]]:
    """A model from the encoder's input to its named layers' pooled, flattened, concatenated outputs.

    Args:
      encoder: a functional keras.Model (its layers are shared, not copied).
      layers: names of layers with [B, h, w, C] outputs (AlexNet: conv1..conv5).
      max_dim: cap on each layer's pooled dimension.
    Returns:
      (model: images -> float32 [B, sum of dims], {layer name: its column slice}).
    """
    outputs, columns, start = [], {}, 0
    for name in layers:
        try:
            x = encoder.get_layer(name).output
        except ValueError as error:
            raise ValueError(f"layer_probes: the encoder '{encoder.name}' has no layer '{name}'; bind "
                             "tfssl.evaluation.layer_probes.layers to names from encoder.summary()") from error
        if len(x.shape) != 4:
            raise ValueError(f"layer_probes: layer '{name}' outputs shape {x.shape}, not a [B, h, w, C] map")
        size = pool_size_for(x.shape[1], x.shape[2], x.shape[3], max_dim)
        x = keras.layers.AveragePooling2D(size, size, padding="same", name=f"probe_pool_{name}")(x)
        dim = x.shape[1] * x.shape[2] * x.shape[3]
        outputs.append(keras.layers.Flatten(name=f"probe_flat_{name}")(x))
        columns[name] = slice(start, start + dim)
        start += dim
    merged = outputs[0] if len(outputs) == 1 else keras.layers.Concatenate(name="probe_concat")(outputs)
    return keras.Model(encoder.inputs, merged, name=f"{encoder.name}_layer_probes"), columns


@gin.configurable(module="tfssl.evaluation")
def layer_probes(method_or_encoder, *, dataset: str = gin.REQUIRED,
                 layers: Sequence[str] = ("conv1", "conv2", "conv3", "conv4", "conv5"), max_dim: int = 9216,
                 label_key: str = "label", train_split: str = "train", test_split: str = "test",
                 image_size: int | None = None, max_train_examples: int | None = 10_000,
                 max_test_examples: int | None = None, linear_epochs: int = 100,
                 linear_learning_rate: float = 0.1, seed: int = 0) -> dict[str, float]:
    """Linear-probe top-1 of each named layer of a frozen encoder.

    Args:
      method_or_encoder: a tfssl method (its `.encoder` is used) or a functional keras encoder.
      dataset: TFDS name with integer labels under `label_key`.
      layers: layer names to probe (defaults: AlexNet's conv1..conv5 ReLU outputs).
      max_dim: per-layer feature cap after average pooling (9216 ~ the reference's ~9k).
    Returns:
      {"<layer>_linear_top1" for each layer, "best_linear_top1", "num_train", "num_test"}; accuracies in [0, 1].
    """
    encoder = getattr(method_or_encoder, "encoder", method_or_encoder)
    model, columns = pooled_layers_model(encoder, layers, max_dim)
    num_classes = pipelines.load_builder(dataset).info.features[label_key].num_classes
    train_x, train_y = extract_features(
        model, labelled_images(dataset, train_split, label_key, image_size, max_train_examples), flip=True)
    test_x, test_y = extract_features(
        model, labelled_images(dataset, test_split, label_key, image_size, max_test_examples))
    results: dict[str, float] = {}
    for name, cols in columns.items():
        probe = evaluate_linear_probe(np.ascontiguousarray(train_x[:, cols]), train_y,
                                      np.ascontiguousarray(test_x[:, cols]), test_y, num_classes=num_classes,
                                      epochs=linear_epochs, learning_rate=linear_learning_rate, seed=seed)
        results[f"{name}_linear_top1"] = probe["top1"]
    results["best_linear_top1"] = max(results.values())
    results["num_train"] = int(train_x.shape[0] // 2)
    results["num_test"] = int(test_x.shape[0])
    return results
