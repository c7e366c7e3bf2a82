"""A dry run over the real UnAV-100 annotation file (10,790 videos, with the matching video list generated from
it) builds its DAG. How long it takes is printed by benchmarks/bench_dag.py, not asserted here."""
from __future__ import annotations

import json

from .helpers import dry_run, write_config


def test_unav100_dag(unav100_annotations, tmp_path):
    db = json.loads(unav100_annotations.read_text())["database"]
    (tmp_path / "videos.csv").write_text("".join(f"{vid},0,{e['duration']}\n" for vid, e in db.items()))
    cfg = write_config(tmp_path / "cfg.yaml", {"source": "youtube", "videos_csv": "videos.csv",
                                               "annotations": str(unav100_annotations)})
    counts = dry_run(tmp_path, configfile=cfg)
    assert len(db) == 10790
    assert counts == {"download": 10790, "download_collect": 1, "annotations": 1, "train": 1, "predict": 1,
                      "evaluate": 1, "report": 1, "stats": 1, "all": 1}
