"""MODEL_ZOO.md and the README's methods table, generated from benchmarks/results/<method>/*.json.

    python benchmarks/model_zoo.py            # write MODEL_ZOO.md and the README block
    python benchmarks/model_zoo.py --check    # exit 1, naming each stale file, when either differs

Every JSON a benchmark script writes records the command that produced it ("command"). This script renders each file
with the renderer of that script (one small pure function per schema: dict -> markdown lines; a study run by
`python -m tfssl.evaluate`, which records `"study": NAME`, with the renderer of that study), under its method's
heading, with the command and the environment it ran in; `benchmarks/results/speed/*.json` (step times of every
method) gets a section of its own when present. It also rewrites the block of README.md between
`<!-- methods-table:begin -->` and `<!-- methods-table:end -->`: one row per method, its status against its quality
bar and its headline numbers, computed from the same JSON. Status wording lives in METHODS below; every number comes
from a JSON file.

The output is deterministic (files and keys sorted, fixed decimal places rounded half-up from the stored values), so
`--check` can tell a stale file. Standard library only: no TensorFlow, so the check is fast.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from decimal import ROUND_HALF_UP, Decimal
from typing import Callable

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RESULTS = os.path.join("benchmarks", "results")
MODEL_ZOO = "MODEL_ZOO.md"
README = "README.md"
BEGIN, END = "<!-- methods-table:begin -->", "<!-- methods-table:end -->"

# tfssl_scenes category k >= 1 is tfssl.data.render.shapes.CLASS_NAMES[k - 1] (tests/test_model_zoo.py checks).
SHAPE_NAMES = ("disc", "square", "triangle", "star", "cross", "ring", "heart", "crescent", "arrow", "hexagon")
# Section order of MODEL_ZOO.md; other result folders follow in sorted order, speed comes last.
METHOD_ORDER = ("rotation", "pcnet", "lci", "pirl", "keypoints", "s3vae", "utility")
METHOD_TITLES = {"rotation": "Rotation", "pcnet": "PCNet", "lci": "LCI", "pirl": "PIRL", "speed": "Speed",
                 "keypoints": "KeypointGAN", "s3vae": "S3VAE", "utility": "Utility study (Newell & Deng)"}

# What a reader must know to rerun a file's command as it ran (no numbers here: those come from the JSON).
PRE_FLIP = ("Ran before `gin/lci.gin` set `tfssl.methods.LCI.flip = True`: to rerun it as it ran, add "
            "`--param=RUN=tfssl.methods.LCI.flip=False` for each LCI run RUN.")
PRE_BATCH = ("Ran while `gin/pirl.gin` used the memory bank (`negatives='bank'`, the paper's; the file has used "
             "in-batch negatives since issue #21): to rerun it as it ran, add "
             "`--param=RUN=tfssl.methods.PIRL.negatives='bank'` for each PIRL run RUN that does not bind it.")
FILE_NOTES = {
    "pirl/pirl_vs_rotation_0c00_400.json": PRE_BATCH,
    "pirl/pirl_subset_400.json": PRE_BATCH,
    "pirl/pirl_npid_weak_200.json": PRE_BATCH,
    "pirl/pirl_negatives_tc00_pool_1000.json": PRE_BATCH,
    "pirl/pirl_grey_tc00_1000.json": PRE_BATCH,
    "pirl/pirl_grey_0c00_1000.json": PRE_BATCH,
    "pirl/pirl_augment_400.json": PRE_BATCH,
    "pirl/pirl_1500.json": PRE_BATCH,
    "lci/lci_ablation_1500.json": PRE_FLIP,
    "lci/lci_ablation_400.json": PRE_FLIP,
    "lci/lci_batch64_400.json": PRE_FLIP,
    "lci/lci_patch24_400.json": PRE_FLIP,
    "lci/lci_vs_rotation_1500.json": PRE_FLIP,
    "lci/lci_vs_rotation_400.json": PRE_FLIP,
    "lci/lci_vs_rotation_tc0l_400.json": PRE_FLIP,
    "lci/rotation_shortcut.json": "Probes the runs of `lci_vs_rotation_1500.json` and `lci_ablation_1500.json` "
                                  "(before the flip, as those).",
    "pcnet/pcnet_ablation_m_only_5600.json": "Ran at commit 0d9967e.",
    "rotation/rotation.json": "Ran with `--speed_steps=30` (the script did not record that flag then).",
    "s3vae/s3vae_vs_dsvae.json": "Both runs trained while other processes ran tests at nice 15 beside them (load "
                                  "average 4-8), which inflates their times: the same S3VAE network, with only a "
                                  "nice-10 evaluation beside it for its last 3 minutes, took 6.3 min for the same "
                                  "1,500 steps in `s3vae_regularisers_x100.json`.",
    "keypoints/keypoints_3000.json": "Ran while `gin/keypoints.gin` bound `TRAIN_STEPS = 3000`, which took 36.2 "
                                     "minutes with eta's pre-training (over the 30-minute budget); `keypoints.json` "
                                     "is the same benchmark at the file's 2,250 steps. To rerun it as it ran, add "
                                     "`--param=keypoints=TRAIN_STEPS=3000`.",
    "speed/speed.json": "All six methods measured in one run on an otherwise idle machine (no other job), "
                        "embedded defaults as the gin files bind them (PIRL with in-batch negatives).",
}


# ---------------------------------------------------------------------------------------------------------------
# Number formatting: half-up rounding of the value as stored in the JSON, so 0.6035 reads 60.4, never 60.3.

def fixed(x, places: int, scale: int = 1) -> str:
    """x * scale with `places` decimals ('–' for a missing value)."""
    if x is None:
        return "–"
    value = Decimal(repr(float(x))) * scale
    return str(value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP))


def pct(x, places: int = 1) -> str:
    """A fraction in [0, 1] as a percentage without the sign: 0.6055 -> '60.6'."""
    return fixed(x, places, 100)


def minutes(seconds) -> str:
    return fixed(None if seconds is None else seconds / 60.0, 1)


def short(x) -> str:
    """A logged training output (loss, accuracy) to four significant digits."""
    return "–" if x is None else f"{x:.4g}"


def outputs(values: dict | None) -> str:
    """{'loss': 0.48, ...} -> 'loss 0.48, ...' in key order."""
    return ", ".join(f"{k} {short(v)}" for k, v in sorted((values or {}).items())) or "–"


def table(header: list[str], rows: list[list[str]]) -> list[str]:
    """A markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return lines + ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]


