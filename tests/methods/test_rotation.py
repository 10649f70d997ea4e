"""Rotation prediction: the spec's properties and the shared method contract."""

import gin
import numpy as np
import tensorflow as tf

from tests.method_checks import Returns, check_resume_equivalence, run_method_checks
from tfssl.layers.augment import rotate_four
from tfssl.methods.rotation import Rotation

BINDINGS = ["tfssl.make_optimizer.total_steps = 10", "tfssl.layers.resnet9.width = 4",
            "encoder/tfssl.make_optimizer.learning_rate = 0.1"]
# gin/rotation.gin + gin/smoke.gin at 32 px, width 4, 12 images in batches of 8 (the resume starts mid-epoch).
RESUME = ["IMAGE_SIZE = 32", "GLOBAL_BATCH = 8", "train/tfssl.data.image_dataset.image_size = %IMAGE_SIZE",
          "train/tfssl.data.image_dataset.max_examples = 12", "tfssl.layers.resnet9.width = 4"]


def _batch(n=8, size=32, seed=0):
    rs = np.random.RandomState(seed)
    return {"image": rs.rand(n, size, size, 3).astype("float32"), "index": np.arange(n, dtype="int64") * 7,
            "label": rs.randint(0, 10, n).astype("int32")}


def test_rotation_method_contract(tmp_path):
    gin.parse_config(BINDINGS)
    run_method_checks(lambda: Rotation(image_size=32), _batch(), tmp_path / "export",
                      endpoints={"predict_rotation": Returns((4,), 0.0, 1.0, unit="sum")})


def test_rotation_resumes_exactly_in_a_fresh_process(tmp_path):
    check_resume_equivalence(["gin/rotation.gin", "gin/smoke.gin"], RESUME, tmp_path)


def test_rotation_learns_on_a_fixed_batch():
    gin.parse_config(BINDINGS + ["tfssl.make_optimizer.schedule = 'constant'",
                                 "encoder/tfssl.make_optimizer.learning_rate = 0.05"])
    method = Rotation(image_size=32)
    batch = _batch(8)
    step = tf.function(method.train_step)
    first = float(step(batch)["loss"])
    for _ in range(30):
        last = step(batch)
    assert float(last["loss"]) < 0.5 * first
    probabilities = method.serving_endpoints()["predict_rotation"][0](rotate_four(batch["image"])[0]).numpy()
    np.testing.assert_allclose(probabilities.sum(-1), 1.0, rtol=1e-5)


def test_summaries_show_the_four_rotations():
    gin.parse_config(BINDINGS)
    images = Rotation(image_size=32).summaries(_batch(6))["rotations"]
    assert images.shape == (16, 32, 32, 3)
    assert float(tf.reduce_min(images)) >= 0.0 and float(tf.reduce_max(images)) <= 1.0
