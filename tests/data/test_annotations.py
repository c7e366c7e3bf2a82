import copy
import json

import numpy as np
import pytest

from unav.data.annotations import (SEGMENT_TOLERANCE_S, annotations_from_dict, load_annotations)
from unav.errors import UnavError


def _doc():
    return {"database": {
        "-abcDEF_123": {"subset": "Train", "duration": 20.0, "annotations": [
            {"segment": [1.0, 5.5], "label": "dog barking", "label_id": 1},
            {"segment": [3, 19], "label": "man speaking", "label_id": 0}]},
        "vid2": {"subset": "test", "duration": 12, "fps": 30, "annotations": [
            {"segment": [0.0, 12.0], "label": "dog barking", "label_id": 1}]},
        "vid3": {"subset": "validation", "duration": 8.5},
    }}


def test_valid_document():
    ann = annotations_from_dict(_doc(), source="a.json")
    assert ann.classes == ["man speaking", "dog barking"]
    assert ann.num_classes == 2
    assert ann.split("train") == ["-abcDEF_123"] and ann.split("TEST") == ["vid2"]
    v = ann.videos["-abcDEF_123"]
    assert v.segments.dtype == np.float32 and v.segments.shape == (2, 2)
    assert v.label_ids.dtype == np.int64 and v.label_ids.tolist() == [1, 0]
    assert v.labels == ["dog barking", "man speaking"] and v.fps is None
    assert ann.videos["vid2"].fps == 30.0
    assert ann.videos["vid3"].num_events == 0 and ann.videos["vid3"].segments.shape == (0, 2)


def test_label_id_gaps_become_empty_classes():
    d = _doc()
    d["database"]["vid2"]["annotations"][0].update(label="cat", label_id=4)
    ann = annotations_from_dict(d)
    assert ann.num_classes == 5 and ann.classes[4] == "cat"
    assert ann.empty_label_ids == [2, 3]


def _mutate(fn):
    d = copy.deepcopy(_doc())
    fn(d["database"])
    return d


BAD = {
    "no subset": (lambda db: db["vid2"].pop("subset"), "vid2", "subset"),
    "subset type": (lambda db: db["vid2"].update(subset=3), "vid2", "subset"),
    "no duration": (lambda db: db["vid3"].pop("duration"), "vid3", "duration"),
    "duration type": (lambda db: db["vid3"].update(duration="8.5"), "vid3", "duration"),
    "duration zero": (lambda db: db["vid3"].update(duration=0), "vid3", "duration"),
    "bad fps": (lambda db: db["vid2"].update(fps=-1), "vid2", "fps"),
    "annotations type": (lambda db: db["vid3"].update(annotations={}), "vid3", "annotations"),
    "no segment": (lambda db: db["vid2"]["annotations"][0].pop("segment"), "vid2", "annotations[0].segment"),
    "no label": (lambda db: db["vid2"]["annotations"][0].pop("label"), "vid2", "annotations[0].label"),
    "no label_id": (lambda db: db["vid2"]["annotations"][0].pop("label_id"), "vid2",
                    "annotations[0].label_id"),
    "segment length": (lambda db: db["vid2"]["annotations"][0].update(segment=[1.0]), "vid2", "segment"),
    "segment type": (lambda db: db["vid2"]["annotations"][0].update(segment=["1", 2]), "vid2", "segment"),
    "end before start": (lambda db: db["vid2"]["annotations"][0].update(segment=[5.0, 5.0]), "vid2",
                         "greater than start"),
    "past duration": (lambda db: db["vid2"]["annotations"][0].update(segment=[1.0, 12.0 + 2 * SEGMENT_TOLERANCE_S]),
                      "vid2", "outside the video"),
    "negative start": (lambda db: db["vid2"]["annotations"][0].update(segment=[-1.0, 3.0]), "vid2",
                       "outside the video"),
    "label type": (lambda db: db["vid2"]["annotations"][0].update(label=7), "vid2", "label"),
    "label_id type": (lambda db: db["vid2"]["annotations"][0].update(label_id=1.0), "vid2", "label_id"),
    "label_id bool": (lambda db: db["vid2"]["annotations"][0].update(label_id=True), "vid2", "label_id"),
    "same id two labels": (lambda db: db["vid2"]["annotations"][0].update(label="cat"), "vid2",
                           "'dog barking'"),
    "same label two ids": (lambda db: db["vid2"]["annotations"][0].update(label_id=5), "vid2",
                           "has id 5 here but id 1"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_invalid_documents(case):
    fn, vid, needle = BAD[case]
    with pytest.raises(UnavError) as err:
        annotations_from_dict(_mutate(fn), source="my_ann.json")
    msg = str(err.value)
    assert "my_ann.json" in msg and repr(vid) in msg and needle in msg


def test_tolerance_keeps_event_unchanged():
    d = _mutate(lambda db: db["vid2"]["annotations"][0].update(segment=[1.0, 12.0 + SEGMENT_TOLERANCE_S / 2]))
    ann = annotations_from_dict(d)
    assert ann.videos["vid2"].segments[0, 1] == pytest.approx(12.0 + SEGMENT_TOLERANCE_S / 2)


def test_top_level_and_files(tmp_path):
    with pytest.raises(UnavError, match="database"):
        annotations_from_dict({"videos": {}})
    with pytest.raises(UnavError, match="does not exist"):
        load_annotations(tmp_path / "none.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(UnavError, match="bad.json"):
        load_annotations(bad)
    good = tmp_path / "good.json"
    good.write_text(json.dumps(_doc()))
    assert load_annotations(good).source == str(good)


def test_real_unav100_file(unav100_annotations):
    ann = load_annotations(unav100_annotations)
    assert len(ann.videos) == 10790
    assert sum(v.num_events for v in ann.videos.values()) == 30059
    assert ann.num_classes == 100 and ann.empty_label_ids == []
    assert len(ann.split("train")) + len(ann.split("validation")) + len(ann.split("test")) == 10790
    assert any(vid.startswith("-") for vid in ann.videos)
    # classes[label_id] == label for every event
    for v in list(ann.videos.values())[:500]:
        assert [ann.classes[i] for i in v.label_ids] == v.labels


def test_a_subset_agrees_with_the_full_label_set_and_a_renamed_id_does_not(unav100_annotations):
    full = load_annotations(unav100_annotations)
    doc = json.loads(unav100_annotations.read_text())
    few = dict(doc, database={vid: doc["database"][vid] for vid in list(doc["database"])[:10]})
    subset = annotations_from_dict(few)
    assert subset.num_classes < full.num_classes and subset.empty_label_ids
    assert subset.class_conflicts(full.classes) == []
    renamed = list(full.classes)
    first = next(i for i, name in enumerate(subset.classes) if not name.startswith("<unused"))
    renamed[first] = "something else"
    assert subset.class_conflicts(renamed) == [f"label_id {first} is {subset.classes[first]!r} here but "
                                              f"'something else' in the model"]
    assert "beyond the model's 1 classes" in " ".join(subset.class_conflicts(full.classes[:1]))
