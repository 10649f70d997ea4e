"""De-occlusion metrics of PCNet and the paper's baselines, computed by one code path (`tfssl.methods.pcnet.inference`).

Zhan et al., "Self-Supervised Scene De-occlusion" (CVPR 2020), Sec. 4, as the reference code computes them:
  - Ordering accuracy: correct / all instance pairs with a true relation, pooled over the dataset (not averaged
    per image). As in the reference, the pairs with a relation are the *bordering* pairs whose order the masks
    reveal (`order_from_masks`); on tfssl_scenes the rendered order gives the same pairs (tested).
  - Amodal mIoU: Σ intersection / Σ union over the whole amodal masks of all instances (one pooled IoU), with
    ground-truth modal masks as input; also the IoU of the invisible region alone (amodal \\ modal), which is
    what completion changes and so says more.
  - Content completion (tfssl's addition, possible because tfssl_scenes has every object's true layer): L1 and
    PSNR on the hidden pixels, pooled, against the object's true RGB. To measure content alone, PCNet-C gets
    the true amodal mask here (its hole = true amodal \\ modal).
Baselines through the same code: ordering by Area (the smaller instance is on top), by Y-axis (the instance
whose centroid is lower in the image is on top) and by the Convex-hull completer (`ConvexHullCompleter` in place
of PCNet-M); amodal masks Raw (amodal = modal) and Convex hull; content by a mean-colour fill.
"""

from __future__ import annotations

import gin
import numpy as np
import tensorflow_datasets as tfds

from tfssl.methods.pcnet import inference as D
from tfssl.data import pipelines

ORDER_METHODS = ("pcnet", "area", "yaxis", "convex")
AMODAL_METHODS = ("pcnet", "raw", "convex")


# --------------------------------------------------------------------------------------------------------------
# Ground truth and the ordering baselines.


def order_from_masks(modal: np.ndarray, amodal: np.ndarray) -> np.ndarray:
    """The reference code's ground-truth order: for a bordering pair, s_ij = |modal_i ∩ amodal_j|; i is above j
    when s_ij >= s_ji, no relation when both are 0.

    Args:
      modal, amodal: {0, 1} [N, H, W].
    Returns:
      int64 [N, N] in {-1, 0, 1} (O[i, j] = 1: i above j), antisymmetric.
    """
    modal, amodal = np.asarray(modal).astype(np.int64), np.asarray(amodal).astype(np.int64)
    s = np.einsum("ihw,jhw->ij", modal, amodal)
    upper = np.where(s >= s.T, 1, -1) * ((s > 0) | (s.T > 0)) * np.triu(D.bordering(modal), k=1)
    return (upper - upper.T).astype(np.int64)  # a tie goes to the lower index, as in the reference loop


def _order_by_score(modal: np.ndarray, top_score: np.ndarray) -> np.ndarray:
    """Bordering pairs ordered by a per-instance score: the higher score is on top; ties give no relation."""
    above = np.sign(top_score[:, None] - top_score[None, :]).astype(np.int64)
    return above * D.bordering(modal)


def order_by_area(modal: np.ndarray) -> np.ndarray:
    """The Area baseline: of two bordering instances the smaller (visible area) is on top."""
    modal = np.asarray(modal).astype(bool)
    return _order_by_score(modal, -modal.sum(axis=(1, 2)).astype(np.float64))


def order_by_y(modal: np.ndarray) -> np.ndarray:
    """The Y-axis baseline: of two bordering instances the one whose centroid is lower in the image is on top."""
    modal = np.asarray(modal).astype(bool)
    rows = np.arange(modal.shape[1], dtype=np.float64)[None, :, None]
    centroid = (modal * rows).sum(axis=(1, 2)) / np.maximum(modal.sum(axis=(1, 2)), 1)
    return _order_by_score(modal, centroid)


# --------------------------------------------------------------------------------------------------------------
# Pooled counts of one scene.


def order_counts(predicted: np.ndarray, true: np.ndarray) -> tuple[int, int]:
    """(correct, total) over the unordered pairs with a true relation (true[i, j] != 0, i < j)."""
    related = np.triu(np.asarray(true) != 0, k=1)
    return int(np.sum(np.asarray(predicted)[related] == np.asarray(true)[related])), int(related.sum())