def facts(pairs: list[tuple[str, str]]) -> list[str]:
    """A two-column quantity/value table."""
    return table(["quantity", "value"], [[k, v] for k, v in pairs])


def mean_std(summary: dict) -> str:
    """compare.py's {'mean', 'std', 'values'} as 'mean ± std' in percent (just the mean for one seed)."""
    if len(summary.get("values", [])) > 1:
        return f"{pct(summary['mean'])} ± {pct(summary['std'])}"
    return pct(summary["mean"])


def run_label(path: str) -> str:
    """A run's model_dir, shortened to its last two components (dataset/run)."""
    return "/".join(path.rstrip("/").split("/")[-2:])


# ---------------------------------------------------------------------------------------------------------------
# One renderer per benchmark script: a pure function from the script's JSON to markdown lines.

def render_compare(data: dict) -> list[str]:
    """benchmarks/compare.py: probes per dataset and run (mean ± std over seeds), learning curves, every seed."""
    runs = data.get("runs", {})
    described = [f"`{name}`: `{run['gin_file']}`" + (" with " + ", ".join(f"`{p}`" for p in run["params"])
                                                     if run["params"] else "")
                 for name, run in sorted(runs.items())]
    lines = [f"{data['train_steps']} steps, seeds {', '.join(str(s) for s in data['seeds'])}. Runs: "
             + "; ".join(described) + ("; `random_init`: the first run's encoder as built, never trained."
                                       if any("random_init" in r for r in data["results"].values()) else "."), ""]
    rows, curves, seeds = [], [], []
    for dataset, per_run in sorted(data["results"].items()):
        for name, entry in sorted(per_run.items()):
            rows.append([f"`{dataset}`", name, mean_std(entry["linear_top1"]), mean_std(entry["knn_top1"])])
            if "curve" in entry:
                curves.append((dataset, name, entry["curve"]))
            for s in entry["seeds"]:
                seeds.append([f"`{dataset}`", name, s["seed"], s.get("step", "–"), pct(s["linear_top1"]),
                              pct(s["knn_top1"]), pct(s.get("linear_train_top1")), minutes(s.get("train_seconds")),
                              fixed(s.get("median_step_seconds"), 3), outputs(s.get("final_train_outputs"))])
    lines += table(["data", "run", "linear top-1 %", "kNN top-1 %"], rows)
    if curves:
        steps = sorted({int(step) for *_, curve in curves for step in curve})
        lines += ["", "Learning curve, linear / kNN top-1 % at each step:", ""]
        lines += table(["data", "run", *[f"step {s}" for s in steps]], [
            [f"`{dataset}`", name, *[f"{mean_std(curve[str(s)]['linear_top1'])} / {mean_std(curve[str(s)]['knn_top1'])}"
                                     if str(s) in curve else "–" for s in steps]]
            for dataset, name, curve in curves])
    lines += ["", "Every seed:", ""]
    lines += table(["data", "run", "seed", "step", "linear %", "kNN %", "linear on train %", "train min",
                    "s/step (median)", "last training outputs"], seeds)
    return lines


def render_rotation(data: dict) -> list[str]:
    """benchmarks/rotation.py: probes of the trained, random-init and raw-pixel encoders, time and speed."""
    probes = data["probes"]
    names = {"trained": f"trained (step {probes['trained'].get('step', '–')})", "random_init": "random init",
             "raw_pixels": "raw pixels (no encoder)"}
    rows = [[names.get(k, k), pct(p["linear_top1"]), pct(p["knn_top1"]), pct(p.get("linear_train_top1")),
             p.get("num_train", "–"), p.get("num_test", "–")] for k, p in sorted(probes.items())]
    jit, pipeline = data["jit_compile"], data["input_pipeline"]
    return table(["encoder", "linear top-1 %", "kNN top-1 %", "linear on train %", "train images", "test images"],
                 rows) + [""] + facts([
        ("linear gain over random init (points)", fixed(data["linear_gain_over_random_points"], 1)),
        ("train steps, global batch", f"{data['train_steps']}, {data['global_batch']}"),
        ("training time (min)", minutes(data["train_seconds"])),
        ("train + evaluate + export (min)", minutes(data["total_seconds_train_eval_export"])),
        ("median step (s)", fixed(data["median_step_seconds"], 3)),
        ("source images/s, rotated images/s", f"{fixed(data['images_per_second'], 1)}, "
                                              f"{fixed(data['rotated_images_per_second'], 1)}"),
        ("median step without / with jit_compile (s)", f"{fixed(jit['off_median_step_seconds'], 3)} / "
                                                       f"{fixed(jit['on_median_step_seconds'], 3)} "
                                                       f"({fixed(jit['on_over_off'], 2)}x)"),
        ("input pipeline alone, first / later batches (images/s)",
         f"{fixed(pipeline['first_batches_images_per_second'], 0)} / "
         f"{fixed(pipeline['later_images_per_second'], 0)}"),
        ("last training outputs", outputs(data.get("final_train_outputs"))),
    ])


BASELINE_NAMES = {"area": "Area", "yaxis": "Y-axis", "convex": "Convex hull", "raw": "Raw",
                  "mean_fill": "mean-colour fill"}
# De-occlusion metrics in the order the paper reports them: (key, label, formatter).
DEOCCLUSION_METRICS = (
    ("order_accuracy", "ordering accuracy %", lambda x: pct(x, 1)),
    ("amodal_miou", "amodal mIoU (x100)", lambda x: pct(x, 2)),
    ("invisible_iou", "invisible-region IoU (x100)", lambda x: pct(x, 1)),
    ("content_l1", "hidden-pixel L1", lambda x: fixed(x, 4)),
    ("content_psnr", "hidden-pixel PSNR (dB)", lambda x: fixed(x, 2)),
)


