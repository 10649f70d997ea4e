"""The command line as a user meets it: the smoke run's artifacts, resume after SIGKILL, one-line errors, and a
two-process MultiWorkerMirroredStrategy run on 127.0.0.1. Each test runs `python -m tfssl.train` in a subprocess."""

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import tensorflow as tf

from tests.conftest import REPO
from tests.multi_worker import assert_identical, run_two_workers
from tfssl.data import pipelines

ROTATION = ["--gin_file=gin/rotation.gin", "--gin_file=gin/smoke.gin"]


def _run(args, timeout=300, env=None, **kwargs):
    return subprocess.run([sys.executable, "-m", *args], cwd=REPO, capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})}, **kwargs)


def _train(model_dir, *extra, **kwargs):
    return _run(["tfssl.train", *ROTATION, f"--model_dir={model_dir}", *extra], **kwargs)


def _error_line(result):
    lines = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(lines) == 1, f"expected one error line, got stderr:\n{result.stderr[-3000:]}"
    assert "Traceback" not in result.stderr
    return lines[0]


def _starts(model_dir):
    with open(os.path.join(model_dir, "runs.jsonl")) as f:
        return [r["step"] for r in map(json.loads, f) if r["event"] == "start"]


def _event_tags(folder):
    tags = set()
    for name in os.listdir(folder):
        if name.startswith("events."):
            for event in tf.compat.v1.train.summary_iterator(os.path.join(folder, name)):
                tags.update(v.tag for v in event.summary.value)
    return tags


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """One smoke run of the main job, shared by the tests that inspect what it leaves."""
    model_dir = str(tmp_path_factory.mktemp("smoke") / "run")
    data = os.path.join(os.environ["TFDS_DATA_DIR"], "tfssl_objects", "tc00_small")
    rendered_before = os.path.isdir(data)  # by an earlier test of the session
    result = _train(model_dir)
    assert result.returncode == 0, result.stderr[-3000:]
    result.rendered_here = not rendered_before
    return model_dir, result


def test_smoke_run_leaves_every_artifact(trained):
    model_dir, result = trained
    assert tf.train.latest_checkpoint(os.path.join(model_dir, "ckpt")).endswith("ckpt-6")
    operative = open(os.path.join(model_dir, "operative_config.gin")).read()
    assert "TRAIN_STEPS = 6" in operative and "Trainer.train_steps = %TRAIN_STEPS" in operative
    tags = _event_tags(os.path.join(model_dir, "train"))
    assert {"loss", "rotation_accuracy", "rotations", "operative_config"} <= tags, tags
    probes = json.load(open(os.path.join(model_dir, "eval", "classification_probes.json")))
    assert 0.0 <= probes["linear_top1"] <= 1.0 and 0.0 <= probes["knn_top1"] <= 1.0 and probes["step"] == 6
    assert any(t.startswith("classification_probes/") for t in _event_tags(os.path.join(model_dir, "eval")))
    for name in ("saved_model", "hub", "encoder.tflite", "manifest.json"):
        assert os.path.exists(os.path.join(model_dir, "export", name)), name
    manifest = json.load(open(os.path.join(model_dir, "export", "manifest.json")))
    assert all(entry["ok"] for entry in manifest["parity"].values())
    assert "Rotation" in manifest["operative_config"]


def test_smoke_run_shows_progress_and_results_without_library_noise(trained):
    _, result = trained
    said = result.stdout + result.stderr
    # The export's parity checks reload hub/ quietly, and tfssl announces its rendered data instead of TFDS.
    assert "unsaved custom gradients" not in said
    assert "Downloading and preparing dataset" not in said and "downloaded and prepared" not in said
    if result.rendered_here:
        assert "tfssl: rendering tfssl_objects/tc00_small (896 images, once; " in result.stdout, result.stdout
        assert "tfssl: rendered tfssl_objects/tc00_small in " in result.stdout, result.stdout
    assert "tfssl: classification_probes at step 6: linear_top1=" in result.stdout
    assert "tfssl: done at step 6" in result.stdout


def test_running_again_resumes_instead_of_restarting(trained):
    model_dir, _ = trained
    result = _train(model_dir, "--gin_param=TRAIN_STEPS = 8")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "resuming from checkpoint at step 6" in result.stdout
    assert _starts(model_dir)[-1] == 6
    assert tf.train.latest_checkpoint(os.path.join(model_dir, "ckpt")).endswith("ckpt-8")


