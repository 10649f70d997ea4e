"""Exports of a trained method: SavedModel signatures, a Hub-reusable encoder, TF-Lite encoders, parity checks.

`export_all(method, export_dir, sample_images, ...)` is what the trainer calls at the end of a run. It writes

    export_dir/saved_model/            keras.export.ExportArchive: `serving_default` (encoder features, inference
                                       mode) + every `method.serving_endpoints()` entry
    export_dir/hub/                    TF2 reusable SavedModel of the encoder (hub.load / hub.KerasLayer / TFSMLayer)
    export_dir/encoder.tflite          float32 TF-Lite encoder (+ encoder_float16.tflite, encoder_int8.tflite)
    export_dir/<name>.tflite           float32 TF-Lite model of every `method.tflite_endpoints()` entry (PCNet:
                                       pcnet_m.tflite, mask completion)
    export_dir/manifest.json           input spec, preprocessing, endpoints, gin config, versions, and the measured
                                       max abs difference of every export against the live model

Every artifact is built in a staging folder inside `export_dir`, checked against the in-memory model on a real
batch, and only then renamed into place, so a crash or a failed parity check never leaves a half-written or
wrong export where a good one was.

Images everywhere are float32 `[B, H, W, 3]` in [0, 1] (NHWC); features are float32 `[B, D]`.
"""

from __future__ import annotations

import contextlib
import errno
import importlib.metadata
import json
import logging
import os
import pathlib
import platform
import shutil
import socket
import uuid
import warnings
from typing import Any, Callable, Iterator, Mapping, Sequence

import keras
import numpy as np
import tensorflow as tf

import tfssl
from tfssl.errors import ModelDirError

__all__ = [
    "ExportError",
    "ExportParityError",
    "export_saved_model",
    "export_hub",
    "export_tflite",
    "run_tflite",
    "export_all",
    "MANIFEST_NAME",
    "TFLITE_FILES",
]

MANIFEST_NAME = "manifest.json"
MANIFEST_FORMAT_VERSION = 1
SAVED_MODEL_DIR = "saved_model"
HUB_DIR = "hub"
# TF-Lite variant name -> file name. "float32" is the unquantized encoder.
TFLITE_FILES = {
    "float32": "encoder.tflite",
    "float16": "encoder_float16.tflite",
    "int8": "encoder_int8.tflite",
}
_QUANTIZATIONS = (None, "float16", "int8")

# Parity tolerances, relative to max(1, max |reference|) so they hold for features of any scale. float32 exports
# run the same kernels in a different order (1e-4 leaves room for XNNPACK's reassociation); float16 rounds weights
# to 11 significant bits; int8 only has to be recognisably the same function (garbage or zeros fail it).
_TOLERANCES = {"float32": 1e-4, "float16": 2e-2, "int8": 0.25}
_INT8_CALIBRATION_IMAGES = 100


class ExportError(ModelDirError):
    """An export could not be written: the message names the path, the cause and the fix (one line).

    A ModelDirError (UserError), so every CLI prints it as one `error: ...` line and exits with status 2.
    """


class ExportParityError(RuntimeError):
    """An export does not reproduce the live model within tolerance; nothing was replaced. A bug in an export path
    or a method's endpoint, not a user error, hence not a UserError."""


# ----------------------------------------------------------------------------------------------------------------
# Input specs and variables
# ----------------------------------------------------------------------------------------------------------------


def _image_spec(encoder: keras.Model, input_shape: Sequence[int] | None) -> tf.TensorSpec:
    """`tf.TensorSpec([None, H, W, C], float32, name="images")` from `input_shape` or the encoder's Input."""
    if input_shape is None:
        try:
            inputs = encoder.inputs  # functional / Sequential encoders know their input
        except (AttributeError, ValueError):
            inputs = None
        if not inputs:
            raise ValueError(
                f"Cannot infer the input shape of encoder {encoder.name!r} (a subclassed model has no `inputs`): "
                "pass input_shape=(H, W, C)."
            )
        input_shape = tuple(inputs[0].shape[1:])
    input_shape = tuple(int(d) for d in input_shape)
    if len(input_shape) != 3:
        raise ValueError(f"input_shape must be (H, W, C), got {input_shape}.")
    # Batch stays dynamic; H, W, C stay fixed because encoders may end in Flatten + Dense.
    return tf.TensorSpec([None, *input_shape], tf.float32, name="images")


def _as_tf_variable(variable) -> tf.Variable:
    """The tf.Variable behind a Keras 3 variable.

    A Keras 3 variable (TF backend) wraps a tf.Variable in `.value`; outside a layer call (no autocast scope) that
    property returns the tf.Variable itself. SavedModel object graphs and tf_keras/hub only understand tf.Variables,
    and a traced function captures exactly these, so these are the objects that must be listed.
    """
    if isinstance(variable, tf.Variable):
        return variable
    value = variable.value
    if not isinstance(value, tf.Variable):
        raise TypeError(f"Variable {getattr(variable, 'path', variable)!r} is not backed by a tf.Variable.")
    return value