def iou_counts(predicted: np.ndarray, true: np.ndarray, modal: np.ndarray) -> np.ndarray:
    """Pooled IoU counts: int64 [4] = (Σ|P ∩ T|, Σ|P ∪ T|) over whole masks, then over the invisible parts
    (P \\ modal, T \\ modal). All masks {0, 1} [N, H, W]."""
    p, t, m = (np.asarray(x).astype(bool) for x in (predicted, true, modal))
    p_inv, t_inv = p & ~m, t & ~m
    return np.array([(p & t).sum(), (p | t).sum(), (p_inv & t_inv).sum(), (p_inv | t_inv).sum()], np.int64)


def content_counts(predicted_rgb: np.ndarray, true_rgb: np.ndarray, hidden: np.ndarray) -> np.ndarray:
    """Pooled content errors on hidden pixels: float64 [3] = (Σ|error|, Σ error², number of values) over the RGB
    values of all hidden pixels; images float [N, H, W, 3] in [0, 1], hidden {0, 1} [N, H, W]."""
    hidden = np.asarray(hidden).astype(bool)
    error = (np.asarray(predicted_rgb, np.float64) - np.asarray(true_rgb, np.float64))[hidden]
    return np.array([np.abs(error).sum(), np.square(error).sum(), error.size], np.float64)


def scene_counts(completer: D.Completer, image: np.ndarray, modal: np.ndarray, amodal: np.ndarray,
                 true_order: np.ndarray, layers: np.ndarray | None, category: np.ndarray | None = None,
                 baselines: bool = True, content: bool = True, occ_threshold: float = D.OCC_THRESHOLD,
                 amodal_threshold: float = D.AMODAL_THRESHOLD, eraser_dilation: int = 0,
                 hole_dilation: int = D.HOLE_DILATION, order_score: str = "count",
                 flip_average: bool = False, total_order: bool = False) -> dict[str, np.ndarray]:
    """All pooled counts of one scene (keys `order/<m>`, `iou/<m>`, `content/<m>`), summed by `deocclusion_metrics`.

    Args:
      completer: the method (PCNet's interface).
      image: float32 [H, W, 3] in [0, 1]; modal, amodal: {0, 1} [N, H, W]; true_order: int [N, N];
      layers: float [N, H, W, 3] in [0, 1], the objects' true RGB (needed when content).
      category: int [N] in 1..K.
      order_score, flip_average, total_order: PCNet's inference options (`tfssl.methods.pcnet.inference.deocclude`); the
        baselines use the reference rule.
    """
    modal, amodal = np.asarray(modal).astype(bool), np.asarray(amodal).astype(bool)
    # Pairs whose order is visible in the masks, as in the reference code's ground truth.
    true_order = np.asarray(true_order) * D.bordering(modal)
    size = completer.image_size
    masks = D.mask_completer(completer, flip_average)
    orders = {"pcnet": D.order_matrix(masks, modal, category, occ_threshold, eraser_dilation, order_score,
                                      total_order)}
    amodals = {"pcnet": D.amodal_masks(masks, modal, orders["pcnet"], category, amodal_threshold,
                                       eraser_dilation)}
    if baselines:
        convex = D.ConvexHullCompleter(size)
        orders.update(area=order_by_area(modal), yaxis=order_by_y(modal),
                      convex=D.order_matrix(convex, modal, None, occ_threshold, eraser_dilation))
        amodals.update(raw=modal, convex=D.amodal_masks(convex, modal, orders["convex"], None, amodal_threshold,
                                                        eraser_dilation))
    counts = {f"order/{k}": np.array(order_counts(v, true_order)) for k, v in orders.items()}
    counts.update({f"iou/{k}": iou_counts(v, amodal, modal) for k, v in amodals.items()})
    if content:
        hidden = amodal & ~modal
        fills = {"pcnet": completer}
        if baselines:
            fills["mean_fill"] = D.ConvexHullCompleter(size)  # its content is the mean-colour fill
        for name, filler in fills.items():
            rgba = D.object_layers(filler, image, modal, amodal, category, hole_dilation)
            counts[f"content/{name}"] = content_counts(rgba[..., :3], layers, hidden)
    return counts


