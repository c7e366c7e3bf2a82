"""The extractor's `precision` setting (unav.features.precision) on tiny lavfi clips with random weights: fp32 is
the extraction without the setting, bit for bit; tf32 equals it on CPU; bf16 (CPU autocast) differs a little in
every stream; the setting is recorded (settings, flow metadata, paper_compatible) and a file that does not record
it counts as fp32 wherever recorded settings are compared."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from unav.errors import UnavError
from unav.features.extract import ExtractSettings, Extractor
from unav.features.flowfile import read_flow_meta
from unav.features.precision import network_precision
from unav.features.provenance import differing_settings
from unav.media.ffmpeg import run_ffmpeg

# random weights, tiny frames, DIS flow: the I3D flow network still runs at the precision
FAST = dict(weights="random", flow_method="dis", dis_preset="ultrafast", min_side=40, crop=32, batch_size=16,
            seed=3, progress=False)
# the bf16 deviations observed on these clips are 0.3 % - 0.7 % (relative L2); the bound leaves room for other
# CPUs' bf16 kernels while still catching a forward left in fp32 (0) or a broken cast (~100 %)
BF16_BOUND = 0.05


def _clip(path, seconds, size="64x48"):
    run_ffmpeg(["-y", "-v", "error", "-f", "lavfi", "-i", f"testsrc2=size={size}:rate=25:duration={seconds}",
                "-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=16000:duration={seconds}", "-c:v", "libx264",
                "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest", str(path)])
    return path


def _rel(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.linalg.norm(a.astype(np.float64) - b) / np.linalg.norm(a.astype(np.float64)))


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    return _clip(tmp_path_factory.mktemp("precision") / "clip.mp4", 1.4)


@pytest.fixture(scope="module")
def extracted(clip, tmp_path_factory):
    """precision -> (arrays per stream, provenance); None: the settings without a precision given."""
    out = {}
    for precision in (None, "fp32", "tf32", "bf16"):
        folder = tmp_path_factory.mktemp(f"feats_{precision}")
        extra = {} if precision is None else {"precision": precision}
        prov = Extractor(ExtractSettings(**FAST, **extra)).extract(clip, folder)
        out[precision] = ({s: np.load(folder / f"clip_{s}.npy") for s in ("rgb", "flow", "vggish")}, prov)
    return out


def test_fp32_and_cpu_tf32_are_the_extraction_without_the_setting(extracted):
    plain, _ = extracted[None]
    for precision in ("fp32", "tf32"):
        arrays, _ = extracted[precision]
        for stream, rows in plain.items():
            assert arrays[stream].dtype == np.float32 and np.array_equal(arrays[stream], rows), (precision, stream)


def test_bf16_differs_a_little_in_every_stream(extracted):
    plain, _ = extracted[None]
    arrays, _ = extracted["bf16"]
    for stream, rows in plain.items():
        assert arrays[stream].dtype == np.float32 and arrays[stream].shape == rows.shape
        assert 0 < _rel(rows, arrays[stream]) < BF16_BOUND, stream


def test_provenance_records_precision_and_bf16_is_not_paper_compatible(extracted):
    _, fp32 = extracted["fp32"]
    _, bf16 = extracted["bf16"]
    _, tf32 = extracted["tf32"]
    assert fp32["settings"]["precision"] == "fp32" and "note" not in fp32
    assert tf32["settings"]["precision"] == "tf32" and tf32.get("paper_compatible") is False
    assert bf16["settings"]["precision"] == "bf16" and bf16["paper_compatible"] is False
    assert bf16["note"] == "bf16 extraction: not the released numerics"
    assert differing_settings(fp32["settings"], bf16["settings"]) == ["precision"]


def test_a_provenance_without_precision_counts_as_fp32(extracted):
    _, fp32 = extracted["fp32"]
    _, bf16 = extracted["bf16"]
    old = {k: v for k, v in fp32["settings"].items() if k != "precision"}   # written before the setting
    assert differing_settings(old, fp32["settings"]) == [] == differing_settings(fp32["settings"], old)
    assert differing_settings(old, bf16["settings"]) == ["precision"]


def test_unknown_precision_is_refused():
    with pytest.raises(UnavError, match="unknown precision 'fp16'.*fp32, tf32, bf16"):
        ExtractSettings(precision="fp16")
    with pytest.raises(UnavError, match="unknown precision"):
        with network_precision("cpu", "half"):
            pass


def test_network_precision_changes_nothing_outside_its_block():
    a = torch.randn(8, 8)
    flags = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    with network_precision("cpu", "bf16"):
        assert (a @ a).dtype == torch.bfloat16
    assert (a @ a).dtype == torch.float32 and not torch.is_autocast_enabled("cpu")
    with network_precision("cpu", "tf32"):   # no TF32 on CPU: nothing is switched
        assert (torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32) == flags
    with network_precision("cuda", "tf32"):  # the flags are process globals: settable without a GPU
        assert torch.backends.cuda.matmul.allow_tf32 and torch.backends.cudnn.allow_tf32
    assert (torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32) == flags


# ---- RAFT and flow files --------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def raft_clip(tmp_path_factory):
    return _clip(tmp_path_factory.mktemp("raft") / "rclip.mp4", 0.24, size="128x128")   # 6 frames, 5 pairs


RAFT = dict(weights="random", flow_method="raft", flow_updates=2, min_side=128, crop=64, batch_size=8, seed=1,
            progress=False, streams=("flow",))


@pytest.fixture(scope="module")
def flow_files(raft_clip, tmp_path_factory):
    """precision -> (flow file, its metadata), written as `unav flow` writes them."""
    from unav.features import models
    from unav.features.flowjob import write_video_flow

    folder = tmp_path_factory.mktemp("flowfiles")
    out = {}
    for precision in ("fp32", "tf32", "bf16"):
        settings = ExtractSettings(**RAFT, precision=precision)
        computer, entry = models.flow_computer(settings, torch.device("cpu"))
        path = folder / f"{precision}.flow"
        out[precision] = path, write_video_flow(raft_clip, path, settings, computer, entry)
    return out


def test_raft_precision_codes_and_metadata(flow_files):
    from unav.features.flowfile import read_flow_file

    codes = {p: np.concatenate(list(read_flow_file(path)[1])) for p, (path, _) in flow_files.items()}
    assert np.array_equal(codes["fp32"], codes["tf32"])   # CPU: no TF32
    moved = np.mean(codes["fp32"] != codes["bf16"])
    assert codes["bf16"].shape == codes["fp32"].shape == (5, 2, 64, 64) and 0 < moved < 0.5
    fp32, bf16 = flow_files["fp32"][1], flow_files["bf16"][1]
    assert fp32["precision"] == "fp32" and "note" not in fp32
    assert bf16["precision"] == "bf16" and bf16["paper_compatible"] is False and "not the released" in bf16["note"]


def test_a_bf16_flow_file_is_refused_for_an_fp32_run_and_an_old_file_counts_as_fp32(flow_files, tmp_path):
    from unav.features.flowsource import open_flow_file

    path, meta = flow_files["bf16"]
    fp32 = ExtractSettings(**RAFT)
    with pytest.raises(UnavError, match=r"precision bf16, expected fp32 \(--precision fp32\)"):
        open_flow_file(path, "rclip", fp32)
    open_flow_file(path, "rclip", ExtractSettings(**{**RAFT, "precision": "bf16"}))   # its own precision: fine
    # a file written before the setting: the same codes and metadata without "precision"
    old = tmp_path / "old.flow"
    from unav.features.flowfile import read_flow_file, write_flow_file

    fp32_meta, chunks = read_flow_file(flow_files["fp32"][0])
    header = {k: v for k, v in fp32_meta.items() if k not in ("precision", "pairs", "chunks", "shape",
                                                              "format_version")}
    write_flow_file(old, chunks, header)
    assert "precision" not in read_flow_meta(old)
    open_flow_file(old, "rclip", fp32)
    with pytest.raises(UnavError, match="precision fp32, expected bf16"):
        open_flow_file(old, "rclip", ExtractSettings(**{**RAFT, "precision": "bf16"}))


def test_workflow_flow_cache_recomputes_another_precision_but_not_an_old_file(flow_files, raft_clip, tmp_path):
    """The flow stage's per-video cache (FlowWorker): a bf16 file is not current for an fp32 run (it differs in
    "precision"), an fp32 file without the key (written before it existed) is."""
    import os

    from unav.features.flowfile import read_flow_file, write_flow_file
    from unav.pipeline.stages import Cache, FlowWorker

    worker = FlowWorker(ExtractSettings(**RAFT), tmp_path, None, Cache())
    assert "precision" in worker._differences(flow_files["bf16"][1])
    assert worker.flow_file_current(raft_clip, flow_files["fp32"][0])
    assert not worker.flow_file_current(raft_clip, flow_files["bf16"][0])
    meta, chunks = read_flow_file(flow_files["fp32"][0])
    old = tmp_path / "old.flow"
    write_flow_file(old, chunks, {k: v for k, v in meta.items() if k not in ("precision", "pairs", "chunks",
                                                                              "shape", "format_version")})
    os.utime(old, (os.path.getmtime(raft_clip) + 10,) * 2)
    assert worker.flow_file_current(raft_clip, old)


def test_detect_reproduces_the_recorded_precision_and_old_checkpoints_are_fp32():
    """`unav detect` extracts with the checkpoint's settings: its precision, fp32 when it records none."""
    from unav.detection.settings import recorded_settings
    from unav.pipeline.stages import expected_settings

    settings = expected_settings(ExtractSettings(**{**FAST, "precision": "bf16"}))
    assert recorded_settings({"feature_provenance": settings}, "ck.pt")["precision"] == "bf16"
    old = {k: v for k, v in settings.items() if k != "precision"}
    assert recorded_settings({"feature_provenance": old}, "ck.pt")["precision"] == "fp32"
    released = recorded_settings({"feature_provenance": {"settings": "unav100-released"}}, "ck.pt")
    assert released["precision"] == "fp32"
