"""One-object layers, back-to-front compositing, and the single-object examples of `tfssl_objects`.

The layer API (`render_object_layer`, `composite`) is what multi-object scene builders reuse: each object is an
RGB layer with a soft amodal coverage and the drop shadow it casts; painting layers back to front gives the
image and exact modal (visible) masks.

`render_object_example(factors, split, index)` is the pure function behind the `tfssl_objects` dataset. The four
binary factors are Newell & Deng's T, C, V, L ("How Useful is Self-Supervised Pretraining for Visual Tasks?",
CVPR 2020):
  - Texture on: procedural object fill and textured background; off: flat fill, flat or gradient background.
  - Colour on: random colours; off: each class has its own fixed hue (small jitter).
  - Viewpoint on: in-plane rotation uniform in [0, 360); off: upright, within +-15 degrees. Scale, aspect,
    shear and translation jitter apply always.
  - Lighting on: random directional shading, soft drop shadow, random ambient level; off: fixed mild light.
Newell & Deng rendered ShapeNet meshes; here objects are 2D shapes with held-out shape models per split, which
keeps their design (controlled factors, unseen test shapes) at a cost a 2-core CPU affords.

Coupling: randomness is drawn from separate streams seeded by (split, index, stream) and never by the factors, so
example i of every factor configuration shows the same class, shape model, position and pose bin; only what a
factor controls changes. Dataset sizes do not enter the seed either: a small split is a prefix of a larger one.

Appearance pool (`appearance_pool=K`, the `_pool` configs; issue #21): by default every instance has its own fill
and background, which lets a contrastive method tell instances apart by appearance alone. With a pool, the object's
fill is one of K fills and the background one of K backgrounds (`pool_fill`, `pool_background`), shared by every
class, instance and split; which ones an example gets is drawn from its own stream, independently of its class and
shape (the background is redrawn, within the pool, until it contrasts with the fill). The pool entries follow
Texture (patterned or flat), need Colour on (with Colour off the fill colour is the class's, by design), and the
class, shape, placement, pose and lighting of example i are those of the same code without a pool.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Sequence

import numpy as np

from tfssl.data.render import appearance as app
from tfssl.data.render import shapes

SEED = 20200614  # the root of every tfssl_objects example; changing it changes every dataset
NUM_POSES = 5
_SPLIT_IDS = {"train": 0, "validation": 1, "test": 2}
_STREAM_SHAPE, _STREAM_PLACEMENT, _STREAM_OBJECT, _STREAM_BACKGROUND, _STREAM_LIGHT = range(5)
_STREAM_POOL = 5  # which pool entries an example gets (appearance-pool configs only)
APPEARANCE_POOL = 16  # fills and backgrounds in the pool of the `_pool` configs (K of each)
# Pool entries are seeded by (SEED, _POOL_SEED_ID, kind, entry): no example's seed (SEED, split id in 0..2, index,
# stream) has this second number, so the pool shares no random numbers with any example.
_POOL_SEED_ID = 3
_POOL_FILLS, _POOL_BACKGROUNDS = 0, 1
_MIN_CONTRAST = 0.3  # RGB distance between mean object and background colours, so the object stays visible
_UPRIGHT_DEGREES = 15.0


@dataclasses.dataclass(frozen=True)
class Factors:
    """Newell & Deng's four binary data factors (T, C, V, L)."""

    texture: bool = True
    colour: bool = True
    viewpoint: bool = False
    lighting: bool = True

    @property
    def code(self) -> str:
        """Four characters in the order T, C, V, L: the lowercase letter when on, '0' when off (e.g. 'tc0l')."""
        flags = (self.texture, self.colour, self.viewpoint, self.lighting)
        return "".join(ch if on else "0" for ch, on in zip("tcvl", flags))

    @classmethod
    def from_code(cls, code: str) -> "Factors":
        """Parses a code such as 'tc0l' or '0000' (see `code`)."""
        if len(code) != 4 or any(c not in (ch, "0") for c, ch in zip(code, "tcvl")):
            raise ValueError(f"Bad factor code {code!r}: expected 4 chars, each its letter of 'tcvl' or '0'.")
        return cls(*(c != "0" for c in code))

    def describe(self) -> str:
        parts = (
            "textured object and background" if self.texture else "flat object, flat/gradient background",
            "random colours" if self.colour else "class-conditioned colours",
            "any in-plane rotation" if self.viewpoint else "upright (+-15 degrees)",
            "random lighting and shadow" if self.lighting else "fixed mild lighting",
        )
        return ", ".join(parts)