def deocclusion_table(metrics: dict, model: str) -> list[str]:
    """{'order_accuracy': .., 'order_accuracy_area': .., ...} -> metric | model | each baseline, by the same code."""
    rows = []
    for key, label, form in DEOCCLUSION_METRICS:
        if key not in metrics:
            continue
        baselines = sorted(k[len(key) + 1:] for k in metrics if k.startswith(key + "_"))
        rows.append([label, form(metrics[key]),
                     ", ".join(f"{BASELINE_NAMES.get(b, b)} {form(metrics[f'{key}_{b}'])}" for b in baselines)
                     or "–"])
    counts = ", ".join(f"{k[len('num_'):]} {v}" for k, v in sorted(metrics.items()) if k.startswith("num_"))
    return table(["metric", model, "baselines (same code)"], rows) + (["", f"Counted: {counts}."] if counts else [])


BAR_LABELS = {"order_accuracy_at_least_95": "ordering accuracy >= 95%",
              "order_accuracy_above_every_baseline": "ordering above every baseline",
              "amodal_miou_5_points_above_best_baseline": "amodal mIoU >= 5 points above the best baseline",
              "content_l1_below_mean_fill": "hidden-pixel L1 below the mean-colour fill"}


def render_pcnet(data: dict) -> list[str]:
    """benchmarks/pcnet.py: de-occlusion metrics against the paper's baselines, the quality bar, time."""
    bar = data["done_bar"]
    criteria = sorted(k for k, v in bar.items() if isinstance(v, bool) and k != "all")
    lines = deocclusion_table(data["metrics"], "PCNet") + ["", "Quality bar:", ""]
    lines += table(["criterion", "met"], [[BAR_LABELS.get(c, c), "yes" if bar[c] else "**no**"] for c in criteria]
                   + [["all", "yes" if bar["all"] else "**no**"]])
    return lines + [""] + facts([
        ("ordering margin over the best baseline (points)", fixed(bar["order_margin_over_best_baseline_points"], 1)),
        ("amodal mIoU margin over the best baseline (points)", fixed(bar["amodal_margin_over_best_baseline_points"],
                                                                     2)),
        ("train steps, global batch", f"{data['train_steps']}, {data['global_batch']}"),
        ("training time (min)", fixed(data["train_minutes"], 1)),
        ("median step (s)", fixed(data["median_step_seconds"], 3)),
        ("evaluation (s)", fixed(data["evaluation_seconds"], 0)),
        ("train + evaluate + export (min)", minutes(data["total_seconds_train_eval_export"])),
        ("last training outputs", outputs(data.get("final_train_outputs"))),
    ])


def render_deocclusion_oracle(data: dict) -> list[str]:
    """benchmarks/deocclusion_oracle.py: true amodal masks through tfssl's inference (the rule's ceiling)."""
    return deocclusion_table(data["oracle_and_baselines"], "oracle") + ["", f"`{data['dataset']}` "
        f"{data['split']} split, {data['max_examples']} scenes, {data['num_pairs_with_relation']} ordered pairs; "
        f"{fixed(data['seconds'], 0)} s."]


def _category(key: str) -> str:
    index = int(key)
    return SHAPE_NAMES[index - 1] if 1 <= index <= len(SHAPE_NAMES) else key


def _bucket_start(key: str) -> float:
    return float(key.split("-")[0])


def render_pcnet_diagnosis(data: dict) -> list[str]:
    """benchmarks/pcnet_diagnosis.py: ordering by decision statistic, where it fails, amodal threshold, content."""
    ordering = data["ordering"]
    lines = [f"`{data['dataset']}` {data['split']} split, {data['max_examples']} scenes, {ordering['num_pairs']} "
             f"ordered pairs, model at step {data['model_step']}; {fixed(data['seconds'], 0)} s.", "",
             "Ordering accuracy of the reference rule with other decision statistics from the same PCNet-M "
             "probabilities (`d0`: eraser as is, `d1`: dilated by one pixel; `flip/`: PCNet-M averaged with its "
             "mirror image; `count@t`: pixels above t; `soft`: summed probability):", ""]
    lines += table(["evidence", "accuracy %", "ties %"], [[f"`{k}`", pct(v), pct(ordering["ties"].get(k))]
                                                          for k, v in sorted(ordering["accuracy"].items())])
    rules = data.get("ordering_rules")
    if rules:
        lines += ["", f"Pairs decided alone or together (order_score `{rules['order_score']}`, flip_average "
                      f"{rules['flip_average']}):", ""]
        lines += table(["rule", "accuracy %", "pairs"], [[k, pct(v["accuracy"]), v["pairs"]]
                                                         for k, v in sorted(rules.items()) if isinstance(v, dict)])
    lines += ["", "Reference rule, growth of the truly front instance into the back one and of the back one into "
                  "its hidden part:", ""]
    lines += table(["pairs", "count", "median front growth (px)", "median back growth (fraction of hidden)"], [
        [which, ordering[f"reference_rule_{which}_pairs"].get("count", "–"),
         fixed(ordering[f"reference_rule_{which}_pairs"]["median_front_growth_pixels"], 1),
         fixed(ordering[f"reference_rule_{which}_pairs"]["median_back_growth_fraction_of_hidden"], 3)]
        for which in ("right", "wrong")])
    lines += ["", "Reference rule's error by the occluded instance's hidden pixels:", ""]
    lines += table(["hidden pixels", "error %", "pairs"], [
        [k, pct(v["error"]), v["pairs"]]
        for k, v in sorted(ordering["error_by_hidden_pixels"].items(), key=lambda kv: _bucket_start(kv[0]))])
    if "error_by_front_category" in ordering:
        front, back = ordering["error_by_front_category"], ordering["error_by_back_category"]
        lines += ["", "Reference rule's error by category of the front and of the back instance:", ""]
        lines += table(["category", "front: error % (pairs)", "back: error % (pairs)"], [
            [_category(k), f"{pct(front[k]['error'])} ({front[k]['pairs']})" if k in front else "–",
             f"{pct(back[k]['error'])} ({back[k]['pairs']})" if k in back else "–"]
            for k in sorted(set(front) | set(back), key=int)])
    amodal = data["amodal_by_threshold"]
    rule = ", ".join(f"{k} {amodal[k]}" for k in ("order_score", "flip_average", "total_order") if k in amodal)
    lines += ["", f"Amodal masks by threshold ({rule}):", ""]
    lines += table(["threshold", "amodal mIoU (x100)", "invisible-region IoU (x100)"], [
        [k, pct(v["amodal_miou"], 2), pct(v["invisible_iou"], 1)]
        for k, v in sorted(amodal.items(), key=lambda kv: kv[0]) if isinstance(v, dict)])
    content = data["content_in_distribution"]
    lines += ["", f"Content on {content['samples']} training-style samples: hidden-pixel L1 PCNet-C "
                  f"{fixed(content['pcnet_l1'], 4)}, mean-colour fill {fixed(content['mean_fill_l1'], 4)}."]
    return lines


