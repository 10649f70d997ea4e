"""Compare methods on the same encoder, data and step budget, over several seeds, written as JSON.

    python benchmarks/compare.py --out=benchmarks/results/pirl/pirl_vs_rotation.json \\
        --dataset=tfssl_objects/tc00 --dataset=tfssl_objects/tcv0 --seeds=0,1,2 --train_steps=400 \\
        --run=rotation=gin/rotation.gin --run=pirl=gin/pirl.gin [--param=pirl=BINDING ...]

For every dataset, seed and run, trains in a subprocess (the same `python -m tfssl.train` a user runs) with

    --gin_param=DATASET='<dataset>' --gin_param=TRAIN_STEPS=<n> --gin_param=tfssl.Experiment.seed=<seed>
    --gin_param=tfssl.data.image_dataset.seed=<seed> --gin_param=tfssl.Experiment.export=False

plus the run's own `--param` bindings, and reads the held-out probe results from model_dir/eval/. Every gin file
compared must therefore use the DATASET and TRAIN_STEPS macros and evaluate with `classification_probes`, like
gin/rotation.gin. A random-init encoder (the first run's method, built with the seed, never trained) is probed per
dataset and seed: the bar every method must clear by 20 points.

`--curve_steps=500,1000` also probes the checkpoints each run saved at those steps (a learning curve, for budgets
where a method saturates: one run per seed gives every point). compare then binds `tfssl.Trainer.checkpoint_every`
to the greatest common divisor of the steps and `tfssl.Trainer.max_checkpoints` so that every one is kept (a run's
own --param overrides them), and probes with `python -m tfssl.evaluate --checkpoint_step=N`.

Runs are sequential (a 2-core machine is saturated by one) and resumable: a finished run's eval JSON is reused,
so an interrupted comparison continues where it stopped. Delete --work_dir to start over.
"""

from __future__ import annotations

import json
import math
import os
import platform
import shlex
import sys
import time

import numpy as np
from absl import app, flags

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from runspec import parse_runs, run_logged  # noqa: E402  (benchmarks/ is on the path of a script run from it)

flags.DEFINE_string("out", None, "Where to write the JSON (required).")
flags.DEFINE_multi_string("run", [], "NAME=GIN_FILE; repeat for each method/variant compared.")
flags.DEFINE_multi_string("param", [], "NAME=BINDING: an extra gin binding for run NAME (repeatable).")
flags.DEFINE_multi_string("extra_gin_file", [], "Gin files added to every run after its own (e.g. gin/smoke.gin).")
flags.DEFINE_multi_string("dataset", ["tfssl_objects/tc00"], "TFDS name bound to the DATASET macro (repeatable).")
flags.DEFINE_list("seeds", ["0", "1", "2"], "Seeds: initial weights and data order.")
flags.DEFINE_integer("train_steps", 400, "Step budget of every run.")
flags.DEFINE_bool("random_init", True, "Also probe the untrained encoder of the first run.")
flags.DEFINE_string("work_dir", "runs/compare", "Model dirs of the runs (reused when the same run is asked again).")
flags.DEFINE_string("probe", "classification_probes", "Evaluation whose JSON holds the probe results.")
flags.DEFINE_list("curve_steps", [], "Also probe the checkpoints saved at these steps (each < --train_steps).")
FLAGS = flags.FLAGS

METRICS = ("linear_top1", "knn_top1")


def run_bindings(dataset: str, seed: int, train_steps: int, curve_steps: tuple[int, ...] = ()) -> list[str]:
    """The bindings that make runs comparable: same data, budget and seed; no exports (not measured here).

    With curve_steps, checkpoints every gcd(curve_steps, train_steps) steps, all of them kept.
    """
    bindings = [f"DATASET = '{dataset}'", f"TRAIN_STEPS = {train_steps}", f"tfssl.Experiment.seed = {seed}",
                f"tfssl.data.image_dataset.seed = {seed}", "tfssl.Experiment.export = False",
                "tfssl.Trainer.progress = False"]
    if curve_steps:
        every = math.gcd(train_steps, *curve_steps)
        bindings += [f"tfssl.Trainer.checkpoint_every = {every}",
                     f"tfssl.Trainer.max_checkpoints = {train_steps // every}"]
    return bindings


def _tool_command(module_args: list[str], gin_file: str, bindings: list[str], model_dir: str) -> list[str]:
    gin_files = [gin_file, *FLAGS.extra_gin_file]
    return [sys.executable, *module_args, *[f"--gin_file={g}" for g in gin_files], f"--model_dir={model_dir}",
            *[f"--gin_param={b}" for b in bindings]]


