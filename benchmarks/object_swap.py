"""Object-swap test of trained encoders: do they represent the object or its background?

    python benchmarks/object_swap.py --out=benchmarks/results/pirl/object_swap.json \\
        --model=rotation=runs/compare/tfssl_objects_tc00/rotation_s0_n400 \\
        --model=pirl=runs/compare/tfssl_objects_tc00/pirl_s0_n400 \\
        --untrained=random_init=runs/compare/tfssl_objects_tc00/rotation_s0_n400

Each --model=NAME=DIR restores the latest checkpoint of a run (its operative_config.gin); --untrained=NAME=DIR builds
that run's method from its config and seed without restoring anything. On the first --num_images held-out images
of --dataset, every object is pasted onto another image (`tfssl.evaluation.object_swap`); the object preference is
the fraction of composites whose encoder features are nearer to the object's image than to the background's.
The run's own probe results (model_dir/eval/classification_probes.json) are copied next to it when present.
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
flags.DEFINE_multi_string("model", [], "NAME=MODEL_DIR of a trained run (repeatable).")
flags.DEFINE_multi_string("untrained", [], "NAME=MODEL_DIR: that run's encoder as built, never trained.")
flags.DEFINE_string("dataset", "tfssl_objects/tc00", "tfssl_objects config (needs its `mask` feature).")
flags.DEFINE_string("split", "test", "Split of the images (test: shapes never seen in training).")
flags.DEFINE_integer("num_images", 1000, "Images (and composites).")
flags.DEFINE_integer("seed", 0, "Seed of the partner assignment.")
FLAGS = flags.FLAGS


def load_images_and_masks(dataset: str, split: str, num_images: int) -> tuple[np.ndarray, np.ndarray]:
    """float32 [N, H, W, 3] in [0, 1] and float32 [N, H, W, 1] in {0, 1}."""
    from tfssl.data import pipelines

    builder = pipelines.load_builder(dataset)
    if "mask" not in builder.info.features:
        raise app.UsageError(f"--dataset={dataset} has no object masks; use a tfssl_objects config")
    images, masks = [], []
    for example in builder.as_dataset(split=split, shuffle_files=False).take(num_images):
        images.append(example["image"].numpy())
        masks.append(example["mask"].numpy())
    return np.stack(images).astype(np.float32) / 255.0, np.stack(masks).astype(np.float32)


def derangement(n: int, seed: int) -> np.ndarray:
    """A random permutation with no fixed point: image i's object goes onto image partner[i] != i."""
    order = np.random.default_rng(seed).permutation(n)
    partner = np.empty(n, np.int64)
    partner[order] = np.roll(order, 1)  # a single cycle through the shuffled order
    return partner


def encoder_preference(model_dir: str, trained: bool, images, masks, partner) -> dict:
    """Rebuilds the run in model_dir (trained, or its untrained twin) and measures its encoder."""
    import tensorflow as tf

    import tfssl.registry  # noqa: F401  (the configurables the gin files name)
    from tfssl.core import experiment
    from tfssl.evaluation.features import extract_features
    from tfssl.evaluation.object_swap import object_preference, object_swap_composites

    session = experiment.load_run(model_dir, trained)
    encoder = session.method.encoder

    def features(x):
        dataset = tf.data.Dataset.from_tensor_slices({"image": x, "label": np.zeros(len(x), np.int64)})
        return extract_features(encoder, dataset)[0]

    originals = features(images)
    composites = features(object_swap_composites(images, masks, partner))
    return {"object_preference": object_preference(composites, originals, originals[partner]),
            "step": int(session.trainer.step)}


def main(argv):
    del argv
    if not FLAGS.out or not (FLAGS.model or FLAGS.untrained):
        raise app.UsageError("give --out=PATH.json and at least one --model=NAME=DIR or --untrained=NAME=DIR")
    from tfssl import cli

    cli.quiet_logs()
    images, masks = load_images_and_masks(FLAGS.dataset, FLAGS.split, FLAGS.num_images)
    partner = derangement(len(images), FLAGS.seed)
    results = {}
    for spec, trained in [(s, True) for s in FLAGS.model] + [(s, False) for s in FLAGS.untrained]:
        name, _, model_dir = spec.partition("=")
        entry = encoder_preference(model_dir, trained, images, masks, partner)
        probe_path = os.path.join(model_dir, "eval", "classification_probes.json")
        if trained and os.path.exists(probe_path):
            with open(probe_path) as f:
                entry["probes"] = json.load(f)
        entry["model_dir"] = model_dir
        results[name] = entry
        print(f"{name}: object preference {entry['object_preference']:.3f} (step {entry['step']})", flush=True)
    report = {"command": " ".join(shlex.quote(a) for a in ["python", "benchmarks/object_swap.py", *sys.argv[1:]]),
              "dataset": FLAGS.dataset, "split": FLAGS.split, "num_images": len(images), "results": results}
    os.makedirs(os.path.dirname(FLAGS.out) or ".", exist_ok=True)
    with open(FLAGS.out, "w") as f:
        json.dump(report, f, indent=2, sort_keys=True)


if __name__ == "__main__":
    app.run(main)
