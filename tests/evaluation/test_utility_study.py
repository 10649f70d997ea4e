"""The utility study end to end on smoke sizes (one encoder trained by the study itself, two budgets), its resume
after an interruption (finished runs are not redone), and the pure pieces of fine-tuning (tiling, schedule)."""

import json
import os

import numpy as np
import pytest
import tensorflow as tf

from tests.conftest import REPO
from tfssl.core import config, experiment
from tfssl.errors import UserError
from tfssl.evaluation import finetune, utility_study

SMALL = [
    "tfssl.data.dataset_size.size = 'small'",
    "tfssl.evaluation.utility_study.tasks = ['class']",
    "tfssl.evaluation.utility_study.budgets = [16, 64]",
    "tfssl.evaluation.utility_study.seeds = [0]",
    "tfssl.evaluation.utility_study.batch_size = 8",
    "tfssl.evaluation.utility_study.min_steps = 3",
    "tfssl.evaluation.utility_study.max_steps = 3",
    "tfssl.evaluation.utility_study.linear_epochs = 5",
    "tfssl.evaluation.utility_study.max_test_examples = 64",
    "tfssl.evaluation.utility_study.pretrain_steps = 2",
    "tfssl.evaluation.utility_study.pretrain_params = ['tfssl.Experiment.export = False', "
    "'tfssl.evaluation.classification_probes.max_train_examples = 32', "
    "'tfssl.evaluation.classification_probes.max_test_examples = 32']",
]


def _study(study_dir, run_dir, *extra):
    encoders = f"tfssl.evaluation.utility_study.encoders = {{'rotation': ('{run_dir}', ['gin/rotation.gin', 'gin/smoke.gin'])}}"
    config.parse([os.path.join(REPO, "gin", "utility.gin")], SMALL + [encoders, *extra], finalize=False)
    with config.translate_call_errors():
        return experiment.study()(str(study_dir))


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """One study whose encoder's run directory does not exist yet: the study trains it first."""
    root = tmp_path_factory.mktemp("utility")
    old = os.getcwd()
    os.chdir(REPO)
    try:
        summary = _study(root / "study", root / "rotation")
    finally:
        os.chdir(old)
    return root, summary


def test_study_trains_the_missing_run_and_writes_json_plots_and_scalars(finished):
    root, summary = finished
    study = root / "study"
    assert (root / "rotation" / "operative_config.gin").exists(), "the missing run was trained"
    with open(study / "utility.json") as f:
        written = json.load(f)
    assert written["study"] == "utility" and written == json.loads(json.dumps(summary))
    # The encoder's training is timed apart from the study's own time (MODEL_ZOO subtracts it from the bar).
    assert 0 < written["seconds_encoder_training"] < written["seconds_this_invocation"]
    assert written["runs_already_done"] == 0
    runs = written["runs"]
    assert sorted((r["encoder"], r["labels"]) for r in runs) == [("rotation", 16), ("rotation", 64),
                                                                  ("scratch", 16), ("scratch", 64)]
    for r in runs:
        assert 0.0 <= r["accuracy"] <= 1.0 and 0.0 <= r["linear_accuracy"] <= 1.0 and r["steps"] == 3
    assert {r["encoder_step"] for r in runs if r["encoder"] == "rotation"} == {2}
    setting = written["settings"]["tc00/class"]
    assert setting["budgets"] == [16, 64]
    assert set(setting["encoders"]["rotation"]["utility"]) == {"16", "64"}
    assert "utility" not in setting["encoders"]["scratch"]
    for name in ("accuracy_tc00_class.png", "utility_tc00_class.png"):
        with open(study / name, "rb") as f:
            assert f.read(8) == b"\x89PNG\r\n\x1a\n"
    tags = set()
    for name in os.listdir(study / "tensorboard"):
        for event in tf.compat.v1.train.summary_iterator(str(study / "tensorboard" / name)):
            tags.update(v.tag for v in event.summary.value)
    assert {"tc00/class/rotation/finetune_accuracy", "tc00/class/scratch/linear_accuracy"} <= tags