def metrics_from_counts(counts: dict[str, np.ndarray]) -> dict[str, float]:
    """Pooled metrics from summed counts: order_accuracy[_m], amodal_miou[_m], invisible_iou[_m],
    content_l1[_m] (mean absolute error per RGB value in [0, 1]) and content_psnr[_m] (dB, peak 1)."""
    out = {}
    for key, c in counts.items():
        kind, name = key.split("/")
        suffix = "" if name == "pcnet" else f"_{name}"
        if kind == "order":
            out[f"order_accuracy{suffix}"] = float(c[0] / c[1]) if c[1] else float("nan")
        elif kind == "iou":
            out[f"amodal_miou{suffix}"] = float(c[0] / c[1]) if c[1] else float("nan")
            out[f"invisible_iou{suffix}"] = float(c[2] / c[3]) if c[3] else float("nan")
        elif kind == "content":
            mse = c[1] / c[2] if c[2] else float("nan")
            out[f"content_l1{suffix}"] = float(c[0] / c[2]) if c[2] else float("nan")
            out[f"content_psnr{suffix}"] = float(10.0 * np.log10(1.0 / max(mse, 1e-12)))
    return out


def load_scenes(dataset: str, split: str, max_examples: int | None):
    """Yields dicts of numpy arrays per scene, objects cut to num_objects (image float32 [H, W, 3] in [0, 1],
    modal/amodal uint8 [N, H, W], category int64 [N], order int [N, N], layers float32 [N, H, W, 3] or None)."""
    builder = pipelines.load_builder(dataset)
    ds = builder.as_dataset(split=split, shuffle_files=False)
    if max_examples is not None:
        ds = ds.take(max_examples)
    for ex in tfds.as_numpy(ds):
        n = int(ex["num_objects"])
        if n == 0:
            continue
        yield {
            "image": ex["image"].astype(np.float32) / 255.0,
            "modal": ex["modal"][:n], "amodal": ex["amodal"][:n], "category": ex["category"][:n],
            # Datasets without an annotated order (KINS) get the reference code's order from the masks.
            "order": (ex["order"][:n, :n].astype(np.int64) if "order" in ex
                      else order_from_masks(ex["modal"][:n], ex["amodal"][:n])),
            "layers": ex["layers"][:n].astype(np.float32) / 255.0 if "layers" in ex else None,
        }


@gin.configurable(module="tfssl.evaluation")
def deocclusion_metrics(method, *, dataset: str = "tfssl_scenes/base", split: str = "test",
                        max_examples: int | None = 500, baselines: bool = True, content: bool = True,
                        occ_threshold: float = D.OCC_THRESHOLD, amodal_threshold: float = D.AMODAL_THRESHOLD,
                        eraser_dilation: int = 0, hole_dilation: int = D.HOLE_DILATION,
                        order_score: str = "count", flip_average: bool = False,
                        total_order: bool = False) -> dict[str, float]:
    """PCNet's de-occlusion metrics and the baselines' on a scene dataset with ground-truth modal masks as input.

    Args:
      method: a trained PCNet (or any completer with its interface).
      dataset, split: a TFDS scene dataset (tfssl_scenes; COCOA/KINS without content metrics).
      max_examples: scenes evaluated (the first of the split).
      baselines: also the Area, Y-axis, Convex-hull, Raw and mean-fill baselines.
      content: also content completion (needs the objects' true layers).
      occ_threshold, amodal_threshold, eraser_dilation, hole_dilation, order_score, flip_average, total_order:
        PCNet's inference options (`tfssl.methods.pcnet.inference.deocclude`).
    Returns:
      order_accuracy, amodal_miou, invisible_iou, content_l1, content_psnr, each also with the suffixes _area,
      _yaxis, _convex (ordering), _raw, _convex (amodal) and _mean_fill (content); num_scenes, num_pairs,
      num_instances.
    """
    totals: dict[str, np.ndarray] = {}
    num_scenes = num_instances = 0
    for scene in load_scenes(dataset, split, max_examples):
        use_content = content and scene["layers"] is not None
        counts = scene_counts(method, scene["image"], scene["modal"], scene["amodal"], scene["order"],
                              scene["layers"], scene["category"], baselines, use_content, occ_threshold,
                              amodal_threshold, eraser_dilation, hole_dilation, order_score, flip_average,
                              total_order)
        for key, value in counts.items():
            totals[key] = totals.get(key, 0) + value
        num_scenes += 1
        num_instances += len(scene["modal"])
    metrics = metrics_from_counts(totals)
    metrics.update(num_scenes=num_scenes, num_instances=num_instances,
                   num_pairs=int(totals["order/pcnet"][1]) if "order/pcnet" in totals else 0)
    return metrics


