import random

import numpy as np
import pytest
import torch

from unav.config import load_config
from unav.data.annotations import annotations_from_dict
from unav.data.dataset import UnavDataset, collate, collate_fn, padded_length, random_crop
from unav.data.grid import seconds_to_grid
from unav.errors import UnavError


class ScriptedRng:
    """randint returns scripted values (clamped into range) so windows are known exactly."""

    def __init__(self, values):
        self.values = list(values)
        self.calls = []

    def randint(self, a, b):
        self.calls.append((a, b))
        return min(max(self.values.pop(0), a), b)


def _features(d, vid, rows, audio_rows=None, seed=0):
    rng = np.random.default_rng(seed)
    np.save(d / f"{vid}_rgb.npy", rng.standard_normal((rows, 1024)))
    np.save(d / f"{vid}_flow.npy", rng.standard_normal((rows, 1024)))
    np.save(d / f"{vid}_vggish.npy", rng.standard_normal((audio_rows or rows, 128)).astype(np.float32))


@pytest.fixture()
def setup(tmp_path):
    ann = annotations_from_dict({"database": {
        "-short": {"subset": "train", "duration": 20.0, "annotations": [
            {"segment": [1.0, 5.0], "label": "a", "label_id": 0},
            {"segment": [4.0, 9.5], "label": "b", "label_id": 1}]},
        "long": {"subset": "train", "duration": 110.0, "annotations": [
            {"segment": [2.0, 6.0], "label": "a", "label_id": 0},
            {"segment": [50.0, 100.0], "label": "c", "label_id": 2}]},
        "empty": {"subset": "train", "duration": 100.0},
        "val": {"subset": "validation", "duration": 110.0, "annotations": [
            {"segment": [3.0, 8.0], "label": "b", "label_id": 1}]},
    }}, source="t.json")
    _features(tmp_path, "-short", 60, 61)
    _features(tmp_path, "long", 340)
    _features(tmp_path, "empty", 300)
    _features(tmp_path, "val", 340, 338)
    return ann, tmp_path, load_config()


def test_item_layout(setup):
    ann, d, cfg = setup
    ds = UnavDataset(ann, d, "validation", cfg, training=False)
    assert len(ds) == 1 and ds.num_classes == 3
    item = ds[0]
    assert item["video_id"] == "val"
    assert item["visual"].shape == (2048, 338) and item["visual"].dtype == torch.float32
    assert item["audio"].shape == (128, 338)
    rgb = np.load(d / "val_rgb.npy").astype(np.float32)
    assert torch.equal(item["visual"][:1024, 5], torch.from_numpy(rgb[5]))
    expected = seconds_to_grid(np.array([[3.0, 8.0]], np.float32), 25, 8, 24)
    torch.testing.assert_close(item["segments"], torch.from_numpy(expected))
    assert item["labels"].tolist() == [1] and item["labels"].dtype == torch.int64
    assert (item["duration"], item["fps"], item["feat_stride"], item["num_frames"]) == (110.0, 25, 8, 24)


def test_preload_off_and_modalities(setup):
    ann, d, cfg = setup
    a = UnavDataset(ann, d, ["train"], cfg, training=False, preload=True)
    b = UnavDataset(ann, d, ["train"], cfg, training=False, preload=False)
    assert a.video_ids == b.video_ids == ["-short", "long", "empty"]
    assert torch.equal(a[0]["visual"], b[0]["visual"]) and torch.equal(a[0]["audio"], b[0]["audio"])
    cfg_a = load_config(overrides=["model.modalities=[audio]"])
    (d / "-short_rgb.npy").unlink()  # not needed for an audio-only model
    ds = UnavDataset(ann, d, "train", cfg_a, training=False)
    item = ds[0]
    assert item["visual"] is None and item["audio"].shape == (128, 60)
    batch = collate([item, ds[1]], 224, 32, training=False)
    assert batch["visual"] is None and batch["audio"].shape == (2, 128, 352)


def test_missing_features_are_listed(setup):
    ann, d, cfg = setup
    (d / "long_flow.npy").unlink()
    (d / "empty_vggish.npy").unlink()
    with pytest.raises(UnavError) as err:
        UnavDataset(ann, d, "train", cfg, training=True)
    msg = str(err.value)
    assert "2 of 3" in msg and "long_flow.npy" in msg and "empty_vggish.npy" in msg and "t.json" in msg
    with pytest.raises(UnavError, match="no videos in split"):
        UnavDataset(ann, d, "test", cfg, training=False)


def test_crop_keeps_events_by_half_rule():
    segs = torch.tensor([[40.0, 60.0], [30.0, 55.0], [260.0, 300.0], [100.0, 120.0], [200.0, 300.0]])
    st, ed, cropped, keep = random_crop(300, segs, 224, 0.5, [0.9, 1.0], ScriptedRng([50]))
    assert (st, ed) == (50, 274)
    # [40,60]: 10/20 inside -> kept (>= 0.5); [30,55]: 5/25 dropped; [260,300]: 14/40 dropped;
    # [100,120] fully inside; [200,300]: 74/100 kept and clipped to the window end
    assert keep.tolist() == [True, False, False, True, True]
    assert cropped.tolist() == [[0.0, 10.0], [50.0, 70.0], [150.0, 224.0]]