def test_evaluate_cli_writes_results(trained):
    model_dir, _ = trained
    os.remove(os.path.join(model_dir, "eval", "classification_probes.json"))
    training_record = open(os.path.join(model_dir, "operative_config.gin")).read()
    result = _run(["tfssl.evaluate", *ROTATION, f"--model_dir={model_dir}"])
    assert result.returncode == 0, result.stderr[-3000:]
    assert json.load(open(os.path.join(model_dir, "eval", "classification_probes.json")))["num_test"] > 0
    # The evaluation records its own config and leaves the training run's (with the input's bindings) intact.
    assert open(os.path.join(model_dir, "operative_config.gin")).read() == training_record
    assert "classification_probes.dataset" in open(os.path.join(model_dir, "eval", "operative_config.gin")).read()


def test_evaluate_cli_evaluates_an_earlier_checkpoint_for_a_learning_curve(trained):
    model_dir, _ = trained
    state = tf.train.get_checkpoint_state(os.path.join(model_dir, "ckpt"))
    kept = sorted(int(path.rsplit("-", 1)[-1]) for path in state.all_model_checkpoint_paths)
    earliest, latest = kept[0], kept[-1]
    assert earliest < latest
    final = open(os.path.join(model_dir, "eval", "classification_probes.json")).read()
    result = _run(["tfssl.evaluate", *ROTATION, f"--model_dir={model_dir}", f"--checkpoint_step={earliest}"])
    assert result.returncode == 0, result.stderr[-3000:]
    # The record's step is the restored model's own step counter: it proves that checkpoint, not the latest, ran.
    record = json.load(open(os.path.join(model_dir, "eval", f"step_{earliest}", "classification_probes.json")))
    assert record["step"] == earliest and record["num_test"] > 0
    assert open(os.path.join(model_dir, "eval", "classification_probes.json")).read() == final

    missing = _run(["tfssl.evaluate", *ROTATION, f"--model_dir={model_dir}", f"--checkpoint_step={latest + 1}"])
    assert missing.returncode != 0
    line = _error_line(missing)
    assert f"no checkpoint of step {latest + 1}" in line and str(earliest) in line and "max_checkpoints" in line


def test_load_run_rebuilds_the_trained_run_and_its_untrained_twin(trained):
    from tfssl.core import experiment

    model_dir, _ = trained
    run = experiment.load_run(model_dir)
    weights = [w.numpy() for w in run.method.encoder.weights]
    twin = experiment.load_run(model_dir, trained=False)
    assert run.trainer.step > 0 and twin.trainer.step == 0
    assert any(not np.array_equal(a, b.numpy()) for a, b in zip(weights, twin.method.encoder.weights))
    assert os.listdir(os.path.join(model_dir, "ckpt"))  # the run's checkpoints are left as they were


