"""A dry run of the paper's preset over the real UnAV-100 annotation file (10,790 videos, with the matching video
list generated from it) builds its DAG, invoked as the README tells a user (`--configfile
resources/presets/unav100.yaml --config videos_csv=… annotations=…`). How long it takes is printed by
benchmarks/bench_dag.py, not asserted here."""
from __future__ import annotations

import json

from .helpers import REPO, dry_run, shard_count

PRESET = REPO / "resources" / "presets" / "unav100.yaml"


def test_unav100_preset_dag(unav100_annotations, tmp_path):
    db = json.loads(unav100_annotations.read_text())["database"]
    (tmp_path / "videos.csv").write_text("".join(f"{vid},0,{e['duration']}\n" for vid, e in db.items()))
    # the preset names its training config by name (train.config: defaults.yaml), not by path
    counts = dry_run(tmp_path, "--config", "videos_csv=videos.csv", f"annotations={unav100_annotations}",
                     configfile=PRESET)
    assert len(db) == 10790
    # one download job per shard (128 in the preset, every one holds videos), not one per video
    assert shard_count(db, 128) == 128
    assert counts == {"download": 128, "download_collect": 1, "failures": 1, "annotations": 1, "train": 1,
                      "predict": 1, "evaluate": 1, "report": 1, "stats": 1, "all": 1}
