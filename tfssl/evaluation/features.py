"""Frozen-encoder feature extraction, and the array checks the linear and kNN probes share.

The probes of the papers in tfssl (RotNet, PIRL, LCI, Newell & Deng's utility study) all evaluate a *frozen*
encoder: its BatchNormalization layers run in inference mode (moving statistics, never batch statistics) and no
variable changes. `extract_features` is the one place that runs the encoder over a dataset; the probes then work on
plain numpy arrays, so they can be tested with hand-built "oracle", constant and random features.
"""

from __future__ import annotations

import weakref
from typing import Any, Callable

import numpy as np
import tensorflow as tf

__all__ = ["extract_features", "as_features", "as_labels", "top1_accuracy"]

# One polymorphic tf.function per encoder, kept across calls so that evaluating the train and the test split (or
# re-evaluating after more training) reuses one trace per image-shape pattern instead of tracing on every call.
# Weak keys: the cache must not keep an encoder alive.
_FEATURE_FNS: "weakref.WeakKeyDictionary[Any, Callable]" = weakref.WeakKeyDictionary()


def _feature_fn(encoder) -> tf.types.experimental.PolymorphicFunction:
    """The cached `tf.function(images [B, H, W, 3] float32, flip: bool) -> [B or 2B, D]` for `encoder`."""
    fn = _FEATURE_FNS.get(encoder)
    if fn is not None:
        return fn
    # The function reaches the encoder through a weak reference: a strong one in the closure would keep the
    # WeakKeyDictionary key alive forever. The traced graph captures only the encoder's variables.
    encoder_ref = weakref.ref(encoder)

    @tf.function
    def features(images, flip):
        if flip:
            # One encoder call on [originals; mirrored] rather than two: with BN in inference mode the batch
            # composition cannot change any example's features.
            images = tf.concat([images, tf.image.flip_left_right(images)], axis=0)
        return encoder_ref()(images, training=False)

    _FEATURE_FNS[encoder] = features
    return features


def extract_features(
    encoder,
    dataset: tf.data.Dataset,
    *,
    label_key: str = "label",
    batch_size: int = 256,
    max_examples: int | None = None,
    flip: bool = False,
    image_key: str = "image",
) -> tuple[np.ndarray, np.ndarray]:
    """Runs a frozen encoder over a dataset and returns its features and labels.

    Args:
      encoder: callable `encoder(images, training=False) -> [B, D]` (a `keras.Model`, or a Hub-reusable object),
        images float32 `[B, H, W, 3]` in [0, 1]. Always called with `training=False`: BatchNormalization uses its
        moving statistics and nothing is updated (a frozen encoder).
      dataset: UNBATCHED `tf.data.Dataset` of dicts with `image_key` (float `[H, W, 3]` in [0, 1]) and `label_key`
        (integer scalar). Other keys are ignored.
      label_key: key of the integer class label.
      batch_size: examples per encoder call. The last partial batch is kept (no examples dropped) and does not
        cause a retrace: the function is traced once with an unknown batch dimension.
      max_examples: if set, only the first `max_examples` examples are used.
      flip: if True, the features of the horizontally mirrored images (`tf.image.flip_left_right`) are appended
        after the N originals: the linear probe's "standard augmentation" (train set = originals + mirrored).
      image_key: key of the image.

    Returns:
      `(features, labels)`: float32 `[M, D]` and int64 `[M]`, where M = N, or 2N with `flip` (rows N..2N-1 are the
      mirrored versions of rows 0..N-1, same labels), in dataset order.

    Raises:
      ValueError / KeyError: batched dataset, missing keys, integer images, empty dataset, or encoder output not
        rank 2.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    spec = dataset.element_spec
    if not isinstance(spec, dict):
        raise ValueError(f"extract_features expects a dataset of dicts, got element_spec {spec}")
    for key in (image_key, label_key):
        if key not in spec:
            raise KeyError(f"dataset examples have no {key!r} key (keys: {sorted(spec)})")
    image_spec = spec[image_key]
    if image_spec.shape.rank != 3:
        raise ValueError(
            f"{image_key!r} must be one unbatched image [H, W, C], got shape {image_spec.shape}; "
            "pass the dataset before .batch()"
        )
    if not image_spec.dtype.is_floating:
        # A uint8 image cast to float would be in [0, 255], silently off the encoder's [0, 1] input range.
        raise ValueError(f"{image_key!r} must be float in [0, 1], got dtype {image_spec.dtype.name}")

    def select(example):
        image = tf.cast(example[image_key], tf.float32)
        label = tf.reshape(tf.cast(example[label_key], tf.int64), [])
        return image, label

    if max_examples is not None:
        dataset = dataset.take(max_examples)
    batches = dataset.map(select, num_parallel_calls=tf.data.AUTOTUNE).batch(batch_size).prefetch(tf.data.AUTOTUNE)

    fn = _feature_fn(encoder)
    flip = bool(flip)
    # Trace once with an unknown batch size: later calls with 256 or with the last partial batch are subtypes of
    # this signature and reuse the trace.
    fn.get_concrete_function(tf.TensorSpec([None, *image_spec.shape], tf.float32), flip)

    originals, mirrored, labels = [], [], []
    for images, batch_labels in batches:
        out = fn(images, flip)
        if out.shape.rank != 2:
            raise ValueError(f"encoder must return features [B, D], got shape {out.shape}")
        out = out.numpy().astype(np.float32, copy=False)
        n = int(batch_labels.shape[0])
        originals.append(out[:n])
        if flip:
            mirrored.append(out[n:])
        labels.append(batch_labels.numpy())
    if not labels:
        raise ValueError("dataset is empty: no features to extract")

    features = np.concatenate(originals + mirrored, axis=0)
    labels = np.concatenate(labels, axis=0).astype(np.int64, copy=False)
    if flip:
        labels = np.concatenate([labels, labels], axis=0)
    return features, labels


# ---------------------------------------------------------------------------------------------------------------
# Checks shared by the linear probe and the kNN probe.


def as_features(x, name: str = "features") -> np.ndarray:
    """Validates features and returns them as a C-contiguous float32 `[N, D]` array (N >= 1, D >= 1, finite)."""
    x = np.ascontiguousarray(np.asarray(x, dtype=np.float32))
    if x.ndim != 2 or x.shape[0] == 0 or x.shape[1] == 0:
        raise ValueError(f"{name} must be a non-empty [N, D] array, got shape {x.shape}")
    if not np.all(np.isfinite(x)):
        # A NaN feature makes every probe silently report chance; say so instead.
        raise ValueError(f"{name} contain non-finite values")
    return x


def as_labels(y, num_examples: int, num_classes: int, name: str = "labels") -> np.ndarray:
    """Validates labels and returns them as int64 `[N]` with values in [0, num_classes)."""
    y = np.asarray(y)
    if y.ndim != 1 or y.shape[0] != num_examples:
        raise ValueError(f"{name} must have shape [{num_examples}], got {y.shape}")
    if not np.issubdtype(y.dtype, np.integer):
        raise ValueError(f"{name} must be integers, got dtype {y.dtype}")
    if num_classes < 1:
        raise ValueError(f"num_classes must be >= 1, got {num_classes}")
    if y.size and (y.min() < 0 or y.max() >= num_classes):
        raise ValueError(f"{name} must lie in [0, {num_classes}), got range [{y.min()}, {y.max()}]")
    return y.astype(np.int64, copy=False)


def top1_accuracy(predictions, labels) -> float:
    """Fraction in [0, 1] of `predictions [N]` equal to `labels [N]`."""
    return float(np.mean(np.asarray(predictions) == np.asarray(labels)))