def test_export_script_reexports_from_the_checkpoint(trained, tmp_path):
    model_dir, _ = trained
    result = subprocess.run([sys.executable, "export/export_encoder.py", *ROTATION, f"--model_dir={model_dir}",
                             f"--export_dir={tmp_path / 'e'}", "--tflite_variants=float32,float16"],
                            cwd=REPO, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert (tmp_path / "e" / "encoder.tflite").exists() and (tmp_path / "e" / "encoder_float16.tflite").exists()


def test_non_finite_loss_stops_and_keeps_checkpoints(trained):
    model_dir, _ = trained
    latest = tf.train.latest_checkpoint(os.path.join(model_dir, "ckpt"))
    result = _train(model_dir, "--gin_param=TRAIN_STEPS = 40",
                    "--gin_param=encoder/tfssl.make_optimizer.learning_rate = 1e30")
    assert result.returncode == 3
    line = _error_line(result)
    assert "NaN/Inf at step" in line and "last good checkpoint" in line
    assert tf.train.latest_checkpoint(os.path.join(model_dir, "ckpt")) == latest


def _write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


BAD_INPUTS = {
    "missing gin file": (lambda t: ["--gin_file=gin/nope.gin"], "not found"),
    "gin syntax error": (lambda t: ["--gin_file=" + _write(t, "s.gin", "include 'gin/rotation.gin'\nTRAIN_STEPS = (\n")],
                         "syntax error"),
    "unknown configurable": (lambda t: [*ROTATION, "--gin_param=NoSuch.thing = 1"], "unknown configurable 'NoSuch'"),
    "unknown parameter": (lambda t: [*ROTATION, "--gin_param=tfssl.Trainer.no_such = 1"], "no parameter 'no_such'"),
    "unknown dataset": (lambda t: [*ROTATION, "--gin_param=DATASET = 'no_such_data'"], "unknown dataset"),
    "unknown split": (lambda t: [*ROTATION, "--gin_param=train/tfssl.data.image_dataset.split = 'trian'"],
                      "no split 'trian'"),
    "manual files missing": (lambda t: ["--gin_file=gin/rotation_imagenet.gin", "--gin_file=gin/smoke.gin",
                                        f"--gin_param=tfssl.data.load_builder.manual_dir = '{t}'"],
                             "ILSVRC2012_img_train.tar"),
}


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_bad_input_gives_one_clear_line(case, tmp_path):
    args, expected = BAD_INPUTS[case]
    result = _run(["tfssl.train", *args(tmp_path), f"--model_dir={tmp_path / 'run'}"])
    assert result.returncode == 2, result.stderr[-2000:]
    assert expected in _error_line(result)


def test_unwritable_model_dir(tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    result = _train(str(blocker / "run"))
    assert result.returncode == 2
    assert "not writable" in _error_line(result)


def test_sigkill_mid_run_resumes_from_the_last_checkpoint(tmp_path):
    model_dir = str(tmp_path / "run")
    args = [sys.executable, "-m", "tfssl.train", *ROTATION, f"--model_dir={model_dir}", "--gin_param=TRAIN_STEPS = 200",
            "--gin_param=tfssl.Trainer.checkpoint_every = 2", "--gin_param=tfssl.Experiment.export = False",
            "--gin_param=tfssl.Experiment.evaluations = []"]
    process = subprocess.Popen(args, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    ckpt_dir = os.path.join(model_dir, "ckpt")
    deadline = time.time() + 240
    while time.time() < deadline and process.poll() is None:
        latest = tf.train.latest_checkpoint(ckpt_dir) if os.path.isdir(ckpt_dir) else None
        if latest and int(latest.rsplit("-", 1)[1]) >= 4:
            break
        time.sleep(0.05)
    assert process.poll() is None, "training ended before it could be killed"
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    killed_at = int(tf.train.latest_checkpoint(ckpt_dir).rsplit("-", 1)[1])
    assert 4 <= killed_at < 200
    result = subprocess.run(args, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert f"resuming from checkpoint at step {killed_at}" in result.stdout
    assert _starts(model_dir) == [0, killed_at]
    assert tf.train.latest_checkpoint(ckpt_dir).endswith("ckpt-200")


_WORKER = """
import sys, numpy as np
import tfssl.registry  # noqa: F401  (a fresh process: register the configurables the gin files name)
from tfssl.core import experiment
session = experiment.setup(sys.argv[1], ["gin/rotation.gin", "gin/smoke.gin"], [
    "tfssl.make_strategy.kind = 'multi_worker'", "TRAIN_STEPS = 4"])
assert session.strategy.num_replicas_in_sync == 2, session.strategy.num_replicas_in_sync
experiment.train(session)
np.savez(sys.argv[2], *[v.numpy() for v in session.method.variables])
"""


@pytest.mark.slow
def test_two_worker_multi_worker_mirrored_run(tmp_path):
    # Workers must not prepare the same TFDS dataset concurrently: prepare it once first, as on a real cluster.
    pipelines.load_builder("tfssl_objects/tc00_small")
    run_two_workers(_WORKER, lambda task: [str(tmp_path / "run"), str(tmp_path / f"w{task}.npz")], timeout=400)
    assert_identical(tmp_path / "w0.npz", tmp_path / "w1.npz")
    assert tf.train.latest_checkpoint(str(tmp_path / "run" / "ckpt")).endswith("ckpt-4")
    assert _starts(str(tmp_path / "run")) == [0], "only the chief writes the run log"


def test_list_configurables_names_every_registered_configurable():
    result = _run(["tfssl.train", "--list_configurables"], timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    names = set(result.stdout.split())
    import tfssl.registry  # noqa: F401  (what the tool lists is what the registry registers)
    import gin

    # Test modules may register configurables of their own: compare with the library's.
    library = {selector for selector, configurable in gin.config._REGISTRY.items()
               if configurable.wrapped.__module__.startswith("tfssl.")}
    assert names == library
    assert {"tfssl.Experiment", "tfssl.methods.Rotation", "tfssl.methods.PCNet", "tfssl.data.scene_pair_dataset",
            "tfssl.methods.pcnet_sample", "tfssl.evaluation.layer_probes"} <= names