def render_pirl_pretext(data: dict) -> list[str]:
    """benchmarks/pirl_pretext.py: instance retrieval between two views, trained and untrained, with the probes."""
    rows = []
    for name, entry in sorted(data["results"].items()):
        probes = entry.get("probes", {})
        for which in ("trained", "untrained"):
            r = entry[which]
            bank = r.get("bank", {})
            rows.append([name, which, r["step"], r["num_images"], pct(r["views"]["top1"]),
                         fixed(r["views"]["positive_cosine"], 3), fixed(r["views"]["negative_cosine"], 3),
                         pct(bank.get("top1")), fixed(bank.get("positive_cosine"), 3),
                         fixed(bank.get("negative_cosine"), 3),
                         pct(probes.get("linear_top1")) if which == "trained" else "–",
                         pct(probes.get("knn_top1")) if which == "trained" else "–"])
    return table(["run", "encoder", "step", "images", "view top-1 %", "view cos +", "view cos −", "bank top-1 %",
                  "bank cos +", "bank cos −", "linear %", "kNN %"], rows)


def render_object_swap(data: dict) -> list[str]:
    """benchmarks/object_swap.py: how often composites sit nearer the object's image than the background's."""
    rows = [[name, r["step"], fixed(r["object_preference"], 3), pct(r.get("probes", {}).get("linear_top1")),
             pct(r.get("probes", {}).get("knn_top1"))] for name, r in sorted(data["results"].items())]
    return [f"`{data['dataset']}` {data['split']} split, {data['num_images']} composites.", ""] + table(
        ["run", "step", "object preference", "linear %", "kNN %"], rows)


def _ordered_classes(names) -> list[str]:
    known = [n for n in SHAPE_NAMES if n in names]
    return known + sorted(set(names) - set(known))


def render_rotation_shortcut(data: dict) -> list[str]:
    """benchmarks/rotation_shortcut.py: how often each run's classifier names the rotation of held-out images."""
    rows = []
    for run_dir, result in sorted(data["runs"].items()):
        variants = [("plain", result)] + ([("autoencoded patch", result["autoencoded"])]
                                          if "autoencoded" in result else [])
        for variant, per_data in variants:
            for dataset, r in sorted((k, v) for k, v in per_data.items() if isinstance(v, dict) and "accuracy" in v):
                rows.append((run_label(run_dir), result["step"], dataset, variant, r))
    classes = _ordered_classes({c for *_, r in rows for c in r["by_class"]})
    return [f"{data['split']} split, {data['max_examples']} images per dataset, each in four rotations; rotation "
            "named correctly, %:", ""] + table(
        ["run", "step", "data", "images", "all", *classes],
        [[run, step, f"`{dataset}`", variant, pct(r["accuracy"]), *[pct(r["by_class"].get(c)) for c in classes]]
         for run, step, dataset, variant, r in rows])


def render_speed(data: dict) -> list[str]:
    """benchmarks/results/speed/*.json: per method, full and bare train-step times and throughput.

    `overhead` is the wall-time ratio full / bare; `overhead_cpu` the same ratio in process CPU time, which other
    jobs on a shared machine disturb far less (benchmarks/speed.py's docstring says why). Where the two disagree,
    the machine was busy while the wall times were taken."""
    columns = [("full s/step", "full_step_s_median", 3), ("bare s/step", "bare_step_s_median", 3),
               ("overhead", "overhead", 2), ("overhead (CPU time)", "overhead_cpu", 2),
               ("images/s", "images_per_s", 1), ("global batch", "global_batch", None),
               ("periodic s/step", None, 4), ("steps timed", "steps", None)]

    def cell(m: dict, key, digits):
        value = m.get("periodic", {}).get("per_step_s") if key is None else m.get(key)
        if value is None:
            return "–"
        return fixed(value, digits) if digits is not None else str(value)

    return table(["method", *[c[0] for c in columns]],
                 [[name, *[cell(m, key, digits) for _, key, digits in columns]]
                  for name, m in sorted(data["methods"].items())])


