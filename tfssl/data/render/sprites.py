"""Sprites: 8-frame clips of a cartoon character, the procedural analogue of Li & Mandt's Sprites (ICML 2018).

Li & Mandt ("Disentangled Sequential Autoencoder", ICML 2018) composited Liberated Pixel Cup sprite sheets: a
character with 4 static attributes of 6 values each (body, top, bottom, hair) performing one of 9 actions (walk,
spellcast, slash, each facing front, left or right), 8 frames of 64x64, with 1000 attribute combinations for
training and the other 296 held out for testing. This module draws such characters from primitives (capsules,
rounded boxes, discs, anti-aliased by their signed distances), vectorised over the frames of a clip, so that
S3VAE's static/dynamic split has a ground truth: the attributes never change within a clip, the action is the
only thing that moves.

- body: the skin colour (head, hands, bare arms and legs): 6 clearly different tones.
- top: 6 colours; the sleeves are long (values 0, 3), short (1, 4) or absent (2, 5).
- bottom: 6 colours; trousers (0, 3), shorts (1, 4) or a skirt (2, 5).
- hair: 6 colours; short (0, 3), long to the shoulders (1, 4) or short with a bun (2, 5).
- action = 3 * motion + direction (Li & Mandt's numbering): motions walk, spellcast, slash; directions front,
  left, right. Walk swings arms and legs; spellcast raises both arms and grows a glowing orb above the hands;
  slash swings one arm with a sword from overhead to low forward. Left is the mirror image of right.

Every motion is periodic with period 8 frames; a clip starts at a random phase (0..7) and the character is shifted
by a few pixels, per example. Only exact float operations touch pixels (the phase tables hold cos/sin of multiples
of 45 degrees built from sqrt), so a clip is byte-identical on every machine.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from tfssl.data.render.objects import example_rng, to_uint8

SEED = 20180710  # the root of every tfssl_sprites example; changing it changes the dataset
NUM_FRAMES = 8
ATTRIBUTES = ("body", "top", "bottom", "hair")
NUM_VALUES = 6
MOTIONS = ("walk", "spellcast", "slash")
DIRECTIONS = ("front", "left", "right")
ACTIONS = tuple(f"{m}_{d}" for m in MOTIONS for d in DIRECTIONS)  # action = 3 * motion + direction
NUM_ACTIONS = len(ACTIONS)
NUM_CHARACTERS = NUM_VALUES ** len(ATTRIBUTES)  # 1296 attribute combinations
# Characters (attribute combinations) per split, as Li & Mandt: 1000 for training, the rest held out.
SPLIT_CHARACTERS = {"train": 1000, "validation": 80, "test": 216}
_STREAM_CLIP = 0
_PARTITION_SEED_ID = 7  # seeds the partition of characters into splits: no example seed has it at this position

SKIN = np.array([(1.00, 0.86, 0.74), (0.86, 0.64, 0.44), (0.58, 0.38, 0.22),
                 (0.30, 0.19, 0.11), (0.45, 0.78, 0.36), (0.62, 0.72, 0.92)])
TOP = np.array([(0.86, 0.12, 0.12), (0.14, 0.32, 0.88), (0.14, 0.66, 0.22),
                (0.97, 0.82, 0.08), (0.56, 0.18, 0.72), (0.97, 0.97, 0.97)])
BOTTOM = np.array([(0.08, 0.08, 0.36), (0.46, 0.27, 0.10), (0.10, 0.10, 0.10),
                   (0.00, 0.52, 0.52), (0.97, 0.50, 0.08), (0.97, 0.52, 0.74)])
HAIR = np.array([(0.05, 0.05, 0.05), (0.98, 0.88, 0.40), (0.82, 0.22, 0.02),
                 (0.90, 0.90, 0.90), (0.42, 0.22, 0.06), (0.16, 0.40, 0.98)])
BACKGROUND = np.array((0.70, 0.74, 0.70))
_SHOE = np.array((0.22, 0.14, 0.08))
_EYE = np.array((0.04, 0.04, 0.04))
_BLADE = np.array((0.80, 0.82, 0.88))
_HILT = np.array((0.55, 0.35, 0.05))
_ORB = np.array((1.00, 0.95, 0.35))
_FAR_SHADE = 0.72  # limbs on the far side of a profile are darker, so the two legs stay apart visually

_R = math.sqrt(0.5)
# cos and sin of k * 45 degrees, k = 0..7, exact on every machine (no libm call)
_COS8 = np.array([1.0, _R, 0.0, -_R, -1.0, -_R, 0.0, _R])
_SIN8 = np.array([0.0, _R, 1.0, _R, 0.0, -_R, -1.0, -_R])


def action_id(motion: int, direction: int) -> int:
    """Li & Mandt's action label: 3 * motion + direction, in 0..8."""
    return 3 * motion + direction


