"""Static/dynamic disentanglement of a sequential VAE (S3VAE, DSVAE), judged by a classifier trained on real clips.

S3VAE (Zhu et al., CVPR 2020, sec. 4.2), after DSVAE (Li & Mandt 2018):
  fix motion:   keep the dynamic codes z_1:T of a clip, draw z_f from p(z_f) = N(0, I), decode; the judge must still
                see the clip's action (accuracy against the clip's ground-truth action label).
  fix content:  keep z_f, draw z_1:T from the learned prior p(z_t | z_<t), decode; the judge must still see every
                static attribute (accuracy per attribute, and their mean).
  IS, H(y|x), H(y) of the judge's action predictions on the fix-motion clips of a class-balanced subset: IS high,
                H(y|x) low (each generated clip shows one clear action), H(y) high (max ln C: all actions appear).
  swap:         decode (z_f of clip A, z_1:T of clip B): the judge should see A's attributes and B's action; the grid
                of [A; B; swap] rows is written as a PNG and a TensorBoard image.

The method is read only through `posteriors(videos)` (means), `decode(z_f, z_t)`, `sample_prior(noise)` and its
`static_dim`, `dynamic_dim`; the judge through `predict(videos) -> {key: probs [N, C]}` and `accuracy(videos,
labels)` (tfssl.evaluation.sequence_judge). Codes are decoded from posterior means, so only the resampled factor is
random (seeded).
"""

from __future__ import annotations

import os
from typing import Callable, Mapping, Sequence

import gin
import numpy as np
import tensorflow as tf


# ---------------------------------------------------------------------------------------------------------------
# Decoding with one factor kept
# ---------------------------------------------------------------------------------------------------------------


def _batches(n: int, size: int):
    for start in range(0, n, size):
        yield slice(start, min(n, start + size))


def fix_motion_clips(method, videos: np.ndarray, rng: np.random.Generator, batch_size: int = 64) -> np.ndarray:
    """Clips with each clip's dynamic codes and a static code drawn from N(0, I): float32 [N, T, S, S, 3]."""
    out = []
    for part in _batches(len(videos), batch_size):
        posterior = method.posteriors(tf.constant(videos[part], tf.float32))
        z_f = rng.standard_normal((part.stop - part.start, method.static_dim)).astype(np.float32)
        out.append(np.asarray(method.decode(tf.constant(z_f), posterior["dynamic_mean"])))
    return np.concatenate(out)


def fix_content_clips(method, videos: np.ndarray, rng: np.random.Generator, batch_size: int = 64) -> np.ndarray:
    """Clips with each clip's static code and dynamic codes sampled from the learned prior: [N, T, S, S, 3]."""
    out = []
    for part in _batches(len(videos), batch_size):
        posterior = method.posteriors(tf.constant(videos[part], tf.float32))
        frames = int(videos.shape[1])
        noise = rng.standard_normal((part.stop - part.start, frames, method.dynamic_dim)).astype(np.float32)
        z_t = method.sample_prior(tf.constant(noise))["z_t"]
        out.append(np.asarray(method.decode(posterior["static_mean"], z_t)))
    return np.concatenate(out)


def swap_clips(method, content: np.ndarray, motion: np.ndarray) -> np.ndarray:
    """decode(z_f of content[i], z_1:T of motion[i]): float32 [N, T, S, S, 3]."""
    a = method.posteriors(tf.constant(content, tf.float32))
    b = method.posteriors(tf.constant(motion, tf.float32))
    return np.asarray(method.decode(a["static_mean"], b["dynamic_mean"]))


def swap_grid(content: np.ndarray, motion: np.ndarray, swapped: np.ndarray) -> np.ndarray:
    """One image of N swaps: for each i, three rows of frames (left to right): content[i], motion[i], swapped[i].

    Args: float32 [N, T, S, S, 3] in [0, 1] each. Returns: float32 [3 * N * S, T * S, 3] in [0, 1].
    """
    rows = []
    for i in range(len(swapped)):
        for clip in (content[i], motion[i], swapped[i]):
            rows.append(np.concatenate(list(clip), axis=1))  # [S, T * S, 3]
    return np.clip(np.concatenate(rows, axis=0), 0.0, 1.0).astype(np.float32)


