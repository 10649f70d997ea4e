"""Motion pseudo-labels from frames: which cells of the 3x3 grid move, and where to."""

import numpy as np
import pytest

from tfssl.layers.motion import direction_bins, grid_motion_labels


def _blob_clip(dx, dy, frames=4, size=48, centre=(24.0, 24.0)):
    """A Gaussian blob (sigma 4 px) on black, moved by (dx, dy) px per frame (dy down the image): [1, T, S, S, 3]."""
    yy, xx = np.mgrid[:size, :size].astype("float32")
    clip = []
    for t in range(frames):
        cy, cx = centre[0] + dy * t, centre[1] + dx * t
        clip.append(np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * 4.0 ** 2)))
    return np.repeat(np.stack(clip)[None, ..., None], 3, axis=-1).astype("float32")


@pytest.mark.parametrize("dx, dy, expected", [(2, 0, 0), (0, -2, 2), (-2, 0, 4), (0, 2, 6), (2, -2, 1),
                                              (-2, 2, 5)])
def test_a_moving_blob_moves_its_cell_in_its_direction(dx, dy, expected):
    moving, direction, valid = (x.numpy() for x in grid_motion_labels(_blob_clip(dx, dy)))
    assert moving.shape == direction.shape == (1, 4, 9) and valid.shape == (1, 4)
    np.testing.assert_array_equal(valid[0], [0, 1, 1, 1])
    centre = 4  # row-major, middle cell
    assert np.all(moving[0, 1:, centre] == 1)
    np.testing.assert_array_equal(direction[0, 1:, centre], expected)
    if dx == 0 or dy == 0:  # the corners stay far from a blob moving along an axis
        assert np.all(moving[0, :, [0, 2, 6, 8]] == 0)


def test_a_still_clip_has_no_motion_and_frame_0_is_masked():
    still = np.repeat(_blob_clip(0, 0, frames=1), 3, axis=1)
    moving, _, valid = (x.numpy() for x in grid_motion_labels(still))
    assert moving.sum() == 0
    moving, _, _ = (x.numpy() for x in grid_motion_labels(_blob_clip(2, 0)))
    assert moving[0, 0].sum() == 0  # frame 0 has no predecessor: all zero and masked
    assert valid[0, 0] == 0


def test_direction_bins_cover_the_circle():
    angles = np.deg2rad(np.arange(8) * 45.0)
    u, v = np.cos(angles).astype("float32"), -np.sin(angles).astype("float32")  # v points down the image
    np.testing.assert_array_equal(direction_bins(u, v).numpy(), np.arange(8))
