"""Object-swap test: does a frozen encoder represent the object, or the background around it?

For images A and B of `tfssl_objects` (one object each, with its mask), the composite C pastes A's object onto B:

  C = mask_A * A + (1 - mask_A) * B

and asks whether the encoder puts C nearer to A (it encodes the object) or to B (it encodes the background, which
covers most of a 64 px image). The *object preference* is the fraction of composites nearer to A, by cosine
similarity of the features the linear probe and kNN read. 1 means the object decides, 0 the background, about 0.5
neither. It explains a probe score: a pretext solvable from the background (instance discrimination of textured
backgrounds) can train an encoder whose class probe stays at chance.
"""

from __future__ import annotations

import numpy as np

from tfssl.evaluation.features import as_features

__all__ = ["object_swap_composites", "object_preference"]


def object_swap_composites(images: np.ndarray, masks: np.ndarray, partner: np.ndarray) -> np.ndarray:
    """Pastes each image's object onto its partner image.

    Args:
      images: float [N, H, W, 3]; masks: [N, H, W, 1] or [N, H, W] in {0, 1} (1 = object);
      partner: int [N], the image each object is pasted onto (partner[i] != i).
    Returns:
      float [N, H, W, 3]: composite i = mask_i * image_i + (1 - mask_i) * image_partner[i].
    """
    images = np.asarray(images)
    masks = np.asarray(masks, dtype=images.dtype)
    if masks.ndim == 3:
        masks = masks[..., None]
    partner = np.asarray(partner)
    if np.any(partner == np.arange(len(partner))):
        raise ValueError("object_swap_composites: an image cannot be its own partner")
    return masks * images + (1 - masks) * images[partner]


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def object_preference(composite_features, object_features, background_features) -> float:
    """Fraction of composites whose features are nearer (cosine) to the object's image than to the background's.

    Args:
      composite_features, object_features, background_features: [N, D]; row i of each describes composite i, the
        image its object came from, and the image its background came from.
    Returns:
      float in [0, 1]; ties count one half.
    """
    c = _unit(as_features(composite_features))
    a = _unit(as_features(object_features))
    b = _unit(as_features(background_features))
    to_object, to_background = np.sum(c * a, axis=1), np.sum(c * b, axis=1)
    return float(np.mean((to_object > to_background) + 0.5 * (to_object == to_background)))
