"""Articulated 2D figures in motion: the videos and the pose prior of `tfssl_figures` (KeypointGAN's embedded data).

Jakab et al. ("Self-supervised Learning of Interpretable Keypoints from Unlabelled Videos", CVPR 2020) learn a pose
detector from frame pairs of the same video plus an unpaired set of example poses. This module renders that world:
a humanoid of 15 joints (`JOINT_NAMES`) and 14 limbs (`LIMBS`) with per-figure limb lengths and widths, clothes
(textured top and trousers, short or long sleeves and legs), skin, shoes and a textured background, moving through
one of `MOTIONS` (walk, wave, squat, jump, jacks, kick): smooth periodic joint angles with smooth and per-frame
noise, feet on a ground line (or in the air when jumping), framed so that the whole clip stays in the picture.

Held out (as Newell & Deng hold out unseen shape models): a clip's figure (proportions and clothes) and its motion
(type, amplitudes, speed, noise) are seeded by a *figure id* and a *motion id* drawn from per-split pools
(`figure_ids_for_split`, `motion_ids_for_split`) that are disjoint for train, validation, test and the prior, so
test videos show figures and motions never seen in training and the prior's poses come from other sequences.

Coordinates: joints are in pixels, (x, y) with x along the width and y down, and the centre of pixel (row r,
column c) at (c + 0.5, r + 0.5), the same convention as the renderer's pixel grid.

Determinism: every random number comes from `objects.example_rng`-style generators seeded by (SEED, split,
index, stream) or by (SEED, pool, id); per pixel only + - * / sqrt, clip and floor run (no transcendental
functions), so a clip is byte-identical on every machine for a given numpy.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from tfssl.data.render import appearance as app

SEED = 20200723  # the root of every tfssl_figures example; changing it changes every dataset
JOINT_NAMES = (
    "head", "neck", "pelvis",
    "right_shoulder", "right_elbow", "right_wrist", "left_shoulder", "left_elbow", "left_wrist",
    "right_hip", "right_knee", "right_ankle", "left_hip", "left_knee", "left_ankle",
)
NUM_JOINTS = len(JOINT_NAMES)
_J = {name: i for i, name in enumerate(JOINT_NAMES)}
# The skeleton's limbs as joint-index pairs: what the skeleton renderer draws and the prior's poses connect.
LIMBS = (
    (0, 1), (1, 2),
    (1, 3), (3, 4), (4, 5), (1, 6), (6, 7), (7, 8),
    (2, 9), (9, 10), (10, 11), (2, 12), (12, 13), (13, 14),
)
# FLIP[j] is the joint that j becomes when left and right are swapped (the flip-tolerant keypoint error).
FLIP = tuple(_J[n.replace("right_", "@").replace("left_", "right_").replace("@", "left_")] for n in JOINT_NAMES)
MOTIONS = ("walk", "wave", "squat", "jump", "jacks", "kick")

SPLITS = ("train", "validation", "test", "prior")
_SPLIT_IDS = {"train": 0, "validation": 1, "test": 2, "prior": 3}
# Disjoint id blocks per split (figures and motions alike): train sees 2048 of each, the others their own.
POOL_SIZE = 4096
_POOL_RANGES = {"train": (0, 2048), "prior": (2048, 3072), "validation": (3072, 3584), "test": (3584, 4096)}
_POOL_FIGURE, _POOL_MOTION = 10, 11  # second seed word of pool entries: no example seed (split id 0..3) has it
_STREAM_IDS, _STREAM_FRAMING, _STREAM_SCENE, _STREAM_JITTER, _STREAM_TIME = range(5)
_MIN_CONTRAST = 0.3  # RGB distance between clothes and background mean colours


def _pool_ids(split: str) -> np.ndarray:
    if split not in _POOL_RANGES:
        raise ValueError(f"Unknown split {split!r}; expected one of {SPLITS}.")
    lo, hi = _POOL_RANGES[split]
    return np.arange(lo, hi, dtype=np.int64)


def figure_ids_for_split(split: str) -> np.ndarray:
    """Figure ids (proportions and clothes) that `split` may use: int64 [M], disjoint across SPLITS."""
    return _pool_ids(split)


def motion_ids_for_split(split: str) -> np.ndarray:
    """Motion ids (type, amplitudes, speed, noise) that `split` may use: int64 [M], disjoint across SPLITS."""
    return _pool_ids(split)


def example_rng(split: str, index: int, stream: int) -> np.random.Generator:
    """The generator of one random stream of example `index` of `split` (a pure function of its arguments)."""
    if split not in _SPLIT_IDS:
        raise ValueError(f"Unknown split {split!r}; expected one of {SPLITS}.")
    if index < 0:
        raise ValueError(f"index must be >= 0, got {index}.")
    return np.random.default_rng([SEED, _SPLIT_IDS[split], int(index), stream])


# --------------------------------------------------------------------------------------------------------------
# Figures: proportions and clothes.


@dataclasses.dataclass(frozen=True, eq=False)
class Figure:
    """One humanoid: lengths and radii in figure units (a standing figure is about 1 tall), and its clothes.

    Lengths: torso (neck to pelvis), neck (neck to head centre), shoulder and hip half-widths, upper arm, forearm,
    thigh, shin, foot. Radii: head, torso, arm, leg. Fills: top (torso, shoulders, upper arms, forearms when
    `long_sleeves`), bottom (hips, thighs, shins when `long_legs`), skin (head, neck, hands, bare limbs), shoes.
    """

    figure_id: int
    torso: float
    neck: float
    shoulder: float
    hip: float
    upper_arm: float
    forearm: float
    thigh: float
    shin: float
    foot: float
    head_radius: float
    torso_radius: float
    arm_radius: float
    leg_radius: float
    top: app.Fill
    bottom: app.Fill
    skin: np.ndarray
    shoes: np.ndarray
    hair: np.ndarray
    long_sleeves: bool
    long_legs: bool


def _skin(rng: np.random.Generator) -> np.ndarray:
    t = float(rng.uniform(0.0, 1.0))
    light, dark = np.array([0.98, 0.84, 0.72]), np.array([0.36, 0.22, 0.14])
    return light * (1.0 - t) + dark * t


def figure(figure_id: int) -> Figure:
    """Figure `figure_id` (int in [0, POOL_SIZE)): a pure function of the id."""
    rng = np.random.default_rng([SEED, _POOL_FIGURE, int(figure_id)])
    u = rng.uniform(0.0, 1.0, 14)
    top = app.Fill(app.random_colour(rng), app.random_colour(rng), app.sample_pattern(rng, (2.5, 7.0)))
    bottom = app.Fill(app.random_colour(rng), app.random_colour(rng), app.sample_pattern(rng, (2.5, 7.0)))
    flat_top, flat_bottom = rng.uniform(0.0, 1.0, 2) < 0.25  # some clothes are plain
    top = dataclasses.replace(top, pattern=None) if flat_top else top
    bottom = dataclasses.replace(bottom, pattern=None) if flat_bottom else bottom
    skin, shoes, hair = _skin(rng), app.random_colour(rng) * 0.5, app.random_colour(rng) * 0.6
    sleeves, legs = rng.uniform(0.0, 1.0, 2)
    return Figure(
        figure_id=int(figure_id),
        torso=0.26 + 0.08 * u[0], neck=0.08 + 0.04 * u[1], shoulder=0.07 + 0.05 * u[2], hip=0.045 + 0.035 * u[3],
        upper_arm=0.14 + 0.06 * u[4], forearm=0.13 + 0.05 * u[5], thigh=0.2 + 0.07 * u[6], shin=0.19 + 0.07 * u[7],
        foot=0.05 + 0.03 * u[8], head_radius=0.055 + 0.03 * u[9], torso_radius=0.055 + 0.045 * u[10],
        arm_radius=0.022 + 0.018 * u[11], leg_radius=0.03 + 0.025 * u[12],
        top=top, bottom=bottom, skin=skin, shoes=shoes, hair=hair,
        long_sleeves=bool(sleeves < 0.5), long_legs=bool(legs < 0.7),
    )


def standing_height(fig: Figure) -> float:
    """Head top to ankles of the upright rest pose, figure units."""
    return fig.head_radius + fig.neck + fig.torso + fig.thigh + fig.shin


# --------------------------------------------------------------------------------------------------------------
# Motions: joint angles over time.

# A pose is 10 angles in radians, rotations counter-clockwise on screen with y up. Each limb's direction is its
# parent's rotated by its angle; the torso and head start from straight up, arms and legs from straight down.
ANGLES = ("lean", "head", "right_shoulder", "right_elbow", "left_shoulder", "left_elbow",
          "right_hip", "right_knee", "left_hip", "left_knee")
_A = {name: i for i, name in enumerate(ANGLES)}


@dataclasses.dataclass(frozen=True, eq=False)
class Motion:
    """A periodic motion with noise.

    Attributes:
      motion_id: its id in the pool.
      kind: index into MOTIONS.
      period: frames per cycle.
      amplitude: scales the motion's angles, around 1.
      side: +1 or -1: which arm waves or leg kicks, and which way a walker faces.
      drift: horizontal drift of the whole figure per frame, figure units (walkers move).
      noise_amp, noise_freq, noise_phase: float64 [10] each: a smooth sinusoidal wobble per angle (radians,
        cycles per frame, radians).
      jitter: per-frame independent angle noise, radians (standard deviation).
    """

    motion_id: int
    kind: int
    period: float
    amplitude: float
    side: float
    drift: float
    noise_amp: np.ndarray
    noise_freq: np.ndarray
    noise_phase: np.ndarray
    jitter: float

    @property
    def name(self) -> str:
        return MOTIONS[self.kind]


def motion(motion_id: int) -> Motion:
    """Motion `motion_id` (int in [0, POOL_SIZE)): a pure function of the id."""
    rng = np.random.default_rng([SEED, _POOL_MOTION, int(motion_id)])
    kind = int(rng.integers(len(MOTIONS)))
    period, amplitude, side, drift, jitter = rng.uniform(0.0, 1.0, 5)
    n = len(ANGLES)
    return Motion(
        motion_id=int(motion_id), kind=kind, period=14.0 + 14.0 * period, amplitude=0.7 + 0.5 * amplitude,
        side=1.0 if side < 0.5 else -1.0,
        drift=(0.004 + 0.008 * drift) if MOTIONS[kind] == "walk" else 0.0,
        noise_amp=rng.uniform(0.02, 0.12, n), noise_freq=rng.uniform(0.01, 0.06, n),
        noise_phase=rng.uniform(0.0, 2.0 * math.pi, n), jitter=0.01 + 0.03 * float(jitter),
    )


def _base_angles(kind: str, phase: float, amp: float, side: float) -> tuple[np.ndarray, float]:
    """The noiseless angles [10] of motion `kind` at `phase` (radians), and the height above ground (figure units)."""
    a = np.zeros(len(ANGLES))
    s, c = math.sin(phase), math.cos(phase)
    a[_A["right_shoulder"]], a[_A["left_shoulder"]] = -0.12, 0.12  # arms rest slightly away from the body
    a[_A["right_elbow"]], a[_A["left_elbow"]] = 0.15, -0.15
    a[_A["right_hip"]], a[_A["left_hip"]] = -0.04, 0.04
    lift = 0.0
    if kind == "walk":
        swing = 0.45 * amp * s
        a[_A["right_hip"]] += side * swing
        a[_A["left_hip"]] -= side * swing
        a[_A["right_knee"]] = -side * 0.6 * amp * max(0.0, math.sin(phase - 1.2))
        a[_A["left_knee"]] = -side * 0.6 * amp * max(0.0, -math.sin(phase - 1.2))
        a[_A["right_shoulder"]] -= side * 0.5 * swing
        a[_A["left_shoulder"]] += side * 0.5 * swing
        a[_A["right_elbow"]] = a[_A["left_elbow"]] = side * 0.3
        a[_A["lean"]] = -side * 0.06
    elif kind == "wave":
        shoulder, elbow = side * (2.2 + 0.25 * amp * s), side * (0.5 + 0.5 * amp * s)
        if side > 0:
            a[_A["left_shoulder"]], a[_A["left_elbow"]] = shoulder, elbow
        else:
            a[_A["right_shoulder"]], a[_A["right_elbow"]] = shoulder, elbow
        a[_A["lean"]] = -0.05 * side * s
    elif kind == "squat":
        q = amp * (0.5 - 0.5 * c)
        a[_A["right_hip"]] -= 0.9 * q
        a[_A["left_hip"]] += 0.9 * q
        a[_A["right_knee"]], a[_A["left_knee"]] = 1.7 * q, -1.7 * q
        a[_A["right_shoulder"]] -= 1.3 * q
        a[_A["left_shoulder"]] += 1.3 * q
    elif kind == "jump":
        crouch = amp * max(0.0, -s)
        a[_A["right_hip"]] -= 0.6 * crouch
        a[_A["left_hip"]] += 0.6 * crouch
        a[_A["right_knee"]], a[_A["left_knee"]] = 1.1 * crouch, -1.1 * crouch
        arms = 0.3 + 2.3 * (0.5 + 0.5 * s) * min(amp, 1.0)
        a[_A["right_shoulder"]], a[_A["left_shoulder"]] = -arms, arms
        lift = 0.12 * amp * max(0.0, s)
    elif kind == "jacks":
        q = 0.5 - 0.5 * c
        arms = 0.2 + 2.5 * q * min(amp, 1.1)
        a[_A["right_shoulder"]], a[_A["left_shoulder"]] = -arms, arms
        a[_A["right_elbow"]], a[_A["left_elbow"]] = -0.2 * q, 0.2 * q
        a[_A["right_hip"]], a[_A["left_hip"]] = -(0.05 + 0.4 * q * amp), 0.05 + 0.4 * q * amp
        lift = 0.03 * max(0.0, math.sin(2.0 * phase))
    elif kind == "kick":
        k = amp * max(0.0, s) ** 2
        if side > 0:
            a[_A["left_hip"]], a[_A["left_knee"]] = 0.04 + 1.3 * k, -0.9 * k * (1.0 - k)
        else:
            a[_A["right_hip"]], a[_A["right_knee"]] = -0.04 - 1.3 * k, 0.9 * k * (1.0 - k)
        a[_A["right_shoulder"]], a[_A["left_shoulder"]] = -(0.12 + 0.8 * k), 0.12 + 0.8 * k
        a[_A["lean"]] = -side * 0.25 * k
    else:
        raise ValueError(f"Unknown motion {kind!r}; expected one of {MOTIONS}.")
    return a, lift


def _rotate_down(angle: float) -> np.ndarray:
    """Unit vector pointing down (y up) rotated counter-clockwise by `angle`."""
    return np.array([math.sin(angle), -math.cos(angle)])


def forward_kinematics(fig: Figure, angles: np.ndarray) -> np.ndarray:
    """Joint positions [NUM_JOINTS, 2] (x, y up) in figure units, pelvis at the origin."""
    j = np.zeros((NUM_JOINTS, 2))
    lean = angles[_A["lean"]]
    up = -_rotate_down(lean)
    across = np.array([up[1], -up[0]])  # to the figure's left, which is screen +x (the figure faces us)
    j[_J["neck"]] = fig.torso * up
    j[_J["head"]] = j[_J["neck"]] - fig.neck * _rotate_down(lean + angles[_A["head"]])
    for side, sign in (("right", -1.0), ("left", 1.0)):
        shoulder = j[_J["neck"]] + sign * fig.shoulder * across
        upper = lean + angles[_A[side + "_shoulder"]]
        elbow = shoulder + fig.upper_arm * _rotate_down(upper)
        wrist = elbow + fig.forearm * _rotate_down(upper + angles[_A[side + "_elbow"]])
        hip = sign * fig.hip * across
        thigh = angles[_A[side + "_hip"]]
        knee = hip + fig.thigh * _rotate_down(thigh)
        ankle = knee + fig.shin * _rotate_down(thigh + angles[_A[side + "_knee"]])
        for name, point in (("shoulder", shoulder), ("elbow", elbow), ("wrist", wrist), ("hip", hip),
                            ("knee", knee), ("ankle", ankle)):
            j[_J[f"{side}_{name}"]] = point
    return j


def motion_joints(fig: Figure, mot: Motion, times: np.ndarray, phase0: float,
                  jitter_rng: np.random.Generator) -> np.ndarray:
    """Joints [T, NUM_JOINTS, 2] (x, y up), figure units, lowest ankle on the ground line y = 0 unless jumping.

    Args:
      fig, mot: the figure and its motion.
      times: float64 [T], frame times (frames).
      phase0: the motion's phase at time 0, radians.
      jitter_rng: the per-frame noise (len(times) * 10 normal draws).
    """
    jitter = jitter_rng.normal(0.0, mot.jitter, (len(times), len(ANGLES)))
    out = np.zeros((len(times), NUM_JOINTS, 2))
    for i, t in enumerate(times):
        base, lift = _base_angles(mot.name, phase0 + 2.0 * math.pi * t / mot.period, mot.amplitude, mot.side)
        wobble = mot.noise_amp * np.sin(2.0 * math.pi * mot.noise_freq * t + mot.noise_phase)
        j = forward_kinematics(fig, base + wobble + jitter[i])
        j[:, 1] -= j[[_J["right_ankle"], _J["left_ankle"]], 1].min() - lift
        j[:, 0] += mot.drift * mot.side * t
        out[i] = j
    return out


# --------------------------------------------------------------------------------------------------------------
# Clips: framing and rendering.


@dataclasses.dataclass(frozen=True, eq=False)
class Clip:
    """Everything that defines one clip: the figure, its motion, the joints in pixels and the scene."""

    figure: Figure
    motion: Motion
    joints: np.ndarray  # float64 [T, NUM_JOINTS, 2], pixels, (x, y down), pixel centres at +0.5
    scale: float  # pixels per figure unit
    background: app.Background
    lighting: app.Lighting


def _frame(joints_up: np.ndarray, fig: Figure, size: int, rng: np.random.Generator) -> tuple[np.ndarray, float]:
    """Scales and places a clip's joints (figure units, y up) in a size x size frame so all of it stays inside."""
    fill, dx, dy = rng.uniform(0.0, 1.0, 3)
    pad = max(fig.head_radius, fig.foot, fig.torso_radius, fig.leg_radius)  # the body extends past its joints
    lo, hi = joints_up.reshape(-1, 2).min(axis=0) - pad, joints_up.reshape(-1, 2).max(axis=0) + pad
    extent = hi - lo
    # The taller side fills 70-88% of the frame (height: a figure 1 unit tall at rest is 70-85% at least).
    scale = size * (0.7 + 0.18 * fill) / max(extent[1], extent[0] / 0.95, standing_height(fig) + 2 * pad)
    free = size - extent * scale
    x0 = free[0] * (0.15 + 0.7 * dx) - lo[0] * scale
    y0 = free[1] * (0.15 + 0.7 * dy) + hi[1] * scale  # y flips: the top of the box goes to y0 - hi * scale
    joints = np.stack([x0 + joints_up[..., 0] * scale, y0 - joints_up[..., 1] * scale], axis=-1)
    return joints, scale


