"""benchmarks/rotation_shortcut.py: naming an image's rotation, with Rotation's or LCI's classifier."""

import importlib.util
import os
import types

import numpy as np
import tensorflow as tf

from tests.conftest import REPO

_spec = importlib.util.spec_from_file_location("rotation_shortcut",
                                               os.path.join(REPO, "benchmarks", "rotation_shortcut.py"))
rotation_shortcut = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(rotation_shortcut)

CLASS_NAMES = ("disc", "square")


def _marked_images(n=6, size=8):
    """Images with one bright pixel in the top-left corner: its corner after rot90 tells the quarter turns."""
    images = np.zeros((n, size, size, 3), np.float32)
    images[:, 0, 0] = 1.0
    return images, np.arange(n) % len(CLASS_NAMES)


def _corner_oracle(images):
    """Quarter turns (counter-clockwise, as tf.image.rot90) from where the marker went."""
    images = np.asarray(images)
    corners = [images[:, 0, 0, 0], images[:, -1, 0, 0], images[:, -1, -1, 0], images[:, 0, -1, 0]]
    return np.argmax(np.stack(corners, -1), -1)


def test_accuracy_is_one_for_an_oracle_and_a_quarter_for_a_constant_guess():
    images, labels = _marked_images()
    perfect = rotation_shortcut.rotation_accuracy(_corner_oracle, images, labels, CLASS_NAMES)
    assert perfect["accuracy"] == 1.0 and perfect["by_class"] == {"disc": 1.0, "square": 1.0}
    constant = rotation_shortcut.rotation_accuracy(lambda x: np.zeros(len(x), int), images, labels, CLASS_NAMES)
    assert constant["accuracy"] == 0.25


def _fake_lci(classes, predicted_class):
    """An LCI-like method whose classifier always names `predicted_class` (one of the paper's ids 0..5)."""
    def transformation_logits(inputs):
        logits = np.zeros((len(inputs), len(classes)), np.float32)
        logits[:, list(classes).index(predicted_class)] = 1.0
        return tf.constant(logits)
    return types.SimpleNamespace(name="lci", classes=classes, transformation_logits=transformation_logits)


def test_lci_positions_map_to_quarter_turns_and_other_classes_to_none():
    images = np.zeros((3, 8, 8, 3), np.float32)
    # Class 3 is the 180-degree rotation wherever it sits in `classes`.
    for classes in ((0, 1, 2, 3, 4, 5), (0, 2, 3, 4)):
        predict = rotation_shortcut.rotation_predictor(_fake_lci(classes, 3))
        np.testing.assert_array_equal(predict(images), [2, 2, 2])
    np.testing.assert_array_equal(rotation_shortcut.rotation_predictor(_fake_lci((0, 1, 2, 3, 4, 5), 1))(images),
                                  [-1, -1, -1])
    np.testing.assert_array_equal(rotation_shortcut.rotation_predictor(_fake_lci((0, 2, 3, 4), 0))(images), [0, 0, 0])


def test_autoencoded_images_change_only_f_window_and_match_an_identity_f():
    from tests.methods.test_lci import _batch, _identity, _method

    method = _method()
    images = _batch(n=6)["image"]
    # With an identity F, pasting its output back returns the images.
    method.inpainter = _identity
    np.testing.assert_allclose(rotation_shortcut.autoencoded_images(method, images), images, atol=1e-6)
    # With an F that outputs black, exactly one patch_size x patch_size window per image changes.
    method.inpainter = lambda patches, training=False: -tf.ones_like(patches)
    changed = np.any(np.abs(rotation_shortcut.autoencoded_images(method, images) - images) > 1e-5, axis=-1)
    assert np.all(changed.sum(axis=(1, 2)) == method.patch_size ** 2)
    rows, cols = np.any(changed, axis=2), np.any(changed, axis=1)
    assert np.all(rows.sum(1) == method.patch_size) and np.all(cols.sum(1) == method.patch_size)
