"""The judge of sequence disentanglement (S3VAE, Zhu et al. CVPR 2020, Sec. 4; DSVAE, Li & Mandt ICML 2018).

A generated or swapped clip is scored by a classifier trained on real clips with their ground-truth labels: the
action and each static attribute on Sprites, digit and direction on moving digits. S3VAE reports, on a
class-balanced set of generated clips, the judge's accuracy (fix motion: the action must survive a resampled
static code; fix content: the attributes must survive resampled dynamics) and three scores of its predictive
distributions p(y|x):

  IS      = exp(E_x KL(p(y|x) || p(y)))   (higher is better, at most C)
  H(y|x)  = E_x H(p(y|x))                 (lower is better: confident predictions)
  H(y)    = H(E_x p(y|x))                 (higher is better, at most ln C: diverse predictions)

with p(y) = E_x p(y|x). The judge here is a small per-frame conv net over [frame, frame - previous frame] (the
difference carries the motion), a temporal convolution, and one softmax head per label; it is trained once per
(dataset, labels, split, steps, batch, seed) and cached in `cache_dir`.
"""

from __future__ import annotations

import hashlib
import json
import os
from typing import Mapping, Sequence

import gin
import keras
import numpy as np
import tensorflow as tf

from tfssl.data import pipelines

_VERSION = 1  # the judge's architecture and training recipe; part of the cache key


# ---- metrics of predictive distributions (pure numpy) -------------------------------------------------------------


def _check_probs(probs: np.ndarray) -> np.ndarray:
    probs = np.asarray(probs, np.float64)
    if probs.ndim != 2 or probs.shape[0] == 0:
        raise ValueError(f"probs must be [N, C] with N > 0, got shape {probs.shape}")
    return probs


def _entropy(p: np.ndarray) -> np.ndarray:
    """Entropy in nats along the last axis, with 0 log 0 = 0."""
    return -np.sum(np.where(p > 0, p * np.log(np.where(p > 0, p, 1.0)), 0.0), axis=-1)


def conditional_entropy(probs: np.ndarray) -> float:
    """H(y|x) = mean over clips of the entropy of p(y|x), nats. probs: [N, C], rows summing to 1."""
    return float(np.mean(_entropy(_check_probs(probs))))


def marginal_entropy(probs: np.ndarray) -> float:
    """H(y): the entropy of the mean prediction p(y) = mean_x p(y|x), nats; at most ln C."""
    return float(_entropy(_check_probs(probs).mean(axis=0)))


def inception_score(probs: np.ndarray) -> float:
    """IS = exp(E_x KL(p(y|x) || p(y))) = exp(H(y) - H(y|x)); in [1, C]."""
    probs = _check_probs(probs)
    return float(np.exp(marginal_entropy(probs) - conditional_entropy(probs)))


def class_balanced_subset(labels: np.ndarray, per_class: int, seed: int = 0) -> np.ndarray:
    """Indices of `per_class` examples of every class present in `labels` (int [N]), drawn without replacement.

    Returns:
      int64 [num_classes * per_class], sorted.
    Raises:
      ValueError: a class has fewer than `per_class` examples (the message names it and its count).
    """
    labels = np.asarray(labels)
    rng = np.random.default_rng(seed)
    chosen = []
    for c in np.unique(labels):
        members = np.flatnonzero(labels == c)
        if len(members) < per_class:
            raise ValueError(f"class {c} has {len(members)} examples, fewer than per_class={per_class}; "
                             "lower per_class or evaluate more clips")
        chosen.append(rng.choice(members, per_class, replace=False))
    return np.sort(np.concatenate(chosen)).astype(np.int64)


# ---- the judge --------------------------------------------------------------------------------------------------


def build_judge_network(num_frames: int, image_size: int, num_classes: Mapping[str, int],
                        seed: int = 0) -> keras.Model:
    """videos float32 [B, T, H, W, 3] in [0, 1] -> {label: logits [B, C]}."""
    seeds = iter(range(seed * 100, seed * 100 + 100))
    init = lambda: keras.initializers.GlorotUniform(seed=next(seeds))  # noqa: E731
    videos = keras.Input((num_frames, image_size, image_size, 3))
    previous = keras.ops.concatenate([videos[:, :1], videos[:, :-1]], axis=1)
    x = keras.ops.concatenate([videos, videos - previous], axis=-1)  # appearance and motion of each frame
    x = keras.ops.reshape(x, (-1, image_size, image_size, 6))
    for width in (16, 32, 64, 64):
        x = keras.layers.Conv2D(width, 4, strides=2, padding="same", kernel_initializer=init())(x)
        x = keras.layers.LeakyReLU(0.2)(x)
    x = keras.layers.Flatten()(x)  # where a part is matters: left- and right-facing differ only by position
    x = keras.layers.Dense(128, activation="relu", kernel_initializer=init())(x)
    x = keras.ops.reshape(x, (-1, num_frames, 128))
    x = keras.layers.Conv1D(128, 3, padding="same", activation="relu", kernel_initializer=init())(x)
    x = keras.ops.concatenate([keras.ops.mean(x, axis=1), keras.ops.max(x, axis=1)], axis=-1)
    x = keras.layers.Dense(128, activation="relu", kernel_initializer=init())(x)
    logits = {key: keras.layers.Dense(c, kernel_initializer=init(), name=f"head_{key}")(x)
              for key, c in num_classes.items()}
    return keras.Model(videos, logits, name="sequence_judge")


