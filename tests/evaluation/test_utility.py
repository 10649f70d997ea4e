"""Utility maths (Newell & Deng): the spec's toy curves and every edge case, on plain numbers."""

import pytest

from tfssl.evaluation import utility as u

# The spec's toy scratch curve, in percent: {100: 50, 1000: 70, 10000: 90}.
SCRATCH = {100: [50.0], 1000: [70.0], 10000: [90.0]}


def test_toy_curves_give_the_spec_values():
    result = u.utility_curve({100: 70.0, 1000: 80.0}, SCRATCH)
    assert [r.labels for r in result] == [100.0, 1000.0]
    assert result[0].value == pytest.approx(9.0) and result[0].scratch_labels == pytest.approx(1000.0)
    assert result[1].value == pytest.approx(4.5) and result[1].scratch_labels == pytest.approx(5500.0)
    assert {r.status for r in result} == {u.INTERPOLATED}


@pytest.mark.parametrize("accuracy, expected", [(40.0, -1.0), (60.0, 4.5), (50.0, 0.0), (90.0, 99.0)])
def test_single_points_of_the_spec(accuracy, expected):
    budgets, means = u.scratch_curve(SCRATCH)
    assert u.utility(100, accuracy, budgets, means).value == pytest.approx(expected)


def test_below_the_first_scratch_point_is_named_and_worth_nothing():
    budgets, means = u.scratch_curve(SCRATCH)
    result = u.utility(100, 40.0, budgets, means)
    assert result.status == u.BELOW and result.scratch_labels == 0.0 and result.value == -1.0


def test_beyond_the_best_scratch_accuracy_is_not_a_number_but_a_bound():
    budgets, means = u.scratch_curve(SCRATCH)
    result = u.utility(1000, 95.0, budgets, means)
    assert result.status == u.BEYOND
    assert result.value is None and result.scratch_labels is None
    assert result.lower_bound == pytest.approx(10000 / 1000 - 1)  # scratch needs more than its largest budget
    assert result.as_dict()["status"] == "beyond_scratch_range"


def test_scratch_curve_averages_seeds_and_sorts_budgets():
    budgets, means = u.scratch_curve({1000: [0.6, 0.8], 100: [0.5, 0.3]})
    assert budgets.tolist() == [100.0, 1000.0]
    assert means.tolist() == pytest.approx([0.4, 0.7])
    # The utility reads the mean curve: 0.55 lies halfway between 0.4 and 0.7.
    assert u.utility(100, 0.55, budgets, means).scratch_labels == pytest.approx(550.0)


def test_non_monotonic_scratch_curve_uses_the_first_crossing():
    # Scratch peaks at 1000 labels, dips at 4000: 0.75 is first reached between 100 and 1000.
    budgets, means = u.scratch_curve({100: [0.5], 1000: [0.8], 4000: [0.7]})
    assert u.utility(100, 0.75, budgets, means).scratch_labels == pytest.approx(100 + 0.25 / 0.3 * 900)
    beyond = u.utility(100, 0.9, budgets, means)
    # Scratch stayed below 0.9 up to 4000 labels (its best, 0.8, was at 1000): it needs more than 4000.
    assert beyond.status == u.BEYOND and beyond.lower_bound == pytest.approx(4000 / 100 - 1)


def test_a_flat_scratch_curve_is_reached_at_its_first_budget():
    budgets, means = u.scratch_curve({100: [0.5], 1000: [0.5]})
    result = u.utility(250, 0.5, budgets, means)
    assert result.status == u.INTERPOLATED and result.value == pytest.approx(100 / 250 - 1)


@pytest.mark.parametrize("bad", [{}, {0: [0.5]}, {100: []}])
def test_bad_scratch_curves_are_rejected(bad):
    with pytest.raises(ValueError):
        u.scratch_curve(bad)


def test_bad_budget_is_rejected():
    with pytest.raises(ValueError, match="positive"):
        u.utility(0, 0.5, [100.0], [0.5])
    with pytest.raises(ValueError, match="ascending"):
        u.scratch_labels_needed(0.5, [1000.0, 100.0], [0.4, 0.6])
