"""`unav flow` on a small lavfi video: RAFT (random weights) and DIS, file contents and errors."""
from __future__ import annotations

import subprocess

import numpy as np
import pytest

from unav.cli import main
from unav.features.flowfile import read_flow_file
from unav.media.ffmpeg import ffmpeg_exe


def _make_clip(path, seconds):
    subprocess.run([ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi",
                    "-i", f"testsrc=size=170x128:rate=25:duration={seconds}", "-pix_fmt", "yuv420p", str(path)],
                   check=True)
    return path


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    return _make_clip(tmp_path_factory.mktemp("flowclip") / "clip_a.mp4", 0.4)


@pytest.fixture(scope="module")
def long_clip(tmp_path_factory):
    """Long enough for one I3D row (25 frames)."""
    return _make_clip(tmp_path_factory.mktemp("flowclip") / "clip_b.mp4", 1.04)


def test_flow_raft_random(clip, tmp_path) -> None:
    out = tmp_path / "flow" / "clip_a.flow"
    rc = main(["flow", str(clip), "--out", str(out), "--weights", "random", "--flow-updates", "2", "--crop", "64",
               "--min-side", "128", "--batch-size", "4", "--no-progress"])
    assert rc == 0
    meta, chunks = read_flow_file(out)
    codes = np.concatenate(list(chunks))
    assert meta["frames"] == 10 and meta["pairs"] == 9 == len(codes)
    assert codes.shape == (9, 2, 64, 64) and codes.dtype == np.uint16 and codes.max() <= 256
    assert meta["method"] == "raft" and meta["weights"] == "random" and meta["updates"] == 2
    assert meta["video_id"] == "clip_a" and meta["crop"] == 64


def test_flow_dis(clip, tmp_path) -> None:
    out = tmp_path / "clip_a.flow"
    assert main(["flow", str(clip), "--out", str(out), "--flow-method", "dis", "--crop", "64", "--min-side", "128",
                 "--dis-preset", "ultrafast", "--reencode", "--no-progress"]) == 0
    meta, chunks = read_flow_file(out)
    assert meta["pairs"] == 9 and meta["frames"] == 10 and meta["reencode"] is True
    assert meta["method"] == "dis" and meta["paper_compatible"] is False and "not paper-compatible" in meta["note"]
    assert sum(len(c) for c in chunks) == 9


def test_flow_errors(clip, tmp_path, capsys) -> None:
    out = tmp_path / "x.flow"
    assert main(["flow", str(tmp_path / "nope.mp4"), "--out", str(out)]) == 2
    assert "nope.mp4" in capsys.readouterr().err
    assert main(["flow", str(clip), "--out", str(out), "--weights", "random", "--crop", "224",
                 "--min-side", "128", "--no-progress"]) == 2
    assert "--crop 224 is larger than --min-side 128" in capsys.readouterr().err
    assert not out.exists()


def test_flow_pretrained_file_from_weights_dir(clip, tmp_path, capsys) -> None:
    import torch

    from unav.features.raft import build_raft, sha256_file

    wdir = tmp_path / "weights"
    wdir.mkdir()
    model, _ = build_raft("random", seed=9)
    wfile = wdir / "raft_large_C_T_SKHT_V1-0b8c9e55.pth"
    torch.save(model.state_dict(), wfile)  # right layout, wrong checksum
    out = tmp_path / "p.flow"
    base = ["flow", str(clip), "--out", str(out), "--weights", "pretrained", "--raft-weights",
            "raft_large_C_T_SKHT_V1", "--weights-dir", str(wdir), "--flow-updates", "1", "--crop", "64",
            "--min-side", "128", "--no-progress"]
    assert main(base) == 2  # checksum does not match the registry
    assert "raft_large_C_T_SKHT_V1" in capsys.readouterr().err and not out.exists()
    assert main(base + ["--allow-unverified-weights"]) == 0
    meta, _ = read_flow_file(out)
    assert meta["sha256"] == sha256_file(wfile) and meta["status"] == "unverified"
    assert meta["weights"] == wfile.name


