"""Speed benchmark: each method's full training step as the trainer runs it, beside its bare networks' step.

    python benchmarks/speed.py --methods=rotation,lci,pirl,pcnet --steps=20 --warmup=3 \
        --out=benchmarks/results/speed/speed.json

For every method, in one process, on its embedded default (gin/<method>.gin, then any --gin_file, then any
--gin_param), this measures:

  full step   The session `python -m tfssl.train` builds (`experiment.setup` into a temporary model_dir), trained by
              the trainer itself (`experiment.train` -> `Trainer.train`): the real input pipeline and distributed
              iterator, `strategy.run(train_step)` inside the trainer's compiled loop, `steps_per_loop` steps per
              call, the cross-replica mean of the outputs, the finite check, the host sync after each call, and the
              host work between calls (scalar and image summaries, checkpoints and the progress line when their
              configured cadence falls due). The trainer runs `steps_per_loop` steps per call of its compiled loop
              and cannot see single steps, so a step's time is its call's time divided by the call's steps, where a
              call's time runs from its start to the start of the next call (so it includes the host work after
              it). The calls that cover the first --warmup steps are not timed (the first traces); neither is one
              last call, whose end-of-run checkpoint happens once per run, not per step.
  bare step   The same built networks (the session's method, weights and optimizers as the full run left them) on
              ONE fixed batch already in memory: the first batch of the training input, as tensors on the (first)
              replica's device. One `tf.function` of the method's own `train_step` (its in-graph augmentation,
              every network's forward, losses, gradients and optimizer updates, e.g. PIRL's memory-bank write),
              called on the default strategy (no `strategy.run`, no distributed iterator, no input pipeline, no
              cross-replica reduce, no finite check, no summaries, no checkpoints), one call per step, timed until
              its outputs are on the host. `jit_compile` follows `tfssl.Trainer.jit_compile`.

Per method, the JSON (`methods.<name>`) holds:
  full_step_s_median, bare_step_s_median   medians of the per-step wall times above (seconds)
  overhead                                 full_step_s_median / bare_step_s_median
  images_per_s                             global_batch / full_step_s_median; what an "image" is differs per method
                                           (`what_an_image_is`, e.g. Rotation: a source image, seen at 4 rotations)
  global_batch, steps                      the global batch; the timed steps of the full step (--steps rounded up to
                                           whole loop calls; `full_timed_calls` of them are independent samples)
  full_loop_call_s_median                  the loop call alone (input, strategy.run, reduce, host sync), without the
                                           host work after it: the trainer's own `median_step_seconds`
  *_cpu_s_median, overhead_cpu             the same medians in process CPU time (below)
  periodic                                 one checkpoint, one image-summary write and one scalar-summary write, each
                                           timed once, and `per_step_s`, their sum amortised over the configured
                                           cadences: a short window and a median leave these rare slow steps out, so
                                           they are measured once and reported beside the median, not hidden in it
  full_step_with_periodic_s                full_step_s_median + periodic.per_step_s
and the top level the command, the device and the library versions. The JSON is rewritten after every method, so
a killed run keeps what it measured.

Wall time or CPU time: on a machine that other jobs share, the wall times mostly measure the other jobs. Process CPU
time counts the work of this process's threads (TensorFlow's op pools and tf.data's) and moves far less with other
jobs (not nothing: threads that spin while waiting for a core are counted), so `overhead_cpu` shows extra work in
the full step even on a busy machine. On an accelerator CPU time says little; read the wall times there, and on an
idle machine the wall times are the numbers to publish.
"""

from __future__ import annotations

import gc
import json
import math
import os
import platform
import subprocess
import sys
import tempfile
import time

from absl import app, flags

from tfssl import cli  # --gin_file (extra files after each method's own), --gin_param

flags.DEFINE_list("methods", ["rotation", "lci", "pirl", "pcnet"], "Methods to measure: gin/<name>.gin each.")
flags.DEFINE_integer("steps", 20, "Timed steps per method (the full step rounds up to whole loop calls).")
flags.DEFINE_integer("warmup", 3, "Untimed steps first (the full step rounds up to whole loop calls, at least one).")
flags.DEFINE_string("out", "benchmarks/results/speed/speed.json", "Where to write the JSON.")
FLAGS = flags.FLAGS

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

WHAT_AN_IMAGE_IS = {
    "rotation": "a source image of the global batch; the encoder sees it at 4 rotations (4 x global_batch encoder "
                "inputs per step)",
    "lci": "a source image of the global batch; the classifier sees one transformed copy per class (6 x "
           "global_batch inputs with all six classes), the inpainter and discriminator one patch per image",
    "pirl": "a source image of the global batch; the encoder sees one augmented view of it and its 9 jigsaw "
            "patches (and a second view I' of it: gin/pirl.gin's in-batch negatives, the other images' I')",
    "pcnet": "a training sample of the global batch: one occluded object of a 64 px scene crop, one PCNet-M "
             "(mask completion) and one PCNet-C (content completion) example",
    "s3vae": "a clip of the global batch: 8 frames at 64 px, encoded twice (as is and shuffled in time for the "
             "triplet) and decoded once",
    "keypoints": "a frame pair (x, x') of the global batch with one unpaired prior pose: G, D and eta each update "
                 "once per step",
}


