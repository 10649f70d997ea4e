"""Linear probe: multinomial logistic regression on frozen features, trained with SGD + momentum.

The protocol of RotNet (Gidaris et al., ICLR 2018), PIRL (Misra & van der Maaten, CVPR 2020) and Newell & Deng
(CVPR 2020): a linear classifier on pooled features of a frozen encoder (BN in inference mode), trained with SGD on
the train split (originals + horizontally mirrored images, see `features.extract_features(flip=True)`), top-1 on
the test split.

Differences from the reference recipes, and why:
- Features are standardised with the train set's per-dimension mean and std instead of a BatchNorm layer without
  affine parameters in front of the classifier (PIRL, MoCo-style probes). For a linear model it is the same
  reparametrisation, and it lets one learning rate serve encoders whose feature scales differ by orders of
  magnitude.
- The whole optimisation (every epoch and step) runs in one graph call on precomputed features, so a 100-epoch probe
  takes seconds on CPU instead of re-running the encoder every epoch; the mirrored images stand in for the
  per-epoch random flips.
- Learning rate follows a cosine decay to zero over all steps (instead of step decay).
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import tensorflow as tf

from tfssl.evaluation.features import as_features, as_labels, top1_accuracy

__all__ = ["LinearProbe", "train_linear_probe", "evaluate_linear_probe"]

# Floor on the per-dimension std used for standardisation: a constant (dead) feature becomes exactly 0 instead of
# 0 / 0, and features that differ only by float rounding are not blown up to unit variance.
_STD_FLOOR = 1e-6


@dataclasses.dataclass(frozen=True)
class LinearProbe:
    """A trained linear classifier on standardised features.

    Attributes:
      weights: float32 `[D, C]`.
      bias: float32 `[C]`.
      mean: float32 `[D]`, train-set feature mean.
      std: float32 `[D]`, train-set feature std (floored at 1e-6).
    """

    weights: np.ndarray
    bias: np.ndarray
    mean: np.ndarray
    std: np.ndarray

    @property
    def num_classes(self) -> int:
        return int(self.bias.shape[0])

    def logits(self, x) -> np.ndarray:
        """Raw features `[N, D]` -> float32 logits `[N, C]` (standardisation is applied here)."""
        x = as_features(x)
        if x.shape[1] != self.weights.shape[0]:
            raise ValueError(f"probe expects {self.weights.shape[0]}-d features, got {x.shape[1]}-d")
        return _standardise(x, self.mean, self.std) @ self.weights + self.bias

    def predict(self, x) -> np.ndarray:
        """Raw features `[N, D]` -> int64 class ids `[N]` (ties go to the lowest class id)."""
        return np.argmax(self.logits(x), axis=1).astype(np.int64)


def _mean_std(x: np.ndarray, rows_per_chunk: int = 65536) -> tuple[np.ndarray, np.ndarray]:
    """Per-dimension mean and std (floored) of `x [N, D]`, as float32 `[D]` each.

    Accumulated in float64 (a float32 sum over 10^5+ rows loses digits; the mean of a constant feature must come
    out as exactly that constant so its standardised value is exactly 0), chunk by chunk so no float64 copy of a
    large feature matrix is ever made.
    """
    total = np.zeros(x.shape[1], np.float64)
    for start in range(0, x.shape[0], rows_per_chunk):
        total += x[start : start + rows_per_chunk].sum(axis=0, dtype=np.float64)
    mean = total / x.shape[0]
    squares = np.zeros(x.shape[1], np.float64)
    for start in range(0, x.shape[0], rows_per_chunk):
        squares += np.square(x[start : start + rows_per_chunk] - mean).sum(axis=0)
    std = np.maximum(np.sqrt(squares / x.shape[0]), _STD_FLOOR)
    return mean.astype(np.float32), std.astype(np.float32)


def _standardise(x: np.ndarray, mean: np.ndarray, std: np.ndarray) -> np.ndarray:
    """`(x - mean) / std` in float32, `[N, D]`."""
    return (x - mean) / std


@tf.function(
    input_signature=[
        tf.TensorSpec([None, None], tf.float32),  # x: standardised features [N, D]
        tf.TensorSpec([None], tf.int64),  # y: labels [N]
        tf.TensorSpec([], tf.int32),  # num_classes
        tf.TensorSpec([], tf.int32),  # epochs
        tf.TensorSpec([], tf.int32),  # batch_size
        tf.TensorSpec([], tf.float32),  # learning_rate
        tf.TensorSpec([], tf.float32),  # momentum
        tf.TensorSpec([], tf.float32),  # weight_decay
        tf.TensorSpec([], tf.int64),  # seed
    ]
)
def _sgd_logistic_regression(x, y, num_classes, epochs, batch_size, learning_rate, momentum, weight_decay, seed):
    """All epochs of minibatch SGD on softmax cross-entropy, in one graph. Returns (weights [D, C], bias [C]).

    Everything is a loop-carried tensor rather than a tf.Variable, so this is a pure function of its inputs: the
    fixed input_signature makes it one trace per process, whatever the data sizes or hyperparameters.
    """
    n = tf.shape(x)[0]
    dim = tf.shape(x)[1]
    steps_per_epoch = (n + batch_size - 1) // batch_size  # the last partial batch is used, not dropped
    total_steps = tf.cast(epochs * steps_per_epoch, tf.float32)
    onehot = tf.one_hot(y, num_classes, dtype=tf.float32)

    # Zero init: the problem is convex, so the start only matters for determinism, and zeros need no seed.
    w = tf.zeros([dim, num_classes], tf.float32)
    b = tf.zeros([num_classes], tf.float32)
    vw = tf.zeros_like(w)
    vb = tf.zeros_like(b)
    step = tf.constant(0, tf.int32)
    for epoch in tf.range(epochs):
        # Stateless shuffle keyed by (seed, epoch): same seed, same order, independent of any global RNG state.
        order = tf.random.experimental.stateless_shuffle(tf.range(n), seed=tf.stack([seed, tf.cast(epoch, tf.int64)]))
        for i in tf.range(steps_per_epoch):
            idx = order[i * batch_size : tf.minimum((i + 1) * batch_size, n)]
            xb = tf.gather(x, idx)
            yb = tf.gather(onehot, idx)
            probs = tf.nn.softmax(tf.matmul(xb, w) + b)
            # Closed-form gradient of the mean softmax cross-entropy: (p - y) / B. Weight decay (L2, coupled as in
            # torch.optim.SGD) on the weights only: decaying the bias would pull constant features' predictions
            # away from the class prior.
            err = (probs - yb) / tf.cast(tf.shape(idx)[0], tf.float32)
            gw = tf.matmul(xb, err, transpose_a=True) + weight_decay * w
            gb = tf.reduce_sum(err, axis=0)
            lr = 0.5 * learning_rate * (1.0 + tf.cos(math.pi * tf.cast(step, tf.float32) / total_steps))
            # Heavy-ball momentum in torch.optim.SGD form (v <- m v + g; w <- w - lr v).
            vw = momentum * vw + gw
            vb = momentum * vb + gb
            w = w - lr * vw
            b = b - lr * vb
            step += 1
    return w, b


def train_linear_probe(
    train_x,
    train_y,
    *,
    num_classes: int,
    epochs: int = 100,
    batch_size: int = 256,
    learning_rate: float = 0.1,
    momentum: float = 0.9,
    weight_decay: float = 5e-4,
    seed: int = 0,
) -> LinearProbe:
    """Trains a multinomial logistic regression on train-set-standardised features.

    Args:
      train_x: features `[N, D]`, any float dtype, finite.
      train_y: int labels `[N]` in [0, num_classes).
      num_classes: C.
      epochs: passes over the train set (each a fresh seeded shuffle, last partial batch included).
      batch_size: examples per SGD step.
      learning_rate: peak learning rate, cosine-decayed to 0 over all steps.
      momentum: heavy-ball momentum in [0, 1).
      weight_decay: L2 coefficient on the weights (not the bias).
      seed: shuffling seed. Same inputs and seed give the same probe.

    Returns:
      A `LinearProbe` (numpy weights, bias, and the standardisation mean/std).
    """
    x = as_features(train_x, "train_x")
    y = as_labels(train_y, x.shape[0], num_classes, "train_y")
    if epochs < 1 or batch_size < 1:
        raise ValueError(f"epochs and batch_size must be >= 1, got {epochs} and {batch_size}")
    mean, std = _mean_std(x)
    standardised = _standardise(x, mean, std)
    w, b = _sgd_logistic_regression(
        tf.constant(standardised),
        tf.constant(y),
        tf.constant(num_classes, tf.int32),
        tf.constant(epochs, tf.int32),
        tf.constant(batch_size, tf.int32),
        tf.constant(learning_rate, tf.float32),
        tf.constant(momentum, tf.float32),
        tf.constant(weight_decay, tf.float32),
        tf.constant(seed, tf.int64),
    )
    return LinearProbe(weights=w.numpy(), bias=b.numpy(), mean=mean, std=std)


def evaluate_linear_probe(train_x, train_y, test_x, test_y, *, num_classes: int, **train_kwargs) -> dict:
    """Trains a linear probe on (train_x, train_y) and scores it on (test_x, test_y).

    Args:
      train_x, test_x: features `[N_train, D]`, `[N_test, D]`.
      train_y, test_y: int labels in [0, num_classes).
      num_classes: C.
      **train_kwargs: forwarded to `train_linear_probe` (epochs, batch_size, learning_rate, momentum,
        weight_decay, seed).

    Returns:
      `{"top1": test accuracy in [0, 1], "train_top1": train accuracy in [0, 1], "num_train": N_train,
      "num_test": N_test}`.
    """
    probe = train_linear_probe(train_x, train_y, num_classes=num_classes, **train_kwargs)
    test_x = as_features(test_x, "test_x")
    test_y = as_labels(test_y, test_x.shape[0], num_classes, "test_y")
    return {
        "top1": top1_accuracy(probe.predict(test_x), test_y),
        "train_top1": top1_accuracy(probe.predict(train_x), np.asarray(train_y)),
        "num_train": int(np.shape(train_x)[0]),
        "num_test": int(test_x.shape[0]),
    }
