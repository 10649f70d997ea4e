"""Object shapes as exact signed distance fields of polygons, and their anti-aliased coverage on a canvas.

The ten classes follow tfssl's synthetic-data spec. Each class has a fixed pool of discrete *shape models*
(`NUM_SHAPE_MODELS` per class): a model is a deterministic jittered parametrisation seeded by (class, model_id),
and train / validation / test draw from disjoint model ids, as Newell & Deng ("How Useful is Self-Supervised
Pretraining for Visual Tasks?", CVPR 2020) hold out unseen ShapeNet models.

Every shape is a set of closed polygon loops filled with the even-odd rule (the ring is two loops, curves are
finely polygonised), so one exact signed distance function serves all classes. Shapes live in *object units*:
centred on their bounding box, farthest point at distance 1 from the origin, y pointing up.

Determinism: per pixel only IEEE-exact elementwise operations (+ - * / sqrt floor min) run, never BLAS or
transcendental functions, so a given numpy produces byte-identical coverage on every machine.
"""

from __future__ import annotations

import dataclasses
import functools
import math

import numpy as np

CLASS_NAMES = (
    "disc", "square", "triangle", "star", "cross", "ring", "heart", "crescent", "arrow", "hexagon"
)
NUM_CLASSES = len(CLASS_NAMES)
NUM_SHAPE_MODELS = 64
SPLITS = ("train", "validation", "test")
# Held-out shape models: contiguous blocks of model ids (48 / 8 / 8 of 64), the same for every class.
_SPLIT_MODEL_RANGES = {"train": (0, 48), "validation": (48, 56), "test": (56, 64)}
_SHAPE_SEED = 0x5EED_0B1E  # seeds the shape-model pool; changing it changes every dataset
_BLOCK = 4  # coarse-to-fine block size (pixels) of `coverage`


def model_ids_for_split(split: str) -> np.ndarray:
    """Shape-model ids that `split` may use: int64 [M], sorted, disjoint across the three splits.

    Args:
      split: "train", "validation" or "test".
    """
    if split not in _SPLIT_MODEL_RANGES:
        raise ValueError(f"Unknown split {split!r}; expected one of {SPLITS}.")
    lo, hi = _SPLIT_MODEL_RANGES[split]
    return np.arange(lo, hi, dtype=np.int64)


@dataclasses.dataclass(frozen=True, eq=False)
class ShapeModel:
    """One shape model: polygon loops in object units, filled with the even-odd rule.

    Attributes:
      class_id: int in [0, NUM_CLASSES).
      model_id: int in [0, NUM_SHAPE_MODELS).
      loops: tuple of float64 [V_k, 2] arrays (x, y-up), farthest vertex at distance <= 1 from the origin.
      rounding: corner rounding radius in object units (the SDF is offset outwards by it; the loops were
        shrunk by it so the farthest point stays at distance 1).
    """

    class_id: int
    model_id: int
    loops: tuple
    rounding: float = 0.0

    @functools.cached_property
    def _edges(self):
        a = np.concatenate(self.loops, axis=0)
        b = np.concatenate([np.roll(loop, -1, axis=0) for loop in self.loops], axis=0)
        ex, ey = b[:, 0] - a[:, 0], b[:, 1] - a[:, 1]
        inv_len2 = 1.0 / np.maximum(ex * ex + ey * ey, 1e-12)
        # Horizontal edges never cross a scanline (the straddle test below is False for them), so their slope
        # is irrelevant; a safe denominator only avoids a division warning.
        slope = ex / np.where(ey == 0.0, 1.0, ey)
        return a[:, 0], a[:, 1], b[:, 1], ex, ey, inv_len2, slope

    @property
    def name(self) -> str:
        return CLASS_NAMES[self.class_id]

    def sdf(self, u: np.ndarray, v: np.ndarray) -> np.ndarray:
        """Signed distance in object units, negative inside.

        Args:
          u, v: float64 arrays of the same shape [...], object coordinates (v up).
        Returns:
          float64 [...].
        """
        shape = u.shape
        pu, pv = u.reshape(-1, 1), v.reshape(-1, 1)
        ax, ay, by, ex, ey, inv_len2, slope = self._edges
        wx, wy = pu - ax, pv - ay  # [P, E]
        t = np.clip((wx * ex + wy * ey) * inv_len2, 0.0, 1.0)
        dx, dy = wx - ex * t, wy - ey * t
        dist = np.sqrt(np.min(dx * dx + dy * dy, axis=1))
        # Even-odd crossing count of a ray towards +u: handles holes (ring) with no orientation bookkeeping.
        straddles = (ay <= pv) != (by <= pv)
        crosses = straddles & (pu < ax + (pv - ay) * slope)
        inside = (np.count_nonzero(crosses, axis=1) & 1).astype(bool)
        return (np.where(inside, -dist, dist) - self.rounding).reshape(shape)


