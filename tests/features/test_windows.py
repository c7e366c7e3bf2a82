import numpy as np
import pytest
import torch

from unav.features.windows import (WindowStream, batches, flow_pair_indices, rgb_frame_indices,
                                   window_count)


@pytest.mark.parametrize("n, rows", [(0, 0), (24, 0), (25, 1), (32, 1), (33, 2), (452, 54), (350, 41), (1000, 122)])
def test_window_count_follows_the_25_frame_buffer_rule(n, rows):
    assert window_count(n) == rows


def _simulate_reference(n):
    """The reference loop: append frames, compute a row when 25 are buffered, drop the first 8."""
    buf, rows = [], []
    for i in range(n):
        buf.append(i)
        if len(buf) == 25:
            rows.append(list(buf))
            buf = buf[8:]
    return rows


@pytest.mark.parametrize("n", [25, 40, 57, 100])
def test_indices_match_reference_loop(n):
    ref = _simulate_reference(n)
    rgb, flow = rgb_frame_indices(n), flow_pair_indices(n)
    assert rgb.shape == (len(ref), 24) == flow.shape
    for k, frames in enumerate(ref):
        assert rgb[k].tolist() == frames[:24]
        # pair p = (frame p -> frame p+1): the window's 24 consecutive pairs end at its 25th frame
        assert [(p, p + 1) for p in flow[k]] == list(zip(frames[:-1], frames[1:]))


@pytest.mark.parametrize("chunks", [[100], [1] * 100, [7, 30, 1, 62], [64, 36], [24, 1, 75]])
def test_stream_over_chunks_equals_unfold_of_everything(chunks):
    n = sum(chunks)
    items = torch.arange(n * 2 * 3).reshape(n, 2, 3)  # [n, C=2, 3]
    frames, pairs = WindowStream(lookahead=1), WindowStream(lookahead=0)
    got_f, got_p, start = [], [], 0
    for c in chunks:
        got_f.append(frames.push(items[start:start + c]).clone())
        got_p.append(pairs.push(items[start:start + c]).clone())
        start += c
        assert frames.pending <= 24 + 1 + 7
    out_f = torch.cat(got_f)  # [w, C, 24, 3]
    expect_idx = torch.as_tensor(rgb_frame_indices(n))
    assert out_f.shape == (window_count(n), 2, 24, 3)
    assert torch.equal(out_f, items[expect_idx].permute(0, 2, 1, 3))
    # pairs: one item fewer is enough; n pairs -> window_count(n + 1) windows
    out_p = torch.cat(got_p)
    assert out_p.shape[0] == window_count(n + 1)
    assert frames.emitted == window_count(n) and frames.seen == n


def test_stream_memory_is_bounded():
    stream = WindowStream(lookahead=1)
    for _ in range(200):
        stream.push(torch.zeros(64, 1, 1))
    assert stream.pending < 25 + 8
    assert stream.emitted == window_count(200 * 64)


def test_windows_are_views_and_batches_slice():
    stream = WindowStream(lookahead=1)
    w = stream.push(torch.arange(57.0).reshape(57, 1))
    assert w.shape == (5, 1, 24)
    assert w.stride()[0] == 8  # a strided view, not a copy per window
    sizes = [b.shape[0] for b in batches(w, 2)]
    assert sizes == [2, 2, 1]
    assert np.array_equal(w[3, 0].numpy(), np.arange(24, 48))
