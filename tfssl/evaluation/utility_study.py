"""The utility study of Newell & Deng (CVPR 2020) over tfssl's encoders, as one resumable gin-bound job.

    python -m tfssl.evaluate --gin_file=gin/utility.gin [--model_dir=runs/utility]

For every setting (a `tfssl_objects` factor config x a task, or `tfssl_scenes` x segmentation), every encoder (each
named run directory, plus `scratch`: the same architecture at random init), every label budget n and every seed,
the encoder is fine-tuned with a task head on the first n training examples (`tfssl.evaluation.finetune`) and scored
on the test split (held-out shapes). Beside it, at the same budget, a linear probe on the frozen encoder's features
(`tfssl.evaluation.linear_probe`), for the paper's claim that linear evaluation does not predict fine-tuning utility.
The scratch runs' mean curve turns each pretrained encoder's accuracy into a utility U(n) (`utility.utility_curve`).

Encoders are named run directories (`encoders = {'rotation': ('runs/rotation', ['gin/rotation.gin']), ...}`): the
encoder of the latest checkpoint is rebuilt from the run's operative config exactly as `python -m tfssl.evaluate`
does (`core.experiment.load_run`). A directory without a checkpoint is trained first through the code path of
`python -m tfssl.train` (`core.experiment.run`) with its gin files, `TRAIN_STEPS = pretrain_steps` and
`pretrain_params`.

Resumable: each finished (setting, encoder, budget, seed) run writes `study_dir/runs/<config>/<task>/<encoder>/
n<budget>_s<seed>.json`; a restarted study skips them (and loads no encoder whose runs are all done). The settings
that change results are written to `study_dir/protocol.json`; a restart with other settings is refused (delete the
folder or pick another --model_dir) rather than mixing two protocols in one curve.

Outputs in study_dir: `utility.json` (every run, curves as mean/std/values, utilities with their edge-case status),
`accuracy_<config>_<task>.png` (fine-tuned and linear accuracy vs labels per encoder), `utility_<config>_<task>.png`,
and TensorBoard scalars under `tensorboard/` (step = label budget).
"""

from __future__ import annotations

import json
import math
import os
import platform
import shlex
import sys
import time
from typing import Mapping, Sequence

import gin
import numpy as np

from tfssl.data import pipelines
from tfssl.errors import UserError
from tfssl.evaluation import finetune, utility

__all__ = ["utility_study", "steps_for_budget", "summarize", "SCRATCH"]

SCRATCH = "scratch"  # the random-init encoder: fine-tuned, it is the scratch curve; probed, the random-feature floor
SCENES = "tfssl_scenes/base"


def steps_for_budget(labels: int, *, batch_size: int, epochs: float, min_steps: int, max_steps: int) -> int:
    """Optimizer steps of a run on `labels` examples: `epochs` passes, clipped to [min_steps, max_steps].

    The floor is the tiling of small budgets (the paper tiles short subsets to >= 10k samples an epoch); the ceiling
    keeps the full budget affordable on a CPU. Pretrained and scratch runs at one budget get the same count.
    """
    return int(min(max_steps, max(min_steps, math.ceil(epochs * labels / batch_size))))


def _settings(configs: Sequence[str], tasks: Sequence[str]) -> list[tuple[str, finetune.Task, str]]:
    """(config, task, resolved dataset name) for every setting; segmentation runs once, on tfssl_scenes."""
    out = []
    for name in tasks:
        task = finetune.get_task(name)
        if task.builder == "tfssl_scenes":
            out.append(("base", task, pipelines.resolve_name(SCENES)))
        else:
            out += [(config, task, pipelines.resolve_name(f"{task.builder}/{config}")) for config in configs]
    return out


def _resolve_budgets(budgets: Sequence, train_size: int) -> list[int]:
    """'full' -> the train split's size; budgets above it are dropped (a split cannot give more labels)."""
    resolved = set()
    for b in budgets:
        n = train_size if b == "full" else int(b)
        if n < 1:
            raise UserError(f"label budget {b!r} is not positive; use positive integers or 'full'")
        if n <= train_size:
            resolved.add(n)
    return sorted(resolved)


