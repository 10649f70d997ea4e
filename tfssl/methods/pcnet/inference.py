"""Scene de-occlusion with a trained PCNet: order, amodal masks, object layers and background from modal masks.

Zhan et al., "Self-Supervised Scene De-occlusion" (CVPR 2020), Sec. 3.3, as the reference code runs it
(github.com/XiaohangZhan/deocclusion):

  1. Pairwise order, only for *bordering* pairs (one modal mask dilated by a 3x3 cross touches the other). For
     each direction PCNet-M completes target t with the other instance e as eraser; occ[t, e] counts predicted
     pixels of t (probability > `occ_threshold`) inside e and outside t's input. t is behind e when
     occ[t, e] > occ[e, t]. O[i, j] = 1: i is above (occludes) j; -1: below; 0: no relation.
  2. The occlusion graph: the ancestors of i are all instances that occlude i directly or through others.
  3. Ordering-grounded amodal completion: PCNet-M completes i with the union of its ancestors' modal masks as
     eraser (probability > `amodal_threshold`); an instance without ancestors is fully visible (amodal = modal).
  4. Content completion: PCNet-C fills hole = (amodal \\ modal) dilated by `hole_dilation` pixels, composited
     into an RGBA layer per object; the background is inpainted with the union of all objects as the hole.

Three options beyond the reference, measured on tfssl_scenes (docs/notes/pcnet.md): `order_score='soft'` compares
the summed probabilities instead of the counts above `occ_threshold`; `flip_average` averages PCNet-M over each crop
and its mirror image (`FlipAveraged`); `total_order` decides all pairs of a scene together as the one front-to-back
ranking that agrees best with their evidence (`consistent_order`), so the order has no cycles. The defaults are the
reference's.

`eraser_dilation` (pixels) grows every eraser in steps 1 and 3: with predicted, not ground-truth, modal masks
gaps between touching objects break the ordering (reference issues #14, #17, #36), and dilation closes them.

The completer is anything with PCNet's inference interface (see `Completer`): the trained `tfssl.methods.PCNet`,
the `ConvexHullCompleter` baseline, or the `OracleCompleter` of the tests. Every call works on crops around the
target, made exactly like the training crops (`samples.crop_box`, without jitter), and the
predictions are resized back onto the image.

Arrays: masks are numpy {0, 1} / bool [N, H, W]; images float32 [H, W, 3] in [0, 1]; categories int [N] in 1..K.
"""

from __future__ import annotations

import collections
import dataclasses
from typing import Protocol, Sequence

import numpy as np

from tfssl.methods.pcnet import samples as pcnet_samples
from tfssl.methods.pcnet.model import visible_mean_colour  # one formula for the fill baseline and the prior

OCC_THRESHOLD = 0.1
AMODAL_THRESHOLD = 0.2
HOLE_DILATION = 2
ORDER_SCORES = ("count", "soft")


class Completer(Protocol):
    """PCNet's inference interface (batched, float32).

    mask_probabilities(mask_input [B, S, S, 1], eraser [B, S, S, 1]) -> [B, S, S] foreground probability.
    complete_content(image [B, S, S, 3], content_modal [B, S, S, 1], hole [B, S, S, 1]) -> [B, S, S, 3] raw RGB.
    mask_input and content_modal are {0, 1} masks times the category id when `use_category`.
    """

    image_size: int
    use_category: bool

    def mask_probabilities(self, mask_input, eraser): ...

    def complete_content(self, image, content_modal, hole): ...


# --------------------------------------------------------------------------------------------------------------
# Mask morphology.


def dilate(masks: np.ndarray, radius: int = 1, cross: bool = False) -> np.ndarray:
    """Binary dilation of [..., H, W] masks by a (2r+1)^2 square, or by a 3x3 cross applied r times.

    Returns bool [..., H, W]; radius 0 returns the masks as bool.
    """
    out = np.asarray(masks).astype(bool)
    for _ in range(int(radius) if cross else 0):
        grown = out.copy()
        grown[..., 1:, :] |= out[..., :-1, :]
        grown[..., :-1, :] |= out[..., 1:, :]
        grown[..., :, 1:] |= out[..., :, :-1]
        grown[..., :, :-1] |= out[..., :, 1:]
        out = grown
    if not cross and radius > 0:
        rows = out.copy()
        for d in range(1, int(radius) + 1):
            rows[..., d:, :] |= out[..., :-d, :]
            rows[..., :-d, :] |= out[..., d:, :]
        out = rows.copy()
        for d in range(1, int(radius) + 1):
            out[..., :, d:] |= rows[..., :, :-d]
            out[..., :, :-d] |= rows[..., :, d:]
    return out