def sample_clip(split: str, index: int, num_frames: int, size: int) -> Clip:
    """Draws clip `index` of `split` (joints only; `render_clip` paints it): a pure function of its arguments."""
    rng = example_rng(split, index, _STREAM_IDS)
    fig_ids, mot_ids = figure_ids_for_split(split), motion_ids_for_split(split)
    fig = figure(int(fig_ids[rng.integers(len(fig_ids))]))
    mot = motion(int(mot_ids[rng.integers(len(mot_ids))]))
    phase0, stride = float(rng.uniform(0.0, 2.0 * math.pi)), float(rng.uniform(0.5, 1.0))
    times = stride * np.arange(num_frames, dtype=np.float64)
    joints_up = motion_joints(fig, mot, times, phase0, example_rng(split, index, _STREAM_JITTER))
    joints, scale = _frame(joints_up, fig, size, example_rng(split, index, _STREAM_FRAMING))
    rng = example_rng(split, index, _STREAM_SCENE)
    clothes = 0.5 * (fig.top.mean_colour() + fig.bottom.mean_colour())
    for _ in range(16):  # rejection keeps the figure visible; every try consumes the same draws
        a, b = app.random_colour(rng), app.random_colour(rng)
        pattern = app.sample_pattern(rng, (3.0, 12.0))
        angle, strength, textured = float(rng.uniform(0.0, 2.0 * math.pi)), float(rng.uniform(0.0, 1.0)), rng.uniform()
        background = app.Background(a, b, pattern if textured < 0.75 else None, angle, strength)
        if np.sqrt(np.sum((background.mean_colour() - clothes) ** 2)) >= _MIN_CONTRAST:
            break
    lighting = app.sample_lighting(rng)
    return Clip(fig, mot, joints, scale, background, lighting)


