"""`python -m tfssl.detect_keypoints`: keypoints.json and overlays from a trained smoke KeypointGAN, the mapping back
to each frame's pixels, and one-line errors (checked before the model is built) for every kind of bad input."""

import json
import os
import re
import subprocess
import sys

import gin
import numpy as np
import pytest
from PIL import Image

from tests.conftest import REPO
from tfssl import deocclude, detect_keypoints as tool  # noqa: F401  (both define --out: they must share a process)
from tfssl.core import experiment
from tfssl.data.render import figures

GIN = [os.path.join(REPO, "gin", "keypoints.gin"), os.path.join(REPO, "gin", "smoke.gin")]
TINY = ["tfssl.methods.KeypointGAN.width = 0.125", "tfssl.methods.KeypointGAN.discriminator_width = 0.125"]
SIZE = 64  # gin/keypoints.gin's IMAGE_SIZE


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    """A KeypointGAN trained for 2 smoke steps (tiny networks, no evaluations or exports), once per module."""
    directory = str(tmp_path_factory.mktemp("keypointgan"))
    try:
        result = experiment.run(directory, GIN, TINY + [
            "TRAIN_STEPS = 2", "tfssl.Trainer.progress = False", "tfssl.Experiment.export = False",
            "tfssl.Experiment.evaluations = []"])
    finally:
        gin.clear_config()
    assert result["step"] == 2
    return directory


def _save(path, array, **kwargs):
    Image.fromarray(np.asarray(array)).save(path, **kwargs)
    return str(path)


def _random(height, width, seed, channels=3):
    shape = (height, width, channels) if channels > 1 else (height, width)
    return (np.random.RandomState(seed).rand(*shape) * 255).astype(np.uint8)


def _run(capsys, *flags):
    """(exit status, stderr) of the tool's main, called as absl.app.run calls it."""
    try:
        tool.FLAGS(["detect_keypoints", *flags])
        try:
            tool.main(["detect_keypoints"])
            code = 0
        except SystemExit as exit_:
            code = exit_.code
    finally:
        tool.FLAGS.unparse_flags()
        gin.clear_config()
    return code, capsys.readouterr().err


def _model_flags(model_dir):
    return [f"--gin_file={f}" for f in GIN] + [f"--gin_param={p}" for p in TINY] + [f"--model_dir={model_dir}"]


def test_writes_keypoints_json_and_overlays_of_the_models_points(model_dir, tmp_path, capsys):
    frames = tmp_path / "frames"
    frames.mkdir()
    files = [_save(frames / "f0.png", _random(SIZE, SIZE, 0)),
             _save(frames / "f1.jpg", _random(SIZE, SIZE, 1), quality=95),
             _save(frames / "f2.png", _random(SIZE, SIZE, 2, channels=1)),  # greyscale
             _save(frames / "f3.png", _random(SIZE, SIZE, 3, channels=4))]  # RGBA
    (frames / "notes.txt").write_text("not a frame")
    _save(frames / ".hidden.png", _random(8, 8, 4))  # hidden files are skipped
    out = tmp_path / "out"
    code, err = _run(capsys, *_model_flags(model_dir), f"--frames={frames}", f"--out={out}", "--batch_size=3")
    assert code == 0, err

    record = json.load(open(out / "keypoints.json"))
    assert record["model_image_size"] == SIZE and record["resized"] is False and record["checkpoint_step"] == 2
    assert record["num_points"] == figures.NUM_JOINTS and record["joint_names"] == list(figures.JOINT_NAMES)
    assert record["limbs"] == [list(limb) for limb in figures.LIMBS]
    assert [f["file"] for f in record["frames"]] == files  # sorted by name, other files left out
    points = np.array([f["points"] for f in record["frames"]])
    assert points.shape == (4, figures.NUM_JOINTS, 2) and np.isfinite(points).all()
    # soft-argmax points lie between the first and last pixel centres
    assert (points >= 0.5 - 1e-3).all() and (points <= SIZE - 0.5 + 1e-3).all()

    # The points are the restored model's detect_keypoints on the frames as read (greyscale -> RGB, alpha dropped).
    session = experiment.setup(model_dir, GIN, TINY)
    images = np.stack([np.asarray(Image.open(f).convert("RGB")) for f in files]).astype(np.float32) / 255.0
    np.testing.assert_allclose(points, session.method.detect_keypoints(images).numpy(), atol=2e-3)

    for i, (frame, path) in enumerate(zip(record["frames"], files)):
        assert (frame["width"], frame["height"]) == (SIZE, SIZE)
        assert frame["overlay"] == os.path.join("overlays", f"{i:04d}_f{i}.png")
        overlay = np.asarray(Image.open(out / frame["overlay"]))
        assert overlay.shape == (SIZE, SIZE, 3)
        assert (overlay != np.asarray(Image.open(path).convert("RGB"))).any(axis=-1).sum() > 20  # a skeleton drawn
    assert sorted(os.listdir(out / "overlays")) == [f"{i:04d}_f{i}.png" for i in range(4)]