def bordering(modal: np.ndarray) -> np.ndarray:
    """Which instance pairs touch: bool [N, N], symmetric, False on the diagonal.

    i and j border when i's mask dilated by a 3x3 cross overlaps j's mask (the reference code's rule).
    """
    modal = np.asarray(modal).astype(bool)
    grown = dilate(modal, 1, cross=True)
    touch = np.einsum("ihw,jhw->ij", grown.astype(np.int64), modal.astype(np.int64)) > 0
    touch = touch | touch.T
    np.fill_diagonal(touch, False)
    return touch


def convex_hull_mask(mask: np.ndarray) -> np.ndarray:
    """The convex hull of a mask's pixel centres, rasterised: bool [H, W] ⊇ mask (a mask with < 3 pixels as is)."""
    mask = np.asarray(mask).astype(bool)
    ys, xs = np.nonzero(mask)
    if len(xs) < 3:
        return mask.copy()
    points = sorted(set(zip(xs.tolist(), ys.tolist())))

    def half(pts):  # Andrew's monotone chain
        chain = []
        for p in pts:
            while len(chain) >= 2 and ((chain[-1][0] - chain[-2][0]) * (p[1] - chain[-2][1])
                                       - (chain[-1][1] - chain[-2][1]) * (p[0] - chain[-2][0])) <= 0:
                chain.pop()
            chain.append(p)
        return chain[:-1]

    hull = np.array(half(points) + half(points[::-1]), np.float64)
    if len(hull) < 3:  # collinear pixels: the hull is the segment they lie on, already in the mask's span
        return mask.copy()
    h, w = mask.shape
    x, y = np.meshgrid(np.arange(w, dtype=np.float64), np.arange(h, dtype=np.float64))
    inside = np.ones((h, w), bool)
    for (x0, y0), (x1, y1) in zip(hull, np.roll(hull, -1, axis=0)):
        inside &= (x1 - x0) * (y - y0) - (y1 - y0) * (x - x0) >= -1e-9  # left of every counter-clockwise edge
    return inside | mask


# --------------------------------------------------------------------------------------------------------------
# Crops around targets (exactly the training crops, without jitter).


def target_boxes(masks: np.ndarray) -> np.ndarray:
    """PCNet's crop box of each mask: float32 [N, 3] (top, left, side); masks [N, H, W] must be non-empty."""
    masks = np.asarray(masks).astype(bool)
    rows, cols = masks.any(axis=2), masks.any(axis=1)
    bbox = np.stack([rows.argmax(1), cols.argmax(1), rows.shape[1] - rows[:, ::-1].argmax(1),
                     cols.shape[1] - cols[:, ::-1].argmax(1)], axis=1)  # (y0, x0, y1, x1) as `mask_bbox`
    return pcnet_samples.crop_box(bbox.astype(np.float32)).numpy().reshape(-1, 3)


def crop_masks(masks: np.ndarray, boxes: np.ndarray, size: int) -> np.ndarray:
    """Nearest-neighbour crops of masks [N, H, W] at boxes [N, 3]: float32 [N, size, size, 1] in {0, 1}."""
    if len(masks) == 0:
        return np.zeros((0, size, size, 1), np.float32)
    crops = pcnet_samples.crop(np.asarray(masks, np.float32)[..., None], boxes, size, "nearest").numpy()
    return (crops > 0.5).astype(np.float32)


def _scaled(masks: np.ndarray, category: np.ndarray | None, use_category: bool) -> np.ndarray:
    """Masks [N, S, S, 1] times each instance's category when the completer wants it (PCNet-M's input)."""
    if not use_category:
        return masks
    if category is None:
        raise ValueError("this completer was trained with categories (use_category=True): pass categories")
    return masks * np.asarray(category, np.float32).reshape(-1, 1, 1, 1)


