import json
import math

import numpy as np
import pytest

from unav.data.annotations import load_annotations
from unav.errors import UnavError
from unav.data.stats import PLOT_FILES, compute_stats, plot_stats


def ev(start, end, label):
    return {"segment": [start, end], "label": label, "label_id": {"A": 0, "B": 1, "C": 2}[label]}


def tiny_database():
    """Seven videos; every figure below is worked out by hand in the tests."""
    return {
        # A/B overlap on [3, 4] (concurrent); B ends at 6, A starts at 7: consecutive B -> A with gap 1
        "v1": {"subset": "train", "duration": 10, "annotations": [ev(0, 4, "A"), ev(3, 6, "B"), ev(7, 9, "A")]},
        # touching at 5: not an overlap, but consecutive A -> B with gap 0
        "v2": {"subset": "train", "duration": 20, "annotations": [ev(0, 5, "A"), ev(5, 8, "B")]},
        # two overlapping events of the SAME class: not concurrent
        "v3": {"subset": "test", "duration": 30, "annotations": [ev(2, 12, "C"), ev(4, 6, "C")]},
        "v4": {"subset": "validation", "duration": 40, "annotations": []},
        "v5": {"subset": "test", "duration": 60, "annotations": [ev(1, 2, "A"), ev(1.5, 3, "C")]},
        "v6": {"subset": "train", "duration": 10, "annotations": [ev(0, 2, "A"), ev(1, 3, "C")]},
        "v7": {"subset": "test", "duration": 10, "annotations": [ev(0, 1, "B")]},
    }


def test_tiny_database_counts_and_durations():
    s = compute_stats(tiny_database(), min_pair_videos=1)
    assert s["videos"] == 7
    assert s["events"] == 12
    assert s["classes"] == 3
    assert s["events_per_video_mean"] == pytest.approx(12 / 7)
    assert s["distinct_per_video_mean"] == pytest.approx((2 + 2 + 1 + 0 + 2 + 2 + 1) / 7)
    assert s["max_events_per_video"] == 3
    assert s["frac_multi_event"] == pytest.approx(5 / 7)          # v1 v2 v3 v5 v6
    assert s["frac_concurrent"] == pytest.approx(3 / 7)           # v1 v5 v6 (not v2: touching, not v3: same class)
    durations = [4, 3, 2, 5, 3, 10, 2, 1, 1.5, 2, 2, 1]
    assert s["event_duration_mean"] == pytest.approx(sum(durations) / 12)
    assert s["event_duration_min"] == pytest.approx(1.0)
    assert s["event_duration_max"] == pytest.approx(10.0)
    assert s["video_duration_mean"] == pytest.approx(180 / 7)
    assert s["events_per_class"] == {"A": 5, "C": 4, "B": 3}
    assert list(s["events_per_class"]) == ["A", "C", "B"]          # most events first
    assert s["per_split"] == {
        "test": {"videos": 3, "events": 5, "classes": 3},
        "train": {"videos": 3, "events": 7, "classes": 3},
        "validation": {"videos": 1, "events": 0, "classes": 0},
    }
    json.dumps(s)  # JSON-serialisable


def test_tiny_database_npmi():
    s = compute_stats(tiny_database(), min_pair_videos=1)
    # p(A) = 4/7 (v1 v2 v5 v6), p(B) = 3/7 (v1 v2 v7), p(C) = 3/7 (v3 v5 v6)
    # simultaneous {A, C} in v5 and v6: p = 2/7 -> NPMI = ln((2/7) / (4/7 * 3/7)) / -ln(2/7) = ln(7/6) / ln(3.5)
    # simultaneous {A, B} in v1 only:   p = 1/7 -> NPMI = ln(7/12) / ln(7)
    npmi_ac = math.log(7 / 6) / math.log(3.5)
    npmi_ab = math.log(7 / 12) / math.log(7)
    assert npmi_ac == pytest.approx(0.12305, abs=1e-5)
    sim = s["top_npmi_simultaneous"]
    assert [(p["a"], p["b"], p["count"]) for p in sim] == [("A", "C", 2), ("A", "B", 1)]
    assert sim[0]["npmi"] == pytest.approx(npmi_ac, abs=1e-6)
    assert sim[1]["npmi"] == pytest.approx(npmi_ab, abs=1e-6)
    # consecutive A -> B in v2 (gap 0) and B -> A in v1 (gap 1): both p = 1/7, same NPMI; ties by name
    con = s["top_npmi_consecutive"]
    assert [(p["a"], p["b"], p["count"]) for p in con] == [("A", "B", 1), ("B", "A", 1)]
    assert con[0]["npmi"] == pytest.approx(npmi_ab, abs=1e-6)


