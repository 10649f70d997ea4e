"""`python -m tfssl.deocclude`: input checks with one-line errors, and the files it writes."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from tests.conftest import REPO
from tfssl import deocclude
from tfssl.methods.pcnet import inference as D
from tfssl.errors import DataError, UserError
from tfssl.data.builders import tfssl_scenes


def _write(path, array):
    Image.fromarray(np.asarray(array)).save(path)
    return str(path)


@pytest.fixture
def files(tmp_path):
    image = _write(tmp_path / "img.png", np.full((16, 16, 3), 120, np.uint8))
    a = np.zeros((16, 16), np.uint8)
    a[2:8, 2:8] = 255
    b = np.zeros((16, 16), np.uint8)
    b[5:12, 6:12] = 1
    return {"image": image, "a": _write(tmp_path / "a.png", a), "b": _write(tmp_path / "b.png", b),
            "dir": tmp_path}


def test_reads_binary_masks_in_both_conventions(files):
    image, modal, category = deocclude.read_inputs(files["image"], [files["a"], files["b"]], ["3", "7"])
    assert image.shape == (16, 16, 3) and image.dtype == np.float32 and image.max() <= 1.0
    assert modal.shape == (2, 16, 16) and modal.dtype == bool and modal[0].sum() == 36 and modal[1].sum() == 42
    np.testing.assert_array_equal(category, [3, 7])
    assert deocclude.read_inputs(files["image"], [files["a"]], [])[2] is None


@pytest.mark.parametrize("case, match", [
    ("size", "is 16x8 but the image is 16x16"),
    ("empty", "is empty"),
    ("grey", "is not binary"),
    ("missing", "does not exist"),
    ("categories", "1 --categories for 2 --masks"),
])
def test_bad_inputs_raise_one_line_user_errors(files, case, match):
    masks, categories = [files["a"], files["b"]], []
    if case == "size":
        masks[1] = _write(files["dir"] / "small.png", np.zeros((8, 16), np.uint8) + 255)
    elif case == "empty":
        masks[1] = _write(files["dir"] / "empty.png", np.zeros((16, 16), np.uint8))
    elif case == "grey":
        grey = np.zeros((16, 16), np.uint8)
        grey[3:6, 3:6] = 128
        grey[0, 0] = 255
        masks[1] = _write(files["dir"] / "grey.png", grey)
    elif case == "missing":
        masks[1] = str(files["dir"] / "nope.png")
    elif case == "categories":
        categories = ["2"]
    with pytest.raises(DataError, match=match) as error:
        deocclude.read_inputs(files["image"], masks, categories)
    assert isinstance(error.value, UserError) and "\n" not in str(error.value)


def test_command_line_error_is_one_line_with_nonzero_exit(files):
    missing = str(files["dir"] / "missing.png")
    proc = subprocess.run(
        [sys.executable, "-m", "tfssl.deocclude", "--gin_file=gin/rotation.gin", "--model_dir=" + str(files["dir"]),
         "--image=" + files["image"], "--masks=" + files["a"] + "," + missing, "--out=" + str(files["dir"] / "o")],
        cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    lines = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert lines == [f"error: mask file {missing} does not exist; check the path"], proc.stderr[-2000:]


def test_writes_order_amodal_layers_and_background(tmp_path):
    ex = tfssl_scenes.scene_example("test", 3, tfssl_scenes.TfsslScenes.BUILDER_CONFIGS[0])
    n = ex["num_objects"]
    modal, amodal = ex["modal"][:n] > 0, ex["amodal"][:n] > 0
    result = D.deocclude(D.OracleCompleter(modal, amodal, 64), ex["image"] / 255.0, modal)
    written = deocclude.write_outputs(str(tmp_path), result)
    assert set(written) == {"order.json", "background.png"} | {f"amodal_{i:02d}.png" for i in range(n)} | {
        f"layer_{i:02d}.png" for i in range(n)}
    record = json.load(open(tmp_path / "order.json"))
    np.testing.assert_array_equal(record["order"], result.order)
    assert record["ancestors"] == {str(i): D.ancestors(result.order, i) for i in range(n)}
    layer = np.asarray(Image.open(tmp_path / "layer_00.png"))
    assert layer.shape == (64, 64, 4)
    np.testing.assert_array_equal(layer[..., 3] > 0, result.amodal[0])
    np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / "amodal_01.png")) > 0, result.amodal[1])
    assert np.asarray(Image.open(tmp_path / "background.png")).shape == (64, 64, 3)
    assert os.path.getsize(tmp_path / "background.png") > 0


class _Session:
    """What `experiment.setup` returns, with a convex-hull completer standing in for a trained PCNet."""

    class trainer:  # noqa: N801 (mimics the attribute)
        step = 5

    def __init__(self, use_category):
        self.method = D.ConvexHullCompleter(16)
        self.method.use_category = use_category


def test_command_writes_results_with_a_restored_method(files, monkeypatch):
    from tfssl.core import experiment

    sessions = []
    monkeypatch.setattr(experiment, "setup", lambda *a, **k: sessions.append(_Session(True)) or sessions[-1])
    out = files["dir"] / "out"
    argv = ["deocclude", "--gin_file=gin/pcnet.gin", "--image=" + files["image"],
            "--masks=" + files["a"] + "," + files["b"], "--out=" + str(out)]
    try:
        deocclude.FLAGS(argv)
        with pytest.raises(UserError, match="pass --categories"):
            deocclude._deocclude(str(files["dir"]))
        deocclude.FLAGS(argv + ["--categories=2,5"])
        deocclude._deocclude(str(files["dir"]))
    finally:
        deocclude.FLAGS.unparse_flags()
    record = json.load(open(out / "order.json"))
    assert record["categories"] == [2, 5]
    assert np.asarray(record["order"]).shape == (2, 2)
    assert sorted(os.listdir(out)) == ["amodal_00.png", "amodal_01.png", "background.png", "layer_00.png",
                                       "layer_01.png", "order.json"]


def test_command_passes_the_inference_options(files, monkeypatch):
    from tfssl.core import experiment

    monkeypatch.setattr(experiment, "setup", lambda *a, **k: _Session(False))
    calls = []
    real = D.deocclude
    monkeypatch.setattr(D, "deocclude", lambda *a, **k: calls.append(k) or real(*a, **k))
    argv = ["deocclude", "--gin_file=gin/pcnet.gin", "--image=" + files["image"], "--masks=" + files["a"] + ","
            + files["b"], "--out=" + str(files["dir"] / "opts"), "--order_score=soft", "--flip_average",
            "--amodal_threshold=0.4", "--eraser_dilation=1", "--total_order"]
    try:
        deocclude.FLAGS(argv)
        deocclude._deocclude(str(files["dir"]))
    finally:
        deocclude.FLAGS.unparse_flags()
    assert calls[0]["order_score"] == "soft" and calls[0]["flip_average"] is True and calls[0]["total_order"] is True
    assert calls[0]["amodal_threshold"] == 0.4 and calls[0]["eraser_dilation"] == 1
    assert os.path.exists(files["dir"] / "opts" / "order.json")