def split_characters(split: str) -> np.ndarray:
    """The attribute combinations of a split: int64 [n, 4] (body, top, bottom, hair), each in 0..5.

    A fixed random partition of the 1296 combinations, disjoint across splits, so test characters are unseen
    combinations (each single value is seen in training; only the combination is new).
    """
    if split not in SPLIT_CHARACTERS:
        raise ValueError(f"Unknown split {split!r}; expected one of {tuple(SPLIT_CHARACTERS)}.")
    order = np.random.default_rng([SEED, _PARTITION_SEED_ID]).permutation(NUM_CHARACTERS)
    start = 0
    for name, n in SPLIT_CHARACTERS.items():
        if name == split:
            ids = order[start:start + n]
            break
        start += n
    return np.stack(np.unravel_index(ids, (NUM_VALUES,) * len(ATTRIBUTES)), axis=1).astype(np.int64)


@dataclasses.dataclass(frozen=True)
class SpriteSpec:
    """Everything that defines one clip: the ground truth and the per-example jitter."""

    body: int
    top: int
    bottom: int
    hair: int
    action: int  # 3 * motion + direction
    phase: int  # the motion phase of frame 0, 0..7
    shift_x: float  # pixels
    shift_y: float

    @property
    def attributes(self) -> tuple[int, int, int, int]:
        return self.body, self.top, self.bottom, self.hair