def complete_masks(completer: Completer, targets: np.ndarray, erasers: np.ndarray,
                   category: np.ndarray | None = None) -> np.ndarray:
    """PCNet-M's foreground probability of each target given its eraser, on the image canvas.

    Args:
      completer: PCNet's interface.
      targets: {0, 1} [M, H, W], the inputs (non-empty), which also set the crop boxes.
      erasers: {0, 1} [M, H, W].
      category: int [M] in 1..K (needed when completer.use_category).
    Returns:
      float32 [M, H, W] in [0, 1], 0 outside each crop.
    """
    targets = np.asarray(targets)
    if len(targets) == 0:
        return np.zeros(targets.shape, np.float32)
    size, (height, width) = completer.image_size, targets.shape[1:]
    boxes = target_boxes(targets)
    mask_input = _scaled(crop_masks(targets, boxes, size), category, completer.use_category)
    eraser = crop_masks(erasers, boxes, size)
    probabilities = np.asarray(completer.mask_probabilities(mask_input, eraser), np.float32).reshape(-1, size, size)
    return pcnet_samples.paste(probabilities[..., None], boxes, height, width, "bilinear").numpy()[..., 0]


# --------------------------------------------------------------------------------------------------------------
# 1-2. Ordering and the occlusion graph.


def order_matrix(completer: Completer, modal: np.ndarray, category: np.ndarray | None = None,
                 occ_threshold: float = OCC_THRESHOLD, eraser_dilation: int = 0,
                 order_score: str = "count", total_order: bool = False) -> np.ndarray:
    """PCNet's occlusion order from modal masks.

    Args:
      completer: PCNet's interface.
      modal: {0, 1} [N, H, W] visible masks, each non-empty.
      category: int [N] in 1..K.
      occ_threshold: foreground probability above which a pixel counts as completed ('count' only).
      eraser_dilation: pixels by which the other instance's mask grows before it is used as eraser.
      order_score: how much t grows into e: 'count' (the reference's: pixels above occ_threshold) or 'soft' (the
        summed probability, which keeps the confidence a threshold throws away and almost never ties).
      total_order: decide all pairs together (`consistent_order`) instead of each pair alone (the reference).
    Returns:
      int64 [N, N] in {-1, 0, 1}, antisymmetric: O[i, j] = 1 when i occludes j, -1 when j occludes i, 0 for
      non-bordering pairs and ties.
    """
    margins = order_margins(completer, modal, category, occ_threshold, eraser_dilation, order_score)
    return consistent_order(margins) if total_order else pairwise_order(margins)


def order_margins(completer: Completer, modal: np.ndarray, category: np.ndarray | None = None,
                  occ_threshold: float = OCC_THRESHOLD, eraser_dilation: int = 0,
                  order_score: str = "count") -> np.ndarray:
    """The evidence that i is in front of j: M[i, j] = occ[j, i] - occ[i, j], for bordering pairs.

    occ[t, e] is how much target t grows into eraser e when PCNet-M completes t (`growth_scores`): an instance
    regrows into what hides it. Arguments as `order_matrix`.
    Returns:
      float64 [N, N], antisymmetric, 0 for non-bordering pairs (and on the diagonal).
    """
    modal = np.asarray(modal).astype(bool)
    n = len(modal)
    occ = np.zeros((n, n), np.float64)
    touching = bordering(modal)
    directed = [(t, e) for t in range(n) for e in range(n) if touching[t, e]]  # (target t, eraser e)
    if directed:
        t_idx, e_idx = np.array(directed).T
        erasers = dilate(modal[e_idx], eraser_dilation) & ~modal[t_idx]
        probabilities = complete_masks(completer, modal[t_idx], erasers,
                                       None if category is None else np.asarray(category)[t_idx])
        occ[t_idx, e_idx] = growth_scores(probabilities, erasers, order_score, occ_threshold)
    return occ.T - occ


def pairwise_order(margins: np.ndarray) -> np.ndarray:
    """The reference rule, one pair at a time: O = sign(M). May contain cycles (a above b above c above a)."""
    return np.sign(np.asarray(margins)).astype(np.int64)


MAX_EXACT_ORDER = 12  # instances per connected group ordered exactly (2^n subsets); larger groups greedily


