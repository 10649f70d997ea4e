"""Appearance: procedural textures, colours, lighting and backgrounds (numpy, vectorised over pixels).

These implement the appearance side of Newell & Deng's factors ("How Useful is Self-Supervised Pretraining for
Visual Tasks?", CVPR 2020): Texture (procedural fills vs flat), Colour (random vs class-conditioned) and
Lighting (random directional shading, drop shadow and ambient level vs fixed mild light). Their renderer lit
ShapeNet meshes in 3D; here lighting is a 2D shading gradient and a soft drop shadow, which keeps the factor's
role (pixel intensities that vary with something other than the object) at a tiny cost.

All pixel functions take pixel-unit coordinates as float64 arrays and use only IEEE-exact elementwise operations
(no transcendental functions per pixel), so outputs are byte-identical across machines for a given numpy.
Colours are float RGB in [0, 1].
"""

from __future__ import annotations

import colorsys
import dataclasses
import math

import numpy as np

PATTERN_KINDS = ("stripes", "checks", "dots", "noise")
_NOISE_LATTICE = 8  # value-noise lattice is tileable with this period (cells)


@dataclasses.dataclass(frozen=True, eq=False)
class Pattern:
    """A procedural two-tone pattern.

    Attributes:
      kind: one of PATTERN_KINDS.
      period: pattern period (stripes, checks, dots) or noise cell size, in pixels, > 0.
      angle: pattern orientation in radians.
      phase_x, phase_y: offsets in periods, [0, 1).
      duty: stripes: fraction of the period that is "on"; dots: dot diameter as a fraction of the period; (0, 1).
      lattice: noise only: float64 [_NOISE_LATTICE, _NOISE_LATTICE] values in [0, 1].
    """

    kind: str
    period: float
    angle: float
    phase_x: float
    phase_y: float
    duty: float
    lattice: np.ndarray


def sample_pattern(rng: np.random.Generator, period_range: tuple[float, float]) -> Pattern:
    """Draws a random pattern. Always consumes the same number of draws, whichever kind is chosen."""
    kind = PATTERN_KINDS[int(rng.integers(len(PATTERN_KINDS)))]
    period = float(rng.uniform(*period_range))
    angle = float(rng.uniform(0.0, math.pi))
    phase_x, phase_y = (float(p) for p in rng.uniform(0.0, 1.0, 2))
    duty = float(rng.uniform(0.35, 0.65))
    lattice = rng.uniform(0.0, 1.0, (_NOISE_LATTICE, _NOISE_LATTICE))
    return Pattern(kind, period, angle, phase_x, phase_y, duty, lattice)


def _soft_band(q: np.ndarray, duty: float, period: float) -> np.ndarray:
    """1 where frac(q) is within duty/2 of 0.5, with a one-pixel anti-aliased ramp."""
    f = q - np.floor(q)
    d_px = (np.abs(f - 0.5) - 0.5 * duty) * period
    return np.clip(0.5 - d_px, 0.0, 1.0)


def _value_noise(qx: np.ndarray, qy: np.ndarray, lattice: np.ndarray) -> np.ndarray:
    n = lattice.shape[0]
    ix, iy = np.floor(qx), np.floor(qy)
    fx, fy = qx - ix, qy - iy
    fx, fy = fx * fx * (3.0 - 2.0 * fx), fy * fy * (3.0 - 2.0 * fy)  # smoothstep hides the lattice
    x0, y0 = ix.astype(np.int64) % n, iy.astype(np.int64) % n
    x1, y1 = (x0 + 1) % n, (y0 + 1) % n
    top = lattice[y0, x0] * (1.0 - fx) + lattice[y0, x1] * fx
    bottom = lattice[y1, x0] * (1.0 - fx) + lattice[y1, x1] * fx
    v = top * (1.0 - fy) + bottom * fy
    # Interpolated noise clusters around 0.5; stretch it so both tones actually appear.
    return np.clip((v - 0.5) * 2.2 + 0.5, 0.0, 1.0)