@dataclasses.dataclass(frozen=True)
class Placement:
    """Where and how one object sits on a canvas (pixel units, image y down).

    Object units map to pixels by: shear (u += shear * v), aspect (x * scale * sqrt(aspect), y * scale /
    sqrt(aspect)), rotation by `angle` (counter-clockwise on screen), translation to `center`.

    Attributes:
      center_x, center_y: object centre in pixels; pixel (row i, col j) has centre (j + 0.5, i + 0.5).
      scale: pixels per object unit (~ the object's radius in pixels), > 0.
      angle: in-plane rotation in radians, counter-clockwise as seen on screen.
      aspect: width/height stretch, > 0 (1 = none).
      shear: horizontal shear in object units (0 = none).
    """

    center_x: float
    center_y: float
    scale: float
    angle: float = 0.0
    aspect: float = 1.0
    shear: float = 0.0

    def bounding_radius(self) -> float:
        """Radius in pixels of a disc around the centre that holds the whole object."""
        stretch = max(math.sqrt(self.aspect), 1.0 / math.sqrt(self.aspect))
        return self.scale * stretch * (1.0 + abs(self.shear))

    def to_object(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Maps canvas pixel coordinates (x right, y down; float64 [...]) to object units (u, v up)."""
        c, s = math.cos(self.angle), math.sin(self.angle)
        dx, dy = x - self.center_x, self.center_y - y  # y flipped so the angle turns counter-clockwise
        ru, rv = c * dx + s * dy, -s * dx + c * dy
        root = math.sqrt(self.aspect)
        v = rv * (root / self.scale)
        u = ru / (self.scale * root) - self.shear * v
        return u, v


def pixel_grid(height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Pixel-centre coordinates: (x, y) float64 [height, width], x = col + 0.5, y = row + 0.5."""
    return np.meshgrid(np.arange(width) + 0.5, np.arange(height) + 0.5)


def window(placement: Placement, height: int, width: int, margin: float = 0.0):
    """Row and column slices of the canvas that can hold the object (plus `margin` pixels)."""
    r = placement.bounding_radius() + margin + 1.0
    r0 = max(0, int(math.floor(placement.center_y - r)))
    r1 = min(height, int(math.ceil(placement.center_y + r)))
    c0 = max(0, int(math.floor(placement.center_x - r)))
    c1 = min(width, int(math.ceil(placement.center_x + r)))
    return slice(r0, max(r0, r1)), slice(c0, max(c0, c1))


def coverage(shape: ShapeModel, placement: Placement, height: int, width: int,
             softness: float = 1.0) -> np.ndarray:
    """Anti-aliased coverage (the amodal soft mask) of one shape on a canvas.

    Args:
      shape: the shape model.
      placement: its pose on the canvas.
      height, width: canvas size in pixels.
      softness: edge ramp width in pixels; 1 gives a one-pixel anti-aliased edge, larger values blur it (used
        for soft drop shadows).
    Returns:
      float32 [height, width] in [0, 1]; 0.5 on the boundary.
    """
    out = np.zeros((height, width), np.float32)
    rows, cols = window(placement, height, width, margin=softness)
    h, w = rows.stop - rows.start, cols.stop - cols.start
    if h == 0 or w == 0:
        return out
    # Coarse to fine: the SDF is 1-Lipschitz in object units, hence at most `lipschitz`-Lipschitz in pixels, so a
    # block whose centre is far enough from the outline is entirely 0 or 1 and only blocks near the outline
    # need per-pixel distances. The result equals the per-pixel evaluation exactly; it is ~3x faster.
    b = _BLOCK
    nby, nbx = -(-h // b), -(-w // b)
    bx, by = np.meshgrid(cols.start + b * np.arange(nbx) + 0.5 * b, rows.start + b * np.arange(nby) + 0.5 * b)
    # The SDF is in object units; `scale` converts it to pixels (exactly without aspect/shear; the edge ramp
    # width varies by the stretch factor otherwise, which is harmless for anti-aliasing).
    d_block = shape.sdf(*placement.to_object(bx, by)) * placement.scale
    lipschitz = placement.bounding_radius() / placement.scale
    undecided = np.abs(d_block) < lipschitz * (0.5 * (b - 1)) * math.sqrt(2.0) + 0.5 * softness + 1e-6
    full = np.repeat(np.repeat((d_block < 0.0).astype(np.float64), b, axis=0), b, axis=1)[:h, :w]
    near = np.repeat(np.repeat(undecided, b, axis=0), b, axis=1)[:h, :w]
    iy, ix = np.nonzero(near)
    if iy.size:
        u, v = placement.to_object(cols.start + ix + 0.5, rows.start + iy + 0.5)
        d_px = shape.sdf(u, v) * placement.scale
        full[iy, ix] = np.clip(0.5 - d_px / softness, 0.0, 1.0)
    out[rows, cols] = full
    return out


# --------------------------------------------------------------------------------------------------------------
# The shape-model pool. Each builder returns polygon loops; `_normalise` centres and scales them.


def _cos(theta: np.ndarray) -> np.ndarray:
    # numpy's vectorised cos/sin may differ in the last ulp between CPUs (SIMD code paths); the Python math
    # module's libm does not, and shape vertices are few.
    return np.array([math.cos(t) for t in np.ravel(theta)]).reshape(np.shape(theta))


def _sin(theta: np.ndarray) -> np.ndarray:
    return np.array([math.sin(t) for t in np.ravel(theta)]).reshape(np.shape(theta))


def _unit(theta: np.ndarray) -> np.ndarray:
    """Unit vectors [N, 2] at angles theta [N]."""
    return np.stack([_cos(theta), _sin(theta)], axis=1)


def _ring_points(radii: np.ndarray, start: float = math.pi / 2) -> np.ndarray:
    n = radii.shape[0]
    theta = start + 2.0 * math.pi * np.arange(n) / n
    return radii[:, None] * _unit(theta)


def _radial_polygon(rng, n_vertices, radius_jitter, angle_jitter, start=math.pi / 2):
    theta = start + 2.0 * math.pi * np.arange(n_vertices) / n_vertices
    theta = theta + rng.uniform(-angle_jitter, angle_jitter, n_vertices)
    r = 1.0 + rng.uniform(-radius_jitter, radius_jitter, n_vertices)
    return r[:, None] * _unit(theta)


def _wobbly_circle(rng, n=36):
    """A circle with low-frequency radial wobble (elliptic and triangular modes)."""
    theta = 2.0 * math.pi * np.arange(n) / n
    a2, a3 = rng.uniform(0.0, 0.07), rng.uniform(0.0, 0.04)
    p2, p3 = rng.uniform(0.0, 2.0 * math.pi, 2)
    r = 1.0 + a2 * _cos(2.0 * theta + p2) + a3 * _cos(3.0 * theta + p3)
    return _ring_points(r, start=0.0)


def _disc(rng):
    return [_wobbly_circle(rng)], 0.0


def _square(rng):
    h = 0.7071
    corners = np.array([[h, h], [-h, h], [-h, -h], [h, -h]]) + rng.uniform(-0.06, 0.06, (4, 2))
    return [corners], rng.uniform(0.0, 0.1)


def _triangle(rng):
    return [_radial_polygon(rng, 3, 0.08, math.radians(6))], rng.uniform(0.0, 0.08)


def _star(rng):
    tips = _radial_polygon(rng, 5, 0.06, math.radians(4))
    inner_ratio = rng.uniform(0.38, 0.5)
    theta = math.pi / 2 + math.pi / 5 + 2.0 * math.pi * np.arange(5) / 5
    inner = inner_ratio * _unit(theta) * (1.0 + rng.uniform(-0.06, 0.06, (5, 1)))
    pts = np.empty((10, 2))
    pts[0::2], pts[1::2] = tips, inner
    return [pts], rng.uniform(0.0, 0.03)


def _cross(rng):
    w = rng.uniform(0.24, 0.34)  # arm half-width
    right, up, left, down = rng.uniform(0.8, 1.0, 4)
    pts = np.array([
        [w, w], [w, up], [-w, up], [-w, w], [-left, w], [-left, -w],
        [-w, -w], [-w, -down], [w, -down], [w, -w], [right, -w], [right, w],
    ])
    return [pts], rng.uniform(0.0, 0.06)


def _ring(rng):
    outer = _wobbly_circle(rng)
    inner = outer * rng.uniform(0.48, 0.64)
    return [outer, inner], 0.0


def _heart(rng, n=40):
    t = 2.0 * math.pi * np.arange(n) / n
    kx = 16.0 + rng.uniform(-1.5, 1.5)
    k1, k2, k3, k4 = (13.0 + rng.uniform(-1.0, 1.0), 5.0 + rng.uniform(-1.0, 1.0),
                      2.0 + rng.uniform(-0.6, 0.6), 1.0 + rng.uniform(-0.4, 0.4))
    st = _sin(t)
    x = kx * st * st * st
    y = k1 * _cos(t) - k2 * _cos(2 * t) - k3 * _cos(3 * t) - k4 * _cos(4 * t)
    return [np.stack([x, y], axis=1)], 0.0


def _crescent(rng):
    # A unit disc minus a disc of radius r2 centred at (dx, 0): the crescent opens to the right.
    dx, r2 = rng.uniform(0.38, 0.6), rng.uniform(0.8, 0.95)
    xi = (1.0 - r2 * r2 + dx * dx) / (2.0 * dx)
    yi = math.sqrt(max(1.0 - xi * xi, 0.0))
    a, b = math.atan2(yi, xi), math.atan2(yi, xi - dx)
    outer_t = np.linspace(a, 2.0 * math.pi - a, 32)
    inner_t = np.linspace(2.0 * math.pi - b, b, 26)[1:-1]  # endpoints coincide with the outer arc's
    outer = _unit(outer_t)
    inner = np.array([dx, 0.0]) + r2 * _unit(inner_t)
    return [np.concatenate([outer, inner], axis=0)], 0.0


def _arrow(rng):
    hw, hl, sw = rng.uniform(0.55, 0.75), rng.uniform(0.65, 0.9), rng.uniform(0.17, 0.27)
    neck = 1.0 - hl
    pts = np.array([[0.0, 1.0], [-hw, neck], [-sw, neck], [-sw, -1.0], [sw, -1.0], [sw, neck], [hw, neck]])
    return [pts], rng.uniform(0.0, 0.04)


def _hexagon(rng):
    return [_radial_polygon(rng, 6, 0.06, math.radians(4), start=0.0)], rng.uniform(0.0, 0.05)


_BUILDERS = (_disc, _square, _triangle, _star, _cross, _ring, _heart, _crescent, _arrow, _hexagon)


def _normalise(loops, rounding):
    """Centres the loops on their bounding box and scales so the rounded outline reaches radius 1."""
    allpts = np.concatenate(loops, axis=0)
    centre = 0.5 * (allpts.min(axis=0) + allpts.max(axis=0))
    loops = [loop - centre for loop in loops]
    radius = max(float(np.sqrt((loop ** 2).sum(axis=1)).max()) for loop in loops)
    # Rounding offsets the outline outwards by `rounding`; shrink the polygon so outline radius stays 1.
    factor = (1.0 - rounding) / radius
    return tuple(np.ascontiguousarray(loop * factor) for loop in loops), float(rounding)


@functools.lru_cache(maxsize=None)
def shape_model(class_id: int, model_id: int) -> ShapeModel:
    """The deterministic shape model `model_id` of class `class_id` (cached).

    Args:
      class_id: int in [0, NUM_CLASSES).
      model_id: int in [0, NUM_SHAPE_MODELS); any non-negative int is accepted (a larger pool for callers
        that want one), but the splits use only [0, NUM_SHAPE_MODELS).
    """
    if not 0 <= class_id < NUM_CLASSES:
        raise ValueError(f"class_id {class_id} outside [0, {NUM_CLASSES}).")
    if model_id < 0:
        raise ValueError(f"model_id {model_id} must be >= 0.")
    rng = np.random.default_rng([_SHAPE_SEED, class_id, model_id])
    loops, rounding = _BUILDERS[class_id](rng)
    loops, rounding = _normalise(loops, rounding)
    return ShapeModel(class_id=int(class_id), model_id=int(model_id), loops=loops, rounding=rounding)