# ---- the machine ---------------------------------------------------------------------------------------------
def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def device_description() -> str:
    import tensorflow as tf

    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    text = f"{_cpu_model()}, {os.cpu_count()} cores ({usable} usable)"
    gpus = tf.config.list_physical_devices("GPU")
    if gpus:
        names = [tf.config.experimental.get_device_details(g).get("device_name", g.name) for g in gpus]
        text += "; GPUs: " + ", ".join(names)
    return text


def environment() -> dict:
    import importlib.metadata

    import keras
    import numpy as np
    import tensorflow as tf
    import tensorflow_datasets as tfds

    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True,
                                check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        commit = None
    return {"python": sys.version.split()[0], "tensorflow": tf.__version__, "keras": keras.__version__,
            "numpy": np.__version__, "gin_config": importlib.metadata.version("gin-config"),
            "tensorflow_datasets": tfds.__version__, "platform": platform.platform(), "git_commit": commit}


# ---- the measurements ----------------------------------------------------------------------------------------
def _round_up(steps: int, multiple: int) -> int:
    return int(math.ceil(max(steps, 0) / multiple)) * multiple


def _time_trainer(session, warmup: int, steps: int) -> dict:
    """Trains the session with the trainer itself and times its loop calls (see the module docstring)."""
    from tfssl.core import experiment

    trainer = session.trainer
    per_call = trainer.steps_per_loop
    warmup_steps = max(per_call, _round_up(warmup, per_call))  # the first call traces: never timed
    timed_steps = _round_up(max(steps, 1), per_call)
    trainer.train_steps = warmup_steps + timed_steps + per_call  # + one untimed last call (end-of-run checkpoint)

    calls = []  # (start, end of the loop call incl. its host sync, steps, process CPU time at the start)
    make_loop = trainer._make_loop

    def make_timed_loop():
        loop = make_loop()

        def timed_loop(iterator, num_steps):
            cpu, begun = time.process_time(), time.perf_counter()
            outputs, first_bad = loop(iterator, num_steps)
            first_bad.numpy()  # the trainer syncs on it next; syncing here too only moves that wait before `end`
            calls.append((begun, time.perf_counter(), int(num_steps), cpu))
            return outputs, first_bad

        return timed_loop

    trainer._make_loop = make_timed_loop  # the trainer's own loop, wrapped: it still makes and drives it
    try:
        experiment.train(session)
    finally:
        del trainer._make_loop
    done, timed = 0, []
    for i, (begun, ended, num, cpu) in enumerate(calls[:-1]):
        if done >= warmup_steps:
            timed.append((num, (calls[i + 1][0] - begun) / num, (ended - begun) / num, (calls[i + 1][3] - cpu) / num))
        done += num
    import numpy as np

    counts = [t[0] for t in timed]
    per_step, loop_only, cpu = (np.repeat([t[k] for t in timed], counts) for k in (1, 2, 3))
    return {"median": float(np.median(per_step)), "loop_call_median": float(np.median(loop_only)),
            "cpu_median": float(np.median(cpu)), "steps": int(len(per_step)), "calls": len(timed),
            "warmup_steps": warmup_steps}


def _time_periodic(session) -> dict:
    """One checkpoint, one image-summary write and one scalar-summary write, each timed once, and their cost per
    step at the trainer's configured cadences."""
    import tensorflow as tf

    trainer = session.trainer
    costs = {}
    begun = time.perf_counter()
    trainer.save()
    costs["checkpoint_s"] = time.perf_counter() - begun
    writer = tf.summary.create_file_writer(os.path.join(session.model_dir, "train"))
    begun = time.perf_counter()
    trainer._write_images(writer, session.sample_batch)
    writer.flush()
    costs["image_summaries_s"] = time.perf_counter() - begun
    begun = time.perf_counter()
    with writer.as_default(step=trainer.step):  # as Trainer.train writes its scalars
        for name in ("loss", "accuracy", "steps_per_second"):
            tf.summary.scalar(name, 1.0)
    writer.flush()
    costs["scalar_summaries_s"] = time.perf_counter() - begun
    costs["per_step_s"] = (costs["checkpoint_s"] / trainer.checkpoint_every
                           + (costs["image_summaries_s"] / trainer.image_every if trainer.image_every > 0 else 0.0)
                           + costs["scalar_summaries_s"] / trainer.log_every)
    costs["cadence_steps"] = {"checkpoint_every": trainer.checkpoint_every, "image_every": trainer.image_every,
                              "log_every": trainer.log_every, "steps_per_loop": trainer.steps_per_loop}
    return costs


