"""Train gin experiments over seeds and collect their own evaluations (the method's metric), written as JSON.

    python benchmarks/train_eval.py --out=benchmarks/results/s3vae/s3vae_vs_dsvae.json --seeds=0,1 \\
        --run=s3vae=gin/s3vae.gin --run=dsvae=gin/dsvae.gin

    python benchmarks/train_eval.py --out=benchmarks/results/keypoints/keypoints.json --seeds=0 \\
        --run=eta=gin/keypoints_eta.gin --run=keypoints=gin/keypoints.gin \\
        --param="keypoints=tfssl.methods.KeypointGAN.eta_weights='{run:eta}'" --untrained=keypoints

The counterpart of compare.py for methods whose measure is not a classification probe (S3VAE's disentanglement,
KeypointGAN's keypoint error): every run is the same `python -m tfssl.train` a user runs, with

    --gin_param=tfssl.Experiment.seed=<seed> --gin_param=tfssl.Experiment.export=False

plus the run's own `--param` bindings, and its record is every `model_dir/eval/<name>.json` the gin file's
evaluations wrote, with the training time from model_dir/runs.jsonl. Runs go in the order given, seed by seed;
`{run:NAME}` in a binding stands for the model_dir of run NAME with the same seed (a phase that needs an earlier
one, like KeypointGAN's eta pre-training), `{model_dir}` for the run's own (e.g. where an evaluation writes
images). `--untrained=NAME` also evaluates run NAME's method as built (seeded, never trained) through the same
evaluations: the random-init baseline.

Sequential (one run saturates a 2-core machine) and resumable: a run whose evaluations exist is reused, and the
JSON is rewritten after every run, so an interrupted benchmark keeps what finished. Delete --work_dir to start over.
"""

from __future__ import annotations

import json
import os
import platform
import re
import shlex
import sys
import time

import numpy as np
from absl import app, flags

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from runspec import parse_runs, run_logged  # noqa: E402  (shared with compare.py; benchmarks/ is on the path)

flags.DEFINE_string("out", None, "Where to write the JSON (required).")
flags.DEFINE_multi_string("run", [], "NAME=GIN_FILE; repeat for each run, in the order they must go.")
flags.DEFINE_multi_string("param", [], "NAME=BINDING: an extra gin binding for run NAME; {run:OTHER} is replaced "
                          "by run OTHER's model_dir for the same seed.")
flags.DEFINE_multi_string("extra_gin_file", [], "Gin files added to every run after its own (e.g. gin/smoke.gin).")
flags.DEFINE_list("seeds", ["0"], "Seeds: initial weights and data order.")
flags.DEFINE_multi_string("untrained", [], "Also evaluate run NAME's method untrained (repeatable).")
flags.DEFINE_string("work_dir", "runs/train_eval", "Model dirs of the runs (reused when the same run is asked again).")
FLAGS = flags.FLAGS

RUN_REFERENCE = re.compile(r"\{run:(\w+)\}")


def model_dir_of(name: str, seed: int) -> str:
    return os.path.join(FLAGS.work_dir, f"{name}_s{seed}")


def resolve(binding: str, seed: int, known: set[str], model_dir: str) -> str:
    """A binding with every {run:NAME} replaced by that run's model_dir for this seed (NAME must run earlier) and
    {model_dir} by the run's own."""
    def substitute(match):
        if match.group(1) not in known:
            raise app.UsageError(f"{binding!r} names run {match.group(1)!r}, which is not given before it by --run")
        return model_dir_of(match.group(1), seed)

    return RUN_REFERENCE.sub(substitute, binding).replace("{model_dir}", model_dir)


def _command(module_args: list[str], gin_file: str, bindings: list[str], model_dir: str) -> list[str]:
    return [sys.executable, *module_args, *[f"--gin_file={g}" for g in [gin_file, *FLAGS.extra_gin_file]],
            f"--model_dir={model_dir}", *[f"--gin_param={b}" for b in bindings]]


def read_evaluations(model_dir: str) -> dict[str, dict]:
    """{evaluation name: its JSON} from model_dir/eval/*.json."""
    folder = os.path.join(model_dir, "eval")
    names = sorted(n for n in os.listdir(folder) if n.endswith(".json")) if os.path.isdir(folder) else []
    evaluations = {}
    for name in names:
        with open(os.path.join(folder, name)) as f:
            evaluations[name[:-len(".json")]] = json.load(f)
    return evaluations


def train_and_evaluate(gin_file: str, bindings: list[str], model_dir: str) -> dict:
    """One trained run (reused when its evaluations exist): evaluations, training time and last outputs."""
    if not read_evaluations(model_dir):
        os.makedirs(model_dir, exist_ok=True)
        run_logged(_command(["-m", "tfssl.train"], gin_file, bindings, model_dir), os.path.join(model_dir, "log.txt"))
    from tfssl.core.trainer import last_run  # imports TensorFlow: only once a run is read

    end = last_run(model_dir)
    return {"evaluations": read_evaluations(model_dir), "train_steps": end.get("steps"),
            "train_seconds": end.get("seconds"), "median_step_seconds": end.get("median_step_seconds"),
            "final_train_outputs": end.get("outputs")}