ALL_FACTORS = tuple(
    Factors(t, c, v, l) for t in (False, True) for c in (False, True) for v in (False, True) for l in (False, True)
)


# --------------------------------------------------------------------------------------------------------------
# Layers and compositing (reused by multi-object scenes).


@dataclasses.dataclass(frozen=True, eq=False)
class ObjectLayer:
    """One object rendered onto a canvas of size [H, W].

    Attributes:
      rgb: float32 [H, W, 3] in [0, 1], the object's lit colour (straight, not premultiplied; 0 where alpha is 0).
      alpha: float32 [H, W] in [0, 1], anti-aliased coverage: the amodal soft mask (threshold at 0.5 for a
        binary mask).
      shadow: float32 [H, W] in [0, 1], how much the object darkens whatever lies behind it.
    """

    rgb: np.ndarray
    alpha: np.ndarray
    shadow: np.ndarray


def render_object_layer(shape: shapes.ShapeModel, placement: shapes.Placement, fill: app.Fill,
                        height: int, width: int, lighting: app.Lighting | None = None) -> ObjectLayer:
    """Renders one object's RGB layer, soft amodal coverage and drop shadow on an empty canvas.

    The fill's texture is evaluated in the object's own frame (scaled to pixels), so it turns with the object.

    Args:
      shape: the shape model (object units).
      placement: position, scale, rotation, aspect and shear on the canvas (pixels).
      fill: flat colour or procedural texture.
      height, width: canvas size in pixels (any size).
      lighting: shading and shadow; None renders unlit with no shadow.
    Returns:
      An `ObjectLayer` with arrays of shape [height, width(, 3)].
    """
    alpha = shapes.coverage(shape, placement, height, width)
    rgb = np.zeros((height, width, 3), np.float32)
    rows, cols = shapes.window(placement, height, width)
    if rows.start < rows.stop and cols.start < cols.stop:
        x, y = np.meshgrid(np.arange(cols.start, cols.stop) + 0.5, np.arange(rows.start, rows.stop) + 0.5)
        u, v = placement.to_object(x, y)
        colour = app.fill_rgb(fill, u * placement.scale, v * placement.scale)
        if lighting is not None:
            light = app.shading(lighting, x, y, placement.center_x, placement.center_y, placement.scale)
            colour = colour * light[..., None]
        inside = alpha[rows, cols, None] > 0.0
        rgb[rows, cols] = np.where(inside, np.clip(colour, 0.0, 1.0), 0.0)
    if lighting is not None and lighting.shadow_opacity > 0.0 and lighting.shadow_offset > 0.0:
        dx, dy = lighting.shadow_shift()
        moved = dataclasses.replace(placement, center_x=placement.center_x + dx, center_y=placement.center_y + dy)
        shadow = lighting.shadow_opacity * shapes.coverage(shape, moved, height, width, lighting.shadow_softness)
    else:
        shadow = np.zeros((height, width), np.float32)
    return ObjectLayer(rgb=rgb, alpha=alpha, shadow=shadow.astype(np.float32))


