"""End to end on a synthetic feature-level dataset: training reaches a useful mAP, resume is exact, torchrun
keeps replicas synchronised, predictions have no length cap, and the CLI ties it together."""
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from learning import map_and_chance
from unav.cli import main
from unav.config import CONFIG_DIR, load_config
from unav.data.annotations import load_annotations
from unav.data.synthetic import make_synthetic_dataset
from unav.engine.infer import predict_checkpoint
from unav.io import write_json
from unav.engine.train import train

TINY = {"model": {"embd_dim": 32, "dependency": {"hidden": 8}, "head": {"dim": 32}},
        "train": {"batch_size": 4, "warmup_epochs": 1, "epochs": 4}}


def tiny_cfg(**extra):
    from unav.config import deep_merge

    return load_config([CONFIG_DIR / "demo.yaml"], deep_merge(TINY, extra))


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    root = tmp_path_factory.mktemp("syn")
    ann, feats = make_synthetic_dataset(root, num_videos=48, num_classes=4, seed=3, max_rows=260)
    return ann, feats


@pytest.fixture(scope="module")
def trained(synthetic, tmp_path_factory):
    ann_path, feats = synthetic
    run = tmp_path_factory.mktemp("run")
    cfg = load_config([CONFIG_DIR / "demo.yaml"], {"train": {"batch_size": 4, "epochs": 10, "warmup_epochs": 1}})
    train(cfg, load_annotations(ann_path), feats, run)
    return run


def test_loader_workers_are_not_sent_the_features(synthetic, tmp_path):
    import pickle

    from unav.engine.train import Trainer

    ann_path, feats = synthetic
    feature_bytes = sum(p.stat().st_size for p in Path(feats).glob("*.npy"))
    for workers in (2, 0):
        trainer = Trainer(tiny_cfg(dataset={"num_workers": workers}), load_annotations(ann_path), feats,
                          tmp_path / f"w{workers}", progress=False)
        sent = len(pickle.dumps(trainer.train_set))
        # Workers start at each epoch with the pickled dataset: names, not arrays (which stay on disk / in the
        # page cache); a worker-less loader keeps the train split in memory.
        assert (sent * 100 < feature_bytes) if workers else (sent * 3 > feature_bytes)


@pytest.mark.parametrize("native", [True, False])
def test_bf16_on_a_cpu_that_emulates_it_is_warned_about(synthetic, tmp_path, monkeypatch, caplog, native):
    import unav.device
    from unav.engine.train import Trainer

    monkeypatch.setattr(unav.device, "cpu_has_bf16", lambda: native)
    ann_path, feats = synthetic
    with caplog.at_level("WARNING"):
        Trainer(tiny_cfg(train={"amp": "bf16", "device": "cpu"}), load_annotations(ann_path), feats, tmp_path / "r",
                progress=False)
    assert ("train.amp bf16: this CPU has no bf16 instructions" in caplog.text) is (not native)


def test_validation_scores_against_the_files_own_numbers(synthetic, tmp_path):
    # Ground truth [0, 0.1] s against a prediction [0, 0.2] s: in the file's float64 numbers the tIoU is
    # 0.49999999999999994, a miss at 0.5 (as `unav evaluate` counts it); rounded to the float32 copies the model
    # trains on it becomes 0.5, a hit. The per-epoch validation mAP (which picks best.pt) must count the miss.
    from unav.engine.train import Trainer

    ann_path, feats = synthetic
    doc = json.loads(Path(ann_path).read_text())
    val = sorted(v for v, e in doc["database"].items() if e["subset"] == "validation")
    for vid in val[1:]:
        doc["database"][vid]["subset"] = "train"
    target = doc["database"][val[0]]
    label = target["annotations"][0]
    target["annotations"] = [{"segment": [0.0, 0.1], "label": label["label"], "label_id": label["label_id"]}]
    ann_file = tmp_path / "annotations.json"
    write_json(ann_file, doc)
    trainer = Trainer(tiny_cfg(), load_annotations(ann_file), feats, tmp_path / "run", progress=False)
    metrics = trainer.score({val[0]: [{"segment": [0.0, 0.2], "label_id": label["label_id"], "score": 0.9}]})
    assert metrics["num_classes"] == 1
    assert metrics["mAP"][3] == 1.0 and metrics["mAP"][4] == 0.0, metrics["mAP"]   # thresholds 0.4 and 0.5


