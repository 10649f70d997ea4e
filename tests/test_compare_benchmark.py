"""benchmarks/compare.py: the multi-seed comparison harness behind the README's method-vs-method tables."""

import json
import os
import subprocess
import sys

from tests.conftest import REPO


TWO_RUNS = ("--run=rotation=gin/rotation.gin", "--run=noflip=gin/rotation.gin",
            "--param=noflip=tfssl.methods.Rotation.flip=False")


def _compare(tmp_path, *extra, runs=TWO_RUNS):
    command = [sys.executable, os.path.join(REPO, "benchmarks", "compare.py"), f"--out={tmp_path}/result.json",
               f"--work_dir={tmp_path}/runs", "--extra_gin_file=gin/smoke.gin", "--seeds=0", "--train_steps=4",
               *runs, *extra]
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    with open(tmp_path / "result.json") as f:
        return json.load(f), done.stdout


def test_compare_trains_every_run_and_probes_random_init(tmp_path):
    report, stdout = _compare(tmp_path)
    results = report["results"]["tfssl_objects/tc00"]
    assert set(results) == {"rotation", "noflip", "random_init"}
    for name, entry in results.items():
        assert 0.0 <= entry["linear_top1"]["mean"] <= 1.0 and len(entry["seeds"]) == 1
    for name in ("rotation", "noflip"):
        assert results[name]["seeds"][0]["step"] == 4, "every run gets the same step budget"
    assert results["random_init"]["seeds"][0]["step"] == 0, "the random-init encoder is never trained"
    # The variant's own binding reached its run and only its run.
    with open(tmp_path / "runs/tfssl_objects_tc00/noflip_s0_n4/operative_config.gin") as f:
        assert "Rotation.flip = False" in f.read()
    with open(tmp_path / "runs/tfssl_objects_tc00/rotation_s0_n4/operative_config.gin") as f:
        assert "Rotation.flip = False" not in f.read()
    assert "| `tfssl_objects/tc00` | noflip |" in stdout

    # Asked again, finished runs are reused instead of retrained.
    log = tmp_path / "runs/tfssl_objects_tc00/rotation_s0_n4/log.txt"
    before = os.path.getmtime(log)
    again, _ = _compare(tmp_path)
    assert os.path.getmtime(log) == before
    assert again["results"]["tfssl_objects/tc00"]["rotation"]["linear_top1"] == results["rotation"]["linear_top1"]


def test_compare_rejects_a_malformed_run(tmp_path):
    done = subprocess.run([sys.executable, os.path.join(REPO, "benchmarks", "compare.py"), f"--out={tmp_path}/r.json",
                           "--run=rotation"], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode != 0
    assert "expected NAME=GIN_FILE" in done.stderr


def test_compare_probes_the_kept_checkpoints_of_a_learning_curve(tmp_path):
    # One run is enough here (the two-run table is tested above); each run costs a training and three probes.
    report, stdout = _compare(tmp_path, "--curve_steps=2", "--random_init=false", runs=TWO_RUNS[:1])
    assert report["curve_steps"] == [2]
    assert set(report["results"]["tfssl_objects/tc00"]) == {"rotation"}
    entry = report["results"]["tfssl_objects/tc00"]["rotation"]
    seed = entry["seeds"][0]
    # The step-2 point is the probe of the checkpoint saved at step 2 (its record says so), and the curve ends
    # with the final probe of the same run.
    run_dir = tmp_path / "runs/tfssl_objects_tc00/rotation_s0_n4"
    record = json.load(open(run_dir / "eval/step_2/classification_probes.json"))
    assert record["step"] == 2
    assert seed["curve"]["2"]["linear_top1"] == record["linear_top1"]
    assert seed["curve"]["4"]["linear_top1"] == seed["linear_top1"]
    assert entry["curve"]["2"]["linear_top1"]["values"] == [record["linear_top1"]]
    assert "linear @ 2 | linear @ 4" in stdout


def test_compare_rejects_a_curve_step_outside_the_budget(tmp_path):
    done = subprocess.run([sys.executable, os.path.join(REPO, "benchmarks", "compare.py"), f"--out={tmp_path}/r.json",
                           "--run=rotation=gin/rotation.gin", "--train_steps=4", "--curve_steps=4"],
                          cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode != 0
    assert "every step must be in 1..3" in done.stderr