def consistent_order(margins: np.ndarray) -> np.ndarray:
    """The pairwise order implied by the single front-to-back ranking that agrees best with all the evidence.

    Occlusion in a layered scene follows one depth order, but pairs decided independently can form cycles, and
    a cycle makes every instance on it an ancestor of itself, so its amodal masks are completed against the wrong
    erasers. This ranks the instances so that the pairs the ranking contradicts carry the least total margin
    (equivalently, it maximises the sum over ranked pairs, i before j, of M[i, j]): on a cycle the weakest
    evidence is overruled, and evidence that already follows one order is kept as it is. Instances only interact
    through pairs with evidence, so each connected group of them is ranked on its own: exactly (`_best_ranking`)
    up to MAX_EXACT_ORDER instances, greedily above (`_greedy_ranking`).

    Args:
      margins: float [N, N] antisymmetric, M[i, j] > 0 when the evidence puts i in front of j, 0 for pairs
        without evidence (not bordering, or tied).
    Returns:
      int64 [N, N] in {-1, 0, 1}, antisymmetric and acyclic; nonzero exactly where margins are nonzero.
    """
    margins = np.asarray(margins, np.float64)
    rank = np.zeros(len(margins), np.int64)
    for group in _connected_groups(margins != 0):
        sub = margins[np.ix_(group, group)]
        ranking = _best_ranking(sub) if len(group) <= MAX_EXACT_ORDER else _greedy_ranking(sub)
        rank[np.asarray(group)[ranking]] = np.arange(len(group))
    order = np.where(rank[:, None] < rank[None, :], 1, -1).astype(np.int64)
    return order * (margins != 0)


def _connected_groups(adjacent: np.ndarray) -> list[list[int]]:
    """Connected components of a symmetric bool [N, N] graph, each a sorted list of indices."""
    groups, seen = [], set()
    for start in range(len(adjacent)):
        if start in seen:
            continue
        group, stack = [], [start]
        seen.add(start)
        while stack:
            i = stack.pop()
            group.append(i)
            for j in np.nonzero(adjacent[i])[0]:
                if int(j) not in seen:
                    seen.add(int(j))
                    stack.append(int(j))
        groups.append(sorted(group))
    return groups


def _ranking_score(margins: np.ndarray, ranking: Sequence[int]) -> float:
    """Total margin a front-to-back ranking agrees with: sum over a < b of M[ranking[a], ranking[b]]."""
    ranked = np.asarray(margins)[np.ix_(ranking, ranking)]
    return float(np.triu(ranked, 1).sum())


def _best_ranking(margins: np.ndarray) -> list[int]:
    """The ranking maximising `_ranking_score`, by dynamic programming over the set already placed in front.

    best[S] is the best score of the instances in S ranked first; placing i next adds sum over j in S of
    M[j, i] (everything in S is in front of i). 2^n states, n choices each.
    """
    n = len(margins)
    full = (1 << n) - 1
    best = np.full(1 << n, -np.inf)
    last = np.zeros(1 << n, np.int64)
    best[0] = 0.0
    for placed in range(1 << n):
        if best[placed] == -np.inf:
            continue
        in_front = np.array([(placed >> j) & 1 for j in range(n)], bool)
        gains = margins[in_front].sum(axis=0)  # [n]: what placing each instance next adds
        for i in range(n):
            if not in_front[i]:
                grown = placed | (1 << i)
                if best[placed] + gains[i] > best[grown]:
                    best[grown], last[grown] = best[placed] + gains[i], i
    ranking, placed = [], full
    while placed:
        ranking.append(int(last[placed]))
        placed &= ~(1 << last[placed])
    return ranking[::-1]


def _greedy_ranking(margins: np.ndarray) -> list[int]:
    """A ranking for large groups: repeatedly put in front the instance with the most net evidence of being in
    front of those still unranked."""
    remaining, ranking = list(range(len(margins))), []
    while remaining:
        net = margins[np.ix_(remaining, remaining)].sum(axis=1)
        ranking.append(remaining.pop(int(np.argmax(net))))
    return ranking


