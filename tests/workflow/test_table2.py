"""The paper's Table 2 baselines through the workflow: `train.config` names a config built on a variant
(`variants/tadtr_concat.yaml`, `variants/vsgn_concat.yaml`) and the same rules train, predict, evaluate and report
it, here on the demo run's features (source: features) at a tiny width and a short schedule."""
from __future__ import annotations

import pytest
import yaml

from .helpers import REPO, read_json, snakemake, write_config

TINY = {"tadtr": {"hidden_dim": 32, "n_heads": 4, "dim_feedforward": 64, "input_groups": 8},
        "vsgn": {"hidden_dim": 32, "head_layers": 2}}


@pytest.mark.parametrize("arch", ["tadtr", "vsgn"])
def test_a_table2_baseline_trains_and_evaluates_through_the_workflow(demo_run, tmp_path, arch):
    train_cfg = tmp_path / f"{arch}_demo.yaml"
    train_cfg.write_text(yaml.safe_dump({
        "_base_": [str(REPO / "resources" / "presets" / "demo_train.yaml"), f"variants/{arch}_concat.yaml"],
        "model": {arch: TINY[arch]},
        "train": {"batch_size": 4, "epochs": 2, "warmup_epochs": 1, "lr": 1.0e-3, "eval_every": 0}}))
    demo = demo_run.workdir / "results"
    cfg = write_config(tmp_path / "cfg.yaml", {
        "source": "features", "features_dir": str(demo / "features"),
        "annotations": str(demo / "demo" / "annotations.json"), "stats": False, "experiment": arch,
        "train": {"config": str(train_cfg)}})
    work = tmp_path / "work"
    work.mkdir()
    snakemake(work, configfile=cfg)
    run = work / "results" / "runs" / arch
    saved = yaml.safe_load((run / "config.yaml").read_text())
    assert saved["model"]["arch"] == arch and saved["model"][arch]["hidden_dim"] == 32
    predictions = read_json(run / "predictions.json")["results"]
    test_ids = [vid for vid, v in read_json(demo / "demo" / "annotations.json")["database"].items()
                if v["subset"] == "test"]
    assert set(predictions) == set(test_ids) and any(predictions.values())
    metrics = read_json(run / "metrics.json")
    assert metrics["num_videos"] == len(test_ids) and 0.0 <= metrics["average_mAP"] <= 1.0
