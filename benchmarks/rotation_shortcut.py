"""Does a trained network tell an image's rotation from its shapes or from something else? As JSON (no training).

    python benchmarks/rotation_shortcut.py --run_dirs=runs/rotation,runs/lci_rotation_only \\
        --datasets=tfssl_objects/tc00,tfssl_objects/tc0l --out=benchmarks/results/lci/rotation_shortcut.json

For each finished run (a `gin/rotation.gin` run, or a `gin/lci.gin` run whose classes include the rotations), rotates
held-out test images by 0, 90, 180 and 270 degrees and records how often the run's own classifier names the
rotation, overall and per shape class. A disc or a square looks the same after a quarter turn, so a network that
reads the shapes cannot do much better than chance on them (its accuracy there comes from shading and texture); a
network that names their rotation almost always is reading a cue that covers the whole image. On `tc00` (lighting
off) every image is lit from the top left (`tfssl.data.render.appearance.FIXED_LIGHTING`), and that gradient
gives the rotation away; on `tc0l` the light comes from a random direction, so the same network's accuracy there
says how much of what it learned was the light.

For an LCI run that trains F (class 1 in its classes), `autoencoded` repeats the measurement on the same images with
F's autoencoded patch pasted in, as half of LCI's class-0 images (and their rotations) are in training. F's loss
subtracts the classifier's cross-entropy over the whole batch (as the reference), so F is rewarded for making
those rotations hard to name: a rate far below the plain images' says F hides the orientation inside its window.
"""

from __future__ import annotations

import json
import os

import numpy as np
import tensorflow as tf
from absl import app, flags

FLAGS = flags.FLAGS


def define_flags() -> None:
    """The command line (defined only when run as a script, so tests can import the functions below)."""
    flags.DEFINE_list("run_dirs", None, "model_dirs of finished runs (rotation.gin or lci.gin with rotation classes).")
    flags.DEFINE_list("datasets", ["tfssl_objects/tc00", "tfssl_objects/tc0l"], "Labelled datasets to rotate.")
    flags.DEFINE_string("split", "test", "Split of held-out shape models.")
    flags.DEFINE_integer("max_examples", 512, "Images per dataset (each shown in four rotations).")
    flags.DEFINE_string("out", "benchmarks/results/lci/rotation_shortcut.json", "Where to write the JSON.")


def rotation_predictor(method):
    """images float32 [B, S, S, 3] in [0, 1] -> predicted quarter turns int [B] in 0..3 (-1: another class)."""
    if hasattr(method, "rotation_logits"):
        return lambda images: np.argmax(method.rotation_logits(images), -1)
    from tfssl.methods import lci

    classes = list(method.classes)
    if not set(lci.ROTATION_CLASSES) <= set(classes):
        raise app.UsageError(f"{method.name}: classes {classes} do not include the rotations")
    # Quarter turns named by each position of `classes` (class 0 is the untransformed image; -1 for LCI and warp).
    turns = np.full(len(classes), -1)
    for k, c in enumerate([lci.UNTRANSFORMED, *lci.ROTATION_CLASSES]):
        turns[classes.index(c)] = k
    return lambda images: turns[np.argmax(method.transformation_logits(2.0 * images - 1.0), -1)]


def autoencoded_images(method, images: np.ndarray) -> np.ndarray:
    """images float32 [B, S, S, 3] in [0, 1] -> the same with F's autoencoded patch pasted in, [0, 1].

    The patch sits where LCI's training would put it for these indices at step 0; F runs in inference mode.
    """
    index = tf.range(len(images), dtype=tf.int64)
    out = method.limited_context_inpaint(2.0 * tf.constant(images) - 1.0, index, tf.constant(0, tf.int64))
    return ((out["autoencoded_image"] + 1.0) / 2.0).numpy()


def rotation_accuracy(predict, images: np.ndarray, labels: np.ndarray, class_names) -> dict:
    """Accuracy of naming k quarter turns of every image, overall and per shape class."""
    from tfssl.methods.rotation import NUM_ROTATIONS, rotate_four  # the rotations both methods train on

    rotated, turns = rotate_four(images)
    correct = predict(rotated) == turns.numpy()
    shape = np.tile(labels, NUM_ROTATIONS)
    return {"accuracy": float(correct.mean()),
            "by_class": {name: float(correct[shape == c].mean()) for c, name in enumerate(class_names)
                         if np.any(shape == c)}}


def main(argv):
    del argv
    if not FLAGS.run_dirs:
        raise app.UsageError("give --run_dirs=DIR[,DIR...] of finished rotation or LCI runs")
    from tfssl import cli
    import tfssl.registry  # noqa: F401  (the configurables the gin files name)
    from tfssl.core import experiment
    from tfssl.data import pipelines
    from tfssl.evaluation import classification

    cli.quiet_logs()
    data = {}
    for name in FLAGS.datasets:
        examples = classification.labelled_images(name, FLAGS.split, "label", None, FLAGS.max_examples)
        batch = next(iter(examples.batch(FLAGS.max_examples)))
        data[name] = (batch["image"].numpy(), batch["label"].numpy(),
                      pipelines.load_builder(name).info.features["label"].names)
    report = {"command": "python benchmarks/rotation_shortcut.py --run_dirs=" + ",".join(FLAGS.run_dirs)
                         + " --datasets=" + ",".join(FLAGS.datasets) + f" --out={FLAGS.out}",
              "split": FLAGS.split, "max_examples": FLAGS.max_examples, "runs": {}}
    for run_dir in FLAGS.run_dirs:
        session = experiment.load_run(run_dir)
        predict = rotation_predictor(session.method)
        result = {"step": int(session.trainer.step),
                  **{name: rotation_accuracy(predict, *data[name]) for name in FLAGS.datasets}}
        if getattr(session.method, "uses_lci", False):
            result["autoencoded"] = {
                name: rotation_accuracy(predict, autoencoded_images(session.method, images), labels, names)
                for name, (images, labels, names) in data.items()}
        report["runs"][run_dir] = result
    os.makedirs(os.path.dirname(FLAGS.out) or ".", exist_ok=True)
    with open(FLAGS.out, "w") as f:
        json.dump(report, f, indent=2, sort_keys=True)
    print(json.dumps(report, indent=2, sort_keys=True))


if __name__ == "__main__":
    define_flags()
    app.run(main)
