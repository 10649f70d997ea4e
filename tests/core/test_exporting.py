"""Round trips of tfssl.core.exporting on a tiny toy method: SavedModel, Hub (hub.load, hub.KerasLayer fine-tuning,
TFSMLayer), TF-Lite in LiteRT, the manifest, atomic replacement and the clear write errors."""

import errno
import json
import logging
import os
import pathlib

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfssl.core import exporting
from tfssl.errors import UserError

SIZE = 16
FEATURES = 8
CLASSES = 5
PREPROCESSING = {"dtype": "float32", "range": [0, 1], "layout": "NHWC", "size": [SIZE, SIZE]}
OPERATIVE_CONFIG = "# Toy operative config\nToy.width = 4\n"


class ToyMethod(keras.Model):
    """Stands in for a tfssl method: an encoder with BatchNorm (so training=True/False differ), a head, and one
    serving endpoint."""

    def __init__(self):
        super().__init__()
        self.encoder = keras.Sequential(
            [
                keras.Input((SIZE, SIZE, 3)),
                keras.layers.Conv2D(4, 3, kernel_regularizer=keras.regularizers.L2(1e-2)),
                keras.layers.BatchNormalization(),
                keras.layers.ReLU(),
                keras.layers.GlobalAveragePooling2D(),
                keras.layers.Dense(FEATURES),
            ],
            name="toy_encoder",
        )
        self.head = keras.layers.Dense(CLASSES)

    def call(self, images, training=False):
        return self.head(self.encoder(images, training=training))

    def serving_endpoints(self):
        def predict_logits(images):
            return self.head(self.encoder(images, training=False))

        def classify_features(features):  # a non-image input and a dict output, like a task-specific endpoint
            logits = self.head(features)
            return {"logits": logits, "probabilities": tf.nn.softmax(logits)}

        return {
            "predict_logits": (predict_logits, [tf.TensorSpec([None, SIZE, SIZE, 3], tf.float32, name="images")]),
            "classify_features": (classify_features, [tf.TensorSpec([None, FEATURES], tf.float32)]),
        }


def _images(n, seed):
    return np.random.default_rng(seed).uniform(0.0, 1.0, (n, SIZE, SIZE, 3)).astype(np.float32)


@pytest.fixture(scope="module")
def method():
    keras.utils.set_random_seed(0)
    toy = ToyMethod()
    toy(_images(2, 0))
    # Non-default BatchNorm statistics: an export that lost them (or re-initialised them) cannot match the live model.
    bn = toy.encoder.layers[1]
    bn.moving_mean.assign(np.linspace(-0.5, 0.5, 4).astype(np.float32))
    bn.moving_variance.assign(np.linspace(0.5, 2.0, 4).astype(np.float32))
    return toy


@pytest.fixture(scope="module")
def sample_images():
    return _images(4, 1)


@pytest.fixture(scope="module")
def export_dir(method, sample_images, tmp_path_factory):
    path = tmp_path_factory.mktemp("export")
    manifest = exporting.export_all(
        method,
        path,
        sample_images,
        operative_config=OPERATIVE_CONFIG,
        preprocessing=PREPROCESSING,
        tflite_variants=("float32", "float16", "int8"),
    )
    return path, manifest


def _live_features(method, images):
    return method.encoder(images, training=False).numpy()


# ------------------------------------------------------------------------------------------------------------------
# export_all and the manifest
# ------------------------------------------------------------------------------------------------------------------


