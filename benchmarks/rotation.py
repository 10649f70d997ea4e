"""Rotation benchmark: quality and speed of `gin/rotation.gin` on the embedded default, written as JSON.

    python benchmarks/rotation.py --out=benchmarks/results/rotation/rotation.json

Measures, in one process on this machine:
  - the full training run of gin/rotation.gin (train, evaluate, export), its wall time and median step time;
  - linear-probe and kNN top-1 on held-out shapes (tfssl_objects test split) of the trained encoder, of the same
    encoder at random initialisation, and of raw pixels (the data must defeat raw pixels for a probe to mean much);
  - images/s of the input pipeline alone (first epoch from TFDS files, later epochs from the cache);
  - median step time with and without `jit_compile` (short runs; XLA is expected to be slower on CPU).
The README's results table is filled from this JSON.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import sys
import time

from absl import app, flags

from tfssl import cli  # --gin_file (default here: gin/rotation.gin), --gin_param, --model_dir

flags.DEFINE_string("out", "benchmarks/results/rotation/rotation.json", "Where to write the JSON.")
flags.DEFINE_integer("speed_steps", 40, "Steps of each jit on/off timing run.")
FLAGS = flags.FLAGS
DEFAULT_GIN_FILE = "gin/rotation.gin"
DEFAULT_MODEL_DIR = "runs/benchmark_rotation"


def _pipeline_speed(batches: int = 60) -> dict:
    """Images/s of the training input alone: epoch 1 decodes TFDS files, later epochs read the cache."""
    import tfssl.registry  # noqa: F401  (the configurables the gin files name)
    from tfssl.core import experiment

    ds = experiment.Experiment().train_input(skip_batches=0)
    it = iter(ds)
    batch_size = int(next(it)["image"].shape[0])
    speeds = []
    for _ in range(2):
        begun = time.time()
        for _ in range(batches):
            next(it)
        speeds.append(batches * batch_size / (time.time() - begun))
    return {"first_batches_images_per_second": speeds[0], "later_images_per_second": speeds[1]}


def _speed_run(jit: bool, steps: int) -> float:
    """Median seconds per training step of a short run with or without XLA."""
    import tfssl.registry  # noqa: F401  (the configurables the gin files name)
    from tfssl.core import experiment
    from tfssl.core.trainer import last_run

    model_dir = f"{FLAGS.model_dir}_speed_{'jit' if jit else 'nojit'}"
    shutil.rmtree(model_dir, ignore_errors=True)
    session = experiment.setup(model_dir, FLAGS.gin_file, [
        *FLAGS.gin_param, f"TRAIN_STEPS = {steps}", f"tfssl.Trainer.jit_compile = {jit}",
        "tfssl.Trainer.checkpoint_every = 100000", "tfssl.Trainer.image_every = 0", "tfssl.Trainer.log_every = 10",
        "tfssl.Trainer.progress = False"])
    session.trainer.train(session.experiment.train_input)
    seconds = last_run(model_dir)["median_step_seconds"]
    shutil.rmtree(model_dir, ignore_errors=True)
    return seconds


def main(argv):
    del argv
    import keras
    import numpy as np
    import tensorflow as tf

    import tfssl.registry  # noqa: F401  (the configurables the gin files name)
    from tfssl.core import experiment
    from tfssl.core.trainer import last_run
    from tfssl.evaluation.classification import classification_probes

    cli.quiet_logs()
    FLAGS.gin_file = FLAGS.gin_file or [DEFAULT_GIN_FILE]
    FLAGS.model_dir = FLAGS.model_dir or DEFAULT_MODEL_DIR
    shutil.rmtree(FLAGS.model_dir, ignore_errors=True)
    begun = time.time()
    result = experiment.run(FLAGS.model_dir, FLAGS.gin_file, FLAGS.gin_param)
    total_seconds = time.time() - begun
    session = result["session"]
    run = last_run(FLAGS.model_dir)
    trained = result["eval"]["classification_probes"]
    batch_size = int(session.experiment.train_input(skip_batches=0).element_spec["image"].shape[0])

    # The same probes on a freshly initialised encoder of the same architecture, and on raw pixels.
    keras.utils.set_random_seed(0)
    random_method = session.experiment.method()
    random_init = classification_probes(random_method)
    size = int(random_method.encoder.input.shape[1])
    raw_pixels = classification_probes(keras.Sequential([keras.Input((size, size, 3)), keras.layers.Flatten()]))

    pipeline = _pipeline_speed()
    jit_off = _speed_run(False, FLAGS.speed_steps)
    jit_on = _speed_run(True, FLAGS.speed_steps)

    report = {
        "command": "python benchmarks/rotation.py " + " ".join(
            [f"--out={FLAGS.out}"] + [f"--gin_file={f}" for f in FLAGS.gin_file]
            + [f"--gin_param='{p}'" for p in FLAGS.gin_param]),
        "train_steps": run["step"],
        "global_batch": batch_size,
        "train_seconds": run["seconds"],
        "total_seconds_train_eval_export": total_seconds,
        "median_step_seconds": run["median_step_seconds"],
        "images_per_second": batch_size / run["median_step_seconds"],
        "rotated_images_per_second": 4 * batch_size / run["median_step_seconds"],
        "final_train_outputs": run["outputs"],
        "probes": {"trained": trained, "random_init": random_init, "raw_pixels": raw_pixels},
        "linear_gain_over_random_points": 100 * (trained["linear_top1"] - random_init["linear_top1"]),
        "input_pipeline": pipeline,
        "jit_compile": {"off_median_step_seconds": jit_off, "on_median_step_seconds": jit_on,
                        "on_over_off": jit_on / jit_off},
        "machine": {"cpus": os.cpu_count(), "processor": platform.processor() or platform.machine(),
                    "python": sys.version.split()[0], "tensorflow": tf.__version__, "keras": keras.__version__,
                    "numpy": np.__version__},
    }
    os.makedirs(os.path.dirname(FLAGS.out) or ".", exist_ok=True)
    with open(FLAGS.out, "w") as f:
        json.dump(report, f, indent=2, sort_keys=True)
    print(json.dumps({k: report[k] for k in ("train_seconds", "linear_gain_over_random_points", "jit_compile")},
                     indent=2))
    print("trained", trained, "\nrandom", random_init, "\nraw", raw_pixels)


if __name__ == "__main__":
    app.run(main)