def test_npmi_gap_min_count_and_top_k():
    db = tiny_database()
    assert [(p["a"], p["b"]) for p in compute_stats(db, min_pair_videos=1, consecutive_gap=0.5)
            ["top_npmi_consecutive"]] == [("A", "B")]
    s = compute_stats(db, min_pair_videos=2)
    assert [(p["a"], p["b"]) for p in s["top_npmi_simultaneous"]] == [("A", "C")]
    assert s["top_npmi_consecutive"] == []
    assert len(compute_stats(db, min_pair_videos=1, top_k=1)["top_npmi_simultaneous"]) == 1


def naive_concurrency(db):
    """Plain-loop reference: share of concurrent videos and simultaneous pair video counts."""
    concurrent, pairs = 0, {}
    for entry in db.values():
        anns, seen = entry["annotations"], set()
        for x in anns:
            for y in anns:
                if x["label"] != y["label"] and min(x["segment"][1], y["segment"][1]) > max(x["segment"][0], y["segment"][0]):
                    seen.add(tuple(sorted((x["label_id"], y["label_id"]))))
        concurrent += bool(seen)
        for key in seen:
            pairs[key] = pairs.get(key, 0) + 1
    return concurrent / len(db), pairs


def test_vectorised_pairs_match_a_plain_loop():
    rng = np.random.default_rng(0)
    db = {}
    for v in range(300):
        anns = []
        for _ in range(rng.integers(0, 7)):
            c = int(rng.integers(0, 5))
            start = float(rng.integers(0, 20))
            anns.append({"segment": [start, start + float(rng.integers(1, 6))], "label": f"c{c}", "label_id": c})
        db[f"v{v}"] = {"subset": "train", "duration": 30.0, "annotations": anns}
    frac, pairs = naive_concurrency(db)
    s = compute_stats(db, min_pair_videos=1, top_k=100)
    assert s["frac_concurrent"] == pytest.approx(frac)
    got = {(int(p["a"][1:]), int(p["b"][1:])): p["count"] for p in s["top_npmi_simultaneous"]}
    assert got == pairs


def test_real_file_matches_the_paper(unav100_annotations):
    s = compute_stats(load_annotations(unav100_annotations))
    assert s["videos"] == 10790
    assert s["events"] == 30059
    assert s["classes"] == 100
    assert round(s["events_per_video_mean"], 1) == 2.8
    assert round(s["distinct_per_video_mean"], 1) == 1.6
    assert s["max_events_per_video"] == 23
    assert s["frac_multi_event"] == pytest.approx(0.5877, abs=1e-4)   # paper: "about 60 %"
    assert s["frac_concurrent"] == pytest.approx(0.2818, abs=1e-4)    # paper: "about 25 %"
    assert s["event_duration_min"] == pytest.approx(0.2, abs=0.05)
    assert s["event_duration_max"] == pytest.approx(60.0)
    assert s["event_duration_mean"] == pytest.approx(13.9, abs=0.2)
    assert s["video_duration_mean"] == pytest.approx(42.1, abs=0.2)
    assert sum(s["events_per_class"].values()) == 30059
    assert sum(p["videos"] for p in s["per_split"].values()) == 10790
    top = s["top_npmi_simultaneous"]
    assert len(top) == 10 and all(p["count"] >= 10 for p in top)
    assert [p["npmi"] for p in top] == sorted((p["npmi"] for p in top), reverse=True)
    assert {top[0]["a"], top[0]["b"]} == {"thunder", "raining"}