def growth_scores(probabilities: np.ndarray, regions: np.ndarray, order_score: str = "count",
                  occ_threshold: float = OCC_THRESHOLD) -> np.ndarray:
    """How much each completed target grows into its region (the eraser outside the target's own mask).

    Args:
      probabilities: float32 [M, H, W] in [0, 1], PCNet-M's foreground probability.
      regions: bool [M, H, W].
      order_score: 'count' (pixels above occ_threshold, the reference code's) or 'soft' (summed probability).
    Returns:
      float64 [M].
    """
    if order_score == "count":
        return np.sum((probabilities > occ_threshold) & regions, axis=(1, 2)).astype(np.float64)
    if order_score == "soft":
        return np.sum(probabilities * regions, axis=(1, 2), dtype=np.float64)
    raise ValueError(f"unknown order_score '{order_score}'; use one of {', '.join(ORDER_SCORES)}")


def occluders(order: np.ndarray) -> dict[int, list[int]]:
    """The occlusion graph: instance i -> the instances that occlude it directly (O[j, i] == 1)."""
    order = np.asarray(order)
    return {i: [int(j) for j in np.nonzero(order[:, i] == 1)[0]] for i in range(len(order))}


def ancestors(order: np.ndarray, i: int) -> list[int]:
    """Everything that occludes instance i directly or transitively (sorted; i itself only on a cycle).

    Breadth-first search with a visited set, so cyclic orders (possible with a learned completer) terminate.
    """
    graph = occluders(order)
    visited, queue = set(), collections.deque(graph[i])
    while queue:
        j = queue.popleft()
        if j in visited:
            continue
        visited.add(j)
        queue.extend(k for k in graph[j] if k not in visited)
    return sorted(visited)


# --------------------------------------------------------------------------------------------------------------
# 3-4. Amodal masks, object layers and the background.


def amodal_masks(completer: Completer, modal: np.ndarray, order: np.ndarray, category: np.ndarray | None = None,
                 amodal_threshold: float = AMODAL_THRESHOLD, eraser_dilation: int = 0) -> np.ndarray:
    """Ordering-grounded amodal completion: eraser = union of the ancestors' modal masks.

    Returns:
      bool [N, H, W], each ⊇ its modal mask; instances without ancestors keep their modal mask.
    """
    modal = np.asarray(modal).astype(bool)
    amodal = modal.copy()
    above = {i: [a for a in ancestors(order, i) if a != i] for i in range(len(modal))}
    hidden = [i for i in range(len(modal)) if above[i]]
    if not hidden:
        return amodal
    erasers = np.stack([dilate(modal[above[i]].any(axis=0), eraser_dilation) & ~modal[i] for i in hidden])
    probabilities = complete_masks(completer, modal[hidden], erasers,
                                   None if category is None else np.asarray(category)[hidden])
    amodal[hidden] |= probabilities > amodal_threshold
    return amodal


def _complete_regions(completer: Completer, image: np.ndarray, holes: np.ndarray, modal: np.ndarray,
                      category: np.ndarray | None, boxes: np.ndarray) -> np.ndarray:
    """PCNet-C on crops: fills `holes` bool [M, H, W] of the image in boxes [M, 3].

    `modal` bool [M, H, W] is PCNet-C's modal channel (all 0 for the background). Returns float32 [M, H, W, 3]:
    the image with each hole replaced by the completion pasted back (visible·image + hole·output).
    """
    size, (height, width) = completer.image_size, image.shape[:2]
    m = len(holes)
    images = np.broadcast_to(np.asarray(image, np.float32), (m,) + image.shape)
    crops = pcnet_samples.crop(images, boxes, size, "bilinear").numpy()
    hole_crops = crop_masks(holes, boxes, size)
    modal_crops = _scaled(crop_masks(modal, boxes, size) * (1.0 - hole_crops), category, completer.use_category)
    raw = np.asarray(completer.complete_content(crops * (1.0 - hole_crops), modal_crops, hole_crops), np.float32)
    filled = pcnet_samples.paste(raw.reshape(m, size, size, 3), boxes, height, width, "bilinear").numpy()
    return np.where(holes[..., None], np.clip(filled, 0.0, 1.0), images)