def _last_run(model_dir: str) -> dict:
    from tfssl.core.trainer import last_run  # imports TensorFlow: only when a run's results are read

    return last_run(model_dir)


def train_and_probe(gin_file: str, bindings: list[str], model_dir: str) -> dict:
    """One trained run (reused if its probe results already exist): probe results + train time."""
    result_path = os.path.join(model_dir, "eval", f"{FLAGS.probe}.json")
    if not os.path.exists(result_path):
        os.makedirs(model_dir, exist_ok=True)
        run_logged(_tool_command(["-m", "tfssl.train"], gin_file, bindings, model_dir),
             os.path.join(model_dir, "log.txt"))
    with open(result_path) as f:
        result = json.load(f)
    end = _last_run(model_dir)
    result.update(train_seconds=end.get("seconds"), median_step_seconds=end.get("median_step_seconds"),
                  final_train_outputs=end.get("outputs"))
    return result


def probe_checkpoint(gin_file: str, bindings: list[str], model_dir: str, step: int) -> dict:
    """The probes on the checkpoint a trained run saved at `step` (reused if already written)."""
    result_path = os.path.join(model_dir, "eval", f"step_{step}", f"{FLAGS.probe}.json")
    if not os.path.exists(result_path):
        run_logged(_tool_command(["-m", "tfssl.evaluate", f"--checkpoint_step={step}"], gin_file, bindings, model_dir),
             os.path.join(model_dir, f"log_step_{step}.txt"))
    with open(result_path) as f:
        return json.load(f)


def probe_random_init(gin_file: str, bindings: list[str], model_dir: str) -> dict:
    """The same probes on the method's encoder as built (seeded), never trained."""
    result_path = os.path.join(model_dir, "eval", f"{FLAGS.probe}.json")
    if not os.path.exists(result_path):
        os.makedirs(model_dir, exist_ok=True)
        run_logged(_tool_command([os.path.abspath(__file__), "--evaluate_untrained"], gin_file, bindings, model_dir),
             os.path.join(model_dir, "log.txt"))
    with open(result_path) as f:
        return json.load(f)


def summarise(values: list[float]) -> dict:
    array = np.asarray(values, dtype=np.float64)
    return {"mean": float(array.mean()), "std": float(array.std(ddof=1)) if array.size > 1 else 0.0,
            "values": [float(v) for v in array]}


def summarise_curve(entries: list[dict]) -> dict:
    """{step: {metric: summary over seeds}} from the seeds' "curve" entries (keys are steps as strings)."""
    steps = sorted({int(step) for entry in entries for step in entry.get("curve", {})})
    return {str(step): {m: summarise([e["curve"][str(step)][m] for e in entries]) for m in METRICS}
            for step in steps}


def compare(runs: dict[str, dict], datasets: list[str], seeds: list[int], train_steps: int,
            curve_steps: tuple[int, ...] = ()) -> dict:
    results: dict = {}
    for dataset in datasets:
        per_run: dict[str, list[dict]] = {name: [] for name in runs}
        if FLAGS.random_init:
            per_run["random_init"] = []
        for seed in seeds:
            for name, run in runs.items():
                bindings = run_bindings(dataset, seed, train_steps, curve_steps) + run["params"]
                model_dir = os.path.join(FLAGS.work_dir, dataset.replace("/", "_"), f"{name}_s{seed}_n{train_steps}")
                entry = {"seed": seed, **train_and_probe(run["gin_file"], bindings, model_dir)}
                if curve_steps:
                    entry["curve"] = {str(step): probe_checkpoint(run["gin_file"], bindings, model_dir, step)
                                      for step in curve_steps}
                    entry["curve"][str(train_steps)] = {m: entry[m] for m in METRICS}
                per_run[name].append(entry)
                print(f"{dataset} {name} seed {seed}: " + ", ".join(
                    f"{m}={per_run[name][-1][m]:.4f}" for m in METRICS), flush=True)
            if FLAGS.random_init:
                first = next(iter(runs.values()))
                model_dir = os.path.join(FLAGS.work_dir, dataset.replace("/", "_"), f"random_init_s{seed}")
                per_run["random_init"].append({"seed": seed, **probe_random_init(
                    first["gin_file"], run_bindings(dataset, seed, train_steps) + first["params"], model_dir)})
        results[dataset] = {name: {"seeds": entries, **{m: summarise([e[m] for e in entries]) for m in METRICS}}
                            for name, entries in per_run.items()}
        for name in runs:
            if curve_steps:
                results[dataset][name]["curve"] = summarise_curve(per_run[name])
    return results


