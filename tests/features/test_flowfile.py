"""Flow file: streamed round trip, late metadata, corrupt/truncated files refused with the file named."""
from __future__ import annotations

import numpy as np
import pytest

from unav.errors import UnavError
from unav.features.flowfile import read_flow_file, read_flow_meta, write_flow_file


def chunks(seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    out = [rng.integers(100, 160, size=(n, 2, 16, 16)).astype(np.uint16) for n in (3, 1, 5)]
    out[0][0, 0, 0, 0], out[1][0, 1, 2, 3] = 256, 0  # the extreme codes survive
    return out


def test_round_trip_streams_chunks_and_meta(tmp_path) -> None:
    path = tmp_path / "vid.flow"
    meta = {"method": "raft", "weights": "random", "updates": 2, "crop": 16, "video_id": "vid"}

    def produce():
        for c in chunks():
            meta["frames"] = meta.get("frames", 1) + len(c)  # filled in while streaming
            yield c

    final = write_flow_file(path, produce(), meta)
    assert final["pairs"] == 9 and final["frames"] == 10 and final["chunks"] == 3
    got_meta, it = read_flow_file(path)
    assert got_meta["frames"] == 10 and got_meta["shape"] == [2, 16, 16] and got_meta["method"] == "raft"
    got = list(it)
    assert [len(c) for c in got] == [3, 1, 5]
    for a, b in zip(got, chunks()):
        assert a.dtype == np.uint16 and np.array_equal(a, b)
    assert read_flow_meta(path)["pairs"] == 9
    assert not [p for p in tmp_path.iterdir() if p.name != "vid.flow"]  # no temporary left behind


def test_empty_stream(tmp_path) -> None:
    path = tmp_path / "empty.flow"
    write_flow_file(path, iter([]), {"method": "dis"})
    meta, it = read_flow_file(path)
    assert meta["pairs"] == 0 and meta["shape"] is None and list(it) == []


def test_corrupt_chunk_is_named(tmp_path) -> None:
    path = tmp_path / "bad.flow"
    write_flow_file(path, chunks(), {"method": "raft"})
    data = bytearray(path.read_bytes())
    first = data.index(b"CHNK") + 24 + 10  # a byte inside the first payload
    data[first] ^= 0xFF
    path.write_bytes(bytes(data))
    meta, it = read_flow_file(path)  # framing is intact
    with pytest.raises(UnavError, match=r"bad\.flow.*chunk 0"):
        list(it)


def test_truncated_and_foreign_files(tmp_path) -> None:
    path = tmp_path / "cut.flow"
    write_flow_file(path, chunks(), {"method": "raft"})
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(UnavError, match=r"cut\.flow.*truncated"):
        read_flow_file(path)
    other = tmp_path / "x.npy"
    np.save(other, np.zeros(3))
    with pytest.raises(UnavError, match=r"x\.npy.*not a unav flow file"):
        read_flow_file(other)
    with pytest.raises(UnavError, match="does not exist"):
        read_flow_file(tmp_path / "missing.flow")


def test_bad_input_leaves_no_file(tmp_path) -> None:
    path = tmp_path / "half.flow"

    def produce():
        yield chunks()[0]
        yield np.zeros((2, 2, 8, 8), np.uint16)  # size changes mid-stream

    with pytest.raises(UnavError, match="after chunks of size"):
        write_flow_file(path, produce(), {})
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(UnavError, match="uint16"):
        write_flow_file(path, iter([np.zeros((1, 2, 4, 4), np.uint8)]), {})
