"""The ceiling and the floor of the de-occlusion metrics on tfssl_scenes, as JSON (no training).

    python benchmarks/deocclusion_oracle.py --out=benchmarks/results/pcnet/deocclusion_oracle.json

Runs `tfssl.evaluation.deocclusion.scene_counts` with an ORACLE completer (a perfect PCNet-M that returns each
instance's true amodal mask, grown only into its eraser) on the held-out test scenes. What it records:
  - order_accuracy / amodal_miou / invisible_iou: the best any PCNet-M can score through tfssl's inference (the
    rest is lost to the ordering rule itself and to cropping/resizing);
  - the paper's baselines (Area, Y-axis, Convex hull; Raw; mean-colour fill), computed by the same code, which a
    trained PCNet must beat (benchmarks/pcnet.py checks that bar on a trained model).
The oracle's content completion is the mean-colour fill, so its content numbers equal the baseline's.
"""

from __future__ import annotations

import json
import os
import time

from absl import app, flags

flags.DEFINE_string("out", "benchmarks/results/pcnet/deocclusion_oracle.json", "Where to write the JSON.")
flags.DEFINE_string("dataset", "tfssl_scenes/base", "Scene dataset with true amodal masks and layers.")
flags.DEFINE_string("split", "test", "Split (test = held-out shape models).")
flags.DEFINE_integer("max_examples", 500, "Scenes evaluated (gin/pcnet.gin evaluates 500).")
FLAGS = flags.FLAGS


def main(argv):
    del argv
    from tfssl.methods.pcnet import inference as deocclusion
    from tfssl.evaluation import deocclusion as metrics

    begun, totals = time.time(), {}
    for scene in metrics.load_scenes(FLAGS.dataset, FLAGS.split, FLAGS.max_examples):
        oracle = deocclusion.OracleCompleter(scene["modal"], scene["amodal"], scene["image"].shape[0])
        counts = metrics.scene_counts(oracle, scene["image"], scene["modal"], scene["amodal"], scene["order"],
                                      scene["layers"], content=scene["layers"] is not None)
        for key, value in counts.items():
            totals[key] = totals.get(key, 0) + value
    result = {
        "command": f"python benchmarks/deocclusion_oracle.py --out={FLAGS.out}",
        "dataset": FLAGS.dataset, "split": FLAGS.split, "max_examples": FLAGS.max_examples,
        "num_pairs_with_relation": int(totals["order/pcnet"][1]),
        "seconds": time.time() - begun,
        "oracle_and_baselines": metrics.metrics_from_counts(totals),
    }
    os.makedirs(os.path.dirname(FLAGS.out) or ".", exist_ok=True)
    with open(FLAGS.out, "w") as f:
        json.dump(result, f, indent=2, sort_keys=True)
    print(json.dumps(result, indent=2, sort_keys=True))


if __name__ == "__main__":
    app.run(main)