def test_crop_retries_until_an_event_remains():
    segs = torch.tensor([[0.0, 10.0]])
    rng = ScriptedRng([70, 60, 3])
    st, ed, cropped, keep = random_crop(300, segs, 224, 0.5, None, rng)
    assert st == 3 and len(rng.calls) == 3 and cropped.tolist() == [[0.0, 7.0]]
    # never succeeds: the last window is used and no event remains
    st, ed, cropped, keep = random_crop(300, segs, 224, 0.5, None, ScriptedRng([70] * 5), max_trials=5)
    assert st == 70 and cropped.shape == (0, 2) and keep.tolist() == [False]


def test_crop_of_short_sequences_uses_the_ratio():
    segs = torch.tensor([[10.0, 50.0]])
    assert random_crop(100, segs, 224, 0.5, None, random.Random(0)) is None
    rng = ScriptedRng([93, 4])
    st, ed, cropped, _ = random_crop(100, segs, 224, 0.5, [0.9, 1.0], rng)
    assert rng.calls[0] == (90, 100) and (st, ed) == (4, 97)
    assert random_crop(100, segs, 224, 0.5, [0.9, 1.0], ScriptedRng([100])) is None


def test_training_items_are_cropped_and_seeded(setup):
    ann, d, cfg = setup
    runs = []
    for _ in range(2):
        ds = UnavDataset(ann, d, "train", cfg, training=True, rng=random.Random(5))
        runs.append([ds[i] for i in range(3)] + [ds[1] for _ in range(20)])
    for a, b in zip(*runs):
        assert torch.equal(a["visual"], b["visual"]) and torch.equal(a["segments"], b["segments"])
    long_items = runs[0][3:]
    assert all(it["visual"].shape[1] == 224 for it in long_items)
    assert all(len(it["segments"]) >= 1 for it in long_items)  # retry always finds an event here
    assert len({float(it["segments"][0, 0]) for it in long_items}) > 1  # windows do vary
    for it in long_items:
        assert (it["segments"] >= 0).all() and (it["segments"] <= 224).all()
    empty = runs[0][2]
    assert empty["visual"].shape[1] == 224 and empty["segments"].shape == (0, 2)
    short = runs[0][0]
    assert 54 <= short["visual"].shape[1] <= 60


def test_collate_training_and_inference(setup):
    ann, d, cfg = setup
    ds = UnavDataset(ann, d, ["train", "validation"], cfg, training=False)
    items = [ds[0], ds[3]]  # 60 and 338 rows
    batch = collate(items, 224, 32, training=False)
    assert batch["visual"].shape == (2, 2048, 352) and batch["audio"].shape == (2, 128, 352)
    assert batch["mask"].dtype == torch.bool and batch["mask"].sum(1).tolist() == [60, 338]
    assert not batch["mask"][0, 60:].any() and (batch["visual"][0, :, 60:] == 0).all()
    assert torch.equal(batch["visual"][1, :, :338], items[1]["visual"])
    assert batch["video_id"] == ["-short", "val"] and len(batch["segments"]) == 2
    assert collate([ds[0]], 224, 32, training=False)["visual"].shape[-1] == 224
    with pytest.raises(ValueError, match="cropped"):
        collate(items, 224, 32, training=True)
    train = UnavDataset(ann, d, "train", cfg, training=True, rng=random.Random(0))
    tb = collate_fn(cfg, training=True)([train[i] for i in range(3)])
    assert tb["visual"].shape == (3, 2048, 224) and tb["mask"].shape == (3, 224)
    assert padded_length([225], 224, 32, False) == 256 and padded_length([1000], 224, 32, False) == 1024


def test_dataset_pickles_for_worker_processes(setup):
    import pickle

    ann, d, cfg = setup
    ds = UnavDataset(ann, d, "train", cfg, training=True)
    clone = pickle.loads(pickle.dumps(ds))
    assert clone.video_ids == ds.video_ids and clone[1]["visual"].shape == (2048, 224)


def test_without_preload_items_are_read_on_demand_and_broken_files_still_fail_up_front(setup):
    import pickle

    ann, d, cfg = setup
    kept = UnavDataset(ann, d, "train", cfg, training=False, preload=True)
    lazy = UnavDataset(ann, d, "train", cfg, training=False, preload=False)
    # What a DataLoader worker receives: the preloaded dataset carries every array, the lazy one only names.
    assert len(pickle.dumps(lazy)) * 50 < len(pickle.dumps(kept))
    assert torch.equal(lazy[1]["visual"], kept[1]["visual"])
    (d / "long_rgb.npy").write_bytes(b"not an array")
    with pytest.raises(UnavError, match="long"):
        UnavDataset(ann, d, "train", cfg, training=False, preload=False)
