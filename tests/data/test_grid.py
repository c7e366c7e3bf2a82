import numpy as np
import pytest
import torch

from unav.data.grid import grid_to_seconds, seconds_to_grid


def test_row_centres():
    # row i is centred at (8i + 12) / 25 s
    assert seconds_to_grid(0.48) == pytest.approx(0.0)
    assert seconds_to_grid(0.48 + 0.32 * 7) == pytest.approx(7.0)
    assert grid_to_seconds(10.0) == pytest.approx(0.48 + 3.2)
    assert seconds_to_grid(0.0) == pytest.approx(-1.5)


def test_round_trip_numpy_and_torch():
    t = np.linspace(0.0, 60.0, 101)
    g = seconds_to_grid(t, 25, 8, 24)
    assert isinstance(g, np.ndarray)
    np.testing.assert_allclose(grid_to_seconds(g, 25, 8, 24), t, atol=1e-9)
    tt = torch.linspace(0.0, 60.0, 101, dtype=torch.float64)
    gt = seconds_to_grid(tt, 30, 4, 16)
    assert isinstance(gt, torch.Tensor)
    torch.testing.assert_close(grid_to_seconds(gt, 30, 4, 16), tt)


def test_clip_to_duration():
    g = np.array([-5.0, 0.0, 100.0])
    out = grid_to_seconds(g, duration=10.0)
    assert out[0] == 0.0 and out[2] == 10.0 and out[1] == pytest.approx(0.48)
    assert grid_to_seconds(torch.tensor([-5.0, 100.0]), duration=10.0).tolist() == [0.0, 10.0]
    assert grid_to_seconds(1000.0, duration=12.5) == 12.5
    assert grid_to_seconds(-100.0, duration=12.5) == 0.0