def test_extract_from_flow_file_records_the_files_settings(long_clip, tmp_path, capsys) -> None:
    """Features made from a `.flow` file carry that file's RAFT updates, not extract's default of 20: `unav detect`
    reproduces extraction from these settings."""
    import json

    flow = tmp_path / "clip_b.flow"
    assert main(["flow", str(long_clip), "--out", str(flow), "--weights", "random", "--flow-updates", "3",
                 "--crop", "64", "--min-side", "128", "--batch-size", "8", "--no-progress"]) == 0
    out = tmp_path / "feats"
    common = ["--streams", "flow", "--out-dir", str(out), "--weights", "random", "--crop", "64", "--min-side", "128",
              "--no-progress"]
    assert main(["extract", str(long_clip), "--flow", str(flow), "--flow-method", "raft", *common]) == 0
    prov = json.loads((out / "clip_b.json").read_text())
    assert prov["settings"]["flow_updates"] == 3 and prov["flow"]["updates"] == 3 and prov["rows"] == {"flow": 1}
    # a RAFT file read as DIS flow is refused (the only video fails: exit 2), naming the file and both methods
    capsys.readouterr()
    assert main(["extract", str(long_clip), "--flow", str(flow), "--flow-method", "dis", *common]) == 2
    assert "clip_b.flow holds raft flow, expected dis" in capsys.readouterr().err


def test_features_from_a_flow_file_carry_its_raft_weights_and_unverified_stamp(long_clip, tmp_path, monkeypatch,
                                                                                 capsys) -> None:
    """RAFT weights that fail their checks, accepted with --allow-unverified-weights, stamp the flow file; features
    made from that file carry the RAFT entry and "unverified" as if the flow had been computed by extract. The same
    file served by a registry that knows its checksum gives verified flow and features without the stamp."""
    import json

    from published_weights import sha256, write_mirror_registry, write_published_files

    wdir = tmp_path / "weights"
    raft_file = write_published_files(wdir, names=("raft_sintel",))["raft_sintel"]  # published layout, other values
    flow = tmp_path / "clip_b.flow"
    make_flow = ["flow", str(long_clip), "--out", str(flow), "--weights", "pretrained", "--raft-weights", "raft_sintel",
                 "--weights-dir", str(wdir), "--flow-updates", "1", "--crop", "64", "--min-side", "128",
                 "--no-progress"]
    extract = ["extract", str(long_clip), "--flow", str(flow), "--streams", "flow", "--weights", "random",
               "--crop", "64", "--min-side", "128", "--no-progress"]   # random I3D: the flow file is the only stamp

    assert main(make_flow) == 2 and "raft_sintel" in capsys.readouterr().err  # the packaged checksum differs
    assert main([*make_flow, "--allow-unverified-weights"]) == 0
    meta, _ = read_flow_file(flow)
    assert meta["status"] == "unverified" and meta["unverified"] is True and meta["raft_weights"] == "raft_sintel"
    assert main([*extract, "--out-dir", str(tmp_path / "unverified")]) == 0
    prov = json.loads((tmp_path / "unverified" / "clip_b.json").read_text())
    assert prov["unverified"] is True
    assert prov["weights"]["raft"] == {"weights": "raft-sintel.pth", "sha256": sha256(raft_file),
                                       "status": "unverified", "unverified": True}
    assert prov["settings"]["raft_weights"] == "raft_sintel" and prov["flow"]["status"] == "unverified"

    monkeypatch.setenv("UNAV_WEIGHTS_REGISTRY", str(write_mirror_registry(tmp_path / "mirror.yaml",
                                                                          "file:///mirror", {"raft_sintel": raft_file})))
    assert main(make_flow) == 0
    assert main([*extract, "--out-dir", str(tmp_path / "verified")]) == 0
    prov = json.loads((tmp_path / "verified" / "clip_b.json").read_text())
    assert "unverified" not in prov and prov["weights"]["raft"]["status"] == "verified"