# --------------------------------------------------------------------------------------------------------------
# Diagnosis of the ordering rule (benchmarks/pcnet_diagnosis.py): how much each instance of a pair grows into the
# other, by several statistics of the same PCNet-M probabilities.

GROWTH_THRESHOLDS = (0.1, 0.3, 0.5)
GROWTH_HIDDEN_BINS = (0, 5, 20, 60, 200, 10**9)


def pair_growth(completer: D.Completer, modal: np.ndarray, category, pairs: list[tuple[int, int]],
                eraser_dilation: int = 0) -> dict[str, np.ndarray]:
    """How much each instance of each pair grows into the other, by several statistics.

    Args:
      completer: PCNet's interface (`tfssl.methods.pcnet.inference.Completer`).
      modal: bool [N, H, W]; category: int [N] or None; pairs: (i, j) with i < j.
      eraser_dilation: as in `tfssl.methods.pcnet.inference.order_matrix`.
    Returns:
      {"count@t" for t in GROWTH_THRESHOLDS (pixels above t, the reference rule's statistic at t = 0.1), "soft"
      (summed probability)}: float [P, 2]; column 0 = how much i grows into j, column 1 = j into i.
    """
    directed = [p for i, j in pairs for p in ((i, j), (j, i))]
    t_idx, e_idx = np.array(directed).T
    erasers = D.dilate(modal[e_idx], eraser_dilation) & ~modal[t_idx]
    probabilities = D.complete_masks(completer, modal[t_idx], erasers,
                                     None if category is None else np.asarray(category)[t_idx])
    growth = {f"count@{t}": D.growth_scores(probabilities, erasers, "count", t) for t in GROWTH_THRESHOLDS}
    growth["soft"] = D.growth_scores(probabilities, erasers, "soft")
    return {k: v.reshape(-1, 2) for k, v in growth.items()}


def order_from_growth(growth: np.ndarray) -> np.ndarray:
    """The rule on [P, 2] growths: +1 when i is above j (j grows more into i), -1 below, 0 on a tie."""
    return np.sign(growth[:, 1] - growth[:, 0]).astype(np.int64)


def summarize_pair_growth(records: dict[str, np.ndarray]) -> dict:
    """Accuracy per statistic, the reference rule's error by hidden size and by the front and back instances'
    categories, and its failure split, from the concatenated pair records.

    Args:
      records: "true" int [P] in {-1, 1} (O[i, j]); "hidden" int [P] (hidden pixels of the truly occluded one);
        "front_category", "back_category" int [P] (the truly front and back instances' categories, 0 if none);
        "d<k>/<stat>" float [P, 2] growths with eraser dilation k (see `pair_growth`); "flip/d0/<stat>" the same
        with PCNet-M's probabilities averaged over each crop and its mirror image (`tfssl.methods.pcnet.inference.FlipAveraged`).
    """
    true, hidden = records["true"], records["hidden"]
    out = {"num_pairs": int(len(true)), "accuracy": {}, "ties": {}}
    for key, growth in records.items():
        if key in ("true", "hidden", "front_category", "back_category"):
            continue
        predicted = order_from_growth(growth)
        out["accuracy"][key] = float(np.mean(predicted == true))
        out["ties"][key] = float(np.mean(predicted == 0))
    wrong = order_from_growth(records["d0/count@0.1"]) != true
    out["error_by_hidden_pixels"] = {
        f"{lo}-{hi if hi < 10**9 else 'inf'}": {"pairs": int(np.sum(sel)), "error": float(np.mean(wrong[sel]))}
        for lo, hi in zip(GROWTH_HIDDEN_BINS[:-1], GROWTH_HIDDEN_BINS[1:])
        if np.any(sel := (hidden >= lo) & (hidden < hi))}
    for role in ("front", "back"):
        category = records[f"{role}_category"]
        out[f"error_by_{role}_category"] = {
            str(c): {"pairs": int(np.sum(category == c)), "error": float(np.mean(wrong[category == c]))}
            for c in np.unique(category)}
    growth = records["d0/count@0.1"]
    front = np.where(true == 1, growth[:, 0], growth[:, 1])  # the front instance growing into the back one
    back = np.where(true == 1, growth[:, 1], growth[:, 0])
    out["reference_rule_wrong_pairs"] = {
        "count": int(np.sum(wrong)),
        "median_front_growth_pixels": float(np.median(front[wrong])) if wrong.any() else 0.0,
        "median_back_growth_fraction_of_hidden": (
            float(np.median(back[wrong] / np.maximum(hidden[wrong], 1))) if wrong.any() else 0.0),
    }
    out["reference_rule_right_pairs"] = {
        "median_front_growth_pixels": float(np.median(front[~wrong])) if (~wrong).any() else 0.0,
        "median_back_growth_fraction_of_hidden": (
            float(np.median(back[~wrong] / np.maximum(hidden[~wrong], 1))) if (~wrong).any() else 0.0),
    }
    return out