def _time_bare(session, warmup: int, steps: int) -> dict:
    """The method's train_step alone, in one plain tf.function, on one in-memory batch (see the module docstring)."""
    import numpy as np
    import tensorflow as tf

    method = session.method
    with tf.device(session.strategy.extended.worker_devices[0]):  # the (first) replica's device
        batch = {k: tf.identity(tf.constant(v)) for k, v in session.sample_batch.items()}
    step = tf.function(method.train_step, jit_compile=True if session.trainer.jit_compile else None)
    seconds, cpu_seconds = [], []
    for i in range(max(warmup, 1) + steps):  # the first call traces: never timed
        cpu, begun = time.process_time(), time.perf_counter()
        outputs = step(batch)
        for value in outputs.values():
            value.numpy()
        if i >= max(warmup, 1):
            seconds.append(time.perf_counter() - begun)
            cpu_seconds.append(time.process_time() - cpu)
    return {"median": float(np.median(seconds)), "cpu_median": float(np.median(cpu_seconds)), "steps": len(seconds)}


def measure(name: str, gin_files: list[str], gin_params: list[str], warmup: int, steps: int) -> dict:
    import keras

    from tfssl.core import experiment

    keras.backend.clear_session()
    gc.collect()
    with tempfile.TemporaryDirectory(prefix=f"tfssl_speed_{name}_") as model_dir:
        session = experiment.setup(model_dir, gin_files, gin_params)
        full = _time_trainer(session, warmup, steps)
        periodic = _time_periodic(session)
        gc.collect()  # the trainer's iterator (and its prefetch threads) go before the bare steps run
        bare = _time_bare(session, warmup, full["steps"])
        global_batch = int(next(iter(session.sample_batch.values())).shape[0])
        replicas = int(session.strategy.num_replicas_in_sync)
        del session
    return {
        "full_step_s_median": full["median"],
        "bare_step_s_median": bare["median"],
        "overhead": full["median"] / bare["median"],
        "images_per_s": global_batch / full["median"],
        "global_batch": global_batch,
        "steps": full["steps"],
        "what_an_image_is": WHAT_AN_IMAGE_IS.get(name, "an example of the global training batch"),
        # Beside the schema: where the full step's time goes.
        "full_loop_call_s_median": full["loop_call_median"],
        "full_step_cpu_s_median": full["cpu_median"],
        "bare_step_cpu_s_median": bare["cpu_median"],
        "overhead_cpu": full["cpu_median"] / bare["cpu_median"],
        "full_timed_calls": full["calls"],
        "bare_steps": bare["steps"],
        "warmup_steps": full["warmup_steps"],
        "replicas": replicas,
        "periodic": periodic,
        "full_step_with_periodic_s": full["median"] + periodic["per_step_s"],
    }


def _write(report: dict, path: str) -> None:
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(report, f, indent=2, sort_keys=True)
    os.replace(tmp, path)


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments {argv[1:]}; pass options as --flag=value")
    cli.quiet_logs()
    import tfssl.registry  # noqa: F401  (every configurable the gin files name)

    methods = [m.strip() for m in FLAGS.methods if m.strip()]
    gin_files = {m: [os.path.join("gin", f"{m}.gin"), *FLAGS.gin_file] for m in methods}
    missing = [files[0] for files in gin_files.values() if not os.path.isfile(files[0])]
    if missing:
        raise app.UsageError(f"no gin file {', '.join(missing)}; run from the repository root with --methods "
                             "naming files of gin/")
    report = {
        "command": "python benchmarks/speed.py " + " ".join(
            [f"--methods={','.join(methods)}", f"--steps={FLAGS.steps}", f"--warmup={FLAGS.warmup}",
             f"--out={FLAGS.out}"] + [f"--gin_file={f}" for f in FLAGS.gin_file]
            + [f"--gin_param='{p}'" for p in FLAGS.gin_param]),
        "device": device_description(),
        "environment": environment(),
        "methods": {},
    }
    for name in methods:
        begun = time.time()
        result = measure(name, gin_files[name], list(FLAGS.gin_param), FLAGS.warmup, FLAGS.steps)
        result["benchmark_seconds"] = time.time() - begun
        report["methods"][name] = result
        _write(report, FLAGS.out)
        print(f"{name}: full {result['full_step_s_median']:.4f} s/step (loop call "
              f"{result['full_loop_call_s_median']:.4f}), bare {result['bare_step_s_median']:.4f} s/step, overhead "
              f"{result['overhead']:.3f} (CPU time {result['overhead_cpu']:.3f}), {result['images_per_s']:.1f} "
              f"images/s, periodic work {result['periodic']['per_step_s']:.4f} s/step amortised", flush=True)


if __name__ == "__main__":
    app.run(main)