def object_layers(completer: Completer, image: np.ndarray, modal: np.ndarray, amodal: np.ndarray,
                  category: np.ndarray | None = None, hole_dilation: int = HOLE_DILATION) -> np.ndarray:
    """Each object's full appearance: RGBA float32 [N, H, W, 4] in [0, 1] (alpha = the amodal mask).

    The hole (amodal \\ modal, dilated by `hole_dilation` pixels into the visible part, whose edge pixels may mix
    in the occluder's colours with predicted masks) is filled by PCNet-C in a crop around the amodal mask.
    """
    modal, amodal = np.asarray(modal).astype(bool), np.asarray(amodal).astype(bool)
    image = np.asarray(image, np.float32)
    holes = dilate(amodal & ~modal, hole_dilation) & amodal
    rgb = np.broadcast_to(image, amodal.shape + (3,)).copy()
    todo = [i for i in range(len(modal)) if holes[i].any()]
    if todo:
        filled = _complete_regions(completer, image, holes[todo], modal[todo],
                                   None if category is None else np.asarray(category)[todo],
                                   target_boxes(amodal[todo]))
        rgb[todo] = filled
    rgb = rgb * amodal[..., None]
    return np.concatenate([rgb, amodal[..., None].astype(np.float32)], axis=-1)


def inpaint_background(completer: Completer, image: np.ndarray, modal: np.ndarray,
                       hole_dilation: int = HOLE_DILATION) -> np.ndarray:
    """The scene without its objects: float32 [H, W, 3], PCNet-C filling the union of all (dilated) masks."""
    image = np.asarray(image, np.float32)
    height, width = image.shape[:2]
    hole = dilate(np.asarray(modal).astype(bool).any(axis=0), hole_dilation)
    side = float(max(height, width))
    box = np.array([[0.5 * (height - side), 0.5 * (width - side), side]], np.float32)
    empty = np.zeros((1, height, width), bool)
    return _complete_regions(completer, image, hole[None], empty, np.zeros(1, np.int64), box)[0]


@dataclasses.dataclass
class Deocclusion:
    """Everything `deocclude` recovers for one image with N instances.

    Attributes:
      order: int64 [N, N] (see `order_matrix`).
      occluders: i -> instances occluding i directly.
      ancestors: i -> instances occluding i directly or transitively.
      amodal: bool [N, H, W].
      layers: float32 [N, H, W, 4] RGBA in [0, 1], or None when content completion was skipped.
      background: float32 [H, W, 3] in [0, 1], or None.
    """

    order: np.ndarray
    occluders: dict[int, list[int]]
    ancestors: dict[int, list[int]]
    amodal: np.ndarray
    layers: np.ndarray | None = None
    background: np.ndarray | None = None


def deocclude(completer: Completer, image: np.ndarray, modal: np.ndarray, category: Sequence[int] | None = None,
              occ_threshold: float = OCC_THRESHOLD, amodal_threshold: float = AMODAL_THRESHOLD,
              eraser_dilation: int = 0, hole_dilation: int = HOLE_DILATION, content: bool = True,
              order_score: str = "count", flip_average: bool = False, total_order: bool = False) -> Deocclusion:
    """The full de-occlusion of one image (steps 1-4 of the module docstring).

    Args:
      completer: PCNet's interface (a trained `tfssl.methods.PCNet`).
      image: float32 [H, W, 3] in [0, 1].
      modal: {0, 1} [N, H, W], non-empty visible masks.
      category: int [N] in 1..K, required when completer.use_category.
      content: also complete object layers and the background (PCNet-C).
      order_score: 'count' or 'soft' (see `order_matrix`).
      flip_average: average PCNet-M's probabilities over each crop and its mirror image (`FlipAveraged`).
      total_order: decide the pairs together, as one front-to-back ranking (see `consistent_order`).
    """
    modal = np.asarray(modal).astype(bool)
    category = None if category is None else np.asarray(category, np.int64)
    masks = mask_completer(completer, flip_average)
    order = order_matrix(masks, modal, category, occ_threshold, eraser_dilation, order_score, total_order)
    amodal = amodal_masks(masks, modal, order, category, amodal_threshold, eraser_dilation)
    result = Deocclusion(order=order, occluders=occluders(order),
                         ancestors={i: ancestors(order, i) for i in range(len(modal))}, amodal=amodal)
    if content:
        result.layers = object_layers(completer, image, modal, amodal, category, hole_dilation)
        result.background = inpaint_background(completer, image, modal, hole_dilation)
    return result


# --------------------------------------------------------------------------------------------------------------
# Completers without learning: the paper's convex-hull baseline and the oracle of the tests.


def mask_completer(completer: Completer, flip_average: bool) -> Completer:
    """The completer the ordering and amodal steps use: `completer`, or its `FlipAveraged` view."""
    return FlipAveraged(completer) if flip_average else completer


