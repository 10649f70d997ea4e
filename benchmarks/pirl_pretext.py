"""Has a PIRL run solved its pretext? Instance retrieval between two augmented views of its training images.

    python benchmarks/pirl_pretext.py --out=benchmarks/results/pirl/pirl_pretext.json \\
        --model=pirl=runs/compare/tfssl_objects_tc00/pirl_s0_n400 [--model=NAME=DIR ...] [--num_images=1024]

For each run (restored from DIR with its operative_config.gin), and for the same method as built but untrained:
the first --num_images images of the run's training input (the images its memory bank indexes) get two image views
I (`PIRL.image_view` at two unused steps), and each view-1 embedding f(I) retrieves its nearest view-2 embedding
(cosine) among all of them. Top-1 = the fraction that find their own image: near 1 when instance discrimination is
solved, about 1 / num_images for an encoder blind to the image. Also reported: retrieval of each image's own
memory-bank row, and the mean cosine to the own view (positive) and to the others (negatives).

A run whose pretext top-1 is high while its class probe stays at chance has learned to tell instances apart by
something other than their class (here: texture, colour and background), which `benchmarks/object_swap.py` then
locates.
"""

from __future__ import annotations

import json
import os
import shlex
import sys

import numpy as np
from absl import app, flags

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

flags.DEFINE_string("out", None, "Where to write the JSON (required).")
flags.DEFINE_multi_string("model", [], "NAME=MODEL_DIR of a PIRL run (repeatable).")
flags.DEFINE_integer("num_images", 1024, "Training images retrieved among (at most the run's TRAIN_EXAMPLES).")
flags.DEFINE_integer("batch_size", 256, "Images per encoder call.")
FLAGS = flags.FLAGS

# Steps far beyond any training run: the two views are augmentations the run never saw.
VIEW_STEPS = (10**6, 10**6 + 1)


def retrieval(queries: np.ndarray, keys: np.ndarray) -> dict[str, float]:
    """Top-1 retrieval of row i of `keys` by row i of `queries` (unit rows, cosine), and mean cosines."""
    similarity = queries @ keys.T
    n = len(queries)
    return {"top1": float(np.mean(similarity.argmax(axis=1) == np.arange(n))),
            "positive_cosine": float(np.mean(np.diag(similarity))),
            "negative_cosine": float((similarity.sum() - np.trace(similarity)) / (n * (n - 1)))}


def training_images(session, num_images: int) -> tuple[np.ndarray, np.ndarray]:
    """The first images of the run's own training input, unshuffled (the rows its bank indexes).

    Returns float32 [N, H, W, 3] in [0, 1] and their int64 index; N = min(num_images, the examples the input reads).
    """
    images, index = [], []
    for batch in session.experiment.train_input(skip_batches=0, shuffle_buffer=1, repeat=False):
        images.append(batch["image"].numpy())
        index.append(batch["index"].numpy())
        if sum(len(i) for i in index) >= num_images:
            break
    return np.concatenate(images)[:num_images], np.concatenate(index)[:num_images]


def measure(model_dir: str, trained: bool, num_images: int) -> dict:
    """Rebuilds the run in model_dir (trained, or its untrained twin) and measures its pretext."""
    import tensorflow as tf

    import tfssl.registry  # noqa: F401  (the configurables the gin files name)
    from tfssl.core import experiment

    session = experiment.load_run(model_dir, trained)
    method = session.method
    images, index = training_images(session, num_images)

    def embed(step: int) -> np.ndarray:
        out = []
        for start in range(0, len(images), FLAGS.batch_size):
            batch = slice(start, start + FLAGS.batch_size)
            view = method.image_view(tf.constant(images[batch]), tf.constant(index[batch]), tf.constant(step))
            out.append(method.embed_image(view).numpy())
        return np.concatenate(out)

    first, second = embed(VIEW_STEPS[0]), embed(VIEW_STEPS[1])
    result = {"step": int(session.trainer.step), "num_images": len(images), "views": retrieval(first, second)}
    if trained and method.memory_bank is not None:  # negatives='batch' has no bank
        result["bank"] = retrieval(first, method.memory_bank.numpy()[index])
    return result


def main(argv):
    del argv
    if not FLAGS.out or not FLAGS.model:
        raise app.UsageError("give --out=PATH.json and at least one --model=NAME=DIR")
    from tfssl import cli

    cli.quiet_logs()
    results = {}
    for spec in FLAGS.model:
        name, _, model_dir = spec.partition("=")
        entry = {"trained": measure(model_dir, True, FLAGS.num_images),
                 "untrained": measure(model_dir, False, FLAGS.num_images)}
        probe_path = os.path.join(model_dir, "eval", "classification_probes.json")
        if os.path.exists(probe_path):
            with open(probe_path) as f:
                entry["probes"] = json.load(f)
        entry["model_dir"] = model_dir
        results[name] = entry
        print(f"{name}: instance top-1 {entry['trained']['views']['top1']:.3f} "
              f"(untrained {entry['untrained']['views']['top1']:.3f}) among {entry['trained']['num_images']}",
              flush=True)
    report = {"command": " ".join(shlex.quote(a) for a in ["python", "benchmarks/pirl_pretext.py", *sys.argv[1:]]),
              "results": results}
    os.makedirs(os.path.dirname(FLAGS.out) or ".", exist_ok=True)
    with open(FLAGS.out, "w") as f:
        json.dump(report, f, indent=2, sort_keys=True)


if __name__ == "__main__":
    app.run(main)
