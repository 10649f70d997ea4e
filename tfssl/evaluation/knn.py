"""Weighted k-nearest-neighbour probe on frozen features (cosine similarity, NPID-style vote).

Wu et al., "Unsupervised Feature Learning via Non-Parametric Instance Discrimination" (CVPR 2018), Sec. 3.4: the
k most cosine-similar train features vote for their class with weight exp(similarity / temperature); the class with
the largest total weight wins. It needs no training, so it is the cheap companion of the linear probe (RotNet spec:
cosine, k = 20).

Memory: similarities are computed one `[chunk, chunk]` block at a time (test rows x train rows) while a running
top-k per test row is merged, so neither a `[N_test, N_train]` matrix nor a `[chunk, N_train]` one is ever held.

Ties, broken deterministically:
- Neighbour selection: among train points with equal similarity, the lower train index is taken first (as
  `tf.math.top_k` orders equal values; the block-wise merge keeps that order, so chunking never changes the
  neighbours).
- The vote: if two classes receive exactly the same total weight, the lower class id wins (argmax takes the first
  maximum).
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from tfssl.evaluation.features import as_features, as_labels, top1_accuracy

__all__ = ["knn_predict", "knn_classify"]


@tf.function(
    input_signature=[
        tf.TensorSpec([None, None], tf.float32),  # test block, L2-normalised [c, D]
        tf.TensorSpec([None, None, None], tf.float32),  # train blocks, L2-normalised [num_blocks, chunk, D]
        tf.TensorSpec([None, None], tf.int64),  # train labels per block [num_blocks, chunk]
        tf.TensorSpec([None, None], tf.bool),  # real (not padding) train rows [num_blocks, chunk]
        tf.TensorSpec([], tf.int32),  # k
        tf.TensorSpec([], tf.int32),  # num_classes
        tf.TensorSpec([], tf.float32),  # temperature
    ]
)
def _knn_block(test, train_blocks, train_label_blocks, train_valid, k, num_classes, temperature):
    """Predicted class ids `[c]` (int64) and class scores `[c, C]` for one block of test rows."""
    num_test = tf.shape(test)[0]
    # Running top-k, seeded with -inf similarities that every real train point beats (k <= N_train is enforced by
    # the caller), so their placeholder labels never vote.
    best_sim = tf.fill([num_test, k], tf.constant(-np.inf, tf.float32))
    best_label = tf.zeros([num_test, k], tf.int64)
    for i in tf.range(tf.shape(train_blocks)[0]):
        sim = tf.matmul(test, train_blocks[i], transpose_b=True)  # [c, chunk], cosine similarity in [-1, 1]
        sim = tf.where(train_valid[i][tf.newaxis, :], sim, -np.inf)
        block_sim, block_pos = tf.math.top_k(sim, k=k)
        block_label = tf.gather(train_label_blocks[i], block_pos)
        # Earlier blocks (lower train indices) go first, so top_k's "lower position first" tie rule keeps meaning
        # "lower train index first" across blocks.
        merged_sim = tf.concat([best_sim, block_sim], axis=1)
        merged_label = tf.concat([best_label, block_label], axis=1)
        best_sim, keep = tf.math.top_k(merged_sim, k=k)
        best_label = tf.gather(merged_label, keep, batch_dims=1)
    # exp(sim / T) relative to the row's best neighbour: the same argmax, but no float32 overflow for small T
    # (exp(1 / 0.01) = 2.7e43 > float32 max).
    weights = tf.exp((best_sim - best_sim[:, :1]) / temperature)
    scores = tf.reduce_sum(tf.one_hot(best_label, num_classes, dtype=tf.float32) * weights[..., tf.newaxis], axis=1)
    return tf.argmax(scores, axis=1, output_type=tf.int64), scores


def _l2_normalise(x: np.ndarray) -> np.ndarray:
    """Rows of `x [N, D]` scaled to unit L2 norm (an all-zero row stays zero: similarity 0 to everything)."""
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.maximum(norms, 1e-12)


def knn_predict(
    train_x,
    train_y,
    test_x,
    *,
    k: int = 20,
    num_classes: int,
    temperature: float = 0.07,
    chunk_size: int = 1024,
) -> np.ndarray:
    """Class predictions of the weighted cosine kNN for every test row.

    Args:
      train_x: features `[N_train, D]`, any float dtype, finite (rescaled to unit norm here).
      train_y: int labels `[N_train]` in [0, num_classes).
      test_x: features `[N_test, D]`.
      k: neighbours per test point, >= 1; clamped to N_train.
      num_classes: C.
      temperature: > 0; vote weight of a neighbour is exp(cosine / temperature). Small values approach 1-NN,
        large values approach an unweighted majority vote.
      chunk_size: rows per similarity block, for both test and train (peak memory ~ chunk_size^2 floats).

    Returns:
      int64 `[N_test]` class ids (ties broken as the module docstring says).
    """
    train_x = as_features(train_x, "train_x")
    test_x = as_features(test_x, "test_x")
    train_y = as_labels(train_y, train_x.shape[0], num_classes, "train_y")
    if train_x.shape[1] != test_x.shape[1]:
        raise ValueError(f"train_x is {train_x.shape[1]}-d but test_x is {test_x.shape[1]}-d")
    if k < 1 or temperature <= 0 or chunk_size < 1:
        raise ValueError(f"need k >= 1, temperature > 0, chunk_size >= 1; got {k}, {temperature}, {chunk_size}")
    k = min(k, train_x.shape[0])
    # A train block must hold at least k rows for its own top-k.
    train_chunk = max(chunk_size, k)

    # Pad the train set to whole blocks; padding rows are masked to -inf similarity inside the graph.
    num_train, dim = train_x.shape
    num_blocks = -(-num_train // train_chunk)
    padded = num_blocks * train_chunk
    train_blocks = np.zeros([padded, dim], np.float32)
    train_blocks[:num_train] = _l2_normalise(train_x)
    label_blocks = np.zeros([padded], np.int64)
    label_blocks[:num_train] = train_y
    valid = np.arange(padded) < num_train

    train_blocks = tf.constant(train_blocks.reshape(num_blocks, train_chunk, dim))
    label_blocks = tf.constant(label_blocks.reshape(num_blocks, train_chunk))
    valid = tf.constant(valid.reshape(num_blocks, train_chunk))
    test_x = _l2_normalise(test_x)
    predictions = []
    for start in range(0, test_x.shape[0], chunk_size):
        block_pred, _ = _knn_block(
            tf.constant(test_x[start : start + chunk_size]),
            train_blocks,
            label_blocks,
            valid,
            tf.constant(k, tf.int32),
            tf.constant(num_classes, tf.int32),
            tf.constant(temperature, tf.float32),
        )
        predictions.append(block_pred.numpy())
    return np.concatenate(predictions, axis=0)


def knn_classify(
    train_x,
    train_y,
    test_x,
    test_y,
    *,
    k: int = 20,
    num_classes: int,
    temperature: float = 0.07,
    chunk_size: int = 1024,
) -> dict:
    """Weighted cosine kNN accuracy of test features against train features.

    Args: as `knn_predict`, plus `test_y`: int labels `[N_test]` in [0, num_classes).

    Returns:
      `{"top1": accuracy in [0, 1], "num_train": N_train, "num_test": N_test, "k": k actually used}`.
    """
    predictions = knn_predict(
        train_x, train_y, test_x, k=k, num_classes=num_classes, temperature=temperature, chunk_size=chunk_size
    )
    test_y = as_labels(test_y, predictions.shape[0], num_classes, "test_y")
    num_train = int(np.shape(train_x)[0])
    return {
        "top1": top1_accuracy(predictions, test_y),
        "num_train": num_train,
        "num_test": int(predictions.shape[0]),
        "k": min(k, num_train),
    }