def pattern_field(pattern: Pattern, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Evaluates a pattern at pixel-unit coordinates.

    Args:
      pattern: the pattern.
      x, y: float64 [...] coordinates in pixels (canvas, or an object frame scaled to pixels).
    Returns:
      float64 [...] in [0, 1]: the mixing weight of the second tone.
    """
    c, s = math.cos(pattern.angle), math.sin(pattern.angle)
    qx = (c * x + s * y) / pattern.period + pattern.phase_x
    qy = (-s * x + c * y) / pattern.period + pattern.phase_y
    if pattern.kind == "stripes":
        return _soft_band(qx, pattern.duty, pattern.period)
    if pattern.kind == "checks":
        a, b = _soft_band(qx, 0.5, pattern.period), _soft_band(qy, 0.5, pattern.period)
        return a + b - 2.0 * a * b  # soft xor
    if pattern.kind == "dots":
        fx, fy = qx - np.floor(qx) - 0.5, qy - np.floor(qy) - 0.5
        d_px = (np.sqrt(fx * fx + fy * fy) - 0.5 * pattern.duty) * pattern.period
        return np.clip(0.5 - d_px, 0.0, 1.0)
    if pattern.kind == "noise":
        return _value_noise(qx, qy, pattern.lattice)
    raise ValueError(f"Unknown pattern kind {pattern.kind!r}; expected one of {PATTERN_KINDS}.")


# --------------------------------------------------------------------------------------------------------------
# Colours.


def hsv(h: float, s: float, v: float) -> np.ndarray:
    """HSV (each in [0, 1], hue wraps) to RGB float64 [3] in [0, 1]."""
    return np.array(colorsys.hsv_to_rgb(h % 1.0, min(max(s, 0.0), 1.0), min(max(v, 0.0), 1.0)))


def random_colour(rng: np.random.Generator) -> np.ndarray:
    """A random saturated-to-muted colour, RGB float64 [3] in [0, 1] (three draws)."""
    h, s, v = rng.uniform(0.0, 1.0), rng.uniform(0.25, 1.0), rng.uniform(0.3, 1.0)
    return hsv(h, s, v)


def class_colour(class_id: int, num_classes: int, rng: np.random.Generator) -> np.ndarray:
    """The class-conditioned colour of Colour-off data: a fixed hue per class with small jitter (three draws).

    Returns RGB float64 [3] in [0, 1].
    """
    dh, ds, dv = rng.uniform(-1.0, 1.0, 3)
    return hsv(class_id / num_classes + 0.012 * dh, 0.75 + 0.05 * ds, 0.85 + 0.05 * dv)


@dataclasses.dataclass(frozen=True, eq=False)
class Fill:
    """An object's surface: flat `colour_a`, or a pattern mixing `colour_a` and `colour_b` (RGB [3] in [0, 1])."""

    colour_a: np.ndarray
    colour_b: np.ndarray
    pattern: Pattern | None = None

    def mean_colour(self) -> np.ndarray:
        return self.colour_a if self.pattern is None else 0.5 * (self.colour_a + self.colour_b)


def fill_rgb(fill: Fill, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Colours a fill at pixel-unit coordinates x, y float64 [...]; returns float64 [..., 3] in [0, 1]."""
    if fill.pattern is None:
        return np.broadcast_to(fill.colour_a, x.shape + (3,)).copy()
    w = pattern_field(fill.pattern, x, y)[..., None]
    return fill.colour_a * (1.0 - w) + fill.colour_b * w


# --------------------------------------------------------------------------------------------------------------
# Lighting.


@dataclasses.dataclass(frozen=True)
class Lighting:
    """A 2D stand-in for a light source.

    Attributes:
      ambient: global intensity multiplier, > 0 (1 = unchanged).
      strength: amplitude of the directional gradient in [0, 1): intensity spans ambient * (1 +- strength)
        across an object (or the canvas for the background).
      direction: direction the light comes from, radians counter-clockwise from +x on screen.
      shadow_offset: drop-shadow displacement away from the light, pixels (0 = no shadow).
      shadow_softness: drop-shadow edge ramp width, pixels, >= 1.
      shadow_opacity: darkening inside the shadow, [0, 1].
    """

    ambient: float = 0.95
    strength: float = 0.08
    direction: float = 3.0 * math.pi / 4.0
    shadow_offset: float = 0.0
    shadow_softness: float = 1.0
    shadow_opacity: float = 0.0

    def shadow_shift(self) -> tuple[float, float]:
        """The shadow's (dx, dy) displacement in pixels on screen (y down)."""
        return (-self.shadow_offset * math.cos(self.direction), self.shadow_offset * math.sin(self.direction))


# Lighting off: light from the top left, mild gradient, no shadow, the same for every image.
FIXED_LIGHTING = Lighting()


def sample_lighting(rng: np.random.Generator) -> Lighting:
    """Random lighting for Lighting-on data (six draws)."""
    ambient, strength, direction, offset, softness, opacity = rng.uniform(0.0, 1.0, 6)
    return Lighting(
        ambient=0.5 + 0.65 * ambient,
        strength=0.15 + 0.3 * strength,
        direction=2.0 * math.pi * direction,
        shadow_offset=1.5 + 3.5 * offset,
        shadow_softness=1.5 + 3.0 * softness,
        shadow_opacity=0.3 + 0.35 * opacity,
    )


def shading(lighting: Lighting, x: np.ndarray, y: np.ndarray, center_x: float, center_y: float,
            radius: float) -> np.ndarray:
    """Multiplicative light field: float64 [...] >= 0 at pixel coordinates x, y float64 [...].

    The gradient runs along the light direction over `radius` pixels around (center_x, center_y).
    """
    lx, ly = math.cos(lighting.direction), math.sin(lighting.direction)
    g = ((x - center_x) * lx + (center_y - y) * ly) / radius
    return lighting.ambient * (1.0 + lighting.strength * np.clip(g, -1.0, 1.0))


# --------------------------------------------------------------------------------------------------------------
# Backgrounds.


@dataclasses.dataclass(frozen=True, eq=False)
class Background:
    """A flat, gradient or textured background.

    Attributes:
      colour_a, colour_b: RGB float64 [3] in [0, 1].
      pattern: texture mixing the two colours, or None for a linear gradient from a to b.
      gradient_angle: gradient direction, radians (pattern None only).
      gradient_strength: 0 = flat colour_a-b mean, 1 = full a-to-b ramp across the canvas (pattern None only).
    """

    colour_a: np.ndarray
    colour_b: np.ndarray
    pattern: Pattern | None = None
    gradient_angle: float = 0.0
    gradient_strength: float = 0.0

    def mean_colour(self) -> np.ndarray:
        return 0.5 * (self.colour_a + self.colour_b)


def render_background(background: Background, height: int, width: int,
                      lighting: Lighting | None = None) -> np.ndarray:
    """Paints a background: float64 [height, width, 3] in [0, 1] (lit by `lighting` if given)."""
    x, y = np.meshgrid(np.arange(width) + 0.5, np.arange(height) + 0.5)
    if background.pattern is not None:
        w = pattern_field(background.pattern, x, y)
    else:
        c, s = math.cos(background.gradient_angle), math.sin(background.gradient_angle)
        half = 0.5 * max(height, width)
        g = ((x - 0.5 * width) * c + (y - 0.5 * height) * s) / half
        w = 0.5 + 0.5 * background.gradient_strength * np.clip(g, -1.0, 1.0)
    rgb = background.colour_a * (1.0 - w[..., None]) + background.colour_b * w[..., None]
    if lighting is not None:
        rgb = rgb * shading(lighting, x, y, 0.5 * width, 0.5 * height, 0.5 * max(height, width))[..., None]
    return np.clip(rgb, 0.0, 1.0)
