"""The object-swap test: composites are exact, and the preference tells object encoders from background ones."""

import numpy as np
import pytest

from tfssl.evaluation.object_swap import object_preference, object_swap_composites


def _scenes(n=40, size=16, seed=0):
    """Random images with a centred square object (mask) of random colour on a random-colour background."""
    rng = np.random.default_rng(seed)
    masks = np.zeros((n, size, size, 1), np.float32)
    masks[:, 4:12, 4:12] = 1.0
    objects, backgrounds = rng.uniform(size=(n, 1, 1, 3)), rng.uniform(size=(n, 1, 1, 3))
    images = masks * objects + (1 - masks) * backgrounds
    return images.astype(np.float32), masks


def test_composites_take_the_object_from_the_image_and_the_rest_from_the_partner():
    images, masks = _scenes()
    partner = np.roll(np.arange(len(images)), 1)
    composites = object_swap_composites(images, masks[..., 0], partner)
    inside = masks[..., 0] == 1
    np.testing.assert_array_equal(composites[inside], images[inside])
    np.testing.assert_array_equal(composites[~inside], images[partner][~inside])
    with pytest.raises(ValueError, match="own partner"):
        object_swap_composites(images, masks, np.arange(len(images)))


def test_preference_is_one_for_an_object_encoder_and_zero_for_a_background_encoder():
    images, masks = _scenes()
    partner = np.roll(np.arange(len(images)), 3)
    composites = object_swap_composites(images, masks, partner)

    def centre(x):  # reads only the object's pixels
        return x[:, 6:10, 6:10].reshape(len(x), -1) - 0.5

    def corner(x):  # reads only background pixels
        return x[:, :3, :3].reshape(len(x), -1) - 0.5

    assert object_preference(centre(composites), centre(images), centre(images)[partner]) == 1.0
    assert object_preference(corner(composites), corner(images), corner(images)[partner]) == 0.0
    # An encoder blind to the input (constant features) ties on every composite: one half.
    constant = np.ones((len(images), 4))
    assert object_preference(constant, constant, constant) == 0.5