AMODAL_THRESHOLDS = (0.1, 0.2, 0.3, 0.4, 0.5)


def amodal_threshold_counts(completer: D.Completer, scene: dict, thresholds=AMODAL_THRESHOLDS,
                            order_score: str = "count", flip_average: bool = False,
                            total_order: bool = False) -> dict[float, np.ndarray]:
    """`iou_counts` of PCNet's ordering-grounded amodal masks of one scene at several amodal thresholds (to choose
    `amodal_threshold` on validation scenes); the order comes from the same completer and options."""
    modal, amodal = scene["modal"].astype(bool), scene["amodal"].astype(bool)
    masks = D.mask_completer(completer, flip_average)
    order = D.order_matrix(masks, modal, scene.get("category"), order_score=order_score, total_order=total_order)
    return {t: iou_counts(D.amodal_masks(masks, modal, order, scene.get("category"), t), amodal, modal)
            for t in thresholds}


def order_rule_counts(completer: D.Completer, scene: dict, order_score: str = "count",
                      flip_average: bool = False) -> dict[str, np.ndarray]:
    """`order_counts` of one scene for the pairwise rule and the total order (`tfssl.methods.pcnet.inference.consistent_order`)
    from the same PCNet-M evidence, to choose between them on validation scenes: {"pairwise", "total_order"}."""
    modal = scene["modal"].astype(bool)
    true = np.asarray(scene["order"]) * D.bordering(modal)
    margins = D.order_margins(D.mask_completer(completer, flip_average), modal, scene.get("category"),
                              order_score=order_score)
    return {"pairwise": np.array(order_counts(D.pairwise_order(margins), true)),
            "total_order": np.array(order_counts(D.consistent_order(margins), true))}


def pair_growth_records(completer: D.Completer, scene: dict) -> dict[str, np.ndarray]:
    """`summarize_pair_growth`'s records for one scene (empty arrays when no bordering pair has a true relation)."""
    modal, amodal = scene["modal"].astype(bool), scene["amodal"].astype(bool)
    true = np.asarray(scene["order"]) * D.bordering(modal)
    n = len(modal)
    pairs = [(i, j) for i in range(n) for j in range(i + 1, n) if true[i, j] != 0]
    records = {"true": np.array([true[i, j] for i, j in pairs], np.int64)}
    hidden = (amodal & ~modal).sum(axis=(1, 2))
    records["hidden"] = np.array([hidden[j] if true[i, j] == 1 else hidden[i] for i, j in pairs], np.int64)
    category = np.zeros(n, np.int64) if scene.get("category") is None else np.asarray(scene["category"], np.int64)
    front_back = [(i, j) if true[i, j] == 1 else (j, i) for i, j in pairs]
    records["front_category"] = np.array([category[f] for f, _ in front_back], np.int64)
    records["back_category"] = np.array([category[b] for _, b in front_back], np.int64)
    variants = {"d0": (completer, 0), "d1": (completer, 1), "flip/d0": (D.FlipAveraged(completer), 0)}
    for prefix, (masks, dilation) in variants.items():
        growth = (pair_growth(masks, modal, scene.get("category"), pairs, dilation) if pairs
                  else {f"count@{t}": np.zeros((0, 2)) for t in GROWTH_THRESHOLDS} | {"soft": np.zeros((0, 2))})
        records.update({f"{prefix}/{k}": v for k, v in growth.items()})
    return records