def test_training_beats_a_shuffled_label_baseline(synthetic, trained, tmp_path):
    ann_path, feats = synthetic
    avg, chance = map_and_chance(trained / "best.pt", ann_path, feats, tmp_path / "pred.json")
    assert avg > 0.35, avg
    assert avg > 2.5 * chance, (avg, chance)


def test_bf16_training_on_cpu_learns_like_fp32(synthetic, trained, tmp_path):
    # train.amp bf16 (autocast; attention kept fp32 on CPU), same data, seed and steps as the fp32 run.
    ann_path, feats = synthetic
    cfg = load_config([CONFIG_DIR / "demo.yaml"],
                      {"train": {"batch_size": 4, "epochs": 10, "warmup_epochs": 1, "amp": "bf16"}})
    train(cfg, load_annotations(ann_path), feats, tmp_path / "bf16", progress=False)
    avg, chance = map_and_chance(tmp_path / "bf16" / "best.pt", ann_path, feats, tmp_path / "pred.json")
    avg32, _ = map_and_chance(trained / "best.pt", ann_path, feats, tmp_path / "pred32.json")
    assert avg > 0.35 and avg > 2.5 * chance, (avg, chance)
    assert abs(avg - avg32) < 0.15, (avg, avg32)


def test_run_directory_contents(trained):
    for name in ("config.yaml", "metrics.jsonl", "last.pt", "best.pt", "training_curves.png"):
        assert (trained / name).is_file(), name
    rows = [json.loads(line) for line in (trained / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in rows] == list(range(1, 12))
    assert {"cls_loss", "reg_loss", "final_loss", "lr", "val_mAP", "val_average_mAP"} <= set(rows[-1])
    ckpt = torch.load(trained / "best.pt", weights_only=True)
    assert {"model", "ema", "optimizer", "scheduler", "epoch", "rng", "config", "classes"} <= set(ckpt)
    assert ckpt["predict_weights"] == "ema"
    assert (trained / "training_curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# Tiny Table 2 baselines (dropout on, so the RNG state matters as it does for stochastic depth).
BASELINES = {"tadtr": {"model": {"arch": "tadtr", "tadtr": {"hidden_dim": 32, "n_heads": 4, "dim_feedforward": 64,
                                                            "input_groups": 8, "dropout": 0.1}}},
             "vsgn": {"model": {"arch": "vsgn", "vsgn": {"hidden_dim": 32, "head_layers": 2}}}}


@pytest.mark.parametrize("arch", ["unav", "tadtr", "vsgn"])
def test_resume_after_a_kill_gives_identical_weights(synthetic, tmp_path, arch):
    ann_path, feats = synthetic
    ann = load_annotations(ann_path)
    from unav.config import deep_merge

    extra = deep_merge({"model": {"droppath": 0.1}, "train": {"eval_every": 0}}, BASELINES.get(arch, {}))
    cfg = tiny_cfg(**extra)   # stochastic depth / dropout: RNG state matters
    train(cfg, ann, feats, tmp_path / "straight")

    class Killed(Exception):
        pass

    def kill_after_two(trainer):
        if trainer.epoch == 2:
            raise Killed

    with pytest.raises(Killed):
        train(cfg, ann, feats, tmp_path / "killed", hooks=(kill_after_two,))
    train(cfg, ann, feats, tmp_path / "killed", resume=True)
    a = torch.load(tmp_path / "straight" / "last.pt", weights_only=True)
    b = torch.load(tmp_path / "killed" / "last.pt", weights_only=True)
    assert a["epoch"] == b["epoch"] == 5
    for key in ("model", "ema"):
        for name, tensor in a[key].items():
            assert torch.equal(tensor, b[key][name]), f"{key}.{name}"


def test_torchrun_two_processes_keep_parameters_synchronised(synthetic, tmp_path):
    ann_path, feats = synthetic
    cfg_path = tmp_path / "cfg.yaml"
    import yaml

    cfg_path.write_text(yaml.safe_dump({**TINY, "train": {"batch_size": 4, "warmup_epochs": 0, "epochs": 1,
                                                          "eval_every": 0}}))
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", "29533",
         "-m", "unav.cli", "train", "--config", str(CONFIG_DIR / "demo.yaml"), "--config", str(cfg_path),
         "--annotations", str(ann_path), "--features", str(feats), "--out-dir", str(tmp_path / "ddp")],
        capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    rep = json.loads((tmp_path / "ddp" / "replicas.json").read_text())
    assert rep["world_size"] == 2 and rep["identical"] is True
    assert rep["checksums"][0] == rep["checksums"][1]
    ckpt = torch.load(tmp_path / "ddp" / "last.pt", weights_only=True)
    assert ckpt["step"] == len(load_annotations(ann_path).split("train")) // 4


def test_long_video_is_predicted_without_a_cap(synthetic, trained, tmp_path):
    """A 10-minute video (1875 rows > 224) gets events after 60 s."""
    ann_path, feats = synthetic
    src = json.loads(Path(ann_path).read_text())
    rows = 1875
    rng = np.random.default_rng(0)
    # Reuse a training video's event pattern: copy its rows over a long noise background, late in the video.
    vid, info = next((v, i) for v, i in src["database"].items() if i["subset"] == "train" and i["annotations"])
    base = {s: np.load(Path(feats) / f"{vid}_{s}.npy") for s in ("rgb", "flow", "vggish")}
    long = {s: rng.standard_normal((rows, a.shape[1])).astype(np.float32) for s, a in base.items()}
    offset = 1500  # rows: 1500 * 0.32 s = 480 s
    n = base["rgb"].shape[0]
    for s in long:
        long[s][offset:offset + n] = base[s]
    for s, a in long.items():
        np.save(Path(feats) / f"longvid_{s}.npy", a)
    (Path(feats) / "longvid.json").write_text((Path(feats) / f"{vid}.json").read_text())
    shift = offset * 0.32
    events = [{**e, "segment": [e["segment"][0] + shift, e["segment"][1] + shift]} for e in info["annotations"]]
    db = {"longvid": {"subset": "test", "duration": rows * 0.32 + 0.6, "annotations": events}}
    for v, i in src["database"].items():
        db[v] = i
    write_json(tmp_path / "ann.json", {"database": db})
    out = tmp_path / "pred.json"
    predict_checkpoint(str(trained / "best.pt"), str(tmp_path / "ann.json"), str(feats), "test", str(out))
    preds = json.loads(out.read_text())["results"]["longvid"]
    late = [p for p in preds if p["segment"][0] > 60 and p["score"] > 0.1]
    assert late, preds[:5]
    assert max(p["segment"][1] for p in preds) <= rows * 0.32 + 0.6
    top = max(preds, key=lambda p: p["score"])
    assert top["segment"][0] > shift - 5


def test_cli_train_predict_evaluate(synthetic, trained, tmp_path, capsys):
    ann_path, feats = synthetic
    pred = tmp_path / "p.json"
    assert main(["predict", "--checkpoint", str(trained / "best.pt"), "--annotations", str(ann_path),
                 "--features", str(feats), "--split", "test", "--out", str(pred), "--device", "cpu"]) == 0
    assert main(["evaluate", "--annotations", str(ann_path), "--predictions", str(pred), "--split", "test",
                 "--out", str(tmp_path / "m.json")]) == 0
    out = capsys.readouterr().out
    assert "Avg" in out
    metrics = json.loads((tmp_path / "m.json").read_text())
    assert metrics["average_mAP"] > 0.3
    # A checkpoint is self-contained: its config and class names come along.
    assert main(["predict", "--checkpoint", str(tmp_path / "missing.pt"), "--annotations", str(ann_path),
                 "--features", str(feats), "--out", str(tmp_path / "x.json")]) == 2
    assert not (tmp_path / "x.json").exists()


@pytest.mark.parametrize("how", ["lr", "features"])
def test_divergence_stops_with_a_clear_error(tmp_path, capsys, how):
    """A diverging run (a huge learning rate, or features scaled by 1e30) stops at the first non-finite loss with
    a message naming the epoch, the step and what to try, exits 2, and leaves no non-finite checkpoint."""
    ann, feats = make_synthetic_dataset(tmp_path / "syn", num_videos=12, num_classes=3, seed=1, max_rows=120)
    overrides = ["model.embd_dim=32", "model.dependency.hidden=8", "model.head.dim=32", "train.batch_size=4",
                 "train.epochs=3", "train.warmup_epochs=0"]
    if how == "lr":
        overrides += ["train.lr=1.0e+6", "train.clip_grad_norm=0"]
    else:
        for f in Path(feats).glob("*.npy"):
            np.save(f, np.load(f) * np.float32(1e30))
    run = tmp_path / "run"
    rc = main(["train", "--config", str(CONFIG_DIR / "demo.yaml"), "--annotations", str(ann), "--features",
               str(feats), "--out-dir", str(run), "--set", *overrides])
    assert rc == 2
    err = capsys.readouterr().err
    assert "training diverged" in err and "epoch" in err and "train.lr" in err
    for name in ("last.pt", "best.pt"):
        if (run / name).is_file():
            ckpt = torch.load(run / name, weights_only=True)
            assert all(torch.isfinite(v).all() for v in ckpt["model"].values() if v.is_floating_point()), name


def test_predict_refuses_non_finite_weights(synthetic, trained, tmp_path, capsys):
    ann_path, feats = synthetic
    ckpt = torch.load(trained / "best.pt", weights_only=True)
    name = next(k for k, v in ckpt["ema"].items() if v.is_floating_point())
    ckpt["ema"][name] = torch.full_like(ckpt["ema"][name], float("nan"))
    torch.save(ckpt, tmp_path / "nan.pt")
    rc = main(["predict", "--checkpoint", str(tmp_path / "nan.pt"), "--annotations", str(ann_path), "--features",
               str(feats), "--out", str(tmp_path / "pred.json"), "--device", "cpu"])
    assert rc == 2
    err = capsys.readouterr().err
    assert "non-finite" in err and name in err
    assert not (tmp_path / "pred.json").exists()


def test_predict_warns_when_ema_weights_are_mostly_initial(synthetic, trained, tmp_path, caplog):
    ann_path, feats = synthetic
    ckpt = torch.load(trained / "best.pt", weights_only=True)
    assert ckpt["config"]["train"]["ema_warmup"] is True
    predict_checkpoint(str(trained / "best.pt"), str(ann_path), str(feats), "test", str(tmp_path / "a.json"),
                       device="cpu")
    assert "EMA weights" not in caplog.text
    ckpt["config"]["train"]["ema_warmup"] = False          # as the release: 0.999^steps of the init remains
    torch.save(ckpt, tmp_path / "no_warmup.pt")
    predict_checkpoint(str(tmp_path / "no_warmup.pt"), str(ann_path), str(feats), "test", str(tmp_path / "b.json"),
                       device="cpu")
    assert "EMA weights of this checkpoint still hold" in caplog.text and "--checkpoint-weights model" in caplog.text
