"""PCNet's self-supervised training samples, synthesised in TF inside the input pipeline.

Zhan et al., "Self-Supervised Scene De-occlusion" (CVPR 2020), Sec. 3.1-3.2: PCNet never sees an amodal mask.
It takes a real instance A (its visible mask is the target), borrows a surrogate occluder B from anywhere in the
dataset, pastes B over A's crop and learns to undo the damage:

  case 1 (p = 0.8), B in front:  mask_input = A \\ B, eraser = B,     target = A  (regrow what B hides)
  case 2 (p = 0.2), B behind:    mask_input = A,     eraser = B \\ A, target = A  (do not over-complete)

PCNet-C learns on the same placement: hole = A ∩ B, modal channel = A \\ B.

Geometry follows the reference code (github.com/XiaohangZhan/deocclusion): a square crop around A's box of side
max(sqrt(3wh), 1.1w, 1.1h), centre jittered by U(-0.2, 0.2)·side, side scaled by 1/U(0.8, 1.2), zero padding
outside the image, masks resized with nearest neighbour; B's crop is placed at an overlap o ~ U(0.4, 1) split
into x/y offsets, and a placement is accepted when it covers a fraction of A in [0.001, 0.9) (up to 100 tries,
else the last). Differences: one target instance is drawn per scene visit (uniform over scenes, then over
their objects) instead of iterating over all annotations, which keeps the stream a shuffle of scenes.

Randomness is stateless: sample p of the stream draws its numbers from (seed, p) (`tfssl.data.scene_pair_dataset`
hands `pcnet_sample` that key), so a resumed run continues with exactly the samples the killed one would have seen.

Box convention: `(top, left, side)` in pixel-edge coordinates (pixel (r, c) spans [r, r+1) x [c, c+1)).
"""

from __future__ import annotations

import gin
import tensorflow as tf

NUM_TRIES = 100
INDEX_STRIDE = 1024  # sample index = scene index * INDEX_STRIDE + object slot (COCOA has < 1024 regions)
_QUICK_TRIES = 8
MIN_COVERED, MAX_COVERED = 0.001, 0.9
CASE1_PROBABILITY = 0.8
CENTRE_JITTER = 0.2
SIDE_JITTER = (0.8, 1.2)
OVERLAP_RANGE = (0.4, 1.0)
# Layout of a sample's uniform numbers (see `synthesize_sample`).
_U_SLOT_A, _U_SLOT_B, _U_SHIFT_Y, _U_SHIFT_X, _U_SIDE_A, _U_SIDE_B, _U_FLIP_A, _U_FLIP_B, _U_CASE = range(9)
_U_TRIES = 9
NUM_UNIFORMS = _U_TRIES + 3 * NUM_TRIES


# --------------------------------------------------------------------------------------------------------------
# Geometry: boxes, crops and pasting back (shared with inference, tfssl.methods.pcnet.inference).


def mask_bbox(mask: tf.Tensor) -> tf.Tensor:
    """The tight box of a mask's nonzero pixels.

    Args:
      mask: [H, W], nonzero = inside; must not be empty.
    Returns:
      float32 [4] = (y0, x0, y1, x1) in pixel-edge coordinates (y1, x1 exclusive).
    """
    inside = tf.cast(mask, tf.float32) > 0
    rows = tf.where(tf.reduce_any(inside, axis=1))[:, 0]
    cols = tf.where(tf.reduce_any(inside, axis=0))[:, 0]
    box = tf.stack([tf.reduce_min(rows), tf.reduce_min(cols), tf.reduce_max(rows) + 1, tf.reduce_max(cols) + 1])
    return tf.cast(box, tf.float32)


def crop_box(bbox, centre_shift=(0.0, 0.0), side_scale=1.0) -> tf.Tensor:
    """PCNet's square crop around an instance box.

    side = max(sqrt(3·w·h), 1.1·w, 1.1·h), centre = box centre + centre_shift·side, then side *= side_scale
    (training draws centre_shift ~ U(-0.2, 0.2) per axis and side_scale = 1/U(0.8, 1.2); inference uses none).

    Args:
      bbox: [..., 4] (y0, x0, y1, x1) pixel edges.
      centre_shift: [..., 2] (dy, dx) in units of the side.
      side_scale: [...] multiplier of the side.
    Returns:
      float32 [..., 3] = (top, left, side).
    """
    bbox = tf.cast(bbox, tf.float32)
    y0, x0, y1, x1 = tf.unstack(bbox, axis=-1)
    h, w = y1 - y0, x1 - x0
    side = tf.maximum(tf.sqrt(3.0 * w * h), 1.1 * tf.maximum(w, h))
    shift = tf.cast(centre_shift, tf.float32)
    cy = 0.5 * (y0 + y1) + shift[..., 0] * side
    cx = 0.5 * (x0 + x1) + shift[..., 1] * side
    side = side * tf.cast(side_scale, tf.float32)
    return tf.stack([cy - 0.5 * side, cx - 0.5 * side, side], axis=-1)


