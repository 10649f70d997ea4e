"""PCNet benchmark: de-occlusion quality and training time of `gin/pcnet.gin` on the embedded default, as JSON.

    python benchmarks/pcnet.py --out=benchmarks/results/pcnet/pcnet.json

Runs, in one process on this machine, the user's command (train, evaluate, export) and records:
  - wall time of training and its median step time (every network the gin files train steps every step);
  - the de-occlusion metrics on held-out tfssl_scenes test scenes (`tfssl.evaluation.deocclusion_metrics`):
    ordering accuracy, amodal mIoU, invisible-region IoU and hidden-pixel content L1 / PSNR, with the paper's
    baselines computed by the same code (ordering: Area, Y-axis, Convex hull; amodal: Raw, Convex hull; content:
    mean-colour fill);
  - the done-bar of the embedded default, checked on those numbers: ordering >= 95% and above every ordering
    baseline, amodal mIoU >= 5 points above the better of Raw and Convex hull, content L1 below the mean fill.
The README's PCNet row is filled from this JSON.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import sys
import time

from absl import app, flags

from tfssl import cli  # --gin_file (default here: gin/pcnet.gin), --gin_param, --model_dir

flags.DEFINE_string("out", "benchmarks/results/pcnet/pcnet.json", "Where to write the JSON.")
FLAGS = flags.FLAGS
DEFAULT_GIN_FILE = "gin/pcnet.gin"
DEFAULT_MODEL_DIR = "runs/benchmark_pcnet"
ORDER_BASELINES = ("area", "yaxis", "convex")
AMODAL_BASELINES = ("raw", "convex")


def done_bar(metrics: dict) -> dict:
    """The embedded default's quality bar, each criterion with the numbers it compares."""
    best_order_baseline = max(metrics[f"order_accuracy_{b}"] for b in ORDER_BASELINES)
    best_amodal_baseline = max(metrics[f"amodal_miou_{b}"] for b in AMODAL_BASELINES)
    bar = {
        "order_accuracy_at_least_95": metrics["order_accuracy"] >= 0.95,
        "order_accuracy_above_every_baseline": metrics["order_accuracy"] > best_order_baseline,
        "amodal_miou_5_points_above_best_baseline": metrics["amodal_miou"] >= best_amodal_baseline + 0.05,
        "content_l1_below_mean_fill": metrics["content_l1"] < metrics["content_l1_mean_fill"],
    }
    return {**bar, "all": all(bar.values()),
            "order_margin_over_best_baseline_points": 100 * (metrics["order_accuracy"] - best_order_baseline),
            "amodal_margin_over_best_baseline_points": 100 * (metrics["amodal_miou"] - best_amodal_baseline)}


def main(argv):
    del argv
    import keras
    import numpy as np
    import tensorflow as tf

    import tfssl.registry  # noqa: F401  (the configurables the gin files name)
    from tfssl.core import experiment
    from tfssl.core.trainer import last_run

    cli.quiet_logs()
    FLAGS.gin_file = FLAGS.gin_file or [DEFAULT_GIN_FILE]
    FLAGS.model_dir = FLAGS.model_dir or DEFAULT_MODEL_DIR
    shutil.rmtree(FLAGS.model_dir, ignore_errors=True)
    begun = time.time()
    result = experiment.run(FLAGS.model_dir, FLAGS.gin_file, FLAGS.gin_param)
    total_seconds = time.time() - begun
    run = last_run(FLAGS.model_dir)
    evaluation = result["eval"]["deocclusion_metrics"]
    metrics = {k: v for k, v in evaluation.items() if k not in ("step", "seconds")}
    batch_size = int(result["session"].experiment.train_input(skip_batches=0).element_spec["image"].shape[0])

    report = {
        "command": "python benchmarks/pcnet.py " + " ".join(
            [f"--out={FLAGS.out}"] + [f"--gin_file={f}" for f in FLAGS.gin_file]
            + [f"--gin_param='{p}'" for p in FLAGS.gin_param]),
        "train_steps": run["step"],
        "global_batch": batch_size,
        "train_seconds": run["seconds"],
        "train_minutes": run["seconds"] / 60.0,
        "evaluation_seconds": evaluation["seconds"],
        "total_seconds_train_eval_export": total_seconds,
        "median_step_seconds": run["median_step_seconds"],
        "final_train_outputs": run["outputs"],
        "metrics": metrics,
        "baselines": {
            "order_accuracy": {b: metrics[f"order_accuracy_{b}"] for b in ORDER_BASELINES},
            "amodal_miou": {b: metrics[f"amodal_miou_{b}"] for b in AMODAL_BASELINES},
            "invisible_iou": {b: metrics[f"invisible_iou_{b}"] for b in AMODAL_BASELINES},
            "content_l1": {"mean_fill": metrics["content_l1_mean_fill"]},
        },
        "done_bar": done_bar(metrics),
        "machine": {"cpus": os.cpu_count(), "processor": platform.processor() or platform.machine(),
                    "python": sys.version.split()[0], "tensorflow": tf.__version__, "keras": keras.__version__,
                    "numpy": np.__version__},
    }
    os.makedirs(os.path.dirname(FLAGS.out) or ".", exist_ok=True)
    with open(FLAGS.out, "w") as f:
        json.dump(report, f, indent=2, sort_keys=True)
    print(json.dumps({k: report[k] for k in ("train_minutes", "median_step_seconds", "done_bar")}, indent=2))
    print(json.dumps(metrics, indent=2, sort_keys=True))


if __name__ == "__main__":
    app.run(main)
