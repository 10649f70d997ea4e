"""Multi-object scenes with full layering ground truth: the data of PCNet (Zhan et al., "Self-Supervised Scene
De-occlusion", CVPR 2020) rendered by tfssl itself.

A scene is 2-4 textured objects painted back to front over a textured background. Because tfssl paints it, the
scene comes with what real datasets (COCOA, KINS) annotate only partly or not at all: every object's modal
(visible) and amodal (full) mask, its full unoccluded RGB layer, its depth rank, the pairwise occlusion order,
and the background behind all objects.

Choices made for exact ground truth (and why):
  - Hard (binary) object edges, i.e. coverage >= 0.5: every pixel belongs to exactly one object or to the
    background, so the image equals the front object's layer on its modal mask (content-completion ground truth
    is exact) and modal masks are disjoint.
  - Directional shading but no drop shadows: a shadow would darken the visible part of an object behind, so its
    true layer would no longer match the image there.
  - Objects are placed next to an earlier object ("anchor") at a distance below the sum of their radii, so most
    objects overlap another; the painting order is an independent random permutation, so depth is not
    predictable from placement order, size or position (the Area and Y-axis baselines stay baselines).
  - Every object keeps a visible area of at least `MIN_VISIBLE_FRACTION` of its full mask (else the scene is
    redrawn): PCNet reasons from modal masks only, so a fully hidden object could not be found at all.

Held-out shapes: objects use `shapes.model_ids_for_split(split)` (disjoint per split), like tfssl_objects, so test
scenes contain unseen shape models. Every scene is a pure function of (split, index, size, object counts).
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from tfssl.data.render import appearance as app
from tfssl.data.render import objects, shapes

SEED = 20200402  # the root of every tfssl_scenes example (PCNet's arXiv date); changing it changes every dataset
MAX_OBJECTS = 4
NUM_CATEGORIES = shapes.NUM_CLASSES  # categories are 1..K (0 = no object / padding)
MIN_VISIBLE_FRACTION = 0.3
MIN_VISIBLE_PIXELS = 24
_MAX_REDRAWS = 50


@dataclasses.dataclass(frozen=True, eq=False)
class Scene:
    """One rendered scene of N objects, object arrays in *depth order of painting* (index 0 = farthest).

    Attributes:
      image: uint8 [H, W, 3].
      background: uint8 [H, W, 3], the scene with no object.
      amodal: uint8 [N, H, W] in {0, 1}, full object masks.
      modal: uint8 [N, H, W] in {0, 1}, visible masks (disjoint; their union is the union of `amodal`).
      layers: uint8 [N, H, W, 3], each object's RGB alone (0 outside its amodal mask).
      category: int64 [N] in 1..NUM_CATEGORIES.
      model_id: int64 [N], shape models (disjoint across splits).
    """

    image: np.ndarray
    background: np.ndarray
    amodal: np.ndarray
    modal: np.ndarray
    layers: np.ndarray
    category: np.ndarray
    model_id: np.ndarray


def depth_rank(num_objects: int) -> np.ndarray:
    """Depth rank int64 [N] of objects stored back to front: 0 = front (the last painted)."""
    return np.arange(num_objects - 1, -1, -1, dtype=np.int64)


def modal_masks(amodal: np.ndarray, depth: np.ndarray) -> np.ndarray:
    """Visible masks from full masks and depth: an object is hidden wherever something nearer covers it.

    Args:
      amodal: {0, 1} [N, H, W].
      depth: int [N], 0 = front; distinct.
    Returns:
      uint8 [N, H, W] in {0, 1}.
    """
    amodal = amodal.astype(bool)
    modal = np.zeros_like(amodal)
    covered = np.zeros(amodal.shape[1:], bool)
    for i in np.argsort(depth):  # front to back
        modal[i] = amodal[i] & ~covered
        covered |= amodal[i]
    return modal.astype(np.uint8)


def order_matrix(modal: np.ndarray, amodal: np.ndarray, depth: np.ndarray) -> np.ndarray:
    """The pairwise occlusion order: O[i, j] = 1 if i hides part of j, -1 if j hides part of i, else 0.

    "i hides part of j" means i is nearer and some pixel of j's full mask shows i instead: |modal_i & amodal_j| > 0
    with depth_i < depth_j. This is the relation visible in the image (a pair whose overlap is covered by a third
    object has none), the one PCNet's ordering recovers and the reference code's mask rule reads off
    (`tfssl.evaluation.deocclusion.order_from_masks` agrees with it on every bordering pair).

    Args:
      modal, amodal: {0, 1} [N, H, W]; depth: int [N] (0 = front).
    Returns:
      int64 [N, N], antisymmetric, values in {-1, 0, 1}.
    """
    n = modal.shape[0]
    hides = np.einsum("ihw,jhw->ij", modal.astype(np.int64), amodal.astype(np.int64)) > 0
    nearer = depth[:, None] < depth[None, :]
    front = hides & nearer
    np.fill_diagonal(front, False)
    return front.astype(np.int64) - front.T.astype(np.int64) if n else np.zeros((0, 0), np.int64)


def _rng(split: str, index: int, stream: int) -> np.random.Generator:
    return objects.example_rng(SEED, split, index, stream)


def _sample_placements(rng: np.random.Generator, num: int, size: int) -> list[shapes.Placement]:
    placements = []
    for k in range(num):
        radius = size * rng.uniform(0.17, 0.25)
        angle, log_aspect, shear = rng.uniform(0.0, 2.0 * math.pi), rng.uniform(-0.2, 0.2), rng.uniform(-0.1, 0.1)
        if k == 0:
            cx, cy = size * rng.uniform(0.35, 0.65, 2)
        else:
            # Next to an earlier object, closer than the sum of radii: the pair overlaps (PCNet learns from overlaps).
            anchor = placements[int(rng.integers(k))]
            theta = rng.uniform(0.0, 2.0 * math.pi)
            distance = (anchor.scale + radius) * rng.uniform(0.35, 0.8)
            cx = anchor.center_x + distance * math.cos(theta)
            cy = anchor.center_y + distance * math.sin(theta)
        cx, cy = (float(np.clip(c, 0.22 * size, 0.78 * size)) for c in (cx, cy))
        placements.append(shapes.Placement(cx, cy, float(radius), float(angle), math.exp(log_aspect), float(shear)))
    return placements


def render_scene(split: str, index: int, size: int = 64, min_objects: int = 2,
                 max_objects: int = MAX_OBJECTS) -> Scene:
    """Renders scene `index` of `split`: a pure, deterministic function of its arguments.

    Args:
      split: "train", "validation" or "test" (disjoint shape models).
      index: int >= 0.
      size: canvas side in pixels.
      min_objects, max_objects: the number of objects is uniform in [min_objects, max_objects].
    Returns:
      A `Scene` (objects back to front).
    """
    if not 1 <= min_objects <= max_objects:
        raise ValueError(f"need 1 <= min_objects <= max_objects, got {min_objects}, {max_objects}")
    rng = _rng(split, index, 0)
    model_ids = shapes.model_ids_for_split(split)
    for _ in range(_MAX_REDRAWS):  # redraw until every object stays visible enough (almost always at once)
        num = int(rng.integers(min_objects, max_objects + 1))
        classes = rng.integers(shapes.NUM_CLASSES, size=num)
        models = model_ids[rng.integers(len(model_ids), size=num)]
        placements = _sample_placements(rng, num, size)
        paint_order = rng.permutation(num)  # depth independent of placement order
        amodal = np.stack([
            shapes.coverage(shapes.shape_model(int(classes[k]), int(models[k])), placements[k], size, size) >= 0.5
            for k in paint_order]).astype(np.uint8)
        modal = modal_masks(amodal, depth_rank(num))
        visible, full = modal.sum((1, 2)), amodal.sum((1, 2))
        if np.all(visible >= np.maximum(MIN_VISIBLE_FRACTION * full, MIN_VISIBLE_PIXELS)):
            break
    classes, models = classes[paint_order], models[paint_order]
    placements = [placements[k] for k in paint_order]

    light = dataclasses.replace(app.sample_lighting(rng), shadow_opacity=0.0, shadow_offset=0.0)
    fills = [app.Fill(app.random_colour(rng), app.random_colour(rng), app.sample_pattern(rng, (3.0, 9.0)))
             for _ in range(num)]
    object_mean = np.mean([f.mean_colour() for f in fills], axis=0)
    for _ in range(16):  # keep objects distinguishable from the background on average
        background = app.Background(app.random_colour(rng), app.random_colour(rng),
                                    app.sample_pattern(rng, (3.0, 12.0)))
        if np.sqrt(np.sum((background.mean_colour() - object_mean) ** 2)) >= 0.25:
            break
    # float32 first: the image (composited in float32) must round to exactly these bytes where no object is.
    background_rgb = app.render_background(background, size, size, light).astype(np.float32)

    layers = []
    for k in range(num):
        shape = shapes.shape_model(int(classes[k]), int(models[k]))
        layer = objects.render_object_layer(shape, placements[k], fills[k], size, size, light)
        alpha = amodal[k].astype(np.float32)  # hard edges: see the module docstring
        layers.append(objects.ObjectLayer(rgb=layer.rgb * alpha[..., None], alpha=alpha, shadow=layer.shadow))
    image, _ = objects.composite(background_rgb, layers)
    return Scene(
        image=objects.to_uint8(image),
        background=objects.to_uint8(background_rgb),
        amodal=amodal,
        modal=modal,
        layers=np.stack([objects.to_uint8(layer.rgb) for layer in layers]),
        category=(classes + 1).astype(np.int64),
        model_id=models.astype(np.int64),
    )