def _capsule(x: np.ndarray, y: np.ndarray, a: np.ndarray, b: np.ndarray, radius: float):
    """Anti-aliased coverage [H, W] of the capsule of `radius` pixels around segment a-b, and the pixels' limb
    frame (along, across) in pixels, for textures that move with the limb."""
    ex, ey = b[0] - a[0], b[1] - a[1]
    length2 = ex * ex + ey * ey
    px, py = x - a[0], y - a[1]
    along = (px * ex + py * ey) / max(length2, 1e-12)
    t = np.clip(along, 0.0, 1.0)
    dx, dy = px - t * ex, py - t * ey
    dist = np.sqrt(dx * dx + dy * dy)
    length = math.sqrt(length2)
    across = (py * ex - px * ey) / max(length, 1e-6)
    return np.clip(radius - dist + 0.5, 0.0, 1.0), along * length, across


def render_frame(clip: Clip, t: int, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Paints frame t of a clip: image float32 [size, size, 3] in [0, 1] and the figure's mask float32 [size, size]
    in [0, 1]."""
    fig, j, s = clip.figure, clip.joints[t], clip.scale
    x, y = np.meshgrid(np.arange(size) + 0.5, np.arange(size) + 0.5)
    canvas = app.render_background(clip.background, size, size)
    mask = np.zeros((size, size))

    def paint(a, b, radius, fill):
        nonlocal canvas, mask
        alpha, along, across = _capsule(x, y, a, b, radius * s)
        if isinstance(fill, app.Fill):
            colour = app.fill_rgb(fill, along, across)
        else:
            colour = np.broadcast_to(fill, (size, size, 3))
        canvas = canvas * (1.0 - alpha[..., None]) + colour * alpha[..., None]
        mask = mask + alpha * (1.0 - mask)

    arm_fill = fig.top if fig.long_sleeves else fig.skin
    leg_fill = fig.bottom if fig.long_legs else fig.skin
    direction = np.array([clip.motion.side, 0.0])
    for side in ("right", "left"):  # legs behind the torso
        hip, knee, ankle = (j[_J[f"{side}_{n}"]] for n in ("hip", "knee", "ankle"))
        paint(ankle, ankle + direction * fig.foot * s, fig.leg_radius * 0.7, fig.shoes)
        paint(knee, ankle, fig.leg_radius * 0.85, leg_fill)
        paint(hip, knee, fig.leg_radius, fig.bottom)
    paint(j[_J["right_hip"]], j[_J["left_hip"]], fig.leg_radius, fig.bottom)
    paint(j[_J["neck"]], j[_J["head"]], fig.arm_radius * 0.7, fig.skin)
    paint(j[_J["neck"]], j[_J["pelvis"]], fig.torso_radius, fig.top)
    paint(j[_J["right_shoulder"]], j[_J["left_shoulder"]], fig.arm_radius * 1.15, fig.top)
    head = j[_J["head"]]
    paint(head + np.array([0.0, -0.25 * fig.head_radius * s]), head, fig.head_radius * 0.95, fig.hair)
    paint(head, head, fig.head_radius, fig.skin)
    for side in ("right", "left"):  # arms in front of the torso
        shoulder, elbow, wrist = (j[_J[f"{side}_{n}"]] for n in ("shoulder", "elbow", "wrist"))
        paint(shoulder, elbow, fig.arm_radius, fig.top)
        paint(elbow, wrist, fig.arm_radius * 0.85, arm_fill)
        paint(wrist, wrist, fig.arm_radius * 1.2, fig.skin)
    light = app.shading(clip.lighting, x, y, 0.5 * size, 0.5 * size, 0.5 * size)
    return np.clip(canvas * light[..., None], 0.0, 1.0).astype(np.float32), mask.astype(np.float32)


def to_uint8(image: np.ndarray) -> np.ndarray:
    """float [..] in [0, 1] -> uint8 [..] in [0, 255], rounding half up."""
    return np.floor(np.clip(image, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


def render_clip_example(split: str, index: int, num_frames: int = 16, size: int = 64) -> dict:
    """Renders clip `index` of `split` ("train", "validation" or "test"): a pure, deterministic function.

    Returns:
      dict with
        video: uint8 [num_frames, size, size, 3].
        joints: float32 [num_frames, NUM_JOINTS, 2], pixels (x, y down; pixel centres at +0.5).
        figure_id, motion_id: ints from the split's pools; motion: int, index into MOTIONS.
        index: int, `index`.
    """
    clip = sample_clip(split, index, num_frames, size)
    video = np.stack([to_uint8(render_frame(clip, t, size)[0]) for t in range(num_frames)])
    return {
        "video": video,
        "joints": clip.joints.astype(np.float32),
        "figure_id": clip.figure.figure_id,
        "motion_id": clip.motion.motion_id,
        "motion": clip.motion.kind,
        "index": int(index),
    }


def prior_pose_example(split: str, index: int, size: int = 64, num_frames: int = 16) -> dict:
    """Pose `index` of the prior's `split`: one frame's joints of a clip drawn from the *prior*'s figure and motion
    pools (disjoint from every video split's), framed like the videos. No pixels are rendered.

    Args:
      split: the prior config's split, "train" or "validation" (each its own seeds; both use the prior pools).
    Returns:
      dict with joints float32 [NUM_JOINTS, 2] (pixels, as `render_clip_example`), figure_id, motion_id, motion,
      index.
    """
    if split not in ("train", "validation"):
        raise ValueError(f"The prior has splits 'train' and 'validation', not {split!r}.")
    # Prior example seeds: the 'prior' split id, with validation poses at odd and train poses at even indices.
    seed_index = 2 * int(index) + (split == "validation")
    rng = example_rng("prior", seed_index, _STREAM_IDS)
    fig_ids, mot_ids = figure_ids_for_split("prior"), motion_ids_for_split("prior")
    fig = figure(int(fig_ids[rng.integers(len(fig_ids))]))
    mot = motion(int(mot_ids[rng.integers(len(mot_ids))]))
    phase0, stride = float(rng.uniform(0.0, 2.0 * math.pi)), float(rng.uniform(0.5, 1.0))
    times = stride * np.arange(num_frames, dtype=np.float64)
    joints_up = motion_joints(fig, mot, times, phase0, example_rng("prior", seed_index, _STREAM_JITTER))
    joints, _ = _frame(joints_up, fig, size, example_rng("prior", seed_index, _STREAM_FRAMING))
    t = int(example_rng("prior", seed_index, _STREAM_TIME).integers(num_frames))
    return {"joints": joints[t].astype(np.float32), "figure_id": fig.figure_id, "motion_id": mot.motion_id,
            "motion": mot.kind, "index": int(index)}