def _write_json(path: str, data) -> None:
    """Writes atomically (a killed study never leaves a half-written record that would count as finished)."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path + ".tmp", "w") as f:
        json.dump(data, f, indent=2, sort_keys=True)
    os.replace(path + ".tmp", path)


def _run_path(study_dir: str, config: str, task: str, encoder: str, labels: int, seed: int) -> str:
    return os.path.join(study_dir, "runs", config, task, encoder, f"n{labels}_s{seed}.json")


def _load_encoder(name: str, entry, pretrain_steps: int | None, pretrain_params: Sequence[str]) -> dict:
    """{"spec", "weights", "step", "model_dir", "training_seconds"} of a named run's encoder, training the run first
    if it has none (training_seconds: the time that took, 0 for a run that was already trained)."""
    import tensorflow as tf

    from tfssl.core import experiment

    model_dir, gin_files = (entry, ()) if isinstance(entry, str) else (entry[0], tuple(entry[1]))
    training_seconds = 0.0
    if tf.train.latest_checkpoint(os.path.join(model_dir, "ckpt")) is None:
        if not gin_files:
            raise UserError(f"encoder '{name}': no checkpoint in {model_dir}/ckpt and no gin files to train it; bind "
                            f"utility_study.encoders['{name}'] = ('{model_dir}', ['gin/<method>.gin'])")
        params = ([f"TRAIN_STEPS = {int(pretrain_steps)}"] if pretrain_steps else []) + list(pretrain_params)
        print(f"tfssl: utility: training encoder '{name}' into {model_dir} ({', '.join(gin_files)})", flush=True)
        begun = time.time()
        experiment.run(model_dir, list(gin_files), params, finalize=False)
        training_seconds = time.time() - begun
    if not os.path.exists(os.path.join(model_dir, "operative_config.gin")):
        raise UserError(f"encoder '{name}': {model_dir} has a checkpoint but no operative_config.gin; point the study "
                        "at a directory written by python -m tfssl.train")
    session = experiment.load_run(model_dir)
    encoder = session.method.encoder
    return {"spec": finetune.architecture(encoder), "weights": encoder.get_weights(), "step": session.trainer.step,
            "model_dir": model_dir, "training_seconds": training_seconds}


@gin.configurable(module="tfssl.evaluation")
def utility_study(study_dir: str, *, encoders: Mapping = gin.REQUIRED, configs: Sequence[str] = ("tc00",),
                  tasks: Sequence[str] = ("class", "pose"), budgets: Sequence = (100, 250, 1000, 4000, "full"),
                  seeds: Sequence[int] = (0, 1), batch_size: int = 64, learning_rate: float = 1e-3,
                  warmup_fraction: float = 0.1, bn_momentum: float = 0.9, epochs: float = 2.0, min_steps: int = 100,
                  max_steps: int = 300, linear_probe: bool = True, linear_epochs: int = 100,
                  max_test_examples: int | None = None, pretrain_steps: int | None = None,
                  pretrain_params: Sequence[str] = (), command: str | None = None) -> dict:
    """Runs (or resumes) the study into `study_dir` and returns the summary written to study_dir/utility.json.

    Args:
      study_dir: the output folder (`--model_dir`).
      encoders: {name: run_dir} or {name: (run_dir, [gin files to train it when it has no checkpoint])}. The name
        'scratch' is reserved: the random-init encoder of the first encoder's architecture is always added.
      configs: `tfssl_objects` factor configs of the object tasks (sizes follow `tfssl.data.dataset_size`).
      tasks: any of 'class', 'pose' (tfssl_objects) and 'segmentation' (tfssl_scenes foreground, pixel accuracy).
      budgets: label counts; 'full' is the whole train split; budgets above the split are dropped.
      seeds: one fine-tuning (and scratch) run per seed: head init, batch order, scratch init.
      batch_size, learning_rate, warmup_fraction, bn_momentum: the one schedule of every run (`finetune.FineTuner`).
      epochs, min_steps, max_steps: steps per run (`steps_for_budget`).
      linear_probe: also fit a linear probe on the frozen features at each budget (classification tasks).
      linear_epochs: the probe's epochs.
      max_test_examples: cap on test examples per setting (None: the whole test split).
      pretrain_steps: TRAIN_STEPS of encoders the study has to train (None: their gin files' own).
      pretrain_params: more gin bindings for those trainings (e.g. "tfssl.Experiment.export = False").
      command: recorded in utility.json (default: this process's command line).
    """
    begun = time.time()
    encoders = dict(encoders)
    if not encoders:
        raise UserError("utility_study.encoders is empty; name at least one run directory")
    if SCRATCH in encoders:
        raise UserError(f"encoder name '{SCRATCH}' is reserved for the random-init encoder; rename it")
    if not 1 <= min_steps <= max_steps or batch_size < 1:
        raise UserError(f"utility_study needs 1 <= min_steps <= max_steps and batch_size >= 1, got min_steps="
                        f"{min_steps}, max_steps={max_steps}, batch_size={batch_size}")
    names = list(encoders) + [SCRATCH]
    # Everything the study reads from gin or the data happens before any encoder is loaded: loading a run re-parses
    # gin with that run's config (and its dataset size).
    settings = _settings(configs, tasks)
    os.makedirs(study_dir, exist_ok=True)
    from tfssl.core import config as gin_config

    gin_config.write_operative_config(study_dir, gin_config.operative_config())
    data, plan = {}, []
    for config, task, dataset in settings:
        train_size = int(pipelines.split_size(dataset, "train"))
        resolved = _resolve_budgets(budgets, train_size)
        dropped = [b for b in budgets if b != "full" and int(b) > train_size]
        if dropped:
            print(f"tfssl: utility: {dataset} has {train_size} training examples; budgets {dropped} dropped", flush=True)
        if not resolved:
            raise UserError(f"no label budget fits {dataset}'s {train_size} training examples; lower the budgets")
        data[(config, task.name)] = {"dataset": dataset, "budgets": resolved, "train": None, "test": None}
        plan += [(config, task, name, n, seed) for name in names for n in resolved for seed in seeds]
    protocol = {"configs": list(configs), "tasks": list(tasks), "budgets": [str(b) for b in budgets],
                "seeds": list(seeds), "batch_size": batch_size, "learning_rate": learning_rate,
                "warmup_fraction": warmup_fraction, "bn_momentum": bn_momentum, "epochs": epochs,
                "min_steps": min_steps, "max_steps": max_steps, "linear_probe": linear_probe,
                "linear_epochs": linear_epochs, "max_test_examples": max_test_examples,
                "datasets": sorted({d["dataset"] for d in data.values()}),
                "encoders": {k: (v if isinstance(v, str) else v[0]) for k, v in encoders.items()}}
    protocol_path = os.path.join(study_dir, "protocol.json")
    if os.path.exists(protocol_path):
        with open(protocol_path) as f:
            previous = json.load(f)
        changed = sorted(k for k in set(previous) | set(protocol) if previous.get(k) != protocol.get(k))
        if changed:
            raise UserError(f"{study_dir} holds a study run with other settings ({', '.join(changed)} differ); "
                            "delete it or pass another --model_dir")
    _write_json(protocol_path, protocol)

    pending = [p for p in plan if not os.path.exists(_run_path(study_dir, p[0], p[1].name, p[2], p[3], p[4]))]
    already_done = len(plan) - len(pending)
    print(f"tfssl: utility: {len(plan)} runs, {already_done} already done", flush=True)
    encoder_training_seconds = 0.0
    if pending:
        for (config, task_name), entry in data.items():
            task = finetune.get_task(task_name)
            largest = max(entry["budgets"])
            entry["train"] = finetune.load_task_arrays(task, entry["dataset"], "train", largest)
            entry["test"] = finetune.load_task_arrays(task, entry["dataset"], "test", max_test_examples)
        needed = {p[2] for p in pending} - {SCRATCH}
        if SCRATCH in {p[2] for p in pending}:
            needed.add(next(iter(encoders)))  # the scratch architecture
        loaded = {name: _load_encoder(name, encoders[name], pretrain_steps, pretrain_params)
                  for name in encoders if name in needed}
        encoder_training_seconds = sum(e["training_seconds"] for e in loaded.values())
        _run_pending(study_dir, pending, data, loaded, next(iter(encoders)), batch_size=batch_size,
                     learning_rate=learning_rate, warmup_fraction=warmup_fraction, bn_momentum=bn_momentum,
                     epochs=epochs, min_steps=min_steps, max_steps=max_steps, linear_probe=linear_probe,
                     linear_epochs=linear_epochs)

    records = []
    for config, task, name, n, seed in plan:
        with open(_run_path(study_dir, config, task.name, name, n, seed)) as f:
            records.append(json.load(f))
    summary = {
        "study": "utility",
        "command": command or " ".join(shlex.quote(a) for a in ["python", "-m", "tfssl.evaluate", *sys.argv[1:]]),
        "protocol": protocol,
        "settings": summarize(records),
        "runs": records,
        # The study's own wall time is seconds_this_invocation - seconds_encoder_training (for a study that was not
        # resumed): the time to train missing encoders is the methods' training budget, not the study's.
        "seconds_this_invocation": time.time() - begun,
        "seconds_encoder_training": encoder_training_seconds,
        "runs_already_done": already_done,
        "seconds_all_runs": float(sum(r["seconds"] for r in records)),
        "machine": {"cpus": os.cpu_count(), "processor": platform.processor() or platform.machine(),
                    "python": sys.version.split()[0]},
    }
    _write_json(os.path.join(study_dir, "utility.json"), summary)
    plot_study(summary, study_dir)
    write_tensorboard(summary, os.path.join(study_dir, "tensorboard"))
    print(f"tfssl: utility: results in {study_dir}/utility.json", flush=True)
    return summary


def _run_pending(study_dir, pending, data, loaded, first, *, batch_size, learning_rate, warmup_fraction,
                 bn_momentum, epochs, min_steps, max_steps, linear_probe, linear_epochs) -> None:
    """Trains every pending run, writing each record as it finishes (the progress bar counts runs)."""
    import keras

    tuners, features = {}, {}
    bar = keras.utils.Progbar(len(pending), unit_name="run", stateful_metrics=["last_accuracy"])
    for i, (config, task, name, n, seed) in enumerate(pending):
        entry = data[(config, task.name)]
        source = loaded[first if name == SCRATCH else name]
        key = (task.name, json.dumps(source["spec"], sort_keys=True, default=str))
        if key not in tuners:
            tuners[key] = finetune.FineTuner(source["spec"], task, batch_size=batch_size,
                                             learning_rate=learning_rate, warmup_fraction=warmup_fraction,
                                             bn_momentum=bn_momentum)
        tuner = tuners[key]
        # Scratch seed s starts from its own random init; the head init and batch order of seed s are the same for
        # every encoder, so pretrained and scratch runs of one seed differ only in the encoder's start.
        start = tuner.fresh_weights(10_000 + seed) if name == SCRATCH else source["weights"]
        images, targets = entry["train"][0][:n], entry["train"][1][:n]
        steps = steps_for_budget(n, batch_size=batch_size, epochs=epochs, min_steps=min_steps, max_steps=max_steps)
        record = tuner.run(start, images, targets, steps=steps, seed=seed)
        record.update(config=config, task=task.name, dataset=entry["dataset"], encoder=name, labels=n, seed=seed,
                      accuracy=tuner.accuracy(*entry["test"]), encoder_step=0 if name == SCRATCH else source["step"],
                      model_dir=None if name == SCRATCH else source["model_dir"], linear_accuracy=None)
        if linear_probe and not task.dense:
            # Features depend on the images and the encoder only: the class and pose tasks of one config share them.
            fkey = (entry["dataset"], name, seed if name == SCRATCH else None)
            if fkey not in features:
                features[fkey] = _features(tuner, start, entry)
            (train_x, _), (test_x, _) = features[fkey]
            probe_data = ((train_x, entry["train"][1]), (test_x, entry["test"][1]))
            record["linear_accuracy"] = _probe(probe_data, n, task.num_classes, linear_epochs, seed)
        _write_json(_run_path(study_dir, config, task.name, name, n, seed), record)
        bar.update(i + 1, values=[("last_accuracy", record["accuracy"])])


def _features(tuner: finetune.FineTuner, weights, entry) -> tuple:
    """Frozen features of the encoder at `weights` on the train examples and the test split: ((x, y), (x, y))."""
    import tensorflow as tf

    from tfssl.evaluation.features import extract_features

    encoder = finetune.build_encoder(tuner.encoder_spec)
    encoder.set_weights(weights)

    def dataset(images, labels):
        return tf.data.Dataset.from_tensor_slices({"image": images, "label": labels}).map(
            lambda ex: {"image": tf.cast(ex["image"], tf.float32) / 255.0, "label": ex["label"]})

    return (extract_features(encoder, dataset(*entry["train"])), extract_features(encoder, dataset(*entry["test"])))


def _probe(features, n: int, num_classes: int, epochs: int, seed: int) -> float:
    from tfssl.evaluation.linear_probe import evaluate_linear_probe

    (train_x, train_y), (test_x, test_y) = features
    return evaluate_linear_probe(train_x[:n], train_y[:n], test_x, test_y, num_classes=num_classes, epochs=epochs,
                                 seed=seed)["top1"]


# ---------------------------------------------------------------------------------------------------------------
# Summary, plots, TensorBoard: pure functions of the run records.

def _stats(values: Sequence[float]) -> dict:
    values = [float(v) for v in values]
    std = float(np.std(values, ddof=1)) if len(values) > 1 else 0.0
    return {"mean": float(np.mean(values)), "std": std, "values": values}


def summarize(records: Sequence[dict]) -> dict:
    """Run records -> {"<config>/<task>": {"dataset", "budgets", "encoders": {name: {"finetune": {n: stats},
    "linear": {n: stats}, "utility": {n: Utility dict}}}}}; budgets as string keys (JSON)."""
    grouped: dict = {}
    for r in records:
        setting = grouped.setdefault(f"{r['config']}/{r['task']}", {"dataset": r["dataset"], "runs": {}})
        per = setting["runs"].setdefault(r["encoder"], {})
        per.setdefault(int(r["labels"]), []).append(r)
    out = {}
    for key, setting in sorted(grouped.items()):
        encoders = {}
        for name, per_budget in sorted(setting["runs"].items()):
            encoders[name] = {
                "finetune": {str(n): _stats([r["accuracy"] for r in rs]) for n, rs in sorted(per_budget.items())},
                "linear": {str(n): _stats([r["linear_accuracy"] for r in rs]) for n, rs in sorted(per_budget.items())
                           if all(r["linear_accuracy"] is not None for r in rs)},
            }
        scratch = setting["runs"].get(SCRATCH)
        if scratch:
            curve = {n: [r["accuracy"] for r in rs] for n, rs in scratch.items()}
            for name, entry in encoders.items():
                if name == SCRATCH:
                    continue
                means = {int(n): s["mean"] for n, s in entry["finetune"].items()}
                entry["utility"] = {str(int(u.labels)): u.as_dict() for u in utility.utility_curve(means, curve)}
        out[key] = {"dataset": setting["dataset"],
                    "budgets": sorted({int(n) for per in setting["runs"].values() for n in per}),
                    "encoders": encoders}
    return out


def plot_study(summary: dict, folder: str) -> list[str]:
    """accuracy_<config>_<task>.png and utility_<config>_<task>.png for every setting; returns the paths."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as error:
        raise UserError("the utility study's plots need matplotlib; pip install 'tfssl[plots]'") from error
    paths = []
    for key, setting in summary["settings"].items():
        stem = key.replace("/", "_")
        fig, ax = plt.subplots(figsize=(6, 4))
        for i, (name, entry) in enumerate(setting["encoders"].items()):
            colour = f"C{i}"
            ns = [int(n) for n in entry["finetune"]]
            ax.errorbar(ns, [100 * s["mean"] for s in entry["finetune"].values()],
                        yerr=[100 * s["std"] for s in entry["finetune"].values()], color=colour, marker="o",
                        capsize=3, label=f"{name} fine-tuned")
            if entry["linear"]:
                ax.plot([int(n) for n in entry["linear"]], [100 * s["mean"] for s in entry["linear"].values()],
                        color=colour, linestyle="--", marker="x", label=f"{name} linear")
        ax.set(xscale="log", xlabel="labelled training examples", ylabel="test accuracy (%)",
               title=f"{setting['dataset']}: {key.split('/')[-1]}")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
        paths.append(os.path.join(folder, f"accuracy_{stem}.png"))
        fig.savefig(paths[-1], dpi=100, bbox_inches="tight")
        plt.close(fig)

        fig, ax = plt.subplots(figsize=(6, 4))
        ax.axhline(0.0, color="grey", linewidth=0.8)
        for i, (name, entry) in enumerate(setting["encoders"].items()):
            if "utility" not in entry:
                continue
            points = [(int(n), u) for n, u in entry["utility"].items()]
            measured = [(n, u["value"]) for n, u in points if u["value"] is not None]
            ax.plot([n for n, _ in measured], [v for _, v in measured], color=f"C{i}", marker="o", label=name)
            beyond = [(n, u["lower_bound"]) for n, u in points if u["status"] == utility.BEYOND]
            if beyond:  # beyond the scratch range: U is above this bound, drawn as an upward triangle
                ax.scatter([n for n, _ in beyond], [b for _, b in beyond], color=f"C{i}", marker="^", s=60,
                           label=f"{name}: above (beyond scratch's range)")
            below = [n for n, u in points if u["status"] == utility.BELOW]
            if below:  # below scratch's first point: U = -1 as in the reference, marked as the bound it is
                ax.scatter(below, [-1.0] * len(below), color=f"C{i}", marker="v", s=60,
                           label=f"{name}: -1 (below scratch's first point)")
        ax.set(xscale="log", xlabel="labelled training examples", ylabel="utility n_s(a)/n - 1",
               title=f"{setting['dataset']}: {key.split('/')[-1]}")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
        paths.append(os.path.join(folder, f"utility_{stem}.png"))
        fig.savefig(paths[-1], dpi=100, bbox_inches="tight")
        plt.close(fig)
    return paths


def write_tensorboard(summary: dict, folder: str) -> None:
    """Scalars <config>/<task>/<encoder>/{finetune,linear,utility} with step = label budget."""
    import tensorflow as tf

    writer = tf.summary.create_file_writer(folder)
    with writer.as_default():
        for key, setting in summary["settings"].items():
            for name, entry in setting["encoders"].items():
                for kind in ("finetune", "linear"):
                    for n, s in entry[kind].items():
                        tf.summary.scalar(f"{key}/{name}/{kind}_accuracy", s["mean"], step=int(n))
                for n, u in entry.get("utility", {}).items():
                    if u["value"] is not None:
                        tf.summary.scalar(f"{key}/{name}/utility", u["value"], step=int(n))
    writer.flush()