def write_grid(grid: np.ndarray, output_dir: str, name: str = "swap_grid", step: int = 0) -> str:
    """Writes `grid` (float32 [H, W, 3] in [0, 1]) as output_dir/<name>.png and as a TensorBoard image there.
    Returns the PNG's path."""
    os.makedirs(output_dir, exist_ok=True)
    path = os.path.join(output_dir, f"{name}.png")
    pixels = tf.image.convert_image_dtype(tf.constant(grid), tf.uint8, saturate=True)
    tf.io.write_file(path, tf.io.encode_png(pixels))
    writer = tf.summary.create_file_writer(output_dir)
    with writer.as_default(step=step):
        tf.summary.image(name, grid[None], max_outputs=1)
    writer.flush()
    return path


# ---------------------------------------------------------------------------------------------------------------
# Scores
# ---------------------------------------------------------------------------------------------------------------


def disentanglement_scores(method, judge, videos: np.ndarray, labels: Mapping[str, np.ndarray], *,
                           action_key: str, static_keys: Sequence[str],
                           generation_scores: Mapping[str, Callable[[np.ndarray], float]],
                           balanced_subset: Callable[[np.ndarray, int, int], np.ndarray] | None = None,
                           per_class: int | None = None, num_swaps: int = 4, seed: int = 0,
                           batch_size: int = 64) -> tuple[dict, np.ndarray]:
    """Every metric of the module docstring on real clips with ground-truth labels.

    Args:
      method: a trained sequential VAE (see the module docstring for what is used).
      judge: predict / accuracy as tfssl.evaluation.sequence_judge.Judge.
      videos: float32 [N, T, S, S, 3] in [0, 1]; labels: {key: int [N]} with `action_key` and `static_keys`.
      generation_scores: name -> fn(probs [n, C]) -> float (inception_score, conditional_entropy, marginal_entropy),
        applied to the judge's action probabilities on the fix-motion clips of the balanced subset.
      balanced_subset: fn(labels, per_class, seed) -> indices; None (or per_class None) uses every clip.
      num_swaps: clips in the swap grid (and pairs of the swap accuracies: all N clips are swapped with the next).
    Returns:
      (metrics, swap grid image float32 [3 * num_swaps * S, T * S, 3]).
      metrics: "judge_<key>_accuracy" on the real clips (the judge's ceiling), "fix_motion_accuracy",
      "fix_content_<key>_accuracy" per attribute and "fix_content_accuracy" (their mean), the generation scores,
      "swap_action_accuracy" (B's action), "swap_content_accuracy" (mean over A's attributes), "num_clips".
    """
    rng = np.random.default_rng(seed)
    labels = {k: np.asarray(v) for k, v in labels.items()}
    metrics = {f"judge_{k}_accuracy": float(v) for k, v in judge.accuracy(videos, labels).items()}

    fixed_motion = fix_motion_clips(method, videos, rng, batch_size)
    action_probs = np.asarray(judge.predict(fixed_motion)[action_key])
    metrics["fix_motion_accuracy"] = float(np.mean(np.argmax(action_probs, -1) == labels[action_key]))
    subset = (np.arange(len(videos)) if balanced_subset is None or per_class is None
              else np.asarray(balanced_subset(labels[action_key], per_class, seed)))
    for name, score in generation_scores.items():
        metrics[name] = float(score(action_probs[subset]))

    fixed_content = judge.predict(fix_content_clips(method, videos, rng, batch_size))
    content = [float(np.mean(np.argmax(fixed_content[k], -1) == labels[k])) for k in static_keys]
    metrics.update({f"fix_content_{k}_accuracy": a for k, a in zip(static_keys, content)})
    metrics["fix_content_accuracy"] = float(np.mean(content)) if content else float("nan")

    partner = np.roll(np.arange(len(videos)), -1)
    swapped = swap_clips(method, videos, videos[partner])
    predicted = judge.predict(swapped)
    metrics["swap_action_accuracy"] = float(np.mean(np.argmax(predicted[action_key], -1)
                                                    == labels[action_key][partner]))
    swap_content = [float(np.mean(np.argmax(predicted[k], -1) == labels[k])) for k in static_keys]
    metrics["swap_content_accuracy"] = float(np.mean(swap_content)) if swap_content else float("nan")
    metrics["num_clips"] = int(len(videos))
    shown = slice(0, min(num_swaps, len(videos)))
    grid = swap_grid(videos[shown], videos[partner][shown], swapped[shown])
    return metrics, grid