def crop(images, boxes, size: int, method: str = "bilinear") -> tf.Tensor:
    """Crops square boxes out of images and resizes them to [size, size], zero outside the image.

    Args:
      images: [N, H, W, C] (any numeric dtype; returned as float32).
      boxes: [N, 3] (top, left, side) pixel edges.
      size: output side.
      method: "bilinear" (RGB) or "nearest" (masks).
    Returns:
      float32 [N, size, size, C]; output pixel i samples the image at top + (i + 0.5)·side/size.
    """
    images = tf.cast(images, tf.float32)
    boxes = tf.cast(boxes, tf.float32)
    height, width = tf.cast(tf.shape(images)[1], tf.float32), tf.cast(tf.shape(images)[2], tf.float32)
    top, left, side = tf.unstack(boxes, axis=-1)
    step = side / size
    # crop_and_resize samples at y1·(H-1) + i·(y2-y1)·(H-1)/(size-1) in pixel-index (centre) coordinates.
    y_first, x_first = top + 0.5 * step - 0.5, left + 0.5 * step - 0.5
    y_last, x_last = y_first + (size - 1) * step, x_first + (size - 1) * step
    norm = tf.stack([y_first / (height - 1), x_first / (width - 1), y_last / (height - 1), x_last / (width - 1)], -1)
    return tf.image.crop_and_resize(images, norm, tf.range(tf.shape(images)[0]), [size, size], method=method,
                                    extrapolation_value=0.0)


def paste(crops, boxes, height: int, width: int, method: str = "bilinear") -> tf.Tensor:
    """The inverse of `crop`: puts [N, S, S, C] crops back on an [height, width] canvas, zero outside the box.

    Returns:
      float32 [N, height, width, C].
    """
    crops = tf.cast(crops, tf.float32)
    boxes = tf.cast(boxes, tf.float32)
    size = tf.cast(tf.shape(crops)[1], tf.float32)
    top, left, side = tf.unstack(boxes, axis=-1)
    scale = size / side
    # Image pixel r (centre r + 0.5) lies at crop index (r + 0.5 - top)·scale - 0.5.
    y_first, x_first = (0.5 - top) * scale - 0.5, (0.5 - left) * scale - 0.5
    y_last, x_last = (height - 0.5 - top) * scale - 0.5, (width - 0.5 - left) * scale - 0.5
    norm = tf.stack([y_first, x_first, y_last, x_last], -1) / (size - 1)
    return tf.image.crop_and_resize(crops, norm, tf.range(tf.shape(crops)[0]), [height, width], method=method,
                                    extrapolation_value=0.0)


# --------------------------------------------------------------------------------------------------------------
# Occluder placement and the two cases.


def occluder_offsets(overlap, u_offset, u_sign) -> tf.Tensor:
    """Splits an overlap o into canvas offsets (dy, dx), in units of the canvas side, with |dx| + |dy| = 1 - o.

    Args:
      overlap: [...] in [0.4, 1]; u_offset, u_sign: [...] uniforms in [0, 1).
    Returns:
      float32 [..., 2] (dy, dx).
    """
    dx = (overlap - 1.0) + u_offset * 2.0 * (1.0 - overlap)
    dy = tf.where(u_sign < 0.5, -1.0, 1.0) * (1.0 - overlap - tf.abs(dx))
    return tf.stack([dy, dx], axis=-1)


def shift_mask(mask: tf.Tensor, shifts: tf.Tensor) -> tf.Tensor:
    """Translates one [S, S] mask by T integer shifts (dy, dx) [T, 2], filling with 0: returns [T, S, S]."""
    size = tf.shape(mask)[0]
    padded = tf.pad(mask, [[size, size], [size, size]])
    index = tf.range(size)[None, :]
    rows = size + index - shifts[:, :1]  # [T, S]: output row r reads input row r - dy
    cols = size + index - shifts[:, 1:]
    return tf.gather(tf.gather(padded, rows, axis=0), cols, axis=2, batch_dims=1)