class Judge:
    """A trained clip classifier with one softmax head per label."""

    def __init__(self, network: keras.Model, label_keys: Sequence[str], num_classes: Mapping[str, int],
                 num_frames: int, image_size: int):
        self.network = network
        self.label_keys = tuple(label_keys)
        self.num_classes = dict(num_classes)
        self.num_frames = num_frames
        self.image_size = image_size
        self._forward = tf.function(lambda v: {k: tf.nn.softmax(l) for k, l in network(v, training=False).items()})

    def predict(self, videos: np.ndarray, batch_size: int = 128) -> dict[str, np.ndarray]:
        """videos: float32 [N, T, H, W, 3] in [0, 1] -> {label: probabilities float32 [N, C]}."""
        videos = np.asarray(videos)
        expected = (self.num_frames, self.image_size, self.image_size, 3)
        if videos.ndim != 5 or videos.shape[1:] != expected:
            raise ValueError(f"the judge takes videos [N, {', '.join(map(str, expected))}], got {videos.shape}")
        parts: dict[str, list] = {k: [] for k in self.label_keys}
        for start in range(0, len(videos), batch_size):
            out = self._forward(tf.convert_to_tensor(videos[start:start + batch_size], tf.float32))
            for k in self.label_keys:
                parts[k].append(out[k].numpy())
        return {k: (np.concatenate(v) if v else np.zeros((0, self.num_classes[k]), np.float32))
                for k, v in parts.items()}

    def accuracy(self, videos: np.ndarray, labels: Mapping[str, np.ndarray]) -> dict[str, float]:
        """Top-1 accuracy per label key given in `labels` (int [N] each); keys the judge lacks are an error."""
        unknown = set(labels) - set(self.label_keys)
        if unknown:
            raise ValueError(f"the judge has no head for {sorted(unknown)}; it knows {list(self.label_keys)}")
        probs = self.predict(videos)
        return {k: float(np.mean(np.argmax(probs[k], axis=-1) == np.asarray(v))) for k, v in labels.items()}


def _cache_path(cache_dir: str, settings: dict) -> str:
    key = hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:16]
    return os.path.join(cache_dir, f"sequence_judge_{key}")


@gin.configurable(module="tfssl.evaluation")
def train_judge(dataset: str, label_keys: Sequence[str], *, split: str = "train", steps: int = 600,
                batch_size: int = 32, seed: int = 0, cache_dir: str | None = None, learning_rate: float = 1e-3,
                max_examples: int | None = None) -> Judge:
    """Trains (or loads from `cache_dir`) the judge on real clips of `dataset` with their ground-truth labels.

    Args:
      dataset: a clip dataset (`tfssl.data.clip_dataset`), e.g. `tfssl_sprites` (size resolved by gin).
      label_keys: the heads, e.g. ("action", "body", "top", "bottom", "hair").
      split, max_examples: the clips it learns from.
      steps, batch_size, learning_rate, seed: Adam steps on shuffled batches; the weights are a function of these.
      cache_dir: where the trained judge is kept (`sequence_judge_<key>.weights.h5` with a JSON of its settings);
        a later call with the same settings loads it instead of training.
    """
    builder = pipelines.load_builder(dataset)
    features = builder.info.features
    missing = [k for k in label_keys if k not in pipelines.clip_label_keys(builder)]
    if missing:
        raise ValueError(f"dataset '{builder.info.full_name}' has no label {missing}; it has "
                         f"{list(pipelines.clip_label_keys(builder))}")
    num_classes = {k: int(features[k].num_classes) for k in label_keys}
    stream = pipelines.clip_dataset(batch_size, name=dataset, split=split, seed=seed, max_examples=max_examples)
    num_frames, image_size = (int(d) for d in stream.element_spec["video"].shape[1:3])
    network = build_judge_network(num_frames, image_size, num_classes, seed)
    judge = Judge(network, label_keys, num_classes, num_frames, image_size)
    settings = {"dataset": builder.info.full_name, "labels": list(label_keys), "split": split, "steps": steps,
                "batch_size": batch_size, "seed": seed, "learning_rate": learning_rate,
                "max_examples": max_examples, "version": _VERSION}
    path = _cache_path(cache_dir, settings) if cache_dir else None
    if path and os.path.exists(path + ".weights.h5"):
        network.load_weights(path + ".weights.h5")
        return judge

    optimizer = keras.optimizers.Adam(learning_rate)
    optimizer.build(network.trainable_variables)

    @tf.function
    def step(batch):
        with tf.GradientTape() as tape:
            logits = network(batch["video"], training=True)
            loss = tf.add_n([tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(batch[k], logits[k]))
                             for k in label_keys])
        optimizer.apply_gradients(zip(tape.gradient(loss, network.trainable_variables),
                                      network.trainable_variables))
        return loss

    for batch in stream.take(steps):
        step(batch)
    if path:
        os.makedirs(cache_dir, exist_ok=True)
        network.save_weights(path + ".partial.weights.h5")  # renamed when complete: no half-written cache
        os.replace(path + ".partial.weights.h5", path + ".weights.h5")
        with open(path + ".json", "w") as f:
            json.dump(settings, f, indent=1)
    return judge