# The rules and messages of unav.data.annotations: stats accepts exactly what train accepts.
@pytest.mark.parametrize("mutate, expected", [
    (lambda db: db["v2"].pop("duration"), "video 'v2': duration: missing"),
    (lambda db: db["v1"]["annotations"][1].pop("label"), "video 'v1': annotations[1].label: missing"),
    (lambda db: db["v5"]["annotations"][0].update(segment=[3, 1]), "video 'v5': annotations[0].segment: end 1.0"),
    (lambda db: db["v6"]["annotations"][1].update(label_id=7), "label 'C' has id 7 here but id 2"),
    (lambda db: db["v3"].update(subset=None), "video 'v3': subset: missing"),
    (lambda db: db["v3"].update(subset="trian"), "video 'v3': subset: 'trian' is not a known subset"),
    (lambda db: db["v1"]["annotations"][0].update(segment=[-1, 4]), "video 'v1': annotations[0].segment"),
    (lambda db: db["v1"]["annotations"][0].update(segment=[0, 11]), "lies outside the video [0, 10]"),
    (lambda db: db["v1"]["annotations"][0].pop("label_id"), "video 'v1': annotations[0].label_id: missing"),
    (lambda db: db["v7"]["annotations"][0].update(label="A"), "label_id 1 is 'A' here but 'B'"),
    (lambda db: db["v4"].update(duration=0), "video 'v4': duration: expected a number > 0, got 0"),
])
def test_bad_entries_name_the_video_and_field(mutate, expected):
    db = tiny_database()
    mutate(db)
    with pytest.raises(UnavError, match="my.json") as err:
        compute_stats(db, source="my.json")
    assert expected in str(err.value)


def test_every_problem_is_reported():
    db = tiny_database()
    db["v1"]["annotations"][0].update(segment=[-3, 4])
    db["v2"].update(subset="Training")
    db["v7"]["annotations"][0].update(label_id=-1)
    with pytest.raises(UnavError) as err:
        compute_stats(db, source="my.json")
    text = str(err.value)
    assert "3 problems" in text and "'v1'" in text and "'v2'" in text and "'v7'" in text


def test_subsets_are_compared_case_insensitively():
    db = tiny_database()
    db["v1"]["subset"] = "TRAIN"
    assert compute_stats(db, min_pair_videos=1)["per_split"]["train"]["videos"] == 3


def test_annotation_file_errors(tmp_path):
    with pytest.raises(UnavError, match="does not exist"):
        compute_stats(load_annotations(tmp_path / "missing.json"))
    bad = tmp_path / "bad.json"
    bad.write_text('{"database": {')
    with pytest.raises(UnavError, match=r"bad\.json is not valid JSON"):
        load_annotations(bad)
    flat = tmp_path / "flat.json"
    flat.write_text('{"v1": {}}')
    with pytest.raises(UnavError, match=r"flat\.json.*'database'"):
        load_annotations(flat)
    good = tmp_path / "good.json"
    good.write_text(json.dumps({"version": "x", "database": tiny_database()}))
    from_file = compute_stats(load_annotations(good), min_pair_videos=1)
    assert from_file["source"] == str(good)
    assert {**from_file, "source": "database"} == compute_stats(tiny_database(), min_pair_videos=1)
    with pytest.raises(UnavError, match="holds no videos"):
        compute_stats({})


def test_plot_stats_writes_pngs(tmp_path):
    db = tiny_database()
    stats = json.loads(json.dumps(compute_stats(db, min_pair_videos=1)))   # as read back from stats.json
    paths = plot_stats(stats, db, tmp_path / "plots")
    assert [p.name for p in paths] == list(PLOT_FILES)
    for p in paths:
        assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and p.stat().st_size > 1000
    assert sorted(f.name for f in (tmp_path / "plots").iterdir()) == sorted(PLOT_FILES)   # no temp files left