def test_resize_maps_the_points_back_to_each_frames_pixels(model_dir, tmp_path, capsys):
    # One colour: every frame is the same model input after resizing, so only the mapping differs.
    colour = np.array([90, 140, 200], np.uint8)
    small = _save(tmp_path / "a_small.png", np.zeros((SIZE, SIZE, 3), np.uint8) + colour)
    wide = _save(tmp_path / "b_wide.png", np.zeros((96, 160, 3), np.uint8) + colour)
    out = tmp_path / "out"
    code, err = _run(capsys, *_model_flags(model_dir), f"--frames={small},{wide}", f"--out={out}", "--resize=true")
    assert code == 0, err
    record = json.load(open(out / "keypoints.json"))
    assert record["resized"] is True
    a, b = (np.array(f["points"]) for f in record["frames"])
    assert (record["frames"][1]["width"], record["frames"][1]["height"]) == (160, 96)
    np.testing.assert_allclose(b, a * [160 / SIZE, 96 / SIZE], atol=3e-3)
    assert (b[:, 0] > 0).all() and (b[:, 0] < 160).all() and (b[:, 1] > 0).all() and (b[:, 1] < 96).all()
    assert np.asarray(Image.open(out / record["frames"][1]["overlay"])).shape == (96, 160, 3)


def test_pixel_mapping_and_joint_names():
    # The model's first pixel centre (0.5) covers frame pixels 0..1 of a frame twice as wide: their border, 1.0.
    np.testing.assert_allclose(tool.to_frame_pixels([[0.5, 0.5], [63.5, 32.0]], 128, 32, 64),
                               [[1.0, 0.25], [127.0, 16.0]])
    assert tool.joint_names(figures.LIMBS, figures.NUM_JOINTS) == list(figures.JOINT_NAMES)
    assert tool.joint_names([(0, 1)], 2) is None  # another skeleton: limbs only
    assert tool.overlay_name(12, "/x/frame.jpg") == os.path.join("overlays", "0012_frame.png")


def test_read_frame_gives_rgb_uint8_from_grey_16_bit_and_rgba(tmp_path):
    deep = (np.arange(16 * 16).reshape(16, 16) * 257).astype(np.uint16)  # 16-bit grey 0..65535 -> 0..255
    frame = tool.read_frame(_save(tmp_path / "deep.png", deep))
    assert frame.shape == (16, 16, 3) and frame.dtype == np.uint8
    np.testing.assert_array_equal(frame[..., 1], np.arange(256).reshape(16, 16))
    rgba = _random(8, 8, 0, channels=4)
    np.testing.assert_array_equal(tool.read_frame(_save(tmp_path / "rgba.png", rgba)), rgba[..., :3])


def _bad_case(case, tmp_path, model_dir):
    """The tool's flags (all but --out) for one kind of bad input; every other input is good."""
    frames = tmp_path / "frames"
    frames.mkdir()
    _save(frames / "a.png", _random(SIZE, SIZE, 0))
    model = _model_flags(model_dir)
    if case == "corrupt":
        (frames / "b.png").write_bytes(b"this is not a PNG")
    elif case == "truncated":
        whole = (frames / "a.png").read_bytes()
        (frames / "b.png").write_bytes(whole[:len(whole) // 2])
    elif case == "size":
        _save(frames / "b.png", _random(48, 80, 1))
        _save(frames / "c.png", _random(48, 80, 2))
    elif case == "empty":
        os.remove(frames / "a.png")
    elif case == "no_images":
        os.remove(frames / "a.png")
        (frames / "frames.txt").write_text("a list")
    elif case == "missing":
        frames = tmp_path / "nowhere"
    elif case == "no_checkpoint":
        model = _model_flags(tmp_path / "untrained")
    elif case == "image_size":
        model.append("--gin_param=IMAGE_SIZE = 32")
    elif case == "method":
        model = [f"--gin_file={os.path.join(REPO, 'gin', 'rotation.gin')}", f"--model_dir={model_dir}"]
    return model + [f"--frames={frames}"]


@pytest.mark.parametrize("case, message", [
    ("corrupt", r"cannot read frame .*b\.png \(.*\); re-save it as PNG or JPEG, or remove it$"),
    ("truncated", r"cannot read frame .*b\.png \(.*truncated.*\); re-save it as PNG or JPEG"),
    ("size", r"frame .*b\.png \(and 1 more frame\) is 80x48 but the model takes 64x64 frames; pass --resize=true"),
    ("empty", r"frames folder .*frames is empty; put the frames \(PNG or JPEG\) in it"),
    ("no_images", r"frames folder .*frames holds no PNG or JPEG files \(only frames\.txt\); save the frames as \.png"),
    ("missing", r"--frames entry .*nowhere does not exist; check the path"),
    ("no_checkpoint", r"no checkpoint in .*untrained/ckpt; point --model_dir at a trained KeypointGAN run"),
    ("image_size", r"holds a model trained on 64x64 frames but the gin files build one for 32x32; pass the gin "
                   r"files that trained it"),
    ("method", r"the gin files build Rotation, which detects no keypoints; pass the KeypointGAN gin files"),
])
def test_bad_input_is_one_line_and_exit_2_before_the_model_is_built(case, message, model_dir, tmp_path, capsys,
                                                                    monkeypatch):
    def build(*args, **kwargs):
        raise AssertionError("the model was built before the inputs were checked")

    monkeypatch.setattr(experiment, "setup", build)
    out = tmp_path / "out"
    code, err = _run(capsys, *_bad_case(case, tmp_path, model_dir), f"--out={out}")
    assert code == 2
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert re.search(message, lines[0]), lines[0]
    assert not out.exists()


def test_command_line_reports_a_corrupt_frame_in_one_line(model_dir, tmp_path):
    flags = _bad_case("corrupt", tmp_path, model_dir)
    proc = subprocess.run([sys.executable, "-m", "tfssl.detect_keypoints", *flags, f"--out={tmp_path / 'out'}"],
                          cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2
    lines = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and f"cannot read frame {tmp_path / 'frames' / 'b.png'} (" in lines[0], proc.stderr[-2000:]