def place_occluder(target: tf.Tensor, occluder: tf.Tensor, uniforms: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """Places the surrogate occluder's canvas over the target's (the reference code's rejection loop, vectorised).

    Try t draws o ~ U(0.4, 1) from uniforms[t, 0] and splits it into offsets with uniforms[t, 1:]; the first try
    whose covered fraction |A ∩ B| / |A| lies in [0.001, 0.9) is kept, else the last.

    Args:
      target: A, float32 [S, S] in {0, 1}, non-empty.
      occluder: B, float32 [S, S] in {0, 1}.
      uniforms: float32 [T, 3] in [0, 1).
    Returns:
      placed B float32 [S, S] in {0, 1}, and its covered fraction (float32 scalar).
    """
    size = tf.cast(tf.shape(target)[0], tf.float32)
    low, high = OVERLAP_RANGE
    overlap = low + (high - low) * uniforms[:, 0]
    shifts = tf.cast(tf.round(occluder_offsets(overlap, uniforms[:, 1], uniforms[:, 2]) * size), tf.int32)
    area = tf.maximum(tf.reduce_sum(target), 1.0)

    def first_accepted(tries: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        candidates = shift_mask(occluder, tries)  # [T', S, S]
        covered = tf.reduce_sum(candidates * target, axis=[1, 2]) / area
        ok = (covered >= MIN_COVERED) & (covered < MAX_COVERED)
        chosen = tf.where(tf.reduce_any(ok), tf.cast(tf.argmax(tf.cast(ok, tf.int32)), tf.int32),
                          tf.shape(tries)[0] - 1)
        return candidates[chosen], covered[chosen]

    # Almost every sample accepts within the first few tries: evaluate those alone, and all tries only when
    # none of them was accepted (the answer is the same; the common case costs 1/12 of it).
    placed, covered = first_accepted(shifts[:_QUICK_TRIES])
    accepted = (covered >= MIN_COVERED) & (covered < MAX_COVERED)
    return tf.cond(accepted, lambda: (placed, covered), lambda: first_accepted(shifts))


def make_mask_sample(target: tf.Tensor, occluder: tf.Tensor, case1: tf.Tensor, category: tf.Tensor,
                     use_category: bool) -> dict[str, tf.Tensor]:
    """The PCNet-M / PCNet-C inputs and targets of one placement.

    Args:
      target: A, float32 [S, S] {0, 1}; occluder: placed B, float32 [S, S] {0, 1}.
      case1: bool scalar, True = B in front (case 1), False = B behind (case 2).
      category: int scalar in 1..K, multiplies the modal channels when use_category.
    Returns:
      dict of float32 [S, S, 1]: mask_input, eraser, target, content_modal, content_hole (see the module docstring).
    """
    a, b = target, occluder
    a_minus_b, a_and_b, b_minus_a = a * (1.0 - b), a * b, b * (1.0 - a)
    scale = tf.cast(category, tf.float32) if use_category else 1.0
    return {
        "mask_input": tf.where(case1, a_minus_b, a)[..., None] * scale,
        "eraser": tf.where(case1, b, b_minus_a)[..., None],
        "target": a[..., None],
        "content_modal": a_minus_b[..., None] * scale,
        "content_hole": a_and_b[..., None],
    }


def synthesize_sample(image, mask_a, category_a, mask_b, uniforms, image_size: int, use_category: bool,
                      case1_probability: float = CASE1_PROBABILITY) -> dict[str, tf.Tensor]:
    """One training sample from target instance A (with its scene) and occluder instance B.

    Args:
      image: A's scene, uint8 or float [H, W, 3] (0..255).
      mask_a, mask_b: [H, W] {0, 1}, A's and B's visible masks (B may come from another scene of any size).
      category_a: int scalar 1..K.
      uniforms: float32 [NUM_UNIFORMS] in [0, 1) (the layout constants `_U_*` above).
      image_size: S, the crop side.
      case1_probability: how often B is in front (case 1) rather than behind (case 2).
    Returns:
      dict: image float32 [S, S, 3] in [0, 1], the `make_mask_sample` keys, and covered (float32 scalar).
    """
    u = uniforms
    side_low, side_high = SIDE_JITTER
    shift = (2.0 * tf.stack([u[_U_SHIFT_Y], u[_U_SHIFT_X]]) - 1.0) * CENTRE_JITTER
    box_a = crop_box(mask_bbox(mask_a), shift, 1.0 / (side_low + (side_high - side_low) * u[_U_SIDE_A]))
    box_b = crop_box(mask_bbox(mask_b), (0.0, 0.0), 1.0 / (side_low + (side_high - side_low) * u[_U_SIDE_B]))
    both = tf.concat([tf.cast(image, tf.float32), tf.cast(mask_a, tf.float32)[..., None]], axis=-1)
    crop_a = crop(both[None], box_a[None], image_size, "bilinear")[0]
    target = tf.cast(crop(both[None, ..., 3:], box_a[None], image_size, "nearest")[0, ..., 0] > 0.5, tf.float32)
    rgb = crop_a[..., :3] / 255.0
    occluder = tf.cast(crop(tf.cast(mask_b, tf.float32)[None, ..., None], box_b[None], image_size,
                            "nearest")[0, ..., 0] > 0.5, tf.float32)
    flip_a, flip_b = u[_U_FLIP_A] < 0.5, u[_U_FLIP_B] < 0.5
    rgb = tf.where(flip_a, rgb[:, ::-1], rgb)
    target = tf.where(flip_a, target[:, ::-1], target)
    occluder = tf.where(flip_b, occluder[:, ::-1], occluder)
    tries = tf.reshape(u[_U_TRIES:_U_TRIES + 3 * NUM_TRIES], [NUM_TRIES, 3])
    placed, covered = place_occluder(target, occluder, tries)
    sample = make_mask_sample(target, placed, u[_U_CASE] < case1_probability, category_a, use_category)
    return {"image": tf.clip_by_value(rgb, 0.0, 1.0), **sample, "covered": covered}


# --------------------------------------------------------------------------------------------------------------
# One training sample from two scenes: what `tfssl.data.scene_pair_dataset` maps over its stream.


def _pick(scene: dict, u: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
    """One object of a scene, uniformly: (slot int32, visible mask uint8 [H, W], category int32)."""
    count = tf.cast(scene["num_objects"], tf.float32)
    slot = tf.minimum(tf.cast(tf.floor(u * count), tf.int32), tf.cast(scene["num_objects"], tf.int32) - 1)
    return slot, tf.gather(scene["modal"], slot), tf.cast(tf.gather(scene["category"], slot), tf.int32)


@gin.configurable(module="tfssl.methods")
def pcnet_sample(scene: dict, occluder_scene: dict, key: tf.Tensor, *, image_size: int = 64,
                 use_category: bool = True, case1_probability: float = CASE1_PROBABILITY) -> dict[str, tf.Tensor]:
    """PCNet's training sample: target instance A from `scene`, surrogate occluder B from `occluder_scene`.

    Bind it as the `synthesize` function of the training stream (gin/pcnet.gin):
    `train/tfssl.data.scene_pair_dataset.synthesize = @tfssl.methods.pcnet_sample`.

    Args:
      scene, occluder_scene: scene dicts: image uint8 [H, W, 3], modal uint8 [K, H, W], category [K],
        num_objects scalar, index int64 scalar (tfssl_scenes, cocoa, kins).
      key: int64 [2], the stateless seed of this sample (every random number of the sample derives from it).
      image_size: S, the crop side.
      use_category: multiply the modal channels by the category id (1..K) as the paper does; else binary.
      case1_probability: how often the surrogate occluder is in front (case 1) rather than behind (case 2); the
        paper's 0.8 (the reference code's `eraser_front_prob`).
    Returns:
      image float32 [S, S, 3] in [0, 1]; mask_input, eraser, target, content_modal, content_hole float32
      [S, S, 1]; category int32 in 1..K; index int64 = scene index · 1024 + object slot (unique per instance, for
      `tfssl.layers.rng.example_uniform`).
    """
    u = tf.random.stateless_uniform([NUM_UNIFORMS], seed=key)
    slot_a, mask_a, category_a = _pick(scene, u[_U_SLOT_A])
    _, mask_b, _ = _pick(occluder_scene, u[_U_SLOT_B])
    sample = synthesize_sample(scene["image"], mask_a, category_a, mask_b, u, image_size, use_category,
                               case1_probability)
    del sample["covered"]
    return {**sample, "category": category_a,
            "index": tf.cast(scene["index"], tf.int64) * INDEX_STRIDE + tf.cast(slot_a, tf.int64)}
