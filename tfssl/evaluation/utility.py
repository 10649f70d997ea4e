"""Utility of pretraining: how many labels a pretrained encoder is worth (Newell & Deng, CVPR 2020, Sec. 3).

A model pretrained and fine-tuned with n labels reaches accuracy a. Let n_s(a) be the number of labels the same
architecture trained from scratch needs to reach a, read off the scratch curve (the mean accuracy over seeds at
each label budget) by linear interpolation in label count. The utility is

    U(n) = n_s(a) / n - 1        (0: no gain; 1: worth twice the labels; -1: worth nothing)

Pure functions on plain numbers; the study that produces the curves is `tfssl.evaluation.utility_study`.

The reference code (princeton-vl/selfstudy) encodes its edge cases in the numbers themselves: an accuracy below the
scratch curve's first point gives n_s = 0 (U = -1), one the scratch curve never reaches gives a -1 sentinel, and
the first budget past the best scratch accuracy gives the bare crossing ratio. tfssl returns a `Utility` whose
`status` names the case instead, so a reader (and a plot) never mistakes "beyond what scratch reached" for
"worth nothing":

- `"interpolated"`: a lies within the scratch curve's range; `value` is U(n).
- `"below_scratch_range"`: a is below the scratch accuracy at the smallest budget. As in the reference, n_s = 0
  and `value` = -1; the truth lies in [-1, n_0 / n - 1] (the scratch model was not measured below n_0 labels).
- `"beyond_scratch_range"`: a exceeds every scratch accuracy ("beyond the measured range"). `value` is None;
  `lower_bound` = n_max / n - 1: scratch stayed below a at every measured budget up to the largest, n_max, so it
  needs more labels than that. (The reference reports the ratio at scratch's best budget instead, which says less
  when the scratch curve dips at its end.)
"""

from __future__ import annotations

import dataclasses
from typing import Mapping, Sequence

import numpy as np

__all__ = ["Utility", "scratch_curve", "scratch_labels_needed", "utility", "utility_curve",
           "INTERPOLATED", "BELOW", "BEYOND"]

INTERPOLATED = "interpolated"
BELOW = "below_scratch_range"
BEYOND = "beyond_scratch_range"


@dataclasses.dataclass(frozen=True)
class Utility:
    """U(n) for one pretrained point (n labels, accuracy a), with the case it fell in.

    Attributes:
      labels: n, the pretrained model's label budget (> 0).
      accuracy: a, its accuracy (any unit the scratch curve uses, e.g. a fraction in [0, 1]).
      status: INTERPOLATED, BELOW or BEYOND (module docstring).
      value: U(n) = n_s / n - 1 (None when BEYOND: not measurable).
      scratch_labels: n_s(a) (0.0 when BELOW, None when BEYOND).
      lower_bound: BEYOND only: n_max / n - 1 (n_max: the scratch curve's largest budget), U exceeds it.
    """

    labels: float
    accuracy: float
    status: str
    value: float | None
    scratch_labels: float | None
    lower_bound: float | None = None

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)


def scratch_curve(runs: Mapping[float, Sequence[float]]) -> tuple[np.ndarray, np.ndarray]:
    """The scratch curve: label budgets ascending and the mean accuracy over runs (seeds) at each.

    Args:
      runs: {budget n (> 0): accuracies of the scratch runs at n (at least one)}.
    Returns:
      (budgets float64 [K], mean accuracies float64 [K]), K = len(runs) >= 1, budgets strictly ascending.
    """
    if not runs:
        raise ValueError("the scratch curve needs at least one label budget")
    budgets = sorted(float(n) for n in runs)
    if budgets[0] <= 0:
        raise ValueError(f"label budgets must be positive, got {budgets[0]}")
    means = []
    for n in budgets:
        values = [float(v) for v in runs[next(k for k in runs if float(k) == n)]]
        if not values:
            raise ValueError(f"no scratch runs at budget {n:g}")
        means.append(float(np.mean(values)))
    return np.asarray(budgets), np.asarray(means)


def scratch_labels_needed(accuracy: float, budgets: Sequence[float],
                          accuracies: Sequence[float]) -> tuple[str, float | None]:
    """n_s(a): the fewest labels at which the piecewise-linear scratch curve reaches `accuracy`.

    Linear interpolation in label count between the two budgets around the first crossing (the scratch mean curve
    need not be monotonic; the first crossing is the cheapest way scratch gets there).

    Args:
      accuracy: a.
      budgets: ascending budgets [K]; accuracies: the scratch means at them [K].
    Returns:
      (status, n_s): (INTERPOLATED, n_s), (BELOW, 0.0) or (BEYOND, None).
    """
    n, acc = np.asarray(budgets, np.float64), np.asarray(accuracies, np.float64)
    if n.ndim != 1 or n.shape != acc.shape or n.size == 0:
        raise ValueError(f"budgets and accuracies must be matching non-empty vectors, got {n.shape}, {acc.shape}")
    if np.any(np.diff(n) <= 0):
        raise ValueError(f"budgets must be strictly ascending, got {n.tolist()}")
    if accuracy < acc[0]:
        return BELOW, 0.0
    if accuracy == acc[0]:
        return INTERPOLATED, float(n[0])
    for i in range(n.size - 1):
        lo, hi = acc[i], acc[i + 1]
        if lo < accuracy <= hi:
            return INTERPOLATED, float(n[i] + (accuracy - lo) / (hi - lo) * (n[i + 1] - n[i]))
    # acc[0] < a here, so a curve that reaches a at all crosses it upwards on some segment above: none did.
    return BEYOND, None


def utility(labels: float, accuracy: float, budgets: Sequence[float], accuracies: Sequence[float]) -> Utility:
    """U(n) of a pretrained model that reached `accuracy` with `labels` labels, against the scratch curve.

    Args:
      labels: n > 0.
      accuracy: a, in the scratch curve's unit.
      budgets, accuracies: the scratch curve (`scratch_curve`).
    """
    if labels <= 0:
        raise ValueError(f"the label budget must be positive, got {labels}")
    status, needed = scratch_labels_needed(accuracy, budgets, accuracies)
    if status == BEYOND:
        largest = float(np.max(np.asarray(budgets, np.float64)))
        return Utility(float(labels), float(accuracy), status, None, None, largest / labels - 1.0)
    return Utility(float(labels), float(accuracy), status, needed / labels - 1.0, needed)


def utility_curve(pretrained: Mapping[float, float], scratch: Mapping[float, Sequence[float]]) -> list[Utility]:
    """U(n) at every budget of a pretrained curve.

    Args:
      pretrained: {budget n: the pretrained model's mean accuracy at n}.
      scratch: {budget n: the scratch runs' accuracies at n} (`scratch_curve` takes the means).
    Returns:
      One `Utility` per pretrained budget, ascending in n.
    """
    budgets, means = scratch_curve(scratch)
    return [utility(float(n), float(pretrained[n]), budgets, means) for n in sorted(pretrained, key=float)]
