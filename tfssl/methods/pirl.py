"""PIRL: Self-Supervised Learning of Pretext-Invariant Representations (Misra & van der Maaten, CVPR 2020).

Instead of predicting a pretext transformation (covariant, like Rotation), PIRL makes the representation of an
image and of its jigsaw-shuffled version *similar* (invariant), contrasting both against a memory bank of other
images:

  v_I  = f(trunk(I))                        an augmented view of the image, projected to 128-d
  v_It = g(trunk(p_1), ..., trunk(p_9))     the 9 jigsaw patches in shuffled order, 128-d
  m_I  = memory bank row of image I: an exponential moving average (weight 0.5) of normalised v_I
  L    = lambda * L_NCE(m_I, v_It) + (1 - lambda) * L_NCE(m_I, v_I)

with cosine similarities at temperature 0.07 and N negatives drawn uniformly from the bank.

Differences from the paper and VISSL's configs, and why:
- Trunk: tfssl's ResNet9 (the zoo's encoder), not ResNet-50; the jigsaw geometry (255 px crop, 85 px cells, 64 px
  patches) is scaled to the input size and patch sides are multiples of 8 because ResNet9 halves three times.
- Per-example randomness (crops, offsets, colour jitter, permutations, negatives) is a hash of (example index,
  step) via `example_uniform`, so one step is identical on any replica layout (the zoo's equivalence rule).
- A sampled negative is never the image's own row: with the paper's 1.28M-row bank a collision is rare, on a
  small dataset it would contrast an image against itself.
- The binary NCE normaliser Z is estimated once, on the first step, from the global batch (as NPID/VISSL do), and
  kept in a variable so that a resumed run uses the same one. InfoNCE (softmax over 1 + N) is the alternative.
- The bank has one row per example of the training split (`index` of the input batches); its update uses the
  embeddings and indices of the *global* batch (all-gathered), so every replica and worker holds the same bank.

Negatives: `negatives='bank'` (the default, the paper's) is the above. `negatives='batch'` needs no bank (issue #21:
at a small budget a bank row is refreshed about once per epoch, so the positive m_I is staler than the negatives for
the first few hundred steps). It replaces m_I by v_I' = f(I'), the embedding of a second, independently augmented
view I' of the same image in the current step, and contrasts against the other images of the *global* batch:

  L = lambda * InfoNCE(v_It, {v_I'_j}) + (1 - lambda) * InfoNCE(v_I, {v_I'_j}),   j over the global batch of B,
  InfoNCE(q_i, {k_j}) = -log( exp(cos(q_i, k_i) / t) / sum_j exp(cos(q_i, k_j) / t) )

so each example has its own other view as the positive and B - 1 negatives (the other images' v_I'). This is the
bank-free form closest to PIRL's objective: the bank row is itself an f-embedding of earlier augmented views of I
and both terms share it as their target, so f(I') keeps one shared target per image, f only (never g), lambda's
meaning (lambda = 0 is in-batch instance discrimination, the counterpart of NPID) and the temperature. What differs:
the targets are live network outputs and carry gradient (as in SimCLR; the bank's rows are stored values and carry
none), they are all-gathered across replicas with their gradient (the positive's column is offset by the sizes of
the replicas before this one), and the loss is InfoNCE (binary NCE's noise model is uniform sampling from the bank).
The image and target views go through the encoder in one call, so BatchNorm sees both.
"""

from __future__ import annotations

from typing import Callable

import keras
import numpy as np
import tensorflow as tf

from tfssl.core.distribute import gather_replicas, replica_offset
from tfssl.layers.augment import colour_jitter, random_blur, random_flip, random_resized_crop
from tfssl.layers.resnet9 import resnet9
from tfssl.layers.rng import example_uniform
from tfssl.methods.base import Method, register

GRID = 3
NUM_PATCHES = GRID * GRID
# The paper's jigsaw geometry: a 255 px crop, 85 px cells, 64 px patches; tfssl scales it to the input size.
PAPER_CELL, PAPER_PATCH = 85, 64
LOSSES = ("nce", "infonce")
NEGATIVES = ("bank", "batch")