def significant(x, digits: int = 4) -> str:
    """A metric of unknown scale to `digits` significant digits, rounded half-up ('–' for a missing value)."""
    if x is None:
        return "–"
    d = Decimal(repr(x))
    if d == 0:
        return "0"
    quantum = Decimal(1).scaleb(d.adjusted() - digits + 1)
    return str(d.quantize(quantum, rounding=ROUND_HALF_UP).normalize()) if quantum < 1 else str(
        d.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def render_train_eval(data: dict) -> list[str]:
    """benchmarks/train_eval.py: every numeric metric of each run's own evaluations (mean ± std over seeds), time."""
    runs = sorted(data["results"])
    metrics = sorted({(evaluation, key) for r in runs for evaluation, values in
                      data["results"][r]["summary"].items() for key in values})

    def cell(run: str, evaluation: str, key: str) -> str:
        summary = data["results"][run]["summary"].get(evaluation, {}).get(key)
        if summary is None:
            return "–"
        spread = f" ± {significant(summary['std'], 2)}" if len(summary["values"]) > 1 else ""
        return significant(summary["mean"]) + spread

    def seconds(run: str, key: str, scale: float) -> str:
        values = sorted(s[key] for s in data["results"][run]["seeds"] if s.get(key) is not None)
        return fixed(values[len(values) // 2] / scale, 2) if values else "–"

    seeds = ", ".join(str(s) for s in data["seeds"])
    lines = [f"Seeds {seeds}; mean ± std over the seeds that finished (`N` seeds per run below). A run named "
             "`<name>_untrained` is that run's method evaluated as built, never trained.", ""]
    rows = [[f"{evaluation} / {key}", *[cell(r, evaluation, key) for r in runs]] for evaluation, key in metrics]
    rows.append(["seeds finished (N)", *[str(len(data["results"][r]["seeds"])) for r in runs]])
    rows.append(["training min (median)", *[seconds(r, "train_seconds", 60.0) for r in runs]])
    rows.append(["s/step (median)", *[seconds(r, "median_step_seconds", 1.0) for r in runs]])
    return lines + table(["metric", *runs], rows)


def _utility_cell(u: dict) -> str:
    """One U(n) of tfssl.evaluation.utility as a table cell; the edge cases by name, never as a bare -1."""
    if u["status"] == "beyond_scratch_range":
        return f"> {fixed(u['lower_bound'], 2)} (beyond scratch's range)"
    if u["status"] == "below_scratch_range":
        return f"{fixed(u['value'], 2)} (below scratch's first point)"
    return fixed(u["value"], 2)


def render_utility(data: dict) -> list[str]:
    """The utility study (tfssl.evaluation.utility_study): accuracy per encoder and budget, then U(n)."""
    p = data["protocol"]
    lines = [f"Seeds {', '.join(str(s) for s in p['seeds'])}; batch {p['batch_size']}, Adam {p['learning_rate']} "
             f"with {fixed(100 * p['warmup_fraction'], 0)}% warm-up then linear decay, {p['epochs']} epochs per run "
             f"clipped to {p['min_steps']}-{p['max_steps']} steps (the same for pretrained and scratch). Encoders: "
             + ", ".join(f"`{k}` ({run_label(v)})" for k, v in sorted(p["encoders"].items()))
             + "; `scratch`: the same architecture at random init. Cells: fine-tuned test accuracy % (mean ± std over "
               "seeds) / linear probe on the frozen encoder %.", ""]
    for key, setting in sorted(data["settings"].items()):
        budgets = setting["budgets"]
        lines += [f"`{setting['dataset']}`, task {key.split('/')[-1]}:", ""]
        lines += table(["encoder", *[f"n={n}" for n in budgets]], [
            [name, *[(mean_std(e["finetune"][str(n)]) if str(n) in e["finetune"] else "–") + " / "
                     + (pct(e["linear"][str(n)]["mean"]) if str(n) in e["linear"] else "–") for n in budgets]]
            for name, e in sorted(setting["encoders"].items())])
        rows = [[name, *[_utility_cell(e["utility"][str(n)]) if str(n) in e["utility"] else "–" for n in budgets]]
                for name, e in sorted(setting["encoders"].items()) if "utility" in e]
        if rows:
            lines += ["", "Utility U(n) = n_s(a)/n − 1 against the scratch curve:", ""]
            lines += table(["encoder", *[f"n={n}" for n in budgets]], rows)
        lines += [""]
    lines += [f"All runs together: {minutes(data['seconds_all_runs'])} min of training and evaluation."]
    return lines


RENDERERS: dict[str, Callable[[dict], list[str]]] = {
    "compare.py": render_compare,
    "rotation.py": render_rotation,
    "pcnet.py": render_pcnet,
    "pcnet_diagnosis.py": render_pcnet_diagnosis,
    "deocclusion_oracle.py": render_deocclusion_oracle,
    "pirl_pretext.py": render_pirl_pretext,
    "object_swap.py": render_object_swap,
    "rotation_shortcut.py": render_rotation_shortcut,
    "train_eval.py": render_train_eval,
    "utility study": render_utility,
}


def renderer_key(data: dict) -> str:
    """The RENDERERS key of a result: its study (a `python -m tfssl.evaluate` job), else the script it names."""
    return f"{data['study']} study" if "study" in data else script_of(data["command"])


def script_of(command: str) -> str:
    """The benchmark script a recorded command ran: 'python benchmarks/pcnet.py --x' -> 'pcnet.py'."""
    match = re.search(r"benchmarks/(\w+\.py)", command)
    if not match:
        raise ValueError(f"command {command!r} names no benchmarks/<script>.py")
    return match.group(1)


def environment(data: dict) -> str:
    """The recorded machine (or device) of a run, one line; '' when the JSON recorded none."""
    parts = []
    if "device" in data:
        parts.append(str(data["device"]))
    machine = dict(data.get("machine") or {})
    if machine:
        cpus, processor = machine.pop("cpus", "?"), machine.pop("processor", "?")
        labels = {"python": "Python", "tensorflow": "TensorFlow", "keras": "Keras", "numpy": "NumPy"}
        parts.append(", ".join([f"{cpus} CPU cores ({processor})"]
                               + [f"{labels.get(k, k)} {v}" for k, v in sorted(machine.items())]))
    if isinstance(data.get("seconds"), (int, float)) and renderer_key(data) == "compare.py":
        parts.append(f"whole comparison {minutes(data['seconds'])} min")
    return "Environment: " + "; ".join(parts) + "." if parts else ""


def render_file(relpath: str, data: dict, renderer: Callable[[dict], list[str]]) -> list[str]:
    """One result file: heading, link, the command that wrote it, its tables, notes and environment."""
    path = f"{RESULTS}/{relpath}".replace(os.sep, "/")
    lines = [f"### {os.path.basename(relpath)}", "", f"[`{path}`]({path})", "", "```bash", data["command"], "```",
             ""]
    if "produced_by" in data:
        lines += [f"Originally produced by: `{data['produced_by']}`", ""]
    if relpath in FILE_NOTES:
        lines += [FILE_NOTES[relpath], ""]
    lines += renderer(data)
    env = environment(data)
    return lines + ([""] + [env] if env else []) + [""]


# ---------------------------------------------------------------------------------------------------------------
# Loading, and the two generated outputs.

def load_results(root: str) -> dict[str, dict]:
    """{'<method>/<name>.json': data} for every JSON under root/benchmarks/results/*/, sorted."""
    base = os.path.join(root, RESULTS)
    results = {}
    for folder in sorted(os.listdir(base)) if os.path.isdir(base) else []:
        if not os.path.isdir(os.path.join(base, folder)):
            continue
        for name in sorted(os.listdir(os.path.join(base, folder))):
            if name.endswith(".json"):
                with open(os.path.join(base, folder, name)) as f:
                    results[f"{folder}/{name}"] = json.load(f)
    return results


def model_zoo(results: dict[str, dict]) -> str:
    """The text of MODEL_ZOO.md."""
    folders = sorted({k.split("/")[0] for k in results}, key=lambda f: (
        f == "speed", METHOD_ORDER.index(f) if f in METHOD_ORDER else len(METHOD_ORDER), f))
    lines = ["# Model zoo: every measured number", "",
             "Generated by `python benchmarks/model_zoo.py` from `benchmarks/results/<method>/*.json`; do not edit "
             "by hand (`python benchmarks/model_zoo.py --check` fails when this file is stale). Each table comes with "
             "the command that wrote its JSON. Probes are top-1 accuracies in percent on held-out data (for "
             "`tfssl_objects`, test shapes never seen in training; chance 10%). What the experiments mean: "
             "[docs/notes/](docs/notes/).", ""]
    for folder in folders:
        lines += [f"## {METHOD_TITLES.get(folder, folder)}", ""]
        for relpath in (k for k in results if k.split("/")[0] == folder):
            data = results[relpath]
            if folder == "speed":
                renderer = render_speed
            else:
                script = renderer_key(data)
                if script not in RENDERERS:
                    raise ValueError(f"{RESULTS}/{relpath}: no renderer for {script}; add one to RENDERERS")
                renderer = RENDERERS[script]
            lines += render_file(relpath, data, renderer)
    return "\n".join(lines).rstrip("\n") + "\n"


def _linear(results: dict, relpath: str, dataset: str, run: str) -> float:
    """compare.py's mean linear top-1 of one run."""
    try:
        return results[relpath]["results"][dataset][run]["linear_top1"]["mean"]
    except KeyError as e:
        raise KeyError(f"{RESULTS}/{relpath} has no {dataset} / {run} result (needed by the README table)") from e


def _steps(results: dict, relpath: str) -> str:
    return f"{results[relpath]['train_steps']:,}"


def _met(ok: bool) -> str:
    return "**meets its bar**" if ok else "**bar not met**"


def rotation_row(results: dict) -> tuple[str, str]:
    """Rotation's bar: the linear probe at least 20 points above the same encoder at random init."""
    data = results["rotation/rotation.json"]
    probes, gain = data["probes"], data["linear_gain_over_random_points"]
    return (f"{_met(gain >= 20)}: +{fixed(gain, 1)} points over random init",
            f"linear {pct(probes['trained']['linear_top1'])}%, kNN {pct(probes['trained']['knn_top1'])}% after "
            f"{_steps(results, 'rotation/rotation.json')} steps (random init "
            f"{pct(probes['random_init']['linear_top1'])}%); trains in {minutes(data['train_seconds'])} min")


def pcnet_row(results: dict) -> tuple[str, str]:
    """PCNet's bar (benchmarks/pcnet.py's done_bar): ordering >= 95% and above every baseline, amodal mIoU 5 points
    over the best baseline, hidden-pixel L1 below the mean-colour fill."""
    data = results["pcnet/pcnet.json"]
    m, bar = data["metrics"], data["done_bar"]
    missed = [BAR_LABELS[k] for k in BAR_LABELS if not bar[k]]
    status = _met(bar["all"]) + (f": missed {'; '.join(missed)}; the other {len(BAR_LABELS) - len(missed)} "
                                 "criteria met" if missed else "")
    return (status,
            f"ordering {pct(m['order_accuracy'])}% (best baseline "
            f"{pct(max(data['baselines']['order_accuracy'].values()))}%), amodal mIoU {pct(m['amodal_miou'], 2)} "
            f"(+{fixed(bar['amodal_margin_over_best_baseline_points'], 2)}), hidden-pixel L1 "
            f"{fixed(m['content_l1'], 3)} (fill {fixed(m['content_l1_mean_fill'], 3)}); trains in "
            f"{fixed(data['train_minutes'], 1)} min")


def lci_row(results: dict) -> tuple[str, str]:
    """LCI's bar: its probe at least Rotation's at the same budget, and 20 points above random init."""
    files = {"tc00": "lci/lci_flip_tc00_1500.json", "tc0l": "lci/lci_flip_tc0l_1500.json",
             "rot00": "lci/lci_vs_rotation_1500.json", "rot0l": "rotation/rotation_tc0l_1500.json",
             "rot_only": "lci/lci_rot_batch64_tc0l_1500.json"}
    tc00 = _linear(results, files["tc00"], "tfssl_objects/tc00", "lci_flip")
    tc0l = _linear(results, files["tc0l"], "tfssl_objects/tc0l", "lci_flip")
    rot00 = _linear(results, files["rot00"], "tfssl_objects/tc00", "rotation")
    rot0l = _linear(results, files["rot0l"], "tfssl_objects/tc0l", "rotation")
    rnd00 = _linear(results, files["rot00"], "tfssl_objects/tc00", "random_init")
    rnd0l = _linear(results, files["rot0l"], "tfssl_objects/tc0l", "random_init")
    rot_only = _linear(results, files["rot_only"], "tfssl_objects/tc0l", "lci_rot_batch64")
    ok = all(lci >= rot and lci - rnd >= 0.20 for lci, rot, rnd in ((tc00, rot00, rnd00), (tc0l, rot0l, rnd0l)))
    return (f"{_met(ok)}: below Rotation at the same budget; its rotation classes alone, at Rotation's batch, reach "
            f"{pct(rot_only)}% on `tc0l`",
            f"linear {pct(tc00)}% on `tc00`, {pct(tc0l)}% on `tc0l` after {_steps(results, files['tc00'])} steps; "
            f"Rotation {pct(rot00)}%, {pct(rot0l)}%; random init {pct(rnd00)}%, {pct(rnd0l)}%")


def pirl_row(results: dict) -> tuple[str, str]:
    """PIRL's bar: within 2 points of Rotation on the upright default and 20 points above random init (and 5 above
    Rotation with the viewpoint factor on, not measured). gin/pirl.gin's in-batch negatives, beside the bank's."""
    pirl = _linear(results, "pirl/pirl_batch_tc00_1500.json", "tfssl_objects/tc00", "pirl_batch")
    bank = _linear(results, "pirl/pirl_1500.json", "tfssl_objects/tc00", "pirl")
    rot = _linear(results, "lci/lci_vs_rotation_1500.json", "tfssl_objects/tc00", "rotation")
    rnd = _linear(results, "lci/lci_vs_rotation_1500.json", "tfssl_objects/tc00", "random_init")
    ok = pirl >= rot - 0.02 and pirl - rnd >= 0.20
    flat = _linear(results, "pirl/pirl_grey_batch_0c00_1000.json", "tfssl_objects/0c00", "pirl_grey_batch")
    return (f"{_met(ok)}: on this data its probe stays near random init's; on flat-colour objects with grey views it "
            f"reaches {pct(flat)}%",
            f"linear {pct(pirl)}% on `tc00` after {_steps(results, 'pirl/pirl_batch_tc00_1500.json')} steps (memory "
            f"bank {pct(bank)}%); Rotation {pct(rot)}%; random init {pct(rnd)}%")


S3VAE_RESULT = "s3vae/s3vae_vs_dsvae.json"
S3VAE_ALONE = "s3vae/s3vae_regularisers_x100.json"  # the same network's time on a nearly idle machine
KEYPOINTS_RESULT = "keypoints/keypoints.json"
UTILITY_RESULT = "utility/utility.json"


def _mean(results: dict, relpath: str, run: str, evaluation: str, key: str) -> float:
    """train_eval.py's mean of one metric of one run over its seeds."""
    try:
        return results[relpath]["results"][run]["summary"][evaluation][key]["mean"]
    except KeyError as e:
        raise KeyError(f"{RESULTS}/{relpath} has no {run} / {evaluation} / {key} (needed by the README table)") from e


def _per_seed(results: dict, relpath: str, run: str, evaluation: str, key: str, digits: int = 2) -> str:
    """' (seeds: a, b)' when a run has several seeds, so a mean never hides its spread; '' for one seed."""
    values = results[relpath]["results"][run]["summary"][evaluation][key]["values"]
    return f" (seeds: {', '.join(fixed(v, digits) for v in values)})" if len(values) > 1 else ""


def _train_minutes(results: dict, relpath: str, run: str) -> float:
    """The slowest seed's training time of a run, in minutes (the budget is a bound on every run)."""
    return max(s["train_seconds"] for s in results[relpath]["results"][run]["seeds"]) / 60.0


def _seed_count(results: dict, relpath: str, run: str) -> int:
    return len(results[relpath]["results"][run]["seeds"])


def s3vae_row(results: dict) -> tuple[str, str]:
    """S3VAE's bar (#22): on held-out clips fix-motion >= 95% and fix-content >= 90%, both above DSVAE's under the
    same budget and judge, trained in at most 30 minutes."""
    if S3VAE_RESULT not in results:
        return unmeasured("no training run on `tfssl_sprites` yet")(results)
    m = {(run, key): _mean(results, S3VAE_RESULT, run, "disentanglement", f"fix_{key}_accuracy")
         for run in ("s3vae", "dsvae") for key in ("motion", "content")}
    minutes_s3vae = _train_minutes(results, S3VAE_RESULT, "s3vae")
    ok = (m["s3vae", "motion"] >= 0.95 and m["s3vae", "content"] >= 0.90 and minutes_s3vae <= 30
          and all(m["s3vae", k] > m["dsvae", k] for k in ("motion", "content")))
    seeds = _seed_count(results, S3VAE_RESULT, "s3vae")
    return (f"{_met(ok)} ({seeds} seed{'s' if seeds > 1 else ''})",
            f"fix-motion {pct(m['s3vae', 'motion'])}%, fix-content {pct(m['s3vae', 'content'])}% (DSVAE "
            f"{pct(m['dsvae', 'motion'])}%, {pct(m['dsvae', 'content'])}%); trains in {fixed(minutes_s3vae, 1)} min"
            + (f" under load ({fixed(_train_minutes(results, S3VAE_ALONE, 's3vae_x100'), 1)} min nearly alone)"
               if S3VAE_ALONE in results else ""))


def keypoints_row(results: dict) -> tuple[str, str]:
    """KeypointGAN's bar (#23): direct keypoint error on held-out videos <= 5% of the image size and at most half the
    mean-pose baseline's, trained (eta pre-training + joint run) in at most 30 minutes."""
    if KEYPOINTS_RESULT not in results:
        return unmeasured("no joint training run on `tfssl_figures` yet")(results)
    error = _mean(results, KEYPOINTS_RESULT, "keypoints", "keypoint_metrics", "keypoint_error")
    baseline = _mean(results, KEYPOINTS_RESULT, "keypoints", "keypoint_metrics", "mean_pose_error")
    regressed = _mean(results, KEYPOINTS_RESULT, "keypoints", "keypoint_regression", "regressed_error")
    untrained = _mean(results, KEYPOINTS_RESULT, "keypoints_untrained", "keypoint_metrics", "keypoint_error")
    minutes_total = (_train_minutes(results, KEYPOINTS_RESULT, "eta")
                     + _train_minutes(results, KEYPOINTS_RESULT, "keypoints"))
    criteria = {"error <= 5%": error <= 5.0, "at most half the mean pose's": error <= baseline / 2,
                "30-minute training budget": minutes_total <= 30}
    missed = [name for name, ok in criteria.items() if not ok]
    seeds = _seed_count(results, KEYPOINTS_RESULT, "keypoints")
    status = f"{_met(not missed)} ({seeds} seed{'s' if seeds > 1 else ''})" + (
        f": missed the {'; '.join(missed)}; the error criteria met" if missed and criteria["error <= 5%"]
        and criteria["at most half the mean pose's"] else (f": missed {'; '.join(missed)}" if missed else ""))
    return (status,
            f"keypoint error {fixed(error, 2)}% of the image size"
            f"{_per_seed(results, KEYPOINTS_RESULT, 'keypoints', 'keypoint_metrics', 'keypoint_error')} (mean pose {fixed(baseline, 2)}%, random init "
            f"{fixed(untrained, 2)}%), {fixed(regressed, 2)}% through a linear regressor; eta + joint training "
            f"{fixed(minutes_total, 1)} min")


def study_minutes(data: dict) -> float:
    """A utility study's own wall time in minutes: its invocation less the time spent training missing encoders
    (that is each method's training budget, not the study's)."""
    return (data["seconds_this_invocation"] - data["seconds_encoder_training"]) / 60.0


def utility_row(results: dict) -> tuple[str, str]:
    """The utility study's bar (#20): the CPU default study finishes in at most 60 minutes (its findings are reported
    as found); the numbers are fine-tuned accuracy and U(n) per encoder at n = 1000 labels (else the middle budget),
    for the class task when the study has one (the others are in MODEL_ZOO)."""
    if UTILITY_RESULT not in results:
        return unmeasured("the CPU study has not been run")(results)
    data = results[UTILITY_RESULT]
    taken = study_minutes(data)
    resumed = data.get("runs_already_done", 0)
    status = (f"{_met(taken <= 60 and not resumed)}: the CPU study took {fixed(taken, 1)} min (bar: 60)"
              + (f", resumed with {resumed} runs already done, so that time covers only the rest" if resumed else ""))
    parts = []
    settings = sorted(data["settings"].items())
    settings = [item for item in settings if item[0].endswith("/class")] or settings
    for key, setting in settings:
        budgets = setting["budgets"]
        n = 1000 if 1000 in budgets else budgets[len(budgets) // 2]
        cells = []
        for name, e in sorted(setting["encoders"].items(), key=lambda item: (item[0] == "scratch", item[0])):
            cell = f"{name} {pct(e['finetune'][str(n)]['mean'])}%"
            if "utility" in e and str(n) in e["utility"]:
                cell += f", U: {_utility_cell(e['utility'][str(n)])}"  # MODEL_ZOO's wording of the edge cases
            cells.append(cell)
        parts.append(f"{key.split('/')[-1]}, n={n}: " + "; ".join(cells))
    return status, "; ".join(parts)


def unmeasured(what: str) -> Callable[[dict], tuple[str, str]]:
    """The row of a method that is built and tested but has no committed benchmark yet."""
    return lambda results: (f"**built, not yet measured**: {what}", "–")


# (name, paper, embedded default, row function or None for a planned method). Status words live here; numbers come
# from the JSON through the row functions.
METHODS = (
    ("Rotation prediction (the common baseline)", "Gidaris et al., ICLR 2018", "`gin/rotation.gin`", rotation_row),
    ("PCNet scene de-occlusion", "Zhan et al., CVPR 2020", "`gin/pcnet.gin`", pcnet_row),
    ("LCI, limited context inpainting", "Jenni et al., CVPR 2020", "`gin/lci.gin`", lci_row),
    ("PIRL, pretext-invariant representations", "Misra & van der Maaten, CVPR 2020", "`gin/pirl.gin`", pirl_row),
    ("KeypointGAN, keypoints from unlabelled videos", "Jakab et al., CVPR 2020",
     "`gin/keypoints_eta.gin`, then `gin/keypoints.gin`", keypoints_row),
    ("S3VAE, disentangled sequential VAE", "Zhu et al., CVPR 2020", "`gin/s3vae.gin` (`gin/dsvae.gin`)",
     s3vae_row),
    ("Utility study of self-supervised methods", "Newell & Deng, CVPR 2020", "`gin/utility.gin`", utility_row),
)


def methods_table(results: dict[str, dict]) -> str:
    """The README block: one row per method with status and headline numbers."""
    rows = []
    for name, paper, default, row in METHODS:
        status, numbers = row(results) if row else ("planned", "–")
        rows.append([name, paper, default, status, numbers])
    lines = table(["method", "paper", "embedded default", "status",
                   "headline numbers (held-out data; seed 0 unless the status counts seeds)"], rows)
    return "\n".join([BEGIN, *lines, END])


def readme(text: str, results: dict[str, dict]) -> str:
    """README text with its methods-table block replaced."""
    start, stop = text.find(BEGIN), text.find(END)
    if start < 0 or stop < start:
        raise ValueError(f"{README} has no {BEGIN} ... {END} block")
    return text[:start] + methods_table(results) + text[stop + len(END):]


def expected_files(root: str) -> dict[str, str]:
    """{relative path: the text it should have} for every file this script writes."""
    results = load_results(root)
    with open(os.path.join(root, README)) as f:
        current_readme = f.read()
    return {MODEL_ZOO: model_zoo(results), README: readme(current_readme, results)}


def stale_files(root: str) -> list[str]:
    """The generated files whose text differs from what this script would write."""
    stale = []
    for relpath, text in expected_files(root).items():
        path = os.path.join(root, relpath)
        current = open(path).read() if os.path.exists(path) else None
        if current != text:
            stale.append(relpath)
    return stale


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true", help="exit 1 when a generated file is stale; write nothing")
    parser.add_argument("--root", default=REPO, help="repository root (default: this checkout)")
    args = parser.parse_args(argv)
    if args.check:
        stale = stale_files(args.root)
        for relpath in stale:
            print(f"stale: {relpath} differs from what benchmarks/model_zoo.py writes from {RESULTS}/; "
                  "run `python benchmarks/model_zoo.py`", file=sys.stderr)
        return 1 if stale else 0
    for relpath, text in expected_files(args.root).items():
        with open(os.path.join(args.root, relpath), "w") as f:
            f.write(text)
        print(f"wrote {relpath}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