def test_export_all_writes_every_file_and_a_complete_manifest(export_dir, sample_images):
    path, manifest = export_dir
    for name in ("saved_model/saved_model.pb", "hub/saved_model.pb", "encoder.tflite", "encoder_float16.tflite",
                 "encoder_int8.tflite", "manifest.json"):
        assert (path / name).is_file(), name
    # Nothing of the staging survives.
    assert not [p.name for p in path.iterdir() if p.name.startswith(".")]

    on_disk = json.loads((path / "manifest.json").read_text())
    assert on_disk == manifest
    assert on_disk["files"] == ["saved_model", "hub", "encoder.tflite", "encoder_float16.tflite",
                                "encoder_int8.tflite", "manifest.json"]
    assert on_disk["input"] == {"name": "images", "shape": [None, SIZE, SIZE, 3], "dtype": "float32",
                                "range": [0, 1], "layout": "NHWC"}
    assert on_disk["output"]["shape"] == [None, FEATURES]
    assert on_disk["preprocessing"] == PREPROCESSING
    assert on_disk["operative_config"] == OPERATIVE_CONFIG
    assert set(on_disk["versions"]) >= {"tfssl", "tensorflow", "keras", "python", "numpy"}
    assert on_disk["versions"]["tensorflow"] == tf.__version__
    assert on_disk["versions"]["keras"] == keras.__version__

    endpoints = {(e["export"], e["name"]): e for e in on_disk["endpoints"]}
    assert set(endpoints) == {("saved_model", "serving_default"), ("saved_model", "predict_logits"),
                              ("saved_model", "classify_features"), ("hub", "serving_default")}
    logits = endpoints[("saved_model", "predict_logits")]
    assert logits["inputs"] == {"images": {"shape": [None, SIZE, SIZE, 3], "dtype": "float32"}}
    assert logits["outputs"] == {"output_0": {"shape": [None, CLASSES], "dtype": "float32"}}
    assert logits["parity_inputs"] == "sample_images"
    classify = endpoints[("saved_model", "classify_features")]
    assert classify["inputs"] == {"features": {"shape": [None, FEATURES], "dtype": "float32"}}
    assert set(classify["outputs"]) == {"logits", "probabilities"}
    assert classify["parity_inputs"] == "synthetic(seed=0)"
    assert endpoints[("hub", "serving_default")]["outputs"]["output_0"]["shape"] == [None, FEATURES]

    # Every export was measured against the live model, and the float32 ones are exact to float rounding.
    parity = on_disk["parity"]
    assert set(parity) == {"saved_model/serving_default", "saved_model/predict_logits", "saved_model/classify_features",
                           "hub/__call__", "hub/serving_default", "encoder.tflite", "encoder_float16.tflite",
                           "encoder_int8.tflite"}
    for key, record in parity.items():
        assert record["ok"], key
        assert record["batch"] == len(sample_images)
        assert record["max_abs_reference"] > 0.01, key  # the check compared real, non-zero outputs
    for key in ("saved_model/serving_default", "saved_model/predict_logits", "saved_model/classify_features",
                "hub/__call__", "hub/serving_default", "encoder.tflite"):
        assert parity[key]["max_abs_diff"] < 1e-4, key
    assert parity["encoder_float16.tflite"]["max_abs_diff"] < 1e-2
    assert on_disk["tflite"]["float32"] == {"file": "encoder.tflite", "quantization": None, "batch": "dynamic",
                                            "input_shape": [None, SIZE, SIZE, 3],
                                            "bytes": (path / "encoder.tflite").stat().st_size}


# ------------------------------------------------------------------------------------------------------------------
# SavedModel
# ------------------------------------------------------------------------------------------------------------------


def test_saved_model_endpoints_match_the_live_functions(export_dir, method):
    path, _ = export_dir
    loaded = tf.saved_model.load(str(path / "saved_model"))
    assert set(loaded.signatures) == {"serving_default", "predict_logits", "classify_features"}
    images = _images(3, 2)  # another batch size than the sample
    live = method.serving_endpoints()
    live_logits = live["predict_logits"][0](tf.constant(images)).numpy()

    np.testing.assert_allclose(loaded.serving_default(images), _live_features(method, images), atol=1e-5)
    np.testing.assert_allclose(loaded.predict_logits(images), live_logits, atol=1e-5)
    signature_out = loaded.signatures["predict_logits"](images=tf.constant(images))["output_0"]
    np.testing.assert_allclose(signature_out, live_logits, atol=1e-5)
    features = np.random.default_rng(3).normal(size=(3, FEATURES)).astype(np.float32)
    live_classes = live["classify_features"][0](tf.constant(features))
    exported_classes = loaded.classify_features(features)
    for key in ("logits", "probabilities"):
        np.testing.assert_allclose(exported_classes[key], live_classes[key], atol=1e-5)
    # The encoder is tracked, so the revived archive lists its weights.
    assert len(loaded.variables) == len(method.encoder.weights)


def test_serving_default_is_reserved(method, tmp_path):
    class Clashing(ToyMethod):
        def serving_endpoints(self):
            return {"serving_default": super().serving_endpoints()["predict_logits"]}

    clashing = Clashing()
    clashing.encoder = method.encoder
    with pytest.raises(ValueError, match="reserved"):
        exporting.export_saved_model(clashing, tmp_path / "sm")
    assert not (tmp_path / "sm").exists()


# ------------------------------------------------------------------------------------------------------------------
# Hub
# ------------------------------------------------------------------------------------------------------------------