# example_uniform streams: every random decision of a step draws from its own stream (Rotation uses 1).
_CROP_STREAM = 20
_FLIP_STREAM = 21
_JITTER_STREAM = 22
_JIGSAW_CROP_STREAM = 23
_OFFSET_STREAM = 24
_PATCH_JITTER_STREAM = 25
_PERMUTATION_STREAM = 26
_NEGATIVE_STREAM = 27
_BLUR_STREAM = 28
# negatives='batch': the second image view I' (the target that stands in for the bank row).
_TARGET_CROP_STREAM = 29
_TARGET_FLIP_STREAM = 30
_TARGET_JITTER_STREAM = 31
_TARGET_BLUR_STREAM = 32
# (crop, flip, jitter, blur) streams of the image view I and of the target view I'.
IMAGE_VIEW_STREAMS = (_CROP_STREAM, _FLIP_STREAM, _JITTER_STREAM, _BLUR_STREAM)
TARGET_VIEW_STREAMS = (_TARGET_CROP_STREAM, _TARGET_FLIP_STREAM, _TARGET_JITTER_STREAM, _TARGET_BLUR_STREAM)


# ---- views --------------------------------------------------------------------------------------------------------
def jigsaw_geometry(image_size: int) -> tuple[int, int]:
    """(cell, patch) sides in pixels for an input of `image_size`: the paper's 85/64 ratio, patch a multiple of 8.

    64 px -> (21, 16), 96 -> (32, 24), 224 -> (74, 56), 255 -> (85, 64).
    """
    cell = image_size // GRID
    patch = 8 * round(cell * PAPER_PATCH / PAPER_CELL / 8)
    if patch < 8 or patch > cell:
        raise ValueError(f"PIRL's jigsaw needs images of at least 24 px (3 cells holding an 8 px patch), got "
                         f"{image_size} px; use a larger image_size")
    return cell, patch


def random_offsets(u: tf.Tensor, cell: int, patch: int) -> tf.Tensor:
    """Integer patch offsets inside their cells: u float32 [B, 9, 2] in [0, 1) -> int32 [B, 9, 2] in [0, cell-patch]."""
    return tf.minimum(tf.cast(tf.floor(u * (cell - patch + 1)), tf.int32), cell - patch)