def _unique(variables: Iterator[tf.Variable]) -> list[tf.Variable]:
    seen, out = set(), []
    for v in variables:
        if id(v) not in seen:
            seen.add(id(v))
            out.append(v)
    return out


def _to_float32(x):
    return tf.nest.map_structure(lambda t: tf.cast(t, tf.float32) if t.dtype.is_floating else t, x)


# ----------------------------------------------------------------------------------------------------------------
# Atomic writes and clear I/O errors
# ----------------------------------------------------------------------------------------------------------------

_SPACE_ERRNOS = {errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)}
_PERMISSION_ERRNOS = {errno.EACCES, errno.EPERM, errno.EROFS}


def _first_existing(path: pathlib.Path) -> pathlib.Path:
    path = path.absolute()
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def _explain_io_error(path: pathlib.Path, err: BaseException) -> ExportError | None:
    """Turns a low-level write failure into one clear ExportError line, or None when it is not an I/O problem."""
    code = getattr(err, "errno", None)
    text = str(err)
    if code in _SPACE_ERRNOS or "No space left" in text or "Disk quota exceeded" in text:
        return ExportError(
            f"Cannot write export to '{path}': no space left on the device. "
            "Free some disk space or choose an export directory on another disk."
        )
    existing = _first_existing(path)
    if existing.exists() and not existing.is_dir():
        return ExportError(
            f"Cannot write export to '{path}': '{existing}' is a file, not a directory. "
            "Remove or rename that file, or choose another export directory."
        )
    if (
        code in _PERMISSION_ERRNOS
        or isinstance(err, tf.errors.PermissionDeniedError)
        or "Permission denied" in text
        or "Read-only file system" in text
    ):
        return ExportError(
            f"Cannot write export to '{path}': it is not writable ({text.strip().splitlines()[0]}). "
            "Choose a writable export directory (e.g. another --model_dir) or fix its permissions."
        )
    return None


@contextlib.contextmanager
def _io_errors(path: pathlib.Path):
    """Re-raises OS / TF write failures under `path` as one-line ExportErrors (other errors pass through)."""
    try:
        yield
    except ExportError:
        raise
    except (OSError, tf.errors.OpError) as err:
        clear = _explain_io_error(path, err)
        if clear is None:
            raise
        raise clear from err


def _check_writable(directory: pathlib.Path, bytes_needed: int = 0) -> None:
    """Creates `directory` and proves it writable (and roomy enough) before any slow work starts."""
    with _io_errors(directory):
        directory.mkdir(parents=True, exist_ok=True)
        probe = directory / f".write-probe-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        probe.write_bytes(b"ok")
        probe.unlink()
        free = shutil.disk_usage(directory).free
    if bytes_needed and free < bytes_needed:
        raise ExportError(
            f"Cannot write export to '{directory}': no space left on the device "
            f"({free / 2**20:.1f} MiB free, about {bytes_needed / 2**20:.1f} MiB needed). "
            "Free some disk space or choose an export directory on another disk."
        )