class FlipAveraged:
    """A completer whose mask probabilities are the mean over each crop and its left-right mirror image.

    PCNet-M is trained on randomly flipped targets and occluders, so both views are equally valid inputs;
    averaging them cancels part of the network's view-dependent error (test-time augmentation). Content is
    delegated unchanged. Twice the mask-completion cost.
    """

    def __init__(self, completer: Completer):
        self.completer = completer
        self.image_size = completer.image_size
        self.use_category = completer.use_category

    def mask_probabilities(self, mask_input, eraser) -> np.ndarray:
        mask_input, eraser = np.asarray(mask_input, np.float32), np.asarray(eraser, np.float32)
        size, n = self.image_size, len(mask_input)
        both = (np.concatenate([mask_input, mask_input[:, :, ::-1]]), np.concatenate([eraser, eraser[:, :, ::-1]]))
        probabilities = np.asarray(self.completer.mask_probabilities(*both), np.float32).reshape(2 * n, size, size)
        return 0.5 * (probabilities[:n] + probabilities[n:, :, ::-1])

    def complete_content(self, image, content_modal, hole):
        return self.completer.complete_content(image, content_modal, hole)


class ConvexHullCompleter:
    """The Convex-hull baseline as a completer: a mask grows to its convex hull, but only into the eraser.

    Content: a mean-colour fill (the mean of the visible object pixels), the content baseline.
    """

    use_category = False

    def __init__(self, image_size: int):
        self.image_size = image_size

    def mask_probabilities(self, mask_input, eraser) -> np.ndarray:
        mask_input = np.asarray(mask_input)[..., 0] > 0
        eraser = np.asarray(eraser)[..., 0] > 0
        hulls = np.stack([convex_hull_mask(m) for m in mask_input]) if len(mask_input) else mask_input
        return (hulls & (mask_input | eraser)).astype(np.float32)

    def complete_content(self, image, content_modal, hole) -> np.ndarray:
        return mean_colour_fill(image, content_modal, hole)


def mean_colour_fill(image, content_modal, hole) -> np.ndarray:
    """The content baseline: every pixel = the mean colour of the visible object pixels (of the whole crop when
    the object has none), the colour `PCNet.mean_colour_prior` starts from. Shapes as
    `Completer.complete_content`; returns float32 [B, S, S, 3]."""
    image = np.asarray(image, np.float32)
    mean = visible_mean_colour(image, np.asarray(content_modal, np.float32), np.asarray(hole, np.float32))
    return np.broadcast_to(np.asarray(mean), image.shape).copy()


class OracleCompleter:
    """A perfect PCNet-M for one scene: completes an instance to its true amodal mask, within mask ∪ eraser.

    It recognises the instance from the cropped input mask (the crops `complete_masks` makes), so it needs the
    scene's true modal and amodal masks. Content: the mean-colour fill.
    """

    use_category = False

    def __init__(self, modal: np.ndarray, amodal: np.ndarray, image_size: int):
        self.image_size = image_size
        modal = np.asarray(modal).astype(bool)
        boxes = target_boxes(modal)
        self._modal = crop_masks(modal, boxes, image_size)[..., 0] > 0
        self._amodal = crop_masks(np.asarray(amodal).astype(bool), boxes, image_size)[..., 0] > 0

    def mask_probabilities(self, mask_input, eraser) -> np.ndarray:
        mask_input = np.asarray(mask_input)[..., 0] > 0
        eraser = np.asarray(eraser)[..., 0] > 0
        out = np.zeros(mask_input.shape, np.float32)
        for b, m in enumerate(mask_input):
            # A perfect completer commutes with mirroring (`FlipAveraged`): mirrored crops are recognised too.
            views = ((self._modal, self._amodal), (self._modal[:, :, ::-1], self._amodal[:, :, ::-1]))
            match = [amodal[k] for modal, amodal in views for k in range(len(modal)) if np.array_equal(modal[k], m)]
            if not match:
                raise ValueError("the oracle got a mask input that is no instance of its scene")
            out[b] = match[0] & (m | eraser[b])
        return out

    def complete_content(self, image, content_modal, hole) -> np.ndarray:
        return mean_colour_fill(image, content_modal, hole)