def sample_sprite_spec(split: str, index: int) -> SpriteSpec:
    """Example `index` of `split`: character (index // 9) mod the split's characters, action index mod 9.

    So every block of 9 consecutive examples shows one character doing all 9 actions (as Li & Mandt's data has every
    character in every action), and action classes are balanced in any prefix of length 9k.
    """
    characters = split_characters(split)
    body, top, bottom, hair = (int(v) for v in characters[(index // NUM_ACTIONS) % len(characters)])
    rng = example_rng(SEED, split, index, _STREAM_CLIP)
    phase = int(rng.integers(NUM_FRAMES))
    shift_x, shift_y = (float(v) for v in np.round(rng.uniform(-3.0, 3.0, 2) * 2.0) / 2.0)  # half pixels
    return SpriteSpec(body, top, bottom, hair, index % NUM_ACTIONS, phase, shift_x, shift_y)


# ---- signed distances (pixels; negative inside) -----------------------------------------------------------------


# A shape is (distance function of pixel coordinates (x, y) [1, h, w] -> [T, h, w], bounding box (x0, x1, y0, y1)
# over all frames); painting evaluates it only inside the box, which makes a clip ~5x faster to draw.


def _bounds(xs, ys, margin):
    xs = [np.min(v) for v in xs] + [np.max(v) for v in xs]
    ys = [np.min(v) for v in ys] + [np.max(v) for v in ys]
    return min(xs) - margin, max(xs) + margin, min(ys) - margin, max(ys) + margin


def _capsule(ax, ay, bx, by, r):
    def distance(x, y):
        px, py, vx, vy = x - ax, y - ay, bx - ax, by - ay
        h = np.clip((px * vx + py * vy) / np.maximum(vx * vx + vy * vy, 1e-9), 0.0, 1.0)
        dx, dy = px - h * vx, py - h * vy
        return np.sqrt(dx * dx + dy * dy) - r
    return distance, _bounds((ax, bx), (ay, by), np.max(r) + 1.0)


def _disc(cx, cy, r):
    def distance(x, y):
        dx, dy = x - cx, y - cy
        return np.sqrt(dx * dx + dy * dy) - r
    return distance, _bounds((cx,), (cy,), np.max(r) + 1.0)


def _box(cx, cy, half_w, half_h, r):
    def distance(x, y):
        qx = np.abs(x - cx) - half_w + r
        qy = np.abs(y - cy) - half_h + r
        ox, oy = np.maximum(qx, 0.0), np.maximum(qy, 0.0)
        return np.sqrt(ox * ox + oy * oy) + np.minimum(np.maximum(qx, qy), 0.0) - r
    return distance, _bounds((cx,), (cy,), max(half_w, half_h) + 1.0)


def _clipped(shape, cut):
    """`shape` where cut(x, y) < 0 (the intersection of their insides)."""
    distance, box = shape
    return (lambda x, y: np.maximum(distance(x, y), cut(x, y))), box


def _paint(canvas: np.ndarray, grid: tuple, shape: tuple, colour: np.ndarray) -> None:
    """Paints `colour` over `canvas` [T, H, W, 3] inside `shape`, with a one-pixel soft edge.

    grid: (x, y, scale): pixel-centre coordinates [1, H, W] in 64-pixel units, and pixels per unit.
    """
    x, y, scale = grid
    distance, (x0, x1, y0, y1) = shape
    size = canvas.shape[1]
    r0, r1 = max(0, int(math.floor(y0 * scale))), min(size, int(math.ceil(y1 * scale)) + 1)
    c0, c1 = max(0, int(math.floor(x0 * scale))), min(size, int(math.ceil(x1 * scale)) + 1)
    if r0 >= r1 or c0 >= c1:
        return
    alpha = np.clip(0.5 - distance(x[:, r0:r1, c0:c1], y[:, r0:r1, c0:c1]), 0.0, 1.0)[..., None]
    window = canvas[:, r0:r1, c0:c1]
    window *= 1.0 - alpha
    window += alpha * colour


def _col(values) -> np.ndarray:
    """Per-frame parameters [T] -> [T, 1, 1], to broadcast against the pixel grid."""
    return np.asarray(values, dtype=np.float64)[:, None, None]


def _unit(vx, vy):
    n = np.sqrt(vx * vx + vy * vy)
    return vx / n, vy / n


def _lerp(a, b, w):
    return a + (b - a) * w


# ---- the character ----------------------------------------------------------------------------------------------


def _pose(motion: int, profile: bool, phase: np.ndarray, cx: float, cy: float) -> dict:
    """Joint positions per frame ([T] arrays, pixels) of a character facing the viewer or facing right.

    `near`/`far` are the limbs on the viewer's side / the other side (front view: the character's left and right).
    """
    c, s = _COS8[phase], _SIN8[phase]
    lift = (1.0 - c) / 2.0  # 0 -> 1 -> 0 over the period
    zero = np.zeros_like(c)
    p = {"hip_y": cy + 8.0 + zero, "shoulder_y": cy - 6.0 + zero, "head_y": cy - 17.5 + zero, "bob": zero}
    side = 1.0 if profile else 0.0
    sx = 0.0 if profile else 7.5  # shoulder and hip offsets from the centre line in the front view
    hx = 0.0 if profile else 3.5
    for name, sign in (("near", 1.0), ("far", -1.0)):
        p[f"{name}_shoulder_x"] = cx + sign * sx + zero
        p[f"{name}_hip_x"] = cx + sign * hx + zero
        p[f"{name}_foot_x"] = cx + sign * (0.0 if profile else 4.5) + zero
        p[f"{name}_foot_y"] = cy + 25.0 + zero
        p[f"{name}_hand_x"] = cx + sign * (9.0 * (1 - side)) + 1.5 * side + zero
        p[f"{name}_hand_y"] = cy + 7.0 + zero
        p[f"{name}_elbow_x"] = cx + sign * (10.0 * (1 - side)) + zero
        p[f"{name}_elbow_y"] = cy + 1.0 + zero
    p["orb_r"] = zero - 1.0
    p["sword"] = False
    if motion == 0:  # walk
        p["bob"] = -np.abs(s)
        if profile:  # legs and arms swing forward and back, in opposite phase
            for name, sign in (("near", 1.0), ("far", -1.0)):
                p[f"{name}_foot_x"] = cx + sign * 7.0 * s
                p[f"{name}_foot_y"] = cy + 25.0 - 2.0 * np.maximum(0.0, -sign * c)
                p[f"{name}_hand_x"] = cx - sign * 6.5 * s
                p[f"{name}_elbow_x"] = cx - sign * 3.0 * s
        else:  # feet lift in turn, arms swing up and down against them
            for name, sign in (("near", 1.0), ("far", -1.0)):
                p[f"{name}_foot_y"] = cy + 25.0 - 5.0 * np.maximum(0.0, sign * s)
                p[f"{name}_hand_y"] = cy + 7.0 + 3.0 * sign * s
    elif motion == 1:  # spellcast: both arms rise, an orb grows above the hands
        for name, sign in (("near", 1.0), ("far", -1.0)):
            if profile:
                hand = (cx + 11.0 - 3.0 * (sign < 0), cy - 20.0)
                elbow = (cx + 7.0, cy - 9.0)
            else:
                hand = (cx + sign * 5.5, cy - 27.0)
                elbow = (cx + sign * 11.0, cy - 15.0)
            p[f"{name}_hand_x"] = _lerp(p[f"{name}_hand_x"], hand[0], lift)
            p[f"{name}_hand_y"] = _lerp(p[f"{name}_hand_y"], hand[1], lift)
            p[f"{name}_elbow_x"] = _lerp(p[f"{name}_elbow_x"], elbow[0], lift)
            p[f"{name}_elbow_y"] = _lerp(p[f"{name}_elbow_y"], elbow[1], lift)
        p["orb_x"] = cx + (13.0 if profile else 0.0) + zero
        p["orb_y"] = cy - (25.0 if profile else 31.0) + zero
        p["orb_r"] = 5.0 * lift - 1.0
    else:  # slash: the near arm swings a sword from overhead-back to low-forward
        if profile:
            up, down = (-0.45, -1.0), (1.0, 0.55)
        else:
            up, down = (0.35, -1.0), (-1.0, 0.75)  # from over the near shoulder across the body
        ux, uy = _unit(_lerp(up[0], down[0], lift), _lerp(up[1], down[1], lift))
        sx0, sy0 = p["near_shoulder_x"], p["shoulder_y"]
        p["near_elbow_x"], p["near_elbow_y"] = sx0 + 6.0 * ux, sy0 + 6.0 * uy
        p["near_hand_x"], p["near_hand_y"] = sx0 + 12.0 * ux, sy0 + 12.0 * uy
        p["sword"] = True
        p["sword_ux"], p["sword_uy"] = ux, uy
        if not profile:
            p["near_foot_x"] = p["near_foot_x"] + 1.5
            p["far_foot_x"] = p["far_foot_x"] - 1.5
    return p


def _draw_leg(canvas, g, p, name, spec, shade):
    hip = (_col(p[f"{name}_hip_x"]), _col(p["hip_y"] + p["bob"]))
    foot = (_col(p[f"{name}_foot_x"]), _col(p[f"{name}_foot_y"]))
    knee = ((hip[0] + foot[0]) / 2.0, (hip[1] + foot[1]) / 2.0)
    skin, cloth = SKIN[spec.body] * shade, BOTTOM[spec.bottom] * shade
    style = spec.bottom % 3
    _paint(canvas, g, _capsule(*hip, *foot, 2.6), cloth if style == 0 else skin)
    if style == 1:  # shorts
        _paint(canvas, g, _capsule(*hip, *knee, 2.9), cloth)
    _paint(canvas, g, _capsule(foot[0] - 1.0, foot[1], foot[0] + 1.5, foot[1], 2.0), _SHOE * shade)


def _draw_arm(canvas, g, p, name, spec, shade):
    shoulder = (_col(p[f"{name}_shoulder_x"]), _col(p["shoulder_y"] + p["bob"]))
    elbow = (_col(p[f"{name}_elbow_x"]), _col(p[f"{name}_elbow_y"] + p["bob"]))
    hand = (_col(p[f"{name}_hand_x"]), _col(p[f"{name}_hand_y"] + p["bob"]))
    skin, cloth = SKIN[spec.body] * shade, TOP[spec.top] * shade
    sleeves = spec.top % 3  # 0 long, 1 short, 2 none
    _paint(canvas, g, _capsule(*shoulder, *elbow, 2.2), cloth if sleeves < 2 else skin)
    _paint(canvas, g, _capsule(*elbow, *hand, 2.0), cloth if sleeves == 0 else skin)
    _paint(canvas, g, _disc(*hand, 2.3), skin)


def render_frames(spec: SpriteSpec, size: int = 64, num_frames: int = NUM_FRAMES) -> np.ndarray:
    """The clip of `spec`: float32 [T, size, size, 3] in [0, 1] (drawn on a 64-pixel layout, scaled to `size`)."""
    motion, direction = divmod(spec.action, 3)
    profile = direction != 0
    phase = (spec.phase + np.arange(num_frames)) % NUM_FRAMES
    scale = size / 64.0
    ys, xs = np.meshgrid(np.arange(size) + 0.5, np.arange(size) + 0.5, indexing="ij")
    g = (xs[None] / scale, ys[None] / scale, scale)  # pixel centres [1, H, W] in 64-pixel units
    cx, cy = 32.0 + spec.shift_x, 31.0 + spec.shift_y
    p = _pose(motion, profile, phase, cx, cy)
    canvas = np.broadcast_to(BACKGROUND, (num_frames, size, size, 3)).copy()
    bob = _col(p["bob"])
    head_x = cx + (1.0 if profile else 0.0)
    head_y = _col(p["head_y"]) + bob
    hair_style = spec.hair % 3
    hair = HAIR[spec.hair]
    if hair_style == 1:  # long hair hangs behind the head and the shoulders
        back = head_x - 3.0 if profile else head_x
        half_w = 5.0 if profile else 9.0
        _paint(canvas, g, _box(back, head_y + 6.0, half_w, 8.5, 3.0), hair)
    far, near = (_FAR_SHADE, 1.0) if profile else (1.0, 1.0)
    if profile:  # the far arm is behind the body
        _draw_arm(canvas, g, p, "far", spec, far)
    _draw_leg(canvas, g, p, "far", spec, far)
    _draw_leg(canvas, g, p, "near", spec, near)
    if spec.bottom % 3 == 2:  # skirt
        _paint(canvas, g, _box(cx, _col(p["hip_y"]) + bob + 3.0, 6.0 if profile else 8.5, 6.0, 2.0),
               BOTTOM[spec.bottom])
    torso_w = 4.5 if profile else 6.5
    _paint(canvas, g, _box(cx, _col((p["shoulder_y"] + p["hip_y"]) / 2.0) + bob, torso_w, 8.5, 2.5),
           TOP[spec.top])
    if not profile:
        _draw_arm(canvas, g, p, "far", spec, far)
    _draw_arm(canvas, g, p, "near", spec, near)
    _paint(canvas, g, _disc(head_x, head_y, 7.5), SKIN[spec.body])
    if profile:
        _paint(canvas, g, _disc(head_x + 4.5, head_y - 0.5, 1.1), _EYE)
        _paint(canvas, g, _capsule(head_x + 7.0, head_y + 1.0, head_x + 8.3, head_y + 2.0, 0.9), SKIN[spec.body])
    else:
        for ex in (-3.0, 3.0):
            _paint(canvas, g, _disc(head_x + ex, head_y - 0.5, 1.1), _EYE)
    def cut(x, y):  # the hair covers the top of the head, and in profile the back of it, leaving the face free
        top = y - (head_y - 2.5)
        return np.minimum(top, np.maximum(x - (head_x - 2.0), y - (head_y + 3.0))) if profile else top
    _paint(canvas, g, _clipped(_disc(head_x, head_y, 8.3), cut), hair)
    if hair_style == 2:  # bun
        _paint(canvas, g, _disc(head_x - (2.5 if profile else 0.0), head_y - 9.0, 3.6), hair)
    if p["sword"]:
        hx, hy = _col(p["near_hand_x"]), _col(p["near_hand_y"]) + bob
        ux, uy = _col(p["sword_ux"]), _col(p["sword_uy"])
        _paint(canvas, g, _capsule(hx, hy, hx + 15.0 * ux, hy + 15.0 * uy, 1.3), _BLADE)
        _paint(canvas, g, _capsule(hx - 2.5 * uy, hy + 2.5 * ux, hx + 2.5 * uy, hy - 2.5 * ux, 1.0), _HILT)
        _paint(canvas, g, _disc(hx, hy, 2.3), SKIN[spec.body])
    if motion == 1:
        _paint(canvas, g, _disc(_col(p["orb_x"]), _col(p["orb_y"]) + bob, _col(p["orb_r"])), _ORB)
    if direction == 1:  # facing left: the mirror image of facing right
        canvas = canvas[:, :, ::-1]
    return np.clip(canvas, 0.0, 1.0).astype(np.float32)


def render_sprite_example(split: str, index: int, size: int = 64) -> dict:
    """Example `index` of `split` as the `tfssl_sprites` builder stores it.

    Returns:
      video: uint8 [8, size, size, 3]; action int in 0..8; body, top, bottom, hair ints in 0..5;
      character: the attribute combination's id in 0..1295 (body * 216 + top * 36 + bottom * 6 + hair);
      phase: the motion phase of frame 0, 0..7; index.
    """
    spec = sample_sprite_spec(split, index)
    character = int(np.ravel_multi_index(spec.attributes, (NUM_VALUES,) * len(ATTRIBUTES)))
    return {
        "video": to_uint8(render_frames(spec, size)),
        "action": spec.action,
        "body": spec.body,
        "top": spec.top,
        "bottom": spec.bottom,
        "hair": spec.hair,
        "character": character,
        "phase": spec.phase,
        "index": int(index),
    }