def test_hub_load_matches_and_exposes_the_reusable_api(export_dir, method, sample_images):
    hub = pytest.importorskip("tensorflow_hub")
    path, _ = export_dir
    obj = hub.load(str(path / "hub"))
    np.testing.assert_allclose(obj(sample_images), _live_features(method, sample_images), atol=1e-5)
    np.testing.assert_allclose(obj(sample_images, training=False), _live_features(method, sample_images), atol=1e-5)

    assert isinstance(obj.variables, (list, tuple)) and isinstance(obj.trainable_variables, (list, tuple))
    assert all(isinstance(v, tf.Variable) for v in [*obj.variables, *obj.trainable_variables])
    assert len(obj.variables) == len(method.encoder.weights) == 8  # conv k,b; bn gamma,beta,mean,var; dense k,b
    assert len(obj.trainable_variables) == len(method.encoder.trainable_weights) == 6
    assert {id(v) for v in obj.trainable_variables} <= {id(v) for v in obj.variables}
    # The variables are the ones the function reads, with the live values.
    restored = sorted(float(np.sum(v.numpy())) for v in obj.variables)
    live = sorted(float(np.sum(np.asarray(w))) for w in method.encoder.weights)
    np.testing.assert_allclose(restored, live, rtol=1e-6, atol=1e-6)

    assert isinstance(obj.regularization_losses, (list, tuple)) and len(obj.regularization_losses) == 1
    kernel = np.asarray(method.encoder.layers[0].kernel)
    np.testing.assert_allclose(obj.regularization_losses[0](), 1e-2 * np.sum(kernel**2), rtol=1e-5)


def test_hub_training_mode_uses_batch_statistics_and_updates_them(export_dir, method, sample_images):
    path, _ = export_dir
    obj = tf.saved_model.load(str(path / "hub"))
    moving_mean = next(v for v in obj.variables if "moving_mean" in v.name)
    before = moving_mean.numpy().copy()
    inference = obj(sample_images, training=False).numpy()
    training = obj(sample_images, training=True).numpy()
    assert np.max(np.abs(training - inference)) > 1e-3  # batch statistics, not the moving ones
    assert np.max(np.abs(moving_mean.numpy() - before)) > 1e-4  # BatchNorm updated its moving mean


@pytest.mark.parametrize("training", [False, True])
def test_hub_gradients_equal_the_live_encoders(export_dir, method, sample_images, training):
    # Fine-tuning needs the restored functions to differentiate exactly like the live encoder, in both modes.
    path, _ = export_dir
    obj = tf.saved_model.load(str(path / "hub"))
    bn = method.encoder.layers[1]
    saved_stats = [np.array(bn.moving_mean), np.array(bn.moving_variance)]
    images = tf.constant(sample_images)
    with tf.GradientTape() as tape:
        exported_loss = tf.reduce_sum(tf.square(obj(images, training=training)))
    exported = tape.gradient(exported_loss, obj.trainable_variables)
    live_variables = [v.value for v in method.encoder.trainable_weights]
    with tf.GradientTape() as tape:
        live_loss = tf.reduce_sum(tf.square(method.encoder(images, training=training)))
    live = tape.gradient(live_loss, live_variables)
    bn.moving_mean.assign(saved_stats[0])  # the live training call moved them; other tests compare against them
    bn.moving_variance.assign(saved_stats[1])
    np.testing.assert_allclose(exported_loss, live_loss, rtol=1e-5)
    assert len(exported) == len(live) == 6
    for e, l in zip(exported, live):
        assert e is not None
        np.testing.assert_allclose(e, l, rtol=1e-4, atol=1e-5)


def test_parity_reloads_drop_only_the_unsaved_custom_gradient_warnings(tmp_path):
    # Synchronized BatchNorm all-reduces its moments through a nested custom gradient that SavedModel does not save,
    # so loading the hub export (its training trace) warns once per gradient function.
    keras.utils.set_random_seed(0)
    encoder = keras.Sequential([keras.Input((SIZE, SIZE, 3)), keras.layers.Conv2D(4, 3),
                                keras.layers.BatchNormalization(synchronized=True),
                                keras.layers.GlobalAveragePooling2D()])
    exporting.export_hub(encoder, tmp_path / "hub")
    records = []
    handler = logging.Handler()
    handler.emit = records.append
    absl_logger = logging.getLogger("absl")
    absl_logger.addHandler(handler)
    try:
        with exporting._reloading_for_parity():
            tf.saved_model.load(str(tmp_path / "hub"))
            absl_logger.warning("another warning")
        during = [r.getMessage() for r in records]
        tf.saved_model.load(str(tmp_path / "hub"))
        after = [r.getMessage() for r in records[len(during):]]
    finally:
        absl_logger.removeHandler(handler)
    assert during == ["another warning"]
    assert after and all("with ops with unsaved custom gradients" in m for m in after)