def _remove(path: pathlib.Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    elif path.exists() or path.is_symlink():
        path.unlink()


def _replace(src: pathlib.Path, dst: pathlib.Path) -> None:
    """Moves `src` to `dst`, replacing what was there. Files: one atomic os.replace. Folders cannot be swapped
    atomically on POSIX, so the old one is renamed aside first: a crash in between leaves the old export intact
    under a hidden `.name.old-*` name, never a half-written one under the real name."""
    if dst.is_dir() and not dst.is_symlink():
        trash = dst.parent / f".{dst.name}.old-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        os.rename(dst, trash)
        os.rename(src, dst)
        shutil.rmtree(trash, ignore_errors=True)
    else:
        os.replace(src, dst)


@contextlib.contextmanager
def _atomic_path(path: pathlib.Path):
    """Yields a hidden temp path next to `path` (same filesystem, so rename is cheap); on success it replaces
    `path`, on failure it is removed and `path` is untouched."""
    path = pathlib.Path(path)
    with _io_errors(path):
        path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.parent / f".{path.name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    try:
        with _io_errors(path):
            yield tmp
            _replace(tmp, path)
    finally:
        _remove(tmp)


def _staging_name() -> str:
    # Host and pid in the name let a later export tell a dead process's leftovers from a live export's (the export
    # dir may be on a filesystem shared between hosts).
    return f".staging-{socket.gethostname().replace('-', '_')}-{os.getpid()}-{uuid.uuid4().hex[:8]}"


def _clean_stale_staging(export_dir: pathlib.Path) -> None:
    """Removes staging folders left by a process of this host that died during an earlier export.

    Only `.staging-*` folders: a `.name.old-*` folder may hold the only copy of a previous export (a crash between
    the two renames of `_replace`), so it is left for a person to restore.
    """
    host = socket.gethostname().replace("-", "_")
    for entry in export_dir.glob(".staging-*"):
        parts = entry.name.split("-")
        if len(parts) != 4 or parts[1] != host or not parts[2].isdigit():
            continue
        try:
            os.kill(int(parts[2]), 0)
        except ProcessLookupError:
            _remove(entry)
        except PermissionError:  # alive, owned by another user
            pass


# ----------------------------------------------------------------------------------------------------------------
# SavedModel with the method's endpoints
# ----------------------------------------------------------------------------------------------------------------


def export_saved_model(
    method: keras.Model, path: str | os.PathLike, *, input_shape: Sequence[int] | None = None
) -> list[str]:
    """Writes `method`'s serving SavedModel with `keras.export.ExportArchive`.

    Endpoints (both as attributes `loaded.<name>(...)` and as signatures `loaded.signatures[name]`):
      - `serving_default(images [B, H, W, 3] float32 in [0, 1]) -> features [B, D] float32`: `method.encoder` in
        inference mode (BatchNormalization uses its moving statistics).
      - every `name -> (fn, input_signature)` of `method.serving_endpoints()`, traced with that signature.

    Only the encoder is tracked explicitly (so `loaded.variables` are its weights); the endpoints' other variables
    are collected from their traces. Tracking the whole method would also ship training-only state (memory banks,
    discriminators) that no endpoint reads.

    Args:
      method: a built tfssl method (keras.Model with `.encoder` and `.serving_endpoints()`).
      path: destination folder; replaced atomically.
      input_shape: (H, W, C) of the encoder input; inferred from a functional encoder when omitted.

    Returns:
      The endpoint names, `serving_default` first.
    """
    encoder = method.encoder
    spec = _image_spec(encoder, input_shape)
    endpoints = dict(method.serving_endpoints() or {})
    if "serving_default" in endpoints:
        raise ValueError(
            f"{type(method).__name__}.serving_endpoints() may not define 'serving_default': it is reserved for the "
            "encoder features. Rename that endpoint."
        )

    archive = keras.export.ExportArchive()
    archive.track(encoder)

    def serving_default(images):
        return _to_float32(encoder(images, training=False))

    archive.add_endpoint("serving_default", serving_default, input_signature=[spec])
    for name, (fn, signature) in endpoints.items():
        try:
            archive.add_endpoint(name, fn, input_signature=list(signature))
        except Exception as err:
            raise ValueError(
                f"Serving endpoint {name!r} of {type(method).__name__} could not be traced: {err}"
            ) from err
    with _atomic_path(pathlib.Path(path)) as tmp:
        archive.write_out(str(tmp), verbose=False)
    return ["serving_default", *endpoints]


# ----------------------------------------------------------------------------------------------------------------
# Hub-reusable encoder
# ----------------------------------------------------------------------------------------------------------------


class _HubEncoder(tf.__internal__.tracking.AutoTrackable):
    """The object saved as a TF2 reusable SavedModel (https://www.tensorflow.org/hub/reusable_saved_models).

    It is a plain AutoTrackable (the base of tf.Module) rather than a tf.Module on purpose: tf.Module's read-only
    `variables` / `trainable_variables` properties find variables by flattening attributes for tf.Variable and
    would report nothing for Keras 3 variables; the reusable-SavedModel API needs these names to be saved
    attributes holding explicit lists of the underlying tf.Variables.
    """

    def __init__(self, encoder: keras.Model, spec: tf.TensorSpec):
        super().__init__()
        # A bound method is not trackable, so the Keras model object itself is not written into the SavedModel:
        # only the functions below and the variables they capture are.
        self._forward = encoder.__call__

        # Exactly these two traces are saved: `training` is a Python bool, so hub.KerasLayer picks one per call.
        traces = [self.__call__.get_concrete_function(spec, training=t) for t in (False, True)]
        # Fixed signature: the attribute TFSMLayer(call_endpoint="serving_default") calls, and the signature.
        self.serving_default = tf.function(self._serve, input_signature=[spec])
        self.serving_default.get_concrete_function()

        captured = [v for concrete in traces for v in concrete.variables]
        # Keras-level flags decide trainability: a frozen Keras 3 layer keeps `trainable=True` on its tf.Variable.
        self.trainable_variables = _unique(_as_tf_variable(v) for v in encoder.trainable_weights)
        self.variables = _unique([*(_as_tf_variable(v) for v in encoder.weights), *captured])
        # Weight regularizers as zero-argument tf.functions (the API's form); activity regularizers depend on the
        # inputs and cannot be expressed this way.
        self.regularization_losses = [
            self._regularizer_fn(v.regularizer, _as_tf_variable(v))
            for v in encoder.trainable_weights
            if getattr(v, "regularizer", None) is not None
        ]

    @staticmethod
    def _regularizer_fn(regularizer, variable: tf.Variable):
        fn = tf.function(lambda: tf.cast(regularizer(variable), tf.float32), input_signature=[])
        fn.get_concrete_function()
        return fn

    @tf.function
    def __call__(self, images, training=False):
        """images [B, H, W, 3] float32 in [0, 1] -> features [B, D] float32; `training=True` runs BatchNorm on
        batch statistics and updates its moving statistics (both traces are saved, `training` is a Python bool)."""
        return _to_float32(self._forward(images, training=training))

    def _serve(self, images):
        """images [B, H, W, 3] float32 in [0, 1] -> inference features [B, D] float32."""
        return _to_float32(self._forward(images, training=False))


def export_hub(
    encoder: keras.Model, path: str | os.PathLike, *, input_shape: Sequence[int] | None = None
) -> None:
    """Writes `encoder` as a TF2 reusable SavedModel at `path` (replaced atomically).

    The loaded object `obj = hub.load(path)` offers:
      - `obj(images, training=False) -> features`: images [B, H, W, 3] float32 in [0, 1], features [B, D] float32;
        traced for `training=False` and `training=True` (BatchNorm on batch statistics, moving stats updated).
      - `obj.variables`, `obj.trainable_variables`: lists of tf.Variable (all weights incl. BatchNorm moving
        statistics / only those Keras trains); `obj.regularization_losses`: list of zero-argument callables.
      - `obj.serving_default(images)` and `obj.signatures["serving_default"]` (output key `output_0`).
    It works with `hub.KerasLayer(path, trainable=True)` (tf_keras, fine-tuning) and
    `keras.layers.TFSMLayer(path, call_endpoint="serving_default")` (Keras 3, inference).

    Args:
      encoder: built keras.Model, images -> features.
      path: destination folder.
      input_shape: (H, W, C); inferred from a functional encoder when omitted.
    """
    spec = _image_spec(encoder, input_shape)
    obj = _HubEncoder(encoder, spec)
    signatures = {"serving_default": obj.serving_default.get_concrete_function()}
    with _atomic_path(pathlib.Path(path)) as tmp:
        tf.saved_model.save(obj, str(tmp), signatures=signatures)


# ----------------------------------------------------------------------------------------------------------------
# TF-Lite
# ----------------------------------------------------------------------------------------------------------------


def _interpreter(path=None, content=None, num_threads=None):
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:  # pragma: no cover - LiteRT is in the [test] extra; tf.lite is the deprecated fallback
        Interpreter = tf.lite.Interpreter
    if path is not None:
        return Interpreter(model_path=str(path), num_threads=num_threads)
    return Interpreter(model_content=content, num_threads=num_threads)


def _convert(fn: Callable, signature: list[tf.TensorSpec], quantization, representative_images) -> bytes:
    holder = tf.__internal__.tracking.AutoTrackable()
    holder.fn = tf.function(fn, input_signature=signature, autograph=False)
    concrete = holder.fn.get_concrete_function()
    converter = tf.lite.TFLiteConverter.from_concrete_functions([concrete], holder)
    if quantization == "float16":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.target_spec.supported_types = [tf.float16]
    elif quantization == "int8":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        if representative_images is not None:
            images = np.asarray(representative_images, np.float32)[:_INT8_CALIBRATION_IMAGES]

            def representative_dataset():
                for i in range(len(images)):
                    yield [images[i : i + 1]]

            # Int8 weights and activations; inputs/outputs stay float32 so callers need no (de)quantization, and
            # ops without an int8 kernel fall back to float instead of failing the conversion.
            converter.representative_dataset = representative_dataset
    with warnings.catch_warnings():
        # The int8 converter asks for input statistics that only integer inputs need; ours stay float32 on purpose.
        warnings.filterwarnings("ignore", message="Statistics for quantized inputs were expected")
        return converter.convert()


def _supports_dynamic_batch(content: bytes, spec: tf.TensorSpec) -> bool:
    """True when the converted model declares batch -1 AND LiteRT can resize it and run (some ops cannot)."""
    interpreter = _interpreter(content=content)
    detail = interpreter.get_input_details()[0]
    if int(detail["shape_signature"][0]) != -1:
        return False
    try:
        shape = [2, *spec.shape[1:]]
        interpreter.resize_tensor_input(detail["index"], shape)
        interpreter.allocate_tensors()
        interpreter.set_tensor(detail["index"], np.zeros(shape, detail["dtype"]))
        interpreter.invoke()
        out = interpreter.get_tensor(interpreter.get_output_details()[0]["index"])
        return out.shape[0] == 2
    except (RuntimeError, ValueError):
        return False


def export_tflite(
    encoder_or_fn: keras.Model | Callable,
    path: str | os.PathLike,
    *,
    quantization: str | None = None,
    representative_images: np.ndarray | None = None,
    input_shape: Sequence[int] | None = None,
    input_signature: Sequence[tf.TensorSpec] | None = None,
) -> dict[str, Any]:
    """Converts an encoder (or any TF callable) to a TF-Lite flatbuffer at `path` (replaced atomically).

    Conversion goes through a concrete function of `encoder(images, training=False)` with a dynamic batch
    dimension. If LiteRT cannot resize the batch of the converted model, it is converted again with batch 1 (the
    returned info and the manifest say which).

    Args:
      encoder_or_fn: keras.Model images [B, H, W, 3] -> features [B, D], or a callable of TF ops (then
        `input_signature` is required, e.g. a method serving endpoint).
      path: destination `.tflite` file.
      quantization: None (float32), "float16" (weights stored as float16, computed in float32), or "int8"
        (with `representative_images`: int8 weights and activations calibrated on up to 100 of them, float32
        inputs/outputs; without: dynamic-range, int8 weights only).
      representative_images: float32 [N, H, W, 3] in [0, 1] for int8 calibration.
      input_shape: (H, W, C) for a subclassed encoder; inferred for functional ones or from representative_images.
      input_signature: [tf.TensorSpec] for a plain callable (batch dim None).

    Returns:
      {"quantization", "batch": "dynamic" | 1, "input_shape": [None | 1, H, W, C], "bytes"}.
    """
    if quantization not in _QUANTIZATIONS:
        raise ValueError(f"quantization must be one of {_QUANTIZATIONS}, got {quantization!r}.")
    if isinstance(encoder_or_fn, keras.layers.Layer):
        encoder = encoder_or_fn
        if input_signature is None:
            if input_shape is None and representative_images is not None:
                try:
                    _image_spec(encoder, None)
                except ValueError:
                    input_shape = np.shape(representative_images)[1:]
            input_signature = [_image_spec(encoder, input_shape)]

        def fn(images):
            return _to_float32(encoder(images, training=False))

    else:
        fn = encoder_or_fn
        if input_signature is None:
            raise ValueError("export_tflite(fn, ...) needs input_signature=[tf.TensorSpec(...)] for a plain callable.")
    signature = list(input_signature)

    content = _convert(fn, signature, quantization, representative_images)
    dynamic = _supports_dynamic_batch(content, signature[0])
    if not dynamic:
        fixed = [tf.TensorSpec([1, *s.shape[1:]], s.dtype, name=s.name) for s in signature]
        content = _convert(fn, fixed, quantization, representative_images)
        signature = fixed
    with _atomic_path(pathlib.Path(path)) as tmp:
        tmp.write_bytes(content)
    return {
        "quantization": quantization,
        "batch": "dynamic" if dynamic else 1,
        "input_shape": [None if dynamic else 1, *[int(d) for d in signature[0].shape[1:]]],
        "bytes": len(content),
    }


def run_tflite(path: str | os.PathLike, images: np.ndarray, *, num_threads: int | None = None) -> np.ndarray:
    """Runs a single-input, single-output TF-Lite model in the LiteRT interpreter.

    Args:
      path: a `.tflite` file (e.g. from `export_tflite`).
      images: float32 [B, H, W, C] (any B; a fixed-batch model is run chunk by chunk).
    Returns:
      np.float32 [B, ...], the model's first output (dequantized if the model's output is integer).
    """
    images = np.asarray(images, np.float32)
    interpreter = _interpreter(path=path, num_threads=num_threads)
    inp = interpreter.get_input_details()[0]
    out = interpreter.get_output_details()[0]
    fixed_batch = int(inp["shape_signature"][0])
    step = len(images) if fixed_batch == -1 else fixed_batch
    results = []
    for start in range(0, len(images), max(step, 1)):
        chunk = images[start : start + step]
        if inp["dtype"] != np.float32:  # integer-input models: quantize with the input's scale / zero point
            scale, zero = inp["quantization"]
            chunk = np.round(chunk / scale + zero).astype(inp["dtype"])
        interpreter.resize_tensor_input(inp["index"], list(chunk.shape))
        interpreter.allocate_tensors()
        interpreter.set_tensor(inp["index"], chunk)
        interpreter.invoke()
        result = interpreter.get_tensor(out["index"]).copy()
        if out["dtype"] != np.float32:
            scale, zero = out["quantization"]
            result = (result.astype(np.float32) - zero) * scale
        results.append(result.astype(np.float32))
    return np.concatenate(results, axis=0)


# ----------------------------------------------------------------------------------------------------------------
# Everything, checked
# ----------------------------------------------------------------------------------------------------------------


class _DropUnsavedCustomGradientWarnings(logging.Filter):
    """Drops TF's "Importing a function (...) with ops with unsaved custom gradients" loader warnings, nothing else."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "with ops with unsaved custom gradients" not in record.getMessage()


@contextlib.contextmanager
def _reloading_for_parity():
    """Reloads an export for a parity check without TF's unsaved-custom-gradient warnings (one per function).

    Why they appear: synchronized BatchNormalization all-reduces its batch moments, and `all_reduce` is a
    `tf.custom_gradient` whose gradient function is itself an `all_reduce`. SavedModel saves the first-order
    custom gradients (a reloaded hub export fine-tunes fine) but not the nested ones, and the loader warns once per
    gradient function (24 lines for ResNet9's training trace in hub/). Only a second-order gradient through the
    reloaded training trace would fail. The parity checks only run the reloaded functions forward, so the warnings
    are harmless here; they are dropped for these loads only, and a user's own `hub.load` still shows them.
    """
    logger = logging.getLogger("absl")  # TF's function_deserialization logs through absl.logging
    drop = _DropUnsavedCustomGradientWarnings()
    logger.addFilter(drop)
    try:
        yield
    finally:
        logger.removeFilter(drop)


def _spec_json(spec) -> dict[str, Any]:
    return {"shape": [None if d is None else int(d) for d in spec.shape], "dtype": spec.dtype.name}


def _signature_json(concrete) -> dict[str, Any]:
    _, kwargs = concrete.structured_input_signature
    outputs = concrete.structured_outputs
    return {
        "inputs": {name: _spec_json(spec) for name, spec in sorted(kwargs.items())},
        "outputs": {name: _spec_json(spec) for name, spec in sorted(outputs.items())},
    }


def _max_abs_diff(actual, expected) -> tuple[float, float]:
    """(max |actual - expected|, max |expected|) over all leaves of matching nested structures."""
    flat_a = [np.asarray(a, np.float64) for a in tf.nest.flatten(actual)]
    flat_e = [np.asarray(e, np.float64) for e in tf.nest.flatten(expected)]
    if len(flat_a) != len(flat_e):
        return float("inf"), 0.0
    diff, ref = 0.0, 0.0
    for a, e in zip(flat_a, flat_e):
        if a.shape != e.shape:
            return float("inf"), 0.0
        if e.size:
            diff = max(diff, float(np.max(np.abs(a - e))))
            ref = max(ref, float(np.max(np.abs(e))))
    return diff, ref


def _parity(actual, expected, kind: str, batch: int) -> dict[str, Any]:
    diff, ref = _max_abs_diff(actual, expected)
    tolerance = _TOLERANCES[kind] * max(1.0, ref)
    return {
        "max_abs_diff": diff,
        "max_abs_reference": ref,
        "tolerance": tolerance,
        "ok": bool(diff <= tolerance),
        "batch": batch,
    }


def _endpoint_inputs(name, signature, sample_images, given) -> tuple[list, str]:
    """Positional inputs to check an endpoint with (same nesting as its signature): the given ones, else the sample
    images for each image-shaped float input, else deterministic arrays of the sample's batch size (uniform [0, 1)
    floats, random bools, zero integers) for inputs whose other dimensions are known."""
    if given is not None and name in given:
        return tf.nest.map_structure(np.asarray, list(given[name])), "endpoint_inputs"
    rng = np.random.default_rng(0)
    n = len(sample_images)
    sources = set()

    def make(spec: tf.TensorSpec) -> np.ndarray:
        inner = list(spec.shape[1:])
        if spec.dtype.is_floating and inner == list(sample_images.shape[1:]):
            sources.add("sample_images")
            return sample_images.astype(spec.dtype.as_numpy_dtype)
        if any(d is None for d in inner):
            raise ValueError(
                f"Cannot build a parity input for endpoint {name!r} (input {spec} has unknown dimensions): "
                "pass endpoint_inputs={name: [arrays]} to export_all."
            )
        sources.add("synthetic(seed=0)")
        if spec.dtype.is_floating:
            x = rng.uniform(0.0, 1.0, [n, *inner])
        elif spec.dtype == tf.bool:
            x = rng.uniform(size=[n, *inner]) < 0.5
        else:
            x = np.zeros([n, *inner])
        return x.astype(spec.dtype.as_numpy_dtype)

    arrays = tf.nest.map_structure(make, list(signature))
    return arrays, "+".join(sorted(sources))


def _versions() -> dict[str, str]:
    versions = {
        "tfssl": tfssl.__version__,
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "python": platform.python_version(),
        "numpy": np.__version__,
    }
    # Read from package metadata: importing tensorflow_hub would also import tf_keras into the trainer process.
    for key, distribution in (("tensorflow_hub", "tensorflow-hub"), ("ai_edge_litert", "ai-edge-litert")):
        with contextlib.suppress(importlib.metadata.PackageNotFoundError):
            versions[key] = importlib.metadata.version(distribution)
    return versions


def _weight_bytes(model: keras.Model) -> int:
    return int(sum(np.prod(v.shape) * tf.as_dtype(v.dtype).size for v in model.weights))


def _json_default(value):
    """json.dumps fallback for numpy scalars / arrays and tuples-like values found in `preprocessing`."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, (set, frozenset)):
        return sorted(value)
    return str(value)


def export_all(
    method: keras.Model,
    export_dir: str | os.PathLike,
    sample_images: np.ndarray,
    *,
    operative_config: str,
    preprocessing: Mapping[str, Any],
    tflite_variants: Sequence[str] = ("float32",),
    endpoint_inputs: Mapping[str, Sequence[np.ndarray]] | None = None,
    strict: bool = True,
) -> dict[str, Any]:
    """Writes every export of `method` into `export_dir`, checks each against the live model, returns the manifest.

    Files: `saved_model/`, `hub/`, one `.tflite` per variant (`encoder.tflite`, `encoder_float16.tflite`,
    `encoder_int8.tflite`), one `<name>.tflite` per `method.tflite_endpoints()` entry, and `manifest.json`.
    Everything is built and checked in a staging folder inside `export_dir` and only then renamed into place
    (manifest last); tflite variants of an earlier export that are not produced again are removed so the folder
    always matches its manifest.

    Args:
      method: built method: `.encoder` (images [B, H, W, 3] float32 in [0, 1] -> features [B, D]) and
        `.serving_endpoints()`.
      export_dir: destination folder (created).
      sample_images: real batch, float32 [n, H, W, 3] in [0, 1]; fixes H, W, C and is the parity input.
      operative_config: gin operative config text, stored verbatim.
      preprocessing: what the input must look like (e.g. {"dtype", "range", "layout", "size"}), stored verbatim.
      tflite_variants: any of "float32", "float16", "int8" (int8 is calibrated on `sample_images`).
      endpoint_inputs: parity inputs for serving endpoints whose inputs are not image-shaped / fully known.
      strict: raise ExportParityError (and replace nothing) when an export is outside its tolerance.

    Returns:
      The manifest dict (also written to `export_dir/manifest.json`).

    Raises:
      ValueError: called inside a `tf.distribute` strategy scope (a model built under one exports fine outside it).
      ExportError: the folder cannot be created or written, or the disk is full (message names path and fix).
      ExportParityError: `strict` and some export does not reproduce the live model.
    """
    if tf.distribute.has_strategy():
        # Variables of a model built under MirroredStrategy export fine, but reloading the exports for the parity
        # check inside the scope makes distributed variables whose restored functions fail in cross-replica context.
        raise ValueError(
            "export_all must be called outside `strategy.scope()` (export after training, outside the scope)."
        )
    export_dir = pathlib.Path(export_dir)
    sample_images = np.asarray(sample_images, np.float32)
    if sample_images.ndim != 4:
        raise ValueError(f"sample_images must be [n, H, W, C], got shape {sample_images.shape}.")
    unknown = [v for v in tflite_variants if v not in TFLITE_FILES]
    if unknown:
        raise ValueError(f"Unknown tflite variants {unknown}; choose from {list(TFLITE_FILES)}.")
    input_shape = sample_images.shape[1:]
    spec = _image_spec(method.encoder, input_shape)

    # Each SavedModel holds the encoder weights once, each tflite file once more; 1 MiB covers graphs and JSON.
    _check_writable(export_dir, _weight_bytes(method.encoder) * (2 + len(tflite_variants)) + 2**20)
    _clean_stale_staging(export_dir)

    reference = method.encoder(sample_images, training=False)
    staging = export_dir / _staging_name()
    try:
        # A write failure in any step (disk full, permissions) becomes one clear line.
        with _io_errors(export_dir):
            staging.mkdir()
            parity: dict[str, dict[str, Any]] = {}
            endpoints = _export_checked_saved_model(
                method, staging, sample_images, reference, endpoint_inputs, parity
            )
            endpoints.append(_export_checked_hub(method.encoder, staging, sample_images, reference, parity))
            tflite = _export_checked_tflite(method.encoder, staging, sample_images, reference, tflite_variants, parity)
            extra_tflite = _export_checked_method_tflite(method, staging, sample_images, endpoint_inputs, parity)
            tflite.update(extra_tflite)
            extra_files = [info["file"] for info in extra_tflite.values()]
            manifest = {
                "format_version": MANIFEST_FORMAT_VERSION,
                "input": {
                    "name": spec.name,
                    **_spec_json(spec),
                    "range": list(preprocessing.get("range", [0.0, 1.0])),
                    "layout": preprocessing.get("layout", "NHWC"),
                },
                "output": {"name": "features", "shape": [None, *map(int, reference.shape[1:])], "dtype": "float32"},
                "preprocessing": dict(preprocessing),
                "files": [SAVED_MODEL_DIR, HUB_DIR, *(TFLITE_FILES[v] for v in tflite_variants), *extra_files,
                          MANIFEST_NAME],
                "endpoints": endpoints,
                "tflite": tflite,
                "parity": parity,
                "parity_sample": {"source": "sample_images", "shape": list(sample_images.shape)},
                "operative_config": operative_config,
                "versions": _versions(),
            }
            failures = {k: v for k, v in parity.items() if not v["ok"]}
            if strict and failures:
                details = ", ".join(f"{k}: {v['max_abs_diff']:.3g} > {v['tolerance']:.3g}" for k, v in failures.items())
                raise ExportParityError(
                    f"Exports for '{export_dir}' do not match the live model ({details}); "
                    "the previous exports were kept."
                )
            text = json.dumps(manifest, indent=2, default=_json_default) + "\n"
            manifest = json.loads(text)  # the caller gets exactly what is on disk
            (staging / MANIFEST_NAME).write_text(text)
            _commit(staging, export_dir, tflite_variants, extra_files)
    finally:
        _remove(staging)
    return manifest


def _export_checked_saved_model(method, staging, sample_images, reference, endpoint_inputs, parity) -> list[dict]:
    """Writes staging/saved_model, records the parity of every endpoint, returns their manifest entries."""
    n = len(sample_images)
    names = export_saved_model(method, staging / SAVED_MODEL_DIR, input_shape=sample_images.shape[1:])
    with _reloading_for_parity():
        loaded = tf.saved_model.load(str(staging / SAVED_MODEL_DIR))
    live = dict(method.serving_endpoints() or {})
    entries = []
    for name in names:
        if name == "serving_default":
            arrays, source, expected = [sample_images], "sample_images", reference
        else:
            fn, signature = live[name]
            arrays, source = _endpoint_inputs(name, signature, sample_images, endpoint_inputs)
            expected = fn(*tf.nest.map_structure(tf.constant, arrays))
        parity[f"{SAVED_MODEL_DIR}/{name}"] = _parity(getattr(loaded, name)(*arrays), expected, "float32", n)
        signature = _signature_json(loaded.signatures[name])
        entries.append({"name": name, "export": SAVED_MODEL_DIR, **signature, "parity_inputs": source})
    return entries


def _export_checked_hub(encoder, staging, sample_images, reference, parity) -> dict:
    """Writes staging/hub, records the parity of `obj(images)` and of the signature, returns its endpoint entry."""
    n = len(sample_images)
    export_hub(encoder, staging / HUB_DIR, input_shape=sample_images.shape[1:])
    with _reloading_for_parity():
        obj = tf.saved_model.load(str(staging / HUB_DIR))
    parity[f"{HUB_DIR}/__call__"] = _parity(obj(sample_images, training=False), reference, "float32", n)
    signature = obj.signatures["serving_default"]
    (output,) = signature(images=tf.constant(sample_images)).values()
    parity[f"{HUB_DIR}/serving_default"] = _parity(output, reference, "float32", n)
    entry = {"name": "serving_default", "export": HUB_DIR, **_signature_json(signature)}
    return {**entry, "parity_inputs": "sample_images"}


def _export_checked_tflite(encoder, staging, sample_images, reference, variants, parity) -> dict[str, dict]:
    """Writes one .tflite per variant (int8 calibrated on the sample), records each one's parity in LiteRT."""
    infos = {}
    for variant in variants:
        file_name = TFLITE_FILES[variant]
        info = export_tflite(
            encoder,
            staging / file_name,
            quantization=None if variant == "float32" else variant,
            representative_images=sample_images if variant == "int8" else None,
            input_shape=sample_images.shape[1:],
        )
        infos[variant] = {"file": file_name, **info}
        outputs = run_tflite(staging / file_name, sample_images)
        parity[file_name] = _parity(outputs, reference, variant, len(sample_images))
    return infos


def _export_checked_method_tflite(method, staging, sample_images, endpoint_inputs, parity) -> dict[str, dict]:
    """Writes the method's own TF-Lite models (`method.tflite_endpoints()`, float32) as `<name>.tflite` and records
    each one's parity in LiteRT against the live function, on the same inputs as a serving endpoint's check."""
    infos = {}
    endpoints = getattr(method, "tflite_endpoints", lambda: {})() or {}
    for name, (fn, signature) in endpoints.items():
        if len(signature) != 1:
            raise ValueError(f"tflite endpoint {name!r} must take exactly one input, got {len(signature)}.")
        file_name = f"{name}.tflite"
        info = export_tflite(fn, staging / file_name, input_signature=signature)
        (inputs,), source = _endpoint_inputs(name, signature, sample_images, endpoint_inputs)
        expected = fn(tf.constant(inputs))
        parity[file_name] = _parity(run_tflite(staging / file_name, inputs), expected, "float32", len(inputs))
        infos[name] = {"file": file_name, **info, "parity_inputs": source}
    return infos


def _commit(staging: pathlib.Path, export_dir: pathlib.Path, tflite_variants: Sequence[str],
            extra_files: Sequence[str] = ()) -> None:
    """Moves the checked artifacts into place, the manifest last so a manifest only describes files in place;
    tflite variants not produced this time are removed so the folder matches its manifest."""
    for name in [SAVED_MODEL_DIR, HUB_DIR, *(TFLITE_FILES[v] for v in tflite_variants), *extra_files]:
        _replace(staging / name, export_dir / name)
    for variant, file_name in TFLITE_FILES.items():
        if variant not in tflite_variants:
            _remove(export_dir / file_name)
    _replace(staging / MANIFEST_NAME, export_dir / MANIFEST_NAME)
