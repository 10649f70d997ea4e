"""Frozen-encoder classification: the linear probe and kNN of the rotation spec, as one gin-bound evaluation.

Features are extracted once per split and shared by both probes: the train split with horizontal flips (the
probe's "standard augmentation"), the test split as is. Newell & Deng hold out unseen shapes for testing, so on
`tfssl_objects` the test split measures generalisation to new object shapes, not memorisation.
"""

from __future__ import annotations

import gin
import tensorflow as tf

from tfssl.data import pipelines
from tfssl.evaluation.features import extract_features
from tfssl.evaluation.knn import knn_classify
from tfssl.evaluation.linear_probe import evaluate_linear_probe


def labelled_images(name: str, split: str, label_key: str, image_size: int | None,
                    max_examples: int | None) -> tf.data.Dataset:
    """{"image": float32 [H, W, 3] in [0, 1], "label": int} examples of a split, for the frozen-feature probes."""
    ds = pipelines.load_examples(name, split, image_size=image_size, label_key=label_key, max_examples=max_examples)
    return ds.map(lambda ex: {"image": tf.cast(ex["image"], tf.float32) / 255.0, "label": ex["label"]})


@gin.configurable(module="tfssl.evaluation")
def classification_probes(method_or_encoder, *, dataset: str = gin.REQUIRED, label_key: str = "label",
                          train_split: str = "train", test_split: str = "test", image_size: int | None = None,
                          max_train_examples: int | None = 10_000, max_test_examples: int | None = None,
                          linear_epochs: int = 100, linear_learning_rate: float = 0.1, knn_k: int = 20,
                          knn_temperature: float = 0.07, seed: int = 0) -> dict[str, float]:
    """Linear-probe and kNN top-1 of a frozen encoder on a labelled dataset.

    Args:
      method_or_encoder: a tfssl method (its `.encoder` is used) or an encoder
        (float32 [B, H, W, 3] in [0, 1] -> [B, D]).
      dataset: TFDS name with labels under `label_key` (e.g. `tfssl_objects/tc0l`; `pose` for the pose task).
      max_train_examples / max_test_examples: caps, to keep the evaluation cheap on a CPU.
    Returns:
      {"linear_top1", "linear_train_top1", "knn_top1", "num_train", "num_test"}; accuracies in [0, 1].
    """
    encoder = getattr(method_or_encoder, "encoder", method_or_encoder)
    builder = pipelines.load_builder(dataset)
    num_classes = builder.info.features[label_key].num_classes
    train_x, train_y = extract_features(
        encoder, labelled_images(dataset, train_split, label_key, image_size, max_train_examples), flip=True)
    test_x, test_y = extract_features(
        encoder, labelled_images(dataset, test_split, label_key, image_size, max_test_examples))
    linear = evaluate_linear_probe(train_x, train_y, test_x, test_y, num_classes=num_classes,
                                   epochs=linear_epochs, learning_rate=linear_learning_rate, seed=seed)
    # kNN on the un-flipped train features only: a mirrored copy of every neighbour would double-count votes.
    half = train_x.shape[0] // 2
    knn = knn_classify(train_x[:half], train_y[:half], test_x, test_y, k=knn_k, num_classes=num_classes,
                       temperature=knn_temperature)
    return {"linear_top1": linear["top1"], "linear_train_top1": linear["train_top1"], "knn_top1": knn["top1"],
            "num_train": int(half), "num_test": int(test_x.shape[0])}