def evaluate_untrained(gin_file: str, bindings: list[str], model_dir: str) -> dict:
    """The run's evaluations on its method as built (compare.py's random-init child does the work)."""
    if not read_evaluations(model_dir):
        os.makedirs(model_dir, exist_ok=True)
        compare = os.path.join(os.path.dirname(os.path.abspath(__file__)), "compare.py")
        run_logged(_command([compare, "--evaluate_untrained"], gin_file, bindings, model_dir),
             os.path.join(model_dir, "log.txt"))
    return {"evaluations": read_evaluations(model_dir)}


def summarise(entries: list[dict]) -> dict:
    """{evaluation: {metric: {"mean", "std", "values"}}} over seeds, for every numeric metric all seeds have."""
    summary: dict = {}
    for evaluation in entries[0]["evaluations"]:
        metrics = {}
        for key, value in entries[0]["evaluations"][evaluation].items():
            values = [e["evaluations"].get(evaluation, {}).get(key) for e in entries]
            if key in ("step", "seconds") or not all(isinstance(v, (int, float)) for v in values):
                continue
            array = np.asarray(values, np.float64)
            metrics[key] = {"mean": float(array.mean()), "std": float(array.std(ddof=1)) if len(array) > 1 else 0.0,
                            "values": [float(v) for v in array]}
        summary[evaluation] = metrics
    return summary


def benchmark(runs: dict[str, dict], seeds: list[int], untrained: list[str], report: dict, write) -> dict:
    """Runs every seed's runs in order, then the untrained baselines; `write(report)` after each."""
    per_run: dict[str, list[dict]] = {name: [] for name in runs}
    per_run.update({f"{name}_untrained": [] for name in untrained})
    for seed in seeds:
        done: set[str] = set()
        base = [f"tfssl.Experiment.seed = {seed}", "tfssl.Experiment.export = False", "tfssl.Trainer.progress = False"]
        for name, run in runs.items():
            model_dir = model_dir_of(name, seed)
            bindings = base + [resolve(b, seed, done, model_dir) for b in run["params"]]
            begun = time.time()
            entry = {"seed": seed, **train_and_evaluate(run["gin_file"], bindings, model_dir)}
            entry["wall_seconds"] = time.time() - begun
            per_run[name].append(entry)
            done.add(name)
            report["results"] = {n: {"seeds": e, "summary": summarise(e)} for n, e in per_run.items() if e}
            write(report)
        for name in untrained:
            run, model_dir = runs[name], model_dir_of(f"{name}_untrained", seed)
            bindings = base + [resolve(b, seed, done, model_dir) for b in run["params"]]
            entry = {"seed": seed, **evaluate_untrained(run["gin_file"], bindings, model_dir)}
            per_run[f"{name}_untrained"].append(entry)
            report["results"] = {n: {"seeds": e, "summary": summarise(e)} for n, e in per_run.items() if e}
            write(report)
    return report


def main(argv):
    del argv
    if not FLAGS.out:
        raise app.UsageError("give --out=PATH.json")
    runs = parse_runs(FLAGS.run, FLAGS.param)
    if not runs:
        raise app.UsageError("give at least one --run=NAME=GIN_FILE")
    unknown = [name for name in FLAGS.untrained if name not in runs]
    if unknown:
        raise app.UsageError(f"--untrained={unknown[0]}: not one of the runs {sorted(runs)}")
    import tensorflow as tf

    begun = time.time()
    report = {
        "command": " ".join(shlex.quote(a) for a in ["python", "benchmarks/train_eval.py", *sys.argv[1:]]),
        "seeds": [int(s) for s in FLAGS.seeds], "runs": runs, "results": {},
        "machine": {"cpus": os.cpu_count(), "processor": platform.processor() or platform.machine(),
                    "python": sys.version.split()[0], "tensorflow": tf.__version__},
    }

    def write(data: dict) -> None:
        data["seconds"] = time.time() - begun
        os.makedirs(os.path.dirname(FLAGS.out) or ".", exist_ok=True)
        with open(FLAGS.out + ".tmp", "w") as f:
            json.dump(data, f, indent=2, sort_keys=True)
        os.replace(FLAGS.out + ".tmp", FLAGS.out)  # a kill mid-write never leaves half a JSON

    benchmark(runs, report["seeds"], FLAGS.untrained, report, write)
    print(json.dumps({n: r["summary"] for n, r in report["results"].items()}, indent=1))


if __name__ == "__main__":
    app.run(main)