def test_hub_keras_layer_fine_tunes_in_tf_keras(export_dir, sample_images):
    hub = pytest.importorskip("tensorflow_hub")
    tf_keras = pytest.importorskip("tf_keras")
    path, _ = export_dir
    hub_layer = hub.KerasLayer(str(path / "hub"), trainable=True)
    model = tf_keras.Sequential([tf_keras.Input((SIZE, SIZE, 3)), hub_layer, tf_keras.layers.Dense(2)])
    assert len(hub_layer.trainable_weights) == 6 and len(hub_layer.non_trainable_weights) == 2
    assert len(model.losses) == 1  # the exported weight regularizer joins the training loss

    inference = model(sample_images, training=False).numpy()
    training = model(sample_images, training=True).numpy()
    assert np.max(np.abs(training - inference)) > 1e-4

    before = [w.numpy().copy() for w in hub_layer.trainable_weights]
    model.compile(optimizer=tf_keras.optimizers.SGD(0.5),
                  loss=tf_keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    labels = np.array([0, 1, 0, 1])
    model.fit(sample_images, labels, batch_size=4, epochs=1, verbose=0)
    moved = [np.max(np.abs(w.numpy() - b)) for w, b in zip(hub_layer.trainable_weights, before)]
    assert all(m > 0 for m in moved), moved


def test_tfsm_layer_matches_in_keras3(export_dir, method):
    path, _ = export_dir
    images = _images(5, 3)
    for folder in ("hub", "saved_model"):
        layer = keras.layers.TFSMLayer(str(path / folder), call_endpoint="serving_default")
        np.testing.assert_allclose(layer(images), _live_features(method, images), atol=1e-5, err_msg=folder)


# ------------------------------------------------------------------------------------------------------------------
# TF-Lite
# ------------------------------------------------------------------------------------------------------------------


def test_tflite_runs_in_litert_with_any_batch(export_dir, method):
    path, manifest = export_dir
    assert manifest["tflite"]["float32"]["batch"] == "dynamic"
    for n in (1, 7):  # sample batch was 4
        images = _images(n, 10 + n)
        live = _live_features(method, images)
        out = exporting.run_tflite(path / "encoder.tflite", images)
        assert out.shape == (n, FEATURES) and out.dtype == np.float32
        np.testing.assert_allclose(out, live, atol=1e-4)
        np.testing.assert_allclose(exporting.run_tflite(path / "encoder_float16.tflite", images), live, atol=1e-2)
        # int8 is only required to be recognisably the same function.
        int8 = exporting.run_tflite(path / "encoder_int8.tflite", images)
        assert np.max(np.abs(int8 - live)) < 0.1 * max(1.0, np.max(np.abs(live)))


def test_tflite_falls_back_to_batch_one(method, monkeypatch, tmp_path):
    # When LiteRT cannot resize the batch, the model is converted with batch 1 and run_tflite loops over images.
    monkeypatch.setattr(exporting, "_supports_dynamic_batch", lambda content, spec: False)
    info = exporting.export_tflite(method.encoder, tmp_path / "fixed.tflite")
    assert info["batch"] == 1 and info["input_shape"] == [1, SIZE, SIZE, 3]
    images = _images(3, 4)
    np.testing.assert_allclose(exporting.run_tflite(tmp_path / "fixed.tflite", images),
                               _live_features(method, images), atol=1e-4)


def test_export_tflite_of_a_serving_endpoint(method, tmp_path):
    fn, signature = method.serving_endpoints()["predict_logits"]
    info = exporting.export_tflite(fn, tmp_path / "logits.tflite", input_signature=signature)
    images = _images(2, 5)
    assert info["batch"] == "dynamic"
    np.testing.assert_allclose(exporting.run_tflite(tmp_path / "logits.tflite", images), fn(images), atol=1e-4)
    with pytest.raises(ValueError, match="input_signature"):
        exporting.export_tflite(fn, tmp_path / "x.tflite")
    with pytest.raises(ValueError, match="quantization"):
        exporting.export_tflite(method.encoder, tmp_path / "x.tflite", quantization="int4")


# ------------------------------------------------------------------------------------------------------------------
# Failures: clear errors, never a half-written export
# ------------------------------------------------------------------------------------------------------------------


def _export(method, path, variants=("float32",), **kwargs):
    return exporting.export_all(method, path, _images(4, 1), operative_config=OPERATIVE_CONFIG,
                                preprocessing=PREPROCESSING, tflite_variants=variants, **kwargs)


@pytest.mark.parametrize("where", ["under_a_file", "is_a_file"])
def test_export_dir_blocked_by_a_file_raises_a_clear_error(method, tmp_path, where):
    # Tests run as root, where chmod cannot make a folder read-only: a regular file in the path blocks it instead.
    blocker = tmp_path / "model_dir"
    blocker.write_text("not a directory")
    target = blocker / "export" if where == "under_a_file" else blocker
    with pytest.raises(exporting.ExportError) as raised:
        _export(method, target)
    assert isinstance(raised.value, UserError)  # the CLIs print it as one line and exit 2
    message = str(raised.value)
    assert f"'{target}'" in message and f"'{blocker}' is a file" in message and "\n" not in message
    assert blocker.read_text() == "not a directory"


def test_permission_denied_while_saving_raises_a_clear_error(method, tmp_path, monkeypatch):
    def denied(*args, **kwargs):
        raise tf.errors.PermissionDeniedError(None, None, "/x/saved_model.pb; Permission denied")

    monkeypatch.setattr(exporting.tf.saved_model, "save", denied)
    with pytest.raises(exporting.ExportError, match="not writable") as raised:
        exporting.export_hub(method.encoder, tmp_path / "hub")
    assert f"'{tmp_path / 'hub'}'" in str(raised.value) and "\n" not in str(raised.value)
    assert not list(tmp_path.iterdir())  # the temp folder is gone too


def test_full_disk_raises_a_clear_error_before_writing(method, tmp_path, monkeypatch):
    monkeypatch.setattr(exporting.shutil, "disk_usage", lambda p: type("U", (), {"free": 1000})())
    with pytest.raises(exporting.ExportError, match="no space left") as raised:
        _export(method, tmp_path / "export")
    assert str(tmp_path / "export") in str(raised.value)
    assert not list((tmp_path / "export").iterdir())


def _snapshot(path: pathlib.Path):
    return {str(p.relative_to(path)): p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file()}


def test_failed_exports_keep_the_previous_one_and_a_later_export_replaces_it(method, tmp_path, monkeypatch):
    path = tmp_path / "export"
    _export(method, path, variants=("float32", "float16"))
    good = _snapshot(path)
    # Leftovers of a process that died mid-export are cleaned by the next export; a live process's are not.
    dead = path / f".staging-{exporting.socket.gethostname().replace('-', '_')}-999999999-deadbeef"
    live = path / f".staging-{exporting.socket.gethostname().replace('-', '_')}-{os.getpid()}-cafecafe"
    dead.mkdir()
    live.mkdir()

    def disk_full(*args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    with monkeypatch.context() as patch:  # the disk fills up in the middle of the export
        patch.setattr(exporting, "export_tflite", disk_full)
        with pytest.raises(exporting.ExportError, match="no space left"):
            _export(method, path)
    assert _snapshot(path) == good

    with monkeypatch.context() as patch:  # a broken conversion: the exports do not reproduce the live model
        patch.setattr(exporting, "run_tflite", lambda p, images: np.zeros((len(images), FEATURES), np.float32))
        with pytest.raises(exporting.ExportParityError, match="encoder.tflite"):
            _export(method, path)
    assert _snapshot(path) == good

    assert not dead.exists() and live.exists()
    live.rmdir()

    manifest = _export(method, path, variants=("float32",))
    assert not (path / "encoder_float16.tflite").exists()  # the folder matches its new manifest
    assert set(manifest["tflite"]) == {"float32"}
    assert manifest["files"] == ["saved_model", "hub", "encoder.tflite", "manifest.json"]
    assert json.loads((path / "manifest.json").read_text()) == manifest
    assert not [p.name for p in path.iterdir() if p.name.startswith(".")]


def test_export_all_refuses_to_run_inside_a_strategy_scope(method, tmp_path):
    with tf.distribute.OneDeviceStrategy("/cpu:0").scope():
        with pytest.raises(ValueError, match="outside `strategy.scope"):
            _export(method, tmp_path / "export")
    assert not (tmp_path / "export").exists()