def _load_clips(clip_input: Callable | None, dataset: str, split: str, keys: Sequence[str],
                max_examples: int | None, batch_size: int):
    """Real clips and labels of a split, read once: (videos [N, T, S, S, 3], {key: [N]})."""
    if clip_input is None:
        from tfssl.data import pipelines

        clip_input = pipelines.clip_dataset
    ds = clip_input(batch_size, name=dataset, split=split, max_examples=max_examples)
    seen, videos, labels = set(), [], {k: [] for k in keys}
    for batch in ds:
        index = np.asarray(batch["index"])
        keep = np.array([i not in seen for i in index])  # a repeating stream comes back to its first clip
        if not keep.any():
            break
        seen.update(index.tolist())
        videos.append(np.asarray(batch["video"])[keep])
        for k in keys:
            labels[k].append(np.asarray(batch[k])[keep])
        if max_examples is not None and len(seen) >= max_examples:
            break
    keep = slice(0, max_examples)
    return np.concatenate(videos)[keep], {k: np.concatenate(v)[keep] for k, v in labels.items()}


@gin.configurable(module="tfssl.evaluation")
def disentanglement(method, *, dataset: str = gin.REQUIRED, clip_input: Callable | None = None, action_key: str = "action",
                    static_keys: Sequence[str] = ("body", "top", "bottom", "hair"), split: str = "test",
                    max_examples: int | None = 512, judge_split: str = "train", judge_steps: int = 1000,
                    judge_batch_size: int = 64, judge_cache_dir: str | None = None, per_class: int | None = 20,
                    num_swaps: int = 4, output_dir: str | None = None, batch_size: int = 64,
                    seed: int = 0) -> dict:
    """The disentanglement metrics of a trained S3VAE / DSVAE on held-out clips (see the module docstring).

    Args:
      dataset: the clip dataset (e.g. 'tfssl_sprites'); clip_input: the input function that reads it,
        `(batch_size, *, name, split, max_examples) -> batches {"video", "index", labels}` (None:
        tfssl.data.pipelines.clip_dataset); action_key / static_keys: its motion and content labels
        (tfssl_moving_digits: 'direction' and ('digit',)).
      split / max_examples: the clips the metrics are measured on.
      judge_*: how the judge is trained on real clips (tfssl.evaluation.sequence_judge.train_judge; cached in
        judge_cache_dir when given, so several runs share one judge).
      per_class: clips per action in the class-balanced subset of IS / H(y|x) / H(y) (None: all clips).
      output_dir: where the swap grid goes (swap_grid.png + a TensorBoard image); None writes nothing.
    Returns:
      float metrics (see `disentanglement_scores`), plus "swap_grid" (the PNG's path) when output_dir is set.
    """
    from tfssl.evaluation import sequence_judge

    keys = [action_key, *static_keys]
    judge = sequence_judge.train_judge(dataset, keys, split=judge_split, steps=judge_steps,
                                       batch_size=judge_batch_size, seed=seed, cache_dir=judge_cache_dir)
    videos, labels = _load_clips(clip_input, dataset, split, keys, max_examples, batch_size)
    scores = {"inception_score": sequence_judge.inception_score,
              "conditional_entropy": sequence_judge.conditional_entropy,
              "marginal_entropy": sequence_judge.marginal_entropy}
    metrics, grid = disentanglement_scores(method, judge, videos, labels, action_key=action_key,
                                           static_keys=static_keys, generation_scores=scores,
                                           balanced_subset=sequence_judge.class_balanced_subset,
                                           per_class=per_class, num_swaps=num_swaps, seed=seed,
                                           batch_size=batch_size)
    if output_dir:
        metrics["swap_grid"] = write_grid(grid, output_dir, step=int(getattr(method, "step", 0)))
    return metrics