def test_an_interrupted_study_resumes_without_redoing_finished_runs(finished, tmp_path, monkeypatch):
    root, _ = finished
    monkeypatch.chdir(REPO)
    calls, loads = [], []
    real_run, real_load = finetune.FineTuner.run, utility_study._load_encoder

    def counting_run(self, *args, **kwargs):
        calls.append(kwargs["seed"])
        if os.environ.get("STOP_AFTER") and len(calls) > int(os.environ["STOP_AFTER"]):
            raise KeyboardInterrupt  # the study is killed during its third run
        return real_run(self, *args, **kwargs)

    def counting_load(*args, **kwargs):
        loads.append(args[0])
        return real_load(*args, **kwargs)

    monkeypatch.setattr(finetune.FineTuner, "run", counting_run)
    monkeypatch.setattr(utility_study, "_load_encoder", counting_load)
    monkeypatch.setenv("STOP_AFTER", "2")
    with pytest.raises(KeyboardInterrupt):
        _study(tmp_path, root / "rotation")
    done = [os.path.join(d, f) for d, _, files in os.walk(tmp_path / "runs") for f in files]
    assert len(done) == 2 and not any(f.endswith(".tmp") for f in done)

    monkeypatch.delenv("STOP_AFTER")
    calls.clear()
    summary = _study(tmp_path, root / "rotation")
    assert len(calls) == 2, "only the two unfinished runs are trained"
    assert len(summary["runs"]) == 4
    assert summary["runs_already_done"] == 2 and summary["seconds_encoder_training"] == 0.0  # encoder trained before

    calls.clear()
    loads.clear()
    _study(tmp_path, root / "rotation")
    assert calls == [] and loads == [], "a finished study trains nothing and loads no encoder"

    with pytest.raises(UserError, match="other settings"):
        _study(tmp_path, root / "rotation", "tfssl.evaluation.utility_study.learning_rate = 0.1")


def test_batches_tile_a_small_budget_evenly():
    order = finetune.batch_indices(10, 4, 7, seed=3)
    assert order.shape == (7, 4) and order.min() >= 0 and order.max() < 10
    counts = np.bincount(order.ravel(), minlength=10)
    assert counts.max() - counts.min() <= 1  # 28 draws of 10 examples: each seen 2 or 3 times
    assert np.array_equal(order, finetune.batch_indices(10, 4, 7, seed=3))
    assert not np.array_equal(order, finetune.batch_indices(10, 4, 7, seed=4))


def test_schedule_warms_up_then_decays_linearly_to_zero():
    lrs = [finetune.warmup_linear_decay(s, 10, 2, 1.0) for s in range(10)]
    assert lrs[:2] == [0.5, 1.0]
    assert lrs[2] == 1.0 and lrs[-1] == pytest.approx(1.0 / 8)
    assert all(a > b for a, b in zip(lrs[2:], lrs[3:]))


def test_steps_for_budget_clips_to_the_floor_and_ceiling():
    kw = dict(batch_size=64, epochs=2.0, min_steps=80, max_steps=200)
    assert [utility_study.steps_for_budget(n, **kw) for n in (100, 4000, 20000)] == [80, 125, 200]


def test_bad_settings_are_user_errors(tmp_path, monkeypatch):
    monkeypatch.chdir(REPO)
    with pytest.raises(UserError, match="unknown utility task"):
        _study(tmp_path, tmp_path / "run", "tfssl.evaluation.utility_study.tasks = ['depth']")
    with pytest.raises(UserError, match="min_steps <= max_steps"):
        _study(tmp_path, tmp_path / "run", "tfssl.evaluation.utility_study.min_steps = 0")
    with pytest.raises(UserError, match="reserved"):
        config.parse([os.path.join(REPO, "gin", "utility.gin")],
                     ["tfssl.evaluation.utility_study.encoders = {'scratch': 'runs/x'}"], finalize=False)
        experiment.study()(str(tmp_path))


def test_dense_trunk_gives_per_pixel_logits():
    from tfssl.layers.resnet9 import resnet9

    tuner = finetune.FineTuner(finetune.architecture(resnet9(image_size=16, width=4)), finetune.TASKS["segmentation"],
                               batch_size=4, learning_rate=1e-3, warmup_fraction=0.0)
    images = np.random.default_rng(0).integers(0, 255, (6, 16, 16, 3), dtype=np.uint8)
    masks = (images[..., 0] > 127).astype(np.uint8)
    record = tuner.run(tuner.fresh_weights(0), images, masks, steps=2, seed=0)
    assert record["steps"] == 2 and np.isfinite(record["final_loss"])
    assert tuner.model(images[:2].astype(np.float32) / 255.0).shape == (2, 16, 16, 2)
    assert 0.0 <= tuner.accuracy(images, masks) <= 1.0


def test_segmentation_targets_are_the_union_of_the_modal_masks():
    from tfssl.data import pipelines

    dataset = pipelines.resolve_name("tfssl_scenes/base_small")
    images, masks = finetune.load_task_arrays(finetune.TASKS["segmentation"], dataset, "test", max_examples=4)
    assert images.shape == (4, 64, 64, 3) and images.dtype == np.uint8
    assert masks.shape == (4, 64, 64) and set(np.unique(masks)) == {0, 1}
    scenes = pipelines.load_builder(dataset).as_dataset(split="test", shuffle_files=False).take(4)
    for mask, scene in zip(masks, scenes):
        assert np.array_equal(mask, (scene["modal"].numpy().max(axis=0) > 0).astype(np.uint8))