def _patch_pixel_coordinates(offsets: tf.Tensor, cell: int, patch: int) -> tuple[tf.Tensor, tf.Tensor]:
    """Rows and columns of every patch pixel: offsets int32 [B, 9, 2] -> (rows [B, 9, p], cols [B, 9, p]).

    Patch k sits in cell (k // 3, k % 3) (row-major), at `offsets[:, k]` (y, x) from the cell's top-left corner.
    """
    cells = tf.range(NUM_PATCHES)
    corner = tf.stack([cells // GRID, cells % GRID], axis=-1) * cell  # [9, 2]
    top_left = corner[None] + offsets  # [B, 9, 2]
    steps = tf.range(patch)
    return top_left[..., 0:1] + steps, top_left[..., 1:2] + steps


def extract_patches(images: tf.Tensor, offsets: tf.Tensor, cell: int, patch: int) -> tf.Tensor:
    """The 9 jigsaw patches, one per cell of a 3x3 grid, in cell order (row-major).

    Args:
      images: [B, S, S, C] with S >= 3 * cell.
      offsets: int32 [B, 9, 2] (y, x) of each patch within its cell, in [0, cell - patch].
    Returns:
      [B, 9, patch, patch, C]: patch k = images[:, r*cell + y : ... + patch, c*cell + x : ... + patch] with
      (r, c) = divmod(k, 3) and (y, x) = offsets[:, k].
    """
    rows, cols = _patch_pixel_coordinates(offsets, cell, patch)
    stripes = tf.gather(images, rows, axis=1, batch_dims=1)  # [B, 9, p, S, C]
    return tf.gather(stripes, cols, axis=3, batch_dims=2)  # [B, 9, p, p, C]


def write_patches(canvas: tf.Tensor, patches: tf.Tensor, offsets: tf.Tensor, cell: int) -> tf.Tensor:
    """Inverse of `extract_patches`: pastes patch k at its place in cell k of `canvas` (e.g. to show a jigsaw).

    Args:
      canvas: [B, S, S, C]; patches: [B, 9, p, p, C]; offsets: int32 [B, 9, 2] as for `extract_patches`.
    Returns:
      [B, S, S, C]: canvas with the 9 patches written in; pixels outside every patch unchanged.
    """
    shape = tf.shape(patches)
    batch, patch = shape[0], patches.shape[2]
    rows, cols = _patch_pixel_coordinates(offsets, cell, patch)
    b = tf.broadcast_to(tf.range(batch)[:, None, None, None], [batch, NUM_PATCHES, patch, patch])
    r = tf.broadcast_to(rows[:, :, :, None], [batch, NUM_PATCHES, patch, patch])
    c = tf.broadcast_to(cols[:, :, None, :], [batch, NUM_PATCHES, patch, patch])
    indices = tf.stack([b, r, c], axis=-1)
    return tf.tensor_scatter_nd_update(canvas, tf.reshape(indices, [-1, 3]),
                                       tf.reshape(patches, [-1, shape[-1]]))


def random_permutations(u: tf.Tensor) -> tf.Tensor:
    """Uniformly random permutations of the 9 cells (all 9! possible): u float32 [B, 9] -> int32 [B, 9].

    The argsort of i.i.d. uniforms is a uniform permutation (ties have probability ~0 with 24-bit uniforms).
    """
    return tf.argsort(u, axis=-1, stable=True)


def shuffle_patches(patches: tf.Tensor, permutation: tf.Tensor) -> tf.Tensor:
    """Position j of the result holds patch permutation[:, j]: [B, 9, p, p, C], int32 [B, 9] -> [B, 9, p, p, C]."""
    return tf.gather(patches, permutation, axis=1, batch_dims=1)


# ---- memory bank and losses ---------------------------------------------------------------------------------------
def unit_rows(num_rows: int, dim: int, seed: int) -> np.ndarray:
    """float32 [num_rows, dim], each row a uniformly random unit vector (normalised Gaussian), seeded."""
    rows = np.random.default_rng(seed).standard_normal((num_rows, dim), dtype=np.float32)
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def sample_negatives(index: tf.Tensor, step: tf.Tensor, bank_size: int, num_negatives: int) -> tf.Tensor:
    """Bank rows to score each example against: its own row, then N uniformly drawn *other* rows.

    Negatives are drawn with replacement from the bank_size - 1 rows that are not the example's own (draw from
    [0, n - 1) and shift draws >= index up by one), so the positive never reappears as a negative.

    Args:
      index: int [B] in [0, bank_size); step: int scalar.
    Returns:
      int32 [B, N + 1]: column 0 is `index`, columns 1..N are in [0, bank_size) and != index.
    """
    index = tf.cast(index, tf.int32)
    u = example_uniform(index, step, _NEGATIVE_STREAM, num=num_negatives)
    drawn = tf.minimum(tf.cast(tf.floor(u * (bank_size - 1)), tf.int32), bank_size - 2)
    drawn += tf.cast(drawn >= index[:, None], tf.int32)
    return tf.concat([index[:, None], drawn], axis=1)


def similarity_logits(queries: tf.Tensor, rows: tf.Tensor, temperature: float) -> tf.Tensor:
    """Cosine similarity over temperature: unit queries [B, D], unit rows [B, K, D] -> [B, K] in [-1/t, 1/t].

    Clipping the cosine to [-1, 1] removes float round-off beyond the bound (and its effect on exp(s/t)).
    """
    cosine = tf.einsum("bd,bkd->bk", queries, rows)
    return tf.clip_by_value(cosine, -1.0, 1.0) / temperature


def binary_nce_loss(logits: tf.Tensor, offset: tf.Tensor) -> tf.Tensor:
    """The paper's noise-contrastive estimation (after NPID, Wu et al. 2018), per example.

    h(v, m) = P(m | v) / (P(m | v) + N / n) with P(m | v) = exp(s / t) / Z and noise P_n = 1 / n, so
    h = sigmoid(s / t - log(N Z / n)) = sigmoid(logit - offset), and
    L = -log h(positive) - sum_negatives log(1 - h(negative)).

    Args:
      logits: float32 [B, 1 + N], column 0 the positive.
      offset: scalar log(N Z / n) = log(N * E[exp(s / t)]) (Z = n E[exp(s / t)], estimated once).
    Returns:
      float32 [B] >= 0.
    """
    shifted = logits - offset
    return tf.nn.softplus(-shifted[:, 0]) + tf.reduce_sum(tf.nn.softplus(shifted[:, 1:]), axis=1)


def info_nce_loss(logits: tf.Tensor) -> tf.Tensor:
    """Cross-entropy of the positive in a softmax over 1 + N candidates: [B, 1 + N] -> [B] >= 0."""
    return tf.reduce_logsumexp(logits, axis=1) - logits[:, 0]


def batch_logits(queries: tf.Tensor, targets: tf.Tensor, temperature: float) -> tf.Tensor:
    """In-batch cosine logits: unit queries [b, D] (this replica), unit targets [B, D] (global batch) -> [b, B].

    Entry (i, j) is cos(q_i, k_j) / t, clipped to [-1/t, 1/t] like `similarity_logits`.
    """
    cosine = tf.matmul(queries, targets, transpose_b=True)
    return tf.clip_by_value(cosine, -1.0, 1.0) / temperature


def batch_info_nce_loss(logits: tf.Tensor, positive: tf.Tensor) -> tf.Tensor:
    """InfoNCE with the positive in column `positive[i]` of row i, every other column a negative.

    Args:
      logits: float32 [b, B]; positive: int [b] in [0, B).
    Returns:
      float32 [b] >= 0: logsumexp_j(logits[i, j]) - logits[i, positive[i]] (`info_nce_loss` when positive is 0).
    """
    positive_logit = tf.gather(logits, tf.cast(positive, tf.int32), axis=1, batch_dims=1)
    return tf.reduce_logsumexp(logits, axis=1) - positive_logit


def top1(logits: tf.Tensor, positive: tf.Tensor) -> tf.Tensor:
    """1.0 where the positive is the highest of its row's logits, else 0.0: [b, B], int [b] -> float32 [b]."""
    best = tf.argmax(logits, axis=1, output_type=tf.int32)
    return tf.cast(tf.equal(best, tf.cast(positive, tf.int32)), tf.float32)


def pirl_loss(jigsaw_loss: tf.Tensor, image_loss: tf.Tensor, jigsaw_weight: float) -> tf.Tensor:
    """The paper's final loss: lambda * L(m_I, v_It) + (1 - lambda) * L(m_I, v_I); lambda = 0 is NPID, PIRL uses 0.5."""
    return jigsaw_weight * jigsaw_loss + (1.0 - jigsaw_weight) * image_loss


def updated_rows(old: tf.Tensor, new: tf.Tensor, momentum: float) -> tf.Tensor:
    """Memory-bank EMA: normalise(momentum * old + (1 - momentum) * new), rows [K, D] -> [K, D]."""
    return tf.math.l2_normalize(momentum * old + (1.0 - momentum) * new, axis=-1)


def embedding_std(embeddings: tf.Tensor) -> tf.Tensor:
    """Collapse monitor (TF Similarity): per-dimension std over the batch, averaged. [B, D] -> scalar.

    Unit vectors spread uniformly give about 1/sqrt(D) (0.088 for D = 128); a collapsed embedding gives 0.
    """
    return tf.reduce_mean(tf.math.reduce_std(embeddings, axis=0))


def _shared_trunk(encoder: keras.Model, patch: int) -> keras.Model:
    """The encoder's layers applied to patch-sized inputs (same weights): the paper's shared trunk.

    Keras checks a functional model's input shape, so the encoder's graph is re-traced on a [patch, patch] input,
    reusing (not copying) every layer.
    """
    return keras.models.clone_model(encoder, input_tensors=keras.Input((patch, patch, 3), name="patches"),
                                    clone_function=lambda layer: layer)


@register
class PIRL(Method):
    """Pretext-invariant representation learning with a jigsaw pretext and a memory bank (or in-batch negatives).

    Batch in: {"image": float32 [B, H, W, 3] in [0, 1], "index": int64 [B] in [0, bank_size)} (with
    negatives='batch', `index` is any int >= 0 that names the example: it seeds the example's randomness).

    Args:
      image_size: input side in pixels (the jigsaw geometry scales with it).
      bank_size: memory-bank rows = examples in the training split (`@tfssl.data.split_size()`); with
        negatives='batch' it may be None and is ignored (no bank is built).
      encoder_fn: the trunk, `(image_size=...) -> keras.Model` images -> [B, D] features.
      embedding_dim: size of f and g outputs and of the bank rows (128 in the paper).
      num_negatives: N bank rows per example (32,000 in the paper; 4,096 in its ablations); ignored with
        negatives='batch' (N = global batch - 1).
      temperature: t of the cosine logits (0.07).
      jigsaw_weight: lambda of the final loss (0.5); 0 is NPID.
      loss: "nce" (the paper's binary NCE) or "infonce" (softmax over 1 + N); negatives='batch' needs "infonce".
      negatives: "bank" (the paper's: N rows sampled from the memory bank, positive m_I) or "batch" (the other
        images of the global batch, positive the image's second view I'; no bank; see the module docstring).
      bank_momentum: weight of the old row in the bank's EMA (0.5).
      crop_area / jigsaw_crop_area: area fractions of the random resized crops of I and of I_t (>= 60% in the paper).
      jitter_strength / patch_jitter_strength: colour distortion of I and of each patch.
      grayscale_probability: chance that I loses its colour.
      blur_probability / blur_sigma: chance that I is Gaussian-blurred, and the range of its standard deviation in
        pixels at the input size (SimCLR's augmentation; not in the PIRL paper, whose default 0 is kept here).
      bank_seed: seed of the bank's random initial rows (default: drawn from NumPy's global state, which the
        experiment seeds). bank_momentum and bank_seed are ignored with negatives='batch'.
    """

    def __init__(self, image_size: int = 64, bank_size: int | None = None,
                 encoder_fn: Callable[..., keras.Model] = resnet9, embedding_dim: int = 128,
                 num_negatives: int = 4096, temperature: float = 0.07, jigsaw_weight: float = 0.5,
                 loss: str = "nce", bank_momentum: float = 0.5, crop_area: tuple[float, float] = (0.2, 1.0),
                 jigsaw_crop_area: tuple[float, float] = (0.6, 1.0), jitter_strength: float = 0.5,
                 patch_jitter_strength: float = 0.5, grayscale_probability: float = 0.2,
                 blur_probability: float = 0.0, blur_sigma: tuple[float, float] = (0.1, 2.0),
                 bank_seed: int | None = None, negatives: str = "bank", name: str = "pirl"):
        super().__init__(name=name)
        if negatives not in NEGATIVES:
            raise ValueError(f"unknown PIRL negatives '{negatives}'; use one of {', '.join(NEGATIVES)}")
        if negatives == "bank" and (not bank_size or bank_size < 2):
            raise ValueError(f"PIRL needs bank_size >= 2 rows, one per training example (got {bank_size}); bind "
                             "tfssl.methods.PIRL.bank_size = @tfssl.data.split_size() and "
                             "tfssl.data.split_size.name = <the training dataset>")
        if loss not in LOSSES:
            raise ValueError(f"unknown PIRL loss '{loss}'; use one of {', '.join(LOSSES)}")
        if negatives == "batch" and loss != "infonce":
            raise ValueError(f"PIRL's in-batch negatives use InfoNCE (a softmax over the global batch), not '{loss}'; "
                             "bind tfssl.methods.PIRL.loss = 'infonce'")
        self.negatives = negatives
        self.image_size = image_size
        self.bank_size = int(bank_size) if negatives == "bank" else None
        self.embedding_dim = embedding_dim
        self.num_negatives = int(num_negatives)
        self.temperature = float(temperature)
        self.jigsaw_weight = float(jigsaw_weight)
        self.loss_name = loss
        self.bank_momentum = float(bank_momentum)
        self.crop_area = tuple(crop_area)
        self.jigsaw_crop_area = tuple(jigsaw_crop_area)
        self.jitter_strength = jitter_strength
        self.patch_jitter_strength = patch_jitter_strength
        self.grayscale_probability = grayscale_probability
        if not 0.0 < blur_sigma[0] <= blur_sigma[1]:
            raise ValueError(f"PIRL.blur_sigma must be (min, max) with 0 < min <= max pixels, got {blur_sigma}")
        self.blur_probability = float(blur_probability)
        self.blur_sigma = (float(blur_sigma[0]), float(blur_sigma[1]))
        self.cell, self.patch = jigsaw_geometry(image_size)

        self.encoder = encoder_fn(image_size=image_size)
        self.patch_trunk = _shared_trunk(self.encoder, self.patch)
        features = self.encoder.output.shape[-1]
        self.f = keras.layers.Dense(embedding_dim, name="f")
        self.f.build((None, features))
        self.g_patch = keras.layers.Dense(embedding_dim, name="g_patch")
        self.g_patch.build((None, features))
        self.g = keras.layers.Dense(embedding_dim, name="g")
        self.g.build((None, NUM_PATCHES * embedding_dim))

        self.memory_bank = self.nce_offset = None  # negatives='batch' has neither
        if negatives == "bank":
            seed = int(np.random.randint(2**31 - 1)) if bank_seed is None else int(bank_seed)
            initial = unit_rows(self.bank_size, embedding_dim, seed)
            # ONLY_FIRST_REPLICA: each replica computes the same update from the all-gathered batch, and this
            # aggregation lets a replica-context (scatter) update be applied once, to every copy.
            self.memory_bank = self.add_weight(shape=(self.bank_size, embedding_dim), name="memory_bank",
                                               initializer=lambda shape, dtype: tf.constant(initial, dtype),
                                               trainable=False, aggregation="only_first_replica")
            # log(N E[exp(s/t)]) of the binary NCE, estimated on step 0 and checkpointed (a resumed run keeps it).
            self.nce_offset = self.add_weight(shape=(), name="nce_offset", initializer="zeros", trainable=False,
                                              aggregation="only_first_replica")
        networks = self.encoder.trainable_variables + self.f.trainable_variables
        networks += self.g_patch.trainable_variables + self.g.trainable_variables
        self.add_optimizer("encoder", networks)
        self.built = True

    # ---- networks ------------------------------------------------------------------------------------------------
    def embed_image(self, images: tf.Tensor, training: bool = False) -> tf.Tensor:
        """v_I: float32 [B, H, W, 3] in [0, 1] -> unit float32 [B, embedding_dim]."""
        v = self.f(self.encoder(images, training=training))
        return tf.math.l2_normalize(tf.cast(v, tf.float32), axis=-1)

    def embed_jigsaw(self, patches: tf.Tensor, training: bool = False) -> tf.Tensor:
        """v_It: shuffled patches float32 [B, 9, p, p, 3] -> unit float32 [B, embedding_dim].

        Each patch goes through the shared trunk and g's shared linear layer; the 9 results are concatenated in
        the shuffled order (9 * 128) and projected by g's second linear layer.
        """
        batch = tf.shape(patches)[0]
        flat = tf.reshape(patches, [-1, self.patch, self.patch, 3])
        per_patch = self.g_patch(self.patch_trunk(flat, training=training))
        v = self.g(tf.reshape(per_patch, [batch, NUM_PATCHES * self.embedding_dim]))
        return tf.math.l2_normalize(tf.cast(v, tf.float32), axis=-1)

    # ---- views -----------------------------------------------------------------------------------------------------
    def image_view(self, images: tf.Tensor, index: tf.Tensor, step: tf.Tensor,
                   streams: tuple[int, int, int, int] = IMAGE_VIEW_STREAMS) -> tf.Tensor:
        """I: random resized crop, flip, colour jitter and (optionally) blur of each image.

        [B, S, S, 3] -> [B, S, S, 3] in [0, 1]. `streams` are the (crop, flip, jitter, blur) example_uniform streams:
        `IMAGE_VIEW_STREAMS` for I, `TARGET_VIEW_STREAMS` for the second view I' of negatives='batch'.
        """
        crop, flip, jitter, blur = streams
        view = random_resized_crop(images, example_uniform(index, step, crop, 4), self.crop_area, self.image_size)
        view = random_flip(view, example_uniform(index, step, flip)[:, 0])
        view = colour_jitter(view, example_uniform(index, step, jitter, 5), self.jitter_strength,
                             self.grayscale_probability)
        return random_blur(view, example_uniform(index, step, blur, 2), self.blur_probability, self.blur_sigma)

    def jigsaw_view(self, images: tf.Tensor, index: tf.Tensor, step: tf.Tensor):
        """I_t: a crop of >= 60% of the image, 9 patches at random offsets in a 3x3 grid, jittered one by one, shuffled.

        Returns:
          patches: float32 [B, 9, p, p, 3] in [0, 1], in shuffled order.
          crop: float32 [B, 3 * cell, 3 * cell, 3], the crop the patches come from (unjittered).
          offsets: int32 [B, 9, 2] of each cell's patch; permutation: int32 [B, 9] (position j holds cell perm[j]).
        """
        side = GRID * self.cell
        crop = random_resized_crop(images, example_uniform(index, step, _JIGSAW_CROP_STREAM, 4),
                                   self.jigsaw_crop_area, side)
        u = example_uniform(index, step, _OFFSET_STREAM, NUM_PATCHES * 2)
        offsets = random_offsets(tf.reshape(u, [-1, NUM_PATCHES, 2]), self.cell, self.patch)
        patches = extract_patches(crop, offsets, self.cell, self.patch)
        u = tf.reshape(example_uniform(index, step, _PATCH_JITTER_STREAM, NUM_PATCHES * 5), [-1, 5])
        flat = tf.reshape(patches, [-1, self.patch, self.patch, 3])
        patches = tf.reshape(colour_jitter(flat, u, self.patch_jitter_strength), tf.shape(patches))
        permutation = random_permutations(example_uniform(index, step, _PERMUTATION_STREAM, NUM_PATCHES))
        return shuffle_patches(patches, permutation), crop, offsets, permutation

    # ---- losses and the bank ---------------------------------------------------------------------------------------
    def _checked_index(self, index: tf.Tensor) -> tf.Tensor:
        """`index` as int32, available only once it is known to address a bank row (else the step fails).

        Without the check a GPU gather would silently read zeros for an out-of-range row.
        """
        index = tf.cast(index, tf.int64)
        checks = [tf.debugging.assert_non_negative(index, message="PIRL: negative example index"),
                  tf.debugging.assert_less(index, tf.constant(self.bank_size, tf.int64), message=(
                      f"PIRL: an example index is >= the memory bank's {self.bank_size} rows; the bank needs one row "
                      "per example of the training split: bind tfssl.data.split_size.name and .split to "
                      "the training input's"))]
        with tf.control_dependencies(checks):
            return tf.cast(tf.identity(index), tf.int32)

    def contrastive_loss(self, logits: tf.Tensor) -> tf.Tensor:
        """Per-example loss of the chosen form: [B, 1 + N] -> [B]."""
        if self.loss_name == "infonce":
            return info_nce_loss(logits)
        return binary_nce_loss(logits, self.nce_offset.value)

    def _set_nce_offset(self, logits: list[tf.Tensor], step: tf.Tensor) -> None:
        """On step 0, log(N * mean exp(logit)) over the global batch (NPID's one-off estimate of Z); later a no-op."""
        context = tf.distribute.get_replica_context()
        total = context.all_reduce("sum", tf.add_n([tf.reduce_sum(tf.exp(x)) for x in logits]))
        count = context.all_reduce("sum", tf.add_n([tf.cast(tf.size(x), tf.float32) for x in logits]))
        estimate = tf.math.log(float(self.num_negatives) * total / count)
        self.nce_offset.assign(tf.where(tf.equal(step, 0), estimate, self.nce_offset.value))

    def update_memory_bank(self, index: tf.Tensor, embeddings: tf.Tensor) -> None:
        """m_i <- normalise(momentum * m_i + (1 - momentum) * v_i) for the rows in `index` (only those).

        Args:
          index: int [K] (the global batch); embeddings: unit float32 [K, D], normalised f(v_I).
        An example present twice (a batch spanning two epochs) gets the mean of its embeddings, so the result does
        not depend on which duplicate a scatter writes last.
        """
        rows, position = tf.unique(tf.cast(index, tf.int32))
        new = tf.math.unsorted_segment_mean(embeddings, position, tf.shape(rows)[0])
        bank = self.memory_bank.value
        bank.scatter_update(tf.IndexedSlices(updated_rows(tf.gather(bank, rows), new, self.bank_momentum), rows))

    def train_step(self, batch):
        if self.negatives == "batch":
            return self._batch_negatives_step(batch)
        return self._bank_step(batch)

    def _bank_step(self, batch):
        """The paper's step: both terms against sampled bank rows, then the bank's EMA update."""
        images, index, step = batch["image"], self._checked_index(batch["index"]), self.step
        view = self.image_view(images, index, step)
        patches, _, _, _ = self.jigsaw_view(images, index, step)
        # The pre-update bank: both terms are scored against it; it carries no gradient.
        candidates = tf.gather(self.memory_bank.value, sample_negatives(index, step, self.bank_size,
                                                                         self.num_negatives))
        with tf.GradientTape() as tape:
            v_image = self.embed_image(view, training=True)
            v_jigsaw = self.embed_jigsaw(patches, training=True)
            logits_image = similarity_logits(v_image, candidates, self.temperature)
            logits_jigsaw = similarity_logits(v_jigsaw, candidates, self.temperature)
            if self.loss_name == "nce":
                self._set_nce_offset([tf.stop_gradient(logits_image), tf.stop_gradient(logits_jigsaw)], step)
            loss_image = tf.reduce_mean(self.contrastive_loss(logits_image))
            loss_jigsaw = tf.reduce_mean(self.contrastive_loss(logits_jigsaw))
            loss = pirl_loss(loss_jigsaw, loss_image, self.jigsaw_weight)
        self.minimize("encoder", loss, tape)
        # The bank learns from f only (never g), from the global batch so every replica writes the same rows.
        global_index = gather_replicas(index)
        global_v_image = gather_replicas(tf.stop_gradient(v_image))
        self.update_memory_bank(global_index, global_v_image)
        return {
            "loss": loss,
            "loss_image": loss_image,
            "loss_jigsaw": loss_jigsaw,
            "embedding_std": embedding_std(global_v_image),
            # cos(v_I, v_It): how invariant the representation is to the jigsaw transformation.
            "image_jigsaw_similarity": tf.reduce_mean(tf.reduce_sum(v_image * v_jigsaw, axis=-1)),
            "positive_similarity": tf.reduce_mean(logits_image[:, 0]) * self.temperature,
        }

    def _batch_negatives_step(self, batch):
        """negatives='batch': both terms against the second views v_I' of the global batch (module docstring)."""
        images, step = batch["image"], self.step
        index = tf.cast(batch["index"], tf.int32)
        view = self.image_view(images, index, step)
        target_view = self.image_view(images, index, step, TARGET_VIEW_STREAMS)
        patches, _, _, _ = self.jigsaw_view(images, index, step)
        local = tf.shape(index)[0]
        positive = replica_offset(local) + tf.range(local)  # column of each example's own target
        with tf.GradientTape() as tape:
            both = self.embed_image(tf.concat([view, target_view], axis=0), training=True)
            v_image, v_target = both[:local], both[local:]
            v_jigsaw = self.embed_jigsaw(patches, training=True)
            targets = gather_replicas(v_target)  # [B, D], with its gradient (all_gather's is an all-reduce)
            logits_image = batch_logits(v_image, targets, self.temperature)
            logits_jigsaw = batch_logits(v_jigsaw, targets, self.temperature)
            loss_image = tf.reduce_mean(batch_info_nce_loss(logits_image, positive))
            loss_jigsaw = tf.reduce_mean(batch_info_nce_loss(logits_jigsaw, positive))
            loss = pirl_loss(loss_jigsaw, loss_image, self.jigsaw_weight)
        self.minimize("encoder", loss, tape)
        positive_logit = tf.gather(logits_image, positive, axis=1, batch_dims=1)
        return {
            "loss": loss,
            "loss_image": loss_image,
            "loss_jigsaw": loss_jigsaw,
            "embedding_std": embedding_std(tf.stop_gradient(targets)),
            "image_jigsaw_similarity": tf.reduce_mean(tf.reduce_sum(v_image * v_jigsaw, axis=-1)),
            # cos(v_I, v_I'): the positive pair of the image term (the bank mode's cos(v_I, m_I)).
            "positive_similarity": tf.reduce_mean(positive_logit) * self.temperature,
            # How often each query's own target is the nearest of the B candidates (chance 1 / B).
            "image_top1": tf.reduce_mean(top1(logits_image, positive)),
            "jigsaw_top1": tf.reduce_mean(top1(logits_jigsaw, positive)),
        }

    # ---- what a person looks at, and the exports -------------------------------------------------------------------
    def summaries(self, batch):
        """For up to 4 images: the view I, and the jigsaw I_t as a puzzle (shuffled patches in the cells, grey gaps)."""
        images, index = batch["image"][:4], batch["index"][:4]
        view = self.image_view(images, index, self.step)
        patches, crop, offsets, _ = self.jigsaw_view(images, index, self.step)
        puzzle = write_patches(tf.fill(tf.shape(crop), 0.5), patches, offsets, self.cell)
        return {"image_views": view, "jigsaw_puzzles": puzzle}

    def serving_endpoints(self):
        spec = [tf.TensorSpec([None, self.image_size, self.image_size, 3], tf.float32, name="images")]
        return {"embed": (lambda images: self.embed_image(images), spec)}