def composite(background: np.ndarray, layers: Sequence[ObjectLayer]) -> tuple[np.ndarray, np.ndarray]:
    """Paints layers back to front (layers[0] is farthest) over a background.

    Each layer first darkens the canvas by its shadow, then is blended over it with its alpha. The modal
    (visible) soft mask of layer i is alpha_i * prod_{j > i} (1 - alpha_j); shadows do not change masks.

    Args:
      background: float [H, W, 3] in [0, 1].
      layers: N `ObjectLayer`s of the same canvas size, back to front.
    Returns:
      image: float32 [H, W, 3] in [0, 1].
      modal: float32 [N, H, W] in [0, 1], the visible soft mask of each layer.
    """
    canvas = np.asarray(background, np.float64)
    height, width = canvas.shape[:2]
    modal = np.zeros((len(layers), height, width), np.float32)
    for layer in layers:
        a = layer.alpha.astype(np.float64)[..., None]
        canvas = canvas * (1.0 - layer.shadow.astype(np.float64)[..., None])
        canvas = canvas * (1.0 - a) + layer.rgb.astype(np.float64) * a
    visible = np.ones((height, width), np.float64)
    for i in range(len(layers) - 1, -1, -1):  # front to back: what is in front hides what is behind
        a = layers[i].alpha.astype(np.float64)
        modal[i] = a * visible
        visible = visible * (1.0 - a)
    return np.clip(canvas, 0.0, 1.0).astype(np.float32), modal