def markdown_table(results: dict) -> str:
    lines = ["| data | run | linear top-1 (mean ± std) | kNN top-1 (mean ± std) | s/step |", "|---|---|---|---|---|"]
    for dataset, per_run in results.items():
        for name, entry in per_run.items():
            steps = [s["median_step_seconds"] for s in entry["seeds"] if s.get("median_step_seconds")]
            linear, knn = entry["linear_top1"], entry["knn_top1"]
            lines.append(f"| `{dataset}` | {name} | {100 * linear['mean']:.1f} ± {100 * linear['std']:.1f} | "
                         f"{100 * knn['mean']:.1f} ± {100 * knn['std']:.1f} | "
                         f"{f'{np.median(steps):.2f}' if steps else '–'} |")
    curves = [(dataset, name, entry["curve"]) for dataset, per_run in results.items()
              for name, entry in per_run.items() if "curve" in entry]
    if curves:
        steps = sorted({int(step) for *_, curve in curves for step in curve})
        lines += ["", "| data | run | " + " | ".join(f"linear @ {s}" for s in steps) + " |",
                  "|---|---|" + "---|" * len(steps)]
        for dataset, name, curve in curves:
            points = [curve[str(s)]["linear_top1"] if str(s) in curve else None for s in steps]
            cells = [f"{100 * p['mean']:.1f} ± {100 * p['std']:.1f}" if p else "–" for p in points]
            lines.append(f"| `{dataset}` | {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def evaluate_untrained(gin_files: list[str], gin_params: list[str], model_dir: str) -> None:
    """Child process of probe_random_init: builds the method (seeded) and runs the evaluations at step 0."""
    from tfssl import cli
    import tfssl.registry  # noqa: F401  (the configurables the gin files name)
    from tfssl.core import experiment

    cli.quiet_logs()
    session = experiment.setup(model_dir, gin_files, gin_params)
    assert session.trainer.step == 0, f"{model_dir} holds a checkpoint; the random-init probe needs an empty dir"
    experiment.evaluate(session)


def main(argv):
    del argv
    if not FLAGS.out:
        raise app.UsageError("give --out=PATH.json")
    runs = parse_runs(FLAGS.run, FLAGS.param)
    if not runs:
        raise app.UsageError("give at least one --run=NAME=GIN_FILE")
    begun = time.time()
    seeds = [int(s) for s in FLAGS.seeds]
    curve_steps = tuple(sorted(int(s) for s in FLAGS.curve_steps))
    if any(not 0 < s < FLAGS.train_steps for s in curve_steps):
        raise app.UsageError(f"--curve_steps={FLAGS.curve_steps}: every step must be in 1..{FLAGS.train_steps - 1}")
    results = compare(runs, FLAGS.dataset, seeds, FLAGS.train_steps, curve_steps)
    import tensorflow as tf

    report = {
        "command": " ".join(shlex.quote(a) for a in ["python", "benchmarks/compare.py", *sys.argv[1:]]),
        "train_steps": FLAGS.train_steps, "curve_steps": list(curve_steps), "seeds": seeds, "runs": runs,
        "results": results, "seconds": time.time() - begun,
        "machine": {"cpus": os.cpu_count(), "processor": platform.processor() or platform.machine(),
                    "python": sys.version.split()[0], "tensorflow": tf.__version__},
    }
    os.makedirs(os.path.dirname(FLAGS.out) or ".", exist_ok=True)
    with open(FLAGS.out, "w") as f:
        json.dump(report, f, indent=2, sort_keys=True)
    print(markdown_table(results))


def _child_main() -> None:
    """`compare.py --evaluate_untrained --gin_file=F --model_dir=D --gin_param=...` (used by probe_random_init)."""
    from tfssl import cli  # defines --gin_file, --gin_param, --model_dir

    def child(argv):
        del argv
        evaluate_untrained(cli.FLAGS.gin_file, cli.FLAGS.gin_param, cli.FLAGS.model_dir)

    app.run(child, argv=[a for a in sys.argv if a != "--evaluate_untrained"])


if __name__ == "__main__":
    if "--evaluate_untrained" in sys.argv:
        _child_main()
    else:
        app.run(main)
