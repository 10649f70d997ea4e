"""benchmarks/train_eval.py: seeds x runs through `python -m tfssl.train`, their own evaluations collected."""

import json
import os
import subprocess
import sys

import pytest

from tests.conftest import REPO


@pytest.fixture(scope="module")
def train_eval():
    sys.path.insert(0, os.path.join(REPO, "benchmarks"))
    try:
        import train_eval as module
    finally:
        sys.path.pop(0)
    return module


def test_a_run_reference_becomes_the_earlier_runs_model_dir(train_eval):
    from absl import app

    train_eval.FLAGS(["train_eval", "--work_dir=/w"])
    assert train_eval.resolve("x.weights = '{run:eta}'", 3, {"eta"}, "/w/g_s3") == "x.weights = '/w/eta_s3'"
    assert train_eval.resolve("x.out = '{model_dir}/eval'", 3, set(), "/w/g_s3") == "x.out = '/w/g_s3/eval'"
    with pytest.raises(app.UsageError, match="not given before it"):
        train_eval.resolve("x.weights = '{run:eta}'", 0, set(), "/w/g_s0")


def test_summaries_are_over_seeds_and_skip_what_is_not_a_number(train_eval):
    entries = [{"evaluations": {"m": {"step": 9, "seconds": 1.0, "error": 2.0, "grid": "a.png"}}},
               {"evaluations": {"m": {"step": 9, "seconds": 3.0, "error": 4.0, "grid": "b.png"}}}]
    summary = train_eval.summarise(entries)
    assert list(summary["m"]) == ["error"]
    assert summary["m"]["error"]["mean"] == 3.0 and summary["m"]["error"]["values"] == [2.0, 4.0]
    assert summary["m"]["error"]["std"] == pytest.approx(2 ** 0.5)


def test_trains_evaluates_and_evaluates_untrained(tmp_path):
    command = [sys.executable, os.path.join(REPO, "benchmarks", "train_eval.py"), f"--out={tmp_path}/result.json",
               f"--work_dir={tmp_path}/runs", "--extra_gin_file=gin/smoke.gin", "--seeds=0",
               "--run=rotation=gin/rotation.gin", "--untrained=rotation"]
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    with open(tmp_path / "result.json") as f:
        report = json.load(f)
    trained, untrained = report["results"]["rotation"], report["results"]["rotation_untrained"]
    probe = trained["seeds"][0]["evaluations"]["classification_probes"]
    assert probe["step"] > 0 and trained["seeds"][0]["train_seconds"] > 0
    assert untrained["seeds"][0]["evaluations"]["classification_probes"]["step"] == 0
    assert trained["summary"]["classification_probes"]["linear_top1"]["values"] == [probe["linear_top1"]]
    assert report["command"].startswith("python benchmarks/train_eval.py --out=")
    # Asked again, the finished runs are read back, not retrained.
    log = tmp_path / "runs/rotation_s0/log.txt"
    before = os.path.getmtime(log)
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0 and os.path.getmtime(log) == before