def to_uint8(image: np.ndarray) -> np.ndarray:
    """float [..] in [0, 1] -> uint8 [..] in [0, 255], rounding half up."""
    return np.floor(np.clip(image, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


# --------------------------------------------------------------------------------------------------------------
# The tfssl_objects examples.


def rotation_range(viewpoint: bool) -> tuple[float, float]:
    """The in-plane rotation range in degrees allowed by the Viewpoint factor: [0, 360) or [-15, 15)."""
    return (0.0, 360.0) if viewpoint else (-_UPRIGHT_DEGREES, _UPRIGHT_DEGREES)


def pose_class(angle_degrees: float, viewpoint: bool) -> int:
    """The 5-way pose label: the rotation's bin among 5 equal bins of `rotation_range(viewpoint)`."""
    lo, hi = rotation_range(viewpoint)
    return int(min(max(math.floor((angle_degrees - lo) / (hi - lo) * NUM_POSES), 0), NUM_POSES - 1))


def example_rng(seed: int, split: str, index: int, stream: int) -> np.random.Generator:
    """The generator of one random stream of one example: a pure function of (dataset seed, split, index, stream),
    which is what makes every synthetic dataset byte-identical on every machine."""
    if split not in _SPLIT_IDS:
        raise ValueError(f"Unknown split {split!r}; expected one of {tuple(_SPLIT_IDS)}.")
    if index < 0:
        raise ValueError(f"index must be >= 0, got {index}.")
    return np.random.default_rng([seed, _SPLIT_IDS[split], int(index), stream])


def _rng(split: str, index: int, stream: int) -> np.random.Generator:
    return example_rng(SEED, split, index, stream)


@dataclasses.dataclass(frozen=True, eq=False)
class ObjectSpec:
    """Everything that defines one tfssl_objects example (its ground truth and appearance)."""

    class_id: int
    model_id: int
    angle_degrees: float
    pose: int
    placement: shapes.Placement
    fill: app.Fill
    background: app.Background
    lighting: app.Lighting
    fill_id: int | None = None  # the fill's and background's entries in the appearance pool (None without a pool)
    background_id: int | None = None


def sample_object_spec(factors: Factors, split: str, index: int, size: int = 64,
                       appearance_pool: int = 0) -> ObjectSpec:
    """Draws example `index` of `split` under `factors`; a pure function of its arguments.

    `appearance_pool` K > 0 takes the fill and background from a pool of K of each (`sample_pool_appearance`)
    instead of the example's own; 0 (the 16 factor codes' configs) draws them per example.
    """
    rng = _rng(split, index, _STREAM_SHAPE)
    class_id = int(rng.integers(shapes.NUM_CLASSES))
    ids = shapes.model_ids_for_split(split)
    model_id = int(ids[rng.integers(len(ids))])

    rng = _rng(split, index, _STREAM_PLACEMENT)
    turn, scale, log_aspect, shear, cx, cy = rng.uniform(0.0, 1.0, 6)
    lo, hi = rotation_range(factors.viewpoint)
    angle = lo + (hi - lo) * float(turn)
    placement = shapes.Placement(
        center_x=size * (0.5 + 0.16 * (cx - 0.5)),
        center_y=size * (0.5 + 0.16 * (cy - 0.5)),
        scale=size * (0.27 + 0.08 * scale),
        angle=math.radians(angle),
        aspect=math.exp(0.4 * (log_aspect - 0.5)),
        shear=0.24 * (shear - 0.5),
    )

    rng = _rng(split, index, _STREAM_OBJECT)
    class_rgb = app.class_colour(class_id, shapes.NUM_CLASSES, rng)
    darker = float(rng.uniform(0.4, 0.65))
    random_a, random_b = app.random_colour(rng), app.random_colour(rng)
    pattern = app.sample_pattern(rng, (3.5, 10.0))
    if factors.colour:
        colour_a, colour_b = random_a, random_b
    else:
        colour_a, colour_b = class_rgb, class_rgb * darker
    fill = app.Fill(colour_a, colour_b, pattern if factors.texture else None)

    background = _sample_background(_rng(split, index, _STREAM_BACKGROUND), factors, fill.mean_colour())
    rng = _rng(split, index, _STREAM_LIGHT)
    random_light = app.sample_lighting(rng)
    lighting = random_light if factors.lighting else app.FIXED_LIGHTING
    fill_id = background_id = None
    if appearance_pool:
        fill_id, background_id = sample_pool_appearance(factors, split, index, appearance_pool)
        fill, background = pool_fill(factors, fill_id), pool_background(factors, background_id)
    return ObjectSpec(class_id, model_id, angle, pose_class(angle, factors.viewpoint), placement, fill,
                      background, lighting, fill_id, background_id)


def _pool_rng(kind: int, entry: int) -> np.random.Generator:
    return np.random.default_rng([SEED, _POOL_SEED_ID, kind, int(entry)])


def _check_pool(factors: Factors) -> None:
    if not factors.colour:
        raise ValueError(f"The appearance pool needs Colour on (factor code {factors.code!r} has it off, which gives "
                         "every class its own colour); use a code with 'c', e.g. 'tc00'.")


def pool_fill(factors: Factors, entry: int) -> app.Fill:
    """Fill `entry` (int >= 0) of the appearance pool, the same for every class, instance and split.

    Two random colours, mixed by a random pattern when Texture is on (flat `colour_a` when off), drawn as
    `sample_object_spec` draws an instance's own fill under Colour on.
    """
    _check_pool(factors)
    rng = _pool_rng(_POOL_FILLS, entry)
    colour_a, colour_b = app.random_colour(rng), app.random_colour(rng)
    pattern = app.sample_pattern(rng, (3.5, 10.0))
    return app.Fill(colour_a, colour_b, pattern if factors.texture else None)


def pool_background(factors: Factors, entry: int) -> app.Background:
    """Background `entry` (int >= 0) of the appearance pool: random colours, textured when Texture is on, else a
    gradient (as `_sample_background` draws an instance's own under Colour on); the same for every example."""
    _check_pool(factors)
    rng = _pool_rng(_POOL_BACKGROUNDS, entry)
    colour_a, colour_b = app.random_colour(rng), app.random_colour(rng)
    pattern = app.sample_pattern(rng, (3.0, 12.0))
    angle, strength = float(rng.uniform(0.0, 2.0 * math.pi)), float(rng.uniform(0.0, 1.0))
    return app.Background(colour_a, colour_b, pattern if factors.texture else None, angle, strength)


def sample_pool_appearance(factors: Factors, split: str, index: int, pool_size: int) -> tuple[int, int]:
    """Which pool fill and background example `index` of `split` gets: (fill_id, background_id), each in
    [0, pool_size).

    Drawn from the example's own stream (`_STREAM_POOL`), never from its class or shape stream, so appearance is
    independent of class and shape. The fill is uniform over the pool; the background is uniform over the pool
    entries that contrast with the fill (redrawn up to 16 times; the last draw stands if none does).
    """
    if pool_size < 1:
        raise ValueError(f"pool_size must be >= 1, got {pool_size}.")
    rng = _rng(split, index, _STREAM_POOL)
    fill_id = int(rng.integers(pool_size))
    object_mean = pool_fill(factors, fill_id).mean_colour()
    for _ in range(16):
        background_id = int(rng.integers(pool_size))
        if _contrasts(pool_background(factors, background_id), object_mean):
            break
    return fill_id, background_id


def _contrasts(background: app.Background, object_mean: np.ndarray) -> bool:
    """Whether the object stays visible: mean colours at least _MIN_CONTRAST apart (RGB distance)."""
    return bool(np.sqrt(np.sum((background.mean_colour() - object_mean) ** 2)) >= _MIN_CONTRAST)


def _sample_background(rng: np.random.Generator, factors: Factors, object_mean: np.ndarray) -> app.Background:
    for _ in range(16):  # rejection keeps the object visible; every try consumes the same draws
        random_a, random_b = app.random_colour(rng), app.random_colour(rng)
        grey_a, grey_b = rng.uniform(0.1, 0.9, 2)
        pattern = app.sample_pattern(rng, (3.0, 12.0))
        angle, strength = float(rng.uniform(0.0, 2.0 * math.pi)), float(rng.uniform(0.0, 1.0))
        if factors.colour:
            a, b = random_a, random_b
        else:
            a, b = np.full(3, grey_a), np.full(3, grey_b)
        background = app.Background(a, b, pattern if factors.texture else None, angle, strength)
        if _contrasts(background, object_mean):
            break
    return background


def render_object_example(factors: Factors, split: str, index: int, size: int = 64,
                          appearance_pool: int = 0) -> dict:
    """Renders example `index` of `split`: a pure, deterministic function of its arguments.

    Args:
      factors: the T, C, V, L factors.
      split: "train", "validation" or "test" (disjoint shape models, see `shapes.model_ids_for_split`).
      index: int >= 0, the example's index within its split.
      size: canvas height = width in pixels.
      appearance_pool: 0 (each instance its own fill and background) or K >= 1: fill and background from a pool of
        K of each shared by all classes and instances (needs Colour on; see the module docstring).
    Returns:
      dict with
        image: uint8 [size, size, 3] in [0, 255].
        mask: uint8 [size, size, 1] in {0, 1}, the object's (amodal = modal) mask, coverage >= 0.5.
        label: int in [0, 10), index into `shapes.CLASS_NAMES`.
        pose: int in [0, 5), the rotation bin (`pose_class`).
        angle: float, in-plane rotation in degrees, in `rotation_range(factors.viewpoint)`.
        model_id: int, the shape model, in `shapes.model_ids_for_split(split)`.
        index: int, `index`.
    """
    spec = sample_object_spec(factors, split, index, size, appearance_pool)
    shape = shapes.shape_model(spec.class_id, spec.model_id)
    layer = render_object_layer(shape, spec.placement, spec.fill, size, size, spec.lighting)
    background = app.render_background(spec.background, size, size, spec.lighting)
    image, _ = composite(background, [layer])
    return {
        "image": to_uint8(image),
        "mask": (layer.alpha >= 0.5).astype(np.uint8)[..., None],
        "label": spec.class_id,
        "pose": spec.pose,
        "angle": spec.angle_degrees,
        "model_id": spec.model_id,
        "index": int(index),
    }
