"""benchmarks/model_zoo.py: MODEL_ZOO.md and the README's methods table are current, and its renderers are right.

The generator reads only JSON and markdown (standard library): these tests take well under a second each.
"""

import ast
import importlib.util
import json
import os
import shutil
import subprocess
import sys

import pytest

from tests.conftest import REPO

SCRIPT = os.path.join(REPO, "benchmarks", "model_zoo.py")
_spec = importlib.util.spec_from_file_location("model_zoo", SCRIPT)
model_zoo = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(model_zoo)


def test_repository_files_are_current():
    """Fails when a result JSON changed and `python benchmarks/model_zoo.py` was not run."""
    done = subprocess.run([sys.executable, SCRIPT, "--check"], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr


def test_generator_imports_neither_tensorflow_nor_numpy():
    code = ("import sys, runpy; module = runpy.run_path(sys.argv[1]); module['expected_files'](sys.argv[2]); "
            "assert 'tensorflow' not in sys.modules and 'numpy' not in sys.modules, sorted(sys.modules)")
    done = subprocess.run([sys.executable, "-c", code, SCRIPT, REPO], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr


@pytest.fixture
def tree(tmp_path):
    """A copy of what the generator reads and writes: README.md, MODEL_ZOO.md and benchmarks/results/."""
    for name in (model_zoo.README, model_zoo.MODEL_ZOO):
        shutil.copy(os.path.join(REPO, name), tmp_path / name)
    shutil.copytree(os.path.join(REPO, "benchmarks", "results"), tmp_path / "benchmarks" / "results",
                    ignore=shutil.ignore_patterns("*.log"))
    return tmp_path


def _edit_json(path, edit):
    with open(path) as f:
        data = json.load(f)
    edit(data)
    with open(path, "w") as f:
        json.dump(data, f, indent=2, sort_keys=True)


def test_a_changed_number_makes_both_files_stale(tree, capsys):
    assert model_zoo.main(["--check", f"--root={tree}"]) == 0
    _edit_json(tree / "benchmarks/results/rotation/rotation.json",
               lambda d: d["probes"]["trained"].update(linear_top1=0.7123))
    assert model_zoo.main(["--check", f"--root={tree}"]) == 1
    err = capsys.readouterr().err
    assert "stale: MODEL_ZOO.md" in err and "stale: README.md" in err
    assert model_zoo.main([f"--root={tree}"]) == 0
    assert model_zoo.main(["--check", f"--root={tree}"]) == 0
    assert "71.2" in (tree / "MODEL_ZOO.md").read_text() and "linear 71.2%" in (tree / "README.md").read_text()


def test_a_hand_edited_table_is_stale_and_the_rest_of_the_readme_is_kept(tree, capsys):
    readme = (tree / "README.md").read_text()
    (tree / "README.md").write_text(readme.replace("**meets its bar**", "**done**", 1) + "\nA line of my own.\n")
    assert model_zoo.main(["--check", f"--root={tree}"]) == 1
    err = capsys.readouterr().err
    assert "stale: README.md" in err and "MODEL_ZOO.md" not in err
    model_zoo.main([f"--root={tree}"])
    assert (tree / "README.md").read_text() == readme + "\nA line of my own.\n"


def test_a_readme_without_the_block_is_an_error(tree):
    (tree / "README.md").write_text("# tfssl\n")
    with pytest.raises(ValueError, match="methods-table:begin"):
        model_zoo.main(["--check", f"--root={tree}"])


def test_a_script_without_a_renderer_is_an_error(tree):
    (tree / "benchmarks/results/pirl/new.json").write_text(json.dumps({"command": "python benchmarks/new.py"}))
    with pytest.raises(ValueError, match="no renderer for new.py"):
        model_zoo.main(["--check", f"--root={tree}"])


def test_speed_section_only_when_speed_results_exist(tree):
    shutil.rmtree(tree / "benchmarks/results/speed", ignore_errors=True)
    assert "## Speed" not in model_zoo.model_zoo(model_zoo.load_results(str(tree)))
    os.makedirs(tree / "benchmarks/results/speed")
    (tree / "benchmarks/results/speed/h100.json").write_text(json.dumps({
        "command": "python benchmarks/speed.py --out=benchmarks/results/speed/h100.json", "device": "one H100",
        "methods": {"rotation": {"full_step_s_median": 0.0123, "bare_step_s_median": 0.011, "overhead": 1.118,
                                 "images_per_s": 5203.3, "global_batch": 64}}}))
    text = model_zoo.model_zoo(model_zoo.load_results(str(tree)))
    assert text.index("## PIRL") < text.index("## Speed"), "speed comes last"
    assert "| rotation | 0.012 | 0.011 | 1.12 | – | 5203.3 | 64 | – | – |" in text and "Environment: one H100." in text


def test_percentages_round_half_up_from_the_stored_value():
    assert model_zoo.pct(0.6035) == "60.4"  # 100 * 0.6035 is 60.349999... in binary floating point
    assert model_zoo.pct(0.1455) == "14.6"
    assert model_zoo.pct(None) == "–"
    assert model_zoo.fixed(0.10044559714698292, 3) == "0.100"


def _summary(*values):
    mean = sum(values) / len(values)
    std = (sum((v - mean) ** 2 for v in values) / (len(values) - 1)) ** 0.5 if len(values) > 1 else 0.0
    return {"mean": mean, "std": std, "values": list(values)}


def test_render_compare():
    seed = {"seed": 0, "step": 400, "linear_top1": 0.3, "knn_top1": 0.2, "train_seconds": 600.0,
            "median_step_seconds": 0.5, "final_train_outputs": {"loss": 0.75}}
    data = {"command": "python benchmarks/compare.py --out=x.json", "train_steps": 400, "seeds": [0, 1],
            "runs": {"rot": {"gin_file": "gin/rotation.gin", "params": ["GLOBAL_BATCH=32"]}},
            "results": {"tfssl_objects/tc00": {
                "rot": {"linear_top1": _summary(0.3, 0.4), "knn_top1": _summary(0.2, 0.2),
                        "seeds": [seed, {**seed, "seed": 1, "linear_top1": 0.4}],
                        "curve": {"200": {"linear_top1": _summary(0.1, 0.2), "knn_top1": _summary(0.1, 0.1)},
                                  "400": {"linear_top1": _summary(0.3, 0.4), "knn_top1": _summary(0.2, 0.2)}}},
                "random_init": {"linear_top1": _summary(0.12, 0.12), "knn_top1": _summary(0.1, 0.1),
                                "seeds": [{"seed": 0, "step": 0, "linear_top1": 0.12, "knn_top1": 0.1}]}}}}
    text = "\n".join(model_zoo.render_compare(data))
    assert "`rot`: `gin/rotation.gin` with `GLOBAL_BATCH=32`" in text
    assert "| `tfssl_objects/tc00` | rot | 35.0 ± 7.1 | 20.0 ± 0.0 |" in text
    assert "| `tfssl_objects/tc00` | random_init | 12.0 ± 0.0 | 10.0 ± 0.0 |" in text
    assert "| `tfssl_objects/tc00` | rot | 15.0 ± 7.1 / 10.0 ± 0.0 | 35.0 ± 7.1 / 20.0 ± 0.0 |" in text
    assert "| `tfssl_objects/tc00` | rot | 1 | 400 | 40.0 | 20.0 | – | 10.0 | 0.500 | loss 0.75 |" in text
    assert "| `tfssl_objects/tc00` | random_init | 0 | 0 | 12.0 | 10.0 | – | – | – | – |" in text


def test_render_pcnet_diagnosis_names_categories_and_sorts_buckets():
    data = {"command": "python benchmarks/pcnet_diagnosis.py", "dataset": "tfssl_scenes/base", "split": "test",
            "max_examples": 2, "model_step": 10, "seconds": 1.0,
            "ordering": {"num_pairs": 3, "accuracy": {"d0/soft": 2 / 3}, "ties": {"d0/soft": 0.0},
                         "reference_rule_right_pairs": {"median_front_growth_pixels": 1.0,
                                                        "median_back_growth_fraction_of_hidden": 1.0},
                         "reference_rule_wrong_pairs": {"count": 1, "median_front_growth_pixels": 9.0,
                                                        "median_back_growth_fraction_of_hidden": 0.25},
                         "error_by_hidden_pixels": {"20-60": {"error": 0.0, "pairs": 2},
                                                    "5-20": {"error": 1.0, "pairs": 1}},
                         "error_by_front_category": {"9": {"error": 1.0, "pairs": 1}, "1": {"error": 0.0, "pairs": 2}},
                         "error_by_back_category": {"1": {"error": 0.5, "pairs": 2}}},
            "amodal_by_threshold": {"order_score": "soft", "0.2": {"amodal_miou": 0.9, "invisible_iou": 0.5}},
            "content_in_distribution": {"samples": 64, "pcnet_l1": 0.08, "mean_fill_l1": 0.09}}
    text = "\n".join(model_zoo.render_pcnet_diagnosis(data))
    assert "| `d0/soft` | 66.7 | 0.0 |" in text
    assert text.index("| 5-20 |") < text.index("| 20-60 |")
    assert "| disc | 0.0 (2) | 50.0 (2) |" in text and "| arrow | 100.0 (1) | – |" in text
    assert "| wrong | 1 | 9.0 | 0.250 |" in text
    assert "| 0.2 | 90.00 | 50.0 |" in text


def test_shape_names_are_the_renderers():
    """tfssl_scenes category k is shapes.CLASS_NAMES[k - 1]; the generator keeps a copy so it needs no numpy."""
    tree = ast.parse(open(os.path.join(REPO, "tfssl", "data", "render", "shapes.py")).read())
    names = next(ast.literal_eval(node.value) for node in tree.body if isinstance(node, ast.Assign)
                 and any(getattr(t, "id", None) == "CLASS_NAMES" for t in node.targets))
    assert tuple(names) == model_zoo.SHAPE_NAMES


def _utility_summary():
    """A utility study's JSON as tfssl.evaluation.utility_study writes it, from hand-made run records."""
    from tfssl.evaluation.utility_study import summarize

    def run(encoder, labels, seed, accuracy, linear):
        return {"config": "tc00", "task": "class", "dataset": "tfssl_objects/tc00", "encoder": encoder,
                "labels": labels, "seed": seed, "accuracy": accuracy, "linear_accuracy": linear, "seconds": 30.0}

    # Scratch 50% / 70% at 100 / 1000 labels; rotation 60% at 100 (U = 4.5), 80% at 1000 (beyond scratch's range).
    records = [run("scratch", 100, s, a, 0.2) for s, a in ((0, 0.5), (1, 0.5))]
    records += [run("scratch", 1000, s, 0.7, 0.25) for s in (0, 1)]
    records += [run("rotation", 100, s, a, 0.3) for s, a in ((0, 0.55), (1, 0.65))]
    records += [run("rotation", 1000, s, 0.8, 0.4) for s in (0, 1)]
    return {"study": "utility", "command": "python -m tfssl.evaluate --gin_file=gin/utility.gin",
            "protocol": {"seeds": [0, 1], "batch_size": 64, "learning_rate": 0.001, "warmup_fraction": 0.1,
                         "epochs": 2.0, "min_steps": 80, "max_steps": 200, "encoders": {"rotation": "runs/rotation"}},
            "settings": summarize(records), "runs": records, "seconds_all_runs": 240.0,
            "seconds_this_invocation": 900.0, "seconds_encoder_training": 300.0, "runs_already_done": 0,
            "machine": {"cpus": 2, "processor": "x86_64", "python": "3.11.2"}}


def test_render_utility_names_the_edge_cases():
    text = "\n".join(model_zoo.render_utility(_utility_summary()))
    assert "| rotation | 60.0 ± 7.1 / 30.0 | 80.0 ± 0.0 / 40.0 |" in text
    assert "| scratch | 50.0 ± 0.0 / 20.0 | 70.0 ± 0.0 / 25.0 |" in text
    assert "| rotation | 4.50 | > 0.00 (beyond scratch's range) |" in text
    assert "4.0 min" in text


def test_utility_row_times_the_study_without_encoder_training():
    data = _utility_summary()
    status, numbers = model_zoo.utility_row({model_zoo.UTILITY_RESULT: data})
    assert "meets its bar" in status and "took 10.0 min" in status  # 900 s less 300 s of encoder training
    assert numbers == "class, n=1000: rotation 80.0%, U: > 0.00 (beyond scratch's range); scratch 70.0%"
    data["seconds_this_invocation"] = 300.0 + 61 * 60.0
    assert "not met" in model_zoo.utility_row({model_zoo.UTILITY_RESULT: data})[0]
    data.update(seconds_this_invocation=900.0, runs_already_done=3)
    status = model_zoo.utility_row({model_zoo.UTILITY_RESULT: data})[0]
    assert "not met" in status and "resumed with 3 runs already done" in status
    assert "not yet measured" in model_zoo.utility_row({})[0]


def test_a_utility_study_gets_its_own_section(tree):
    os.makedirs(tree / "benchmarks/results/utility", exist_ok=True)
    (tree / "benchmarks/results/utility/utility_tc00.json").write_text(json.dumps(_utility_summary()))
    text = model_zoo.model_zoo(model_zoo.load_results(str(tree)))
    assert text.index("## PIRL") < text.index("## Utility study (Newell & Deng)")
    assert "python -m tfssl.evaluate --gin_file=gin/utility.gin" in text and "Environment: 2 CPU cores" in text


def _train_eval_result(runs: dict[str, dict[str, list[float]]], evaluation: str, train_seconds: float = 600.0):
    """A train_eval.py JSON: {run: {metric: [value per seed]}} under one evaluation."""
    results = {}
    for run, metrics in runs.items():
        seeds = len(next(iter(metrics.values())))
        results[run] = {
            "seeds": [{"seed": s, "train_seconds": train_seconds, "median_step_seconds": 0.5,
                       "evaluations": {evaluation: {k: v[s] for k, v in metrics.items()}}} for s in range(seeds)],
            "summary": {evaluation: {k: {"mean": sum(v) / len(v), "std": 0.0, "values": v}
                                     for k, v in metrics.items()}}}
    return {"command": "python benchmarks/train_eval.py --out=x.json", "seeds": [0], "runs": {}, "results": results}


def test_significant_digits_round_half_up():
    assert model_zoo.significant(0.98437) == "0.9844"
    assert model_zoo.significant(12.3456) == "12.35"
    assert model_zoo.significant(0.00012345, 2) == "0.00012"
    assert model_zoo.significant(2.0) == "2" and model_zoo.significant(None) == "–"


def test_render_train_eval_lists_every_metric_per_run_and_the_time():
    data = _train_eval_result({"a": {"error": [2.0, 4.0]}, "b": {"error": [1.0, 1.0], "extra": [0.5, 0.5]}}, "m")
    lines = "\n".join(model_zoo.render_train_eval(data))
    assert "| metric | a | b |" in lines
    assert "| m / error | 3 ± 0 | 1 ± 0 |" in lines  # two seeds: mean ± std (the fixture's std is 0)
    assert "| m / extra | – | 0.5 ± 0 |" in lines
    assert "| seeds finished (N) | 2 | 2 |" in lines
    assert "| training min (median) | 10.00 | 10.00 |" in lines


def test_s3vae_row_needs_both_bars_and_beating_dsvae():
    def row(s3vae, dsvae, minutes=20.0):
        data = _train_eval_result({"s3vae": {"fix_motion_accuracy": [s3vae[0]], "fix_content_accuracy": [s3vae[1]]},
                                   "dsvae": {"fix_motion_accuracy": [dsvae[0]], "fix_content_accuracy": [dsvae[1]]}},
                                  "disentanglement", 60 * minutes)
        return model_zoo.s3vae_row({model_zoo.S3VAE_RESULT: data})[0]

    assert "meets its bar" in row((0.96, 0.91), (0.90, 0.80))
    assert "not met" in row((0.94, 0.91), (0.90, 0.80))            # fix-motion below 95%
    assert "not met" in row((0.96, 0.91), (0.97, 0.80))            # DSVAE better on motion
    assert "not met" in row((0.96, 0.91), (0.90, 0.80), minutes=31)  # over the time budget
    assert "not yet measured" in model_zoo.s3vae_row({})[0]


def test_keypoints_row_needs_5_percent_and_half_the_mean_pose():
    def row(error, baseline, minutes=10.0):
        data = _train_eval_result({"eta": {"eta_round_trip_error": [1.0]},
                                   "keypoints": {"keypoint_error": [error], "mean_pose_error": [baseline]},
                                   "keypoints_untrained": {"keypoint_error": [20.0]}}, "keypoint_metrics",
                                  60 * minutes)
        data["results"]["keypoints"]["summary"]["keypoint_regression"] = {
            "regressed_error": {"mean": 3.0, "std": 0.0, "values": [3.0]}}
        return model_zoo.keypoints_row({model_zoo.KEYPOINTS_RESULT: data})

    assert "meets its bar" in row(4.0, 12.0)[0]
    assert "not met" in row(5.5, 12.0)[0] and "not met" in row(4.0, 7.0)[0]
    assert "missed the 30-minute training budget; the error criteria met" in row(4.0, 12.0, 20)[0]
    assert "random init 20.00%" in row(4.0, 12.0)[1]
    assert "seeds:" not in row(4.0, 12.0)[1], "one seed: no per-seed list"


def test_keypoints_row_shows_every_seed_beside_the_mean():
    data = _train_eval_result({"eta": {"eta_round_trip_error": [1.0, 1.0]},
                               "keypoints": {"keypoint_error": [4.0, 4.5], "mean_pose_error": [12.0, 12.0]},
                               "keypoints_untrained": {"keypoint_error": [20.0, 21.0]}}, "keypoint_metrics")
    data["results"]["keypoints"]["summary"]["keypoint_regression"] = {
        "regressed_error": {"mean": 3.0, "std": 0.0, "values": [3.0, 3.0]}}
    status, numbers = model_zoo.keypoints_row({model_zoo.KEYPOINTS_RESULT: data})
    assert "(2 seeds)" in status
    assert "keypoint error 4.25% of the image size (seeds: 4.00, 4.50)" in numbers
