"""Bad inputs to the training side: config files and overrides, train, predict, import-checkpoint, report,
demo and the CLI itself."""
from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import torch
import yaml

from .casebook import Case, Context, both, parametrize, run_case, write

TRAIN = ["train", "--annotations", "{ann}", "--features", "{feats}", "--config", "{config}"]
PREDICT = ["predict", "--checkpoint", "{run}/last.pt", "--annotations", "{ann}", "--features", "{feats}"]


def train_new(*extra: str) -> list[str]:
    return TRAIN + ["--out-dir", "{tmp}/new_run", *extra]


def edit_ckpt(edit, name: str = "ckpt.pt"):
    """A copy of the fixture run's last.pt, changed by `edit(ckpt)`, saved as {tmp}/NAME."""
    def setup(ctx: Context) -> None:
        ckpt = torch.load(ctx.fixtures["run"] / "last.pt", map_location="cpu", weights_only=True)
        edit(ckpt)
        torch.save(ckpt, ctx.tmp / name)
    return setup


def edit_features(edit):
    """Damage one feature file of a per-case copy of the features ({feats_copy}): `edit(folder)`."""
    def setup(ctx: Context) -> None:
        edit(ctx.path("{feats_copy}"))
    return setup


def edit_annotations(edit, name: str = "ann.json"):
    def setup(ctx: Context) -> None:
        data = json.loads(ctx.fixtures["ann"].read_text())
        edit(data["database"])
        (ctx.tmp / name).write_text(json.dumps(data))
    return setup


def first_train_video(feats: Path) -> str:
    return "syn0000"


def set_run_file(name: str, content: bytes | None = None, folder: bool = False):
    def setup(ctx: Context) -> None:
        target = ctx.path("{run}") / name
        target.unlink()
        if folder:
            target.mkdir()
        else:
            target.write_bytes(content or b"")
    return setup


class Evil:
    """A pickle that would run a command when unpickled: weights_only loading must refuse it."""
    def __init__(self, marker: str):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def evil_checkpoint(ctx: Context) -> None:
    torch.save({"model": Evil(str(ctx.tmp / "pwned"))}, ctx.tmp / "evil.pt")


def saved_config(ctx: Context) -> dict:
    return yaml.safe_load((ctx.tmp / "new_run" / "config.yaml").read_text())


def lr_is_float(ctx: Context) -> None:
    assert saved_config(ctx)["train"]["lr"] == 3e-4


def stale_tmp(ctx: Context) -> None:
    (ctx.path("{run}") / ".last.pt.k1ll3d00.tmp.pt").write_bytes(b"half")
    (ctx.path("{run}") / "notes.txt").write_text("mine")


def notes_kept(ctx: Context) -> None:
    assert (ctx.path("{run}") / "notes.txt").read_text() == "mine"
    assert not (ctx.path("{run}") / ".last.pt.k1ll3d00.tmp.pt").exists()


def features_npy(name: str, array: np.ndarray | None = None, raw: bytes | None = None):
    def edit(folder: Path) -> None:
        path = folder / name
        if raw is not None:
            path.write_bytes(raw)
        else:
            np.save(path, array, allow_pickle=True)
    return edit


OBJECT_ARRAY = np.array([{"a": 1}, None], dtype=object)

CASES = [
    # ---- configuration: every key typed and ranged, checked before any work ----
    Case("set-lr-text", train_new("--set", "train.lr=abc"), 2, "train.lr = 'abc'", absent=("{tmp}/new_run",)),
    Case("set-lr-negative", train_new("--set", "train.lr=-1"), 2, "a number > 0", absent=("{tmp}/new_run",)),
    Case("set-lr-nan", train_new("--set", "train.lr=.nan"), 2, "train.lr", absent=("{tmp}/new_run",)),
    Case("set-epochs-zero", train_new("--set", "train.epochs=0"), 2, "train.epochs = 0"),
    Case("set-epochs-negative", train_new("--set", "train.epochs=-1"), 2, "train.epochs = -1"),
    Case("set-epochs-fraction", train_new("--set", "train.epochs=1.5"), 2, "a whole number >= 1"),
    Case("set-batch-zero", train_new("--set", "train.batch_size=0"), 2, "train.batch_size = 0"),
    Case("set-unknown-key", train_new("--set", "train.lrr=1"), 2, "unknown config key 'train.lrr'"),
    Case("set-unknown-section", train_new("--set", "optim.lr=1"), 2, "unknown config key 'optim'"),
    Case("set-without-value", train_new("--set", "train.lr"), 2, "must look like key.sub=value"),
    Case("set-device-name", train_new("--set", "train.device=gpu"), 2, "auto, cpu, cuda or cuda:N"),
    Case("set-device-missing-gpu", train_new("--set", "train.device=cuda:3"), 2, "cuda:3"),
    Case("set-heads-divide-width", train_new("--set", "model.embd_dim=30"), 2, "divisible by model.n_head"),
    Case("set-modality", train_new("--set", "model.modalities=[video]"), 2, "model.modalities"),
    Case("set-fusion", train_new("--set", "model.fusion=sum"), 2, "model.fusion"),
    Case("set-amp-bool", train_new("--set", "train.amp=true"), 2, "train.amp = True"),
    Case("set-workers-negative", train_new("--set", "dataset.num_workers=-1"), 2, "dataset.num_workers"),
    Case("set-ema-decay-one", train_new("--set", "train.ema_decay=1.0"), 2, "a number in [0, 1)"),
    Case("set-seq-len-stride", train_new("--set", "dataset.max_seq_len=100"), 2, "largest pyramid stride"),
    Case("set-regression-ranges", train_new("--set", "model.pyramid_levels=3"), 2, "regression_range"),
    Case("set-section-scalar", train_new("--set", "model=3"), 2, "must be a mapping"),
    Case("set-bool-as-text", train_new("--set", "model.abs_pe=yes please"), 2, "true or false"),
    Case("set-hidden-classes-text", train_new("--set", "model.dependency.hidden_classes=all"), 2,
         "model.dependency.hidden_classes"),
    Case("set-seed-text", train_new("--set", "seed=lucky"), 2, "seed = 'lucky'"),
    Case("config-missing", TRAIN[:-1] + ["{tmp}/nope.yaml", "--out-dir", "{tmp}/new_run"], 2,
         "is not a config known to unav"),
    Case("config-not-yaml", TRAIN[:-1] + ["{tmp}/c.yaml", "--out-dir", "{tmp}/new_run"], 2, "not valid YAML",
         setup=write("c.yaml", "train: [lr: 1\n  epochs")),
    Case("config-a-list", TRAIN[:-1] + ["{tmp}/c.yaml", "--out-dir", "{tmp}/new_run"], 2, "mapping at top level",
         setup=write("c.yaml", "- 1\n- 2\n")),
    Case("config-base-cycle", TRAIN[:-1] + ["{tmp}/a.yaml", "--out-dir", "{tmp}/new_run"], 2,
         "comes back to itself", setup=both(write("a.yaml", "_base_: b.yaml\n"), write("b.yaml", "_base_: a.yaml\n"))),
    Case("config-base-itself", TRAIN[:-1] + ["{tmp}/a.yaml", "--out-dir", "{tmp}/new_run"], 2,
         "comes back to itself", setup=write("a.yaml", "_base_: [a.yaml]\n")),
    Case("config-base-number", TRAIN[:-1] + ["{tmp}/a.yaml", "--out-dir", "{tmp}/new_run"], 2,
         "_base_ must be a file name", setup=write("a.yaml", "_base_: 3\n")),
    Case("config-base-missing", TRAIN[:-1] + ["{tmp}/a.yaml", "--out-dir", "{tmp}/new_run"], 2,
         "not a config known to unav", setup=write("a.yaml", "_base_: gone.yaml\n")),
    Case("config-python-tag", TRAIN[:-1] + ["{tmp}/a.yaml", "--out-dir", "{tmp}/new_run"], 2, "not valid YAML",
         setup=write("a.yaml", "train: !!python/object/apply:os.system ['touch {tmp}/pwned']\n"),
         absent=("{tmp}/pwned",)),
    Case("config-lr-3e-4-is-a-number", train_new("--set", "train.lr=3e-4"), 0, "run dir", check=lr_is_float),
    # ---- train: never over a run, resume only what the run was ----
    Case("train-over-run", TRAIN + ["--out-dir", "{run}"], 2, "already holds a run", unchanged=("{run}",)),
    Case("train-resume-and-force", TRAIN + ["--out-dir", "{run}", "--resume", "--force"], 2, "give one of them",
         unchanged=("{run}",)),
    Case("train-out-is-file", TRAIN + ["--out-dir", "{tmp}/f"], 2, "is a file", setup=write("f", "keep"),
         unchanged=("{tmp}/f",)),
    Case("train-out-below-file", TRAIN + ["--out-dir", "{tmp}/f/run"], 2, "is a file", setup=write("f", "keep"),
         unchanged=("{tmp}/f",)),
    Case("resume-changed-lr", TRAIN + ["--out-dir", "{run}", "--resume", "--set", "train.lr=0.5"], 2,
         "train.lr: 0.001 -> 0.5", unchanged=("{run}",)),
    Case("resume-changed-width", TRAIN + ["--out-dir", "{run}", "--resume", "--set", "model.embd_dim=64"], 2,
         "model.embd_dim: 32 -> 64", unchanged=("{run}",)),
    Case("resume-corrupt-last", TRAIN + ["--out-dir", "{run}", "--resume"], 2, "could not be read",
         setup=set_run_file("last.pt", b"\x00garbage"), unchanged=("{run}",)),
    Case("resume-last-is-folder", TRAIN + ["--out-dir", "{run}", "--resume"], 2, "could not be read",
         setup=set_run_file("last.pt", folder=True), unchanged=("{run}",)),
    Case("resume-foreign-last", TRAIN + ["--out-dir", "{run}", "--resume"], 2, "not a unav training checkpoint",
         setup=lambda ctx: torch.save({"state_dict": {}}, ctx.path("{run}") / "last.pt"), unchanged=("{run}",)),
    Case("resume-removes-stale-temporaries", TRAIN + ["--out-dir", "{run}", "--resume"], 0, "run dir",
         setup=stale_tmp, check=notes_kept),
    Case("train-annotations-missing", ["train", "--annotations", "{tmp}/no.json", "--features", "{feats}",
                                       "--out-dir", "{tmp}/new_run"], 2, "does not exist"),
    Case("train-features-missing", ["train", "--annotations", "{ann}", "--features", "{tmp}/nofeat",
                                    "--config", "{config}", "--out-dir", "{tmp}/new_run"], 2, "have no features in"),
    Case("train-features-text-npy", TRAIN[:4] + ["{feats_copy}"] + TRAIN[5:] + ["--out-dir", "{tmp}/new_run"], 2,
         "not a .npy file", setup=edit_features(features_npy("syn0000_rgb.npy", raw=b"1 2 3\n4 5 6\n"))),
    Case("train-features-object-npy", TRAIN[:4] + ["{feats_copy}"] + TRAIN[5:] + ["--out-dir", "{tmp}/new_run"], 2,
         "holding objects", setup=edit_features(features_npy("syn0001_vggish.npy", OBJECT_ARRAY))),
    Case("train-features-width", TRAIN[:4] + ["{feats_copy}"] + TRAIN[5:] + ["--out-dir", "{tmp}/new_run"], 2,
         "expected [rows, 1024]", setup=edit_features(features_npy("syn0002_flow.npy", np.zeros((50, 1000),
                                                                                              np.float32)))),
    Case("train-features-nan", TRAIN[:4] + ["{feats_copy}"] + TRAIN[5:] + ["--out-dir", "{tmp}/new_run"], 2,
         "NaN or Inf", setup=edit_features(features_npy("syn0003_rgb.npy", np.full((50, 1024), np.nan,
                                                                                   np.float32)))),
    Case("train-features-no-rows", TRAIN[:4] + ["{feats_copy}"] + TRAIN[5:] + ["--out-dir", "{tmp}/new_run"], 2,
         "has no rows", setup=edit_features(features_npy("syn0000_vggish.npy", np.zeros((0, 128), np.float32)))),
    Case("train-no-train-split", ["train", "--annotations", "{tmp}/ann.json", "--features", "{feats}",
                                 "--config", "{config}", "--out-dir", "{tmp}/new_run"], 2, "no videos in the train",
         setup=edit_annotations(lambda db: [v.update(subset="test") for v in db.values()])),
    Case("train-batch-over-split", train_new("--set", "train.batch_size=64"), 2, "fewer than one batch"),
    Case("train-diverges", train_new("--set", "train.lr=1.0e+6", "train.epochs=4", "train.clip_grad_norm=0"), 2,
         "diverged", absent=("{tmp}/new_run/best.pt",)),
    # ---- predict: output and checkpoint checked before work; nothing half-true ----
    Case("predict-out-folder", PREDICT + ["--out", "{tmp}"], 2, "is a folder", unchanged=("{tmp}",)),
    Case("predict-out-below-file", PREDICT + ["--out", "{tmp}/f/p.json"], 2, "is a file",
         setup=write("f", "keep"), unchanged=("{tmp}/f",)),
    Case("predict-batch-negative", PREDICT + ["--out", "{tmp}/p.json", "--batch-size", "-3"], 2,
         "expected an integer >= 1, got -3", absent=("{tmp}/p.json",)),
    Case("predict-batch-zero", PREDICT + ["--out", "{tmp}/p.json", "--batch-size", "0"], 2, "got 0"),
    Case("predict-batch-text", PREDICT + ["--out", "{tmp}/p.json", "--batch-size", "many"], 2, "'many'"),
    Case("predict-device-name", PREDICT + ["--out", "{tmp}/p.json", "--device", "gpu"], 2, "not a device"),
    Case("predict-device-absent-gpu", PREDICT + ["--out", "{tmp}/p.json", "--device", "cuda:1"], 2, "cuda:1",
         absent=("{tmp}/p.json",)),
    Case("predict-split-unknown", PREDICT + ["--out", "{tmp}/p.json", "--split", "tset"], 2,
         "no video has subset 'tset'", absent=("{tmp}/p.json",)),
    Case("predict-ckpt-missing", ["predict", "--checkpoint", "{tmp}/no.pt", "--annotations", "{ann}",
                                  "--features", "{feats}", "--out", "{tmp}/p.json"], 2, "does not exist"),
    Case("predict-ckpt-folder", ["predict", "--checkpoint", "{tmp}", "--annotations", "{ann}",
                                 "--features", "{feats}", "--out", "{tmp}/p.json"], 2, "is a folder"),
    Case("predict-ckpt-text", ["predict", "--checkpoint", "{tmp}/c.pt", "--annotations", "{ann}",
                               "--features", "{feats}", "--out", "{tmp}/p.json"], 2, "could not be read",
         setup=write("c.pt", "not a checkpoint")),
    Case("predict-ckpt-no-config", ["predict", "--checkpoint", "{tmp}/ckpt.pt", "--annotations", "{ann}",
                                    "--features", "{feats}", "--out", "{tmp}/p.json"], 2, "lacks config",
         setup=edit_ckpt(lambda c: c.pop("config"))),
    Case("predict-ckpt-no-classes", ["predict", "--checkpoint", "{tmp}/ckpt.pt", "--annotations", "{ann}",
                                     "--features", "{feats}", "--out", "{tmp}/p.json"], 2, "lacks classes",
         setup=edit_ckpt(lambda c: c.pop("classes"))),
    Case("predict-ckpt-bad-config", ["predict", "--checkpoint", "{tmp}/ckpt.pt", "--annotations", "{ann}",
                                     "--features", "{feats}", "--out", "{tmp}/p.json"], 2,
         "saved config is not a valid unav config", setup=edit_ckpt(lambda c: c["config"]["model"].update(
             embd_dim="wide"))),
    Case("predict-ckpt-nan", ["predict", "--checkpoint", "{tmp}/ckpt.pt", "--annotations", "{ann}",
                              "--features", "{feats}", "--out", "{tmp}/p.json"], 2, "non-finite",
         setup=edit_ckpt(lambda c: next(iter(c["ema"].values())).fill_(float("nan"))), absent=("{tmp}/p.json",)),
    Case("predict-ckpt-foreign", ["predict", "--checkpoint", "{tmp}/ckpt.pt", "--annotations", "{ann}",
                                  "--features", "{feats}", "--out", "{tmp}/p.json"], 2, "not a unav checkpoint",
         setup=lambda ctx: torch.save({"state_dict": {}}, ctx.tmp / "ckpt.pt")),
    Case("predict-ckpt-pickle-code", ["predict", "--checkpoint", "{tmp}/evil.pt", "--annotations", "{ann}",
                                      "--features", "{feats}", "--out", "{tmp}/p.json"], 2, "could not be read",
         setup=evil_checkpoint, absent=("{tmp}/pwned",)),
    Case("predict-ckpt-no-ema", ["predict", "--checkpoint", "{tmp}/ckpt.pt", "--annotations", "{ann}",
                                 "--features", "{feats}", "--out", "{tmp}/p.json", "--checkpoint-weights", "ema"], 2,
         "holds no EMA weights", setup=edit_ckpt(lambda c: c.update(ema=None))),
    Case("predict-other-classes", ["predict", "--checkpoint", "{run}/last.pt", "--annotations", "{tmp}/ann.json",
                                   "--features", "{feats}", "--out", "{tmp}/p.json"], 2, "classes disagree",
         setup=edit_annotations(lambda db: db["syn0000"]["annotations"].append(
             {"segment": [0.0, 1.0], "label": "new_sound", "label_id": 7}))),
    Case("predict-features-other-settings", ["predict", "--checkpoint", "{run}/last.pt", "--annotations", "{ann}",
                                             "--features", "{feats_copy}", "--out", "{tmp}/p.json"], 2,
         "extracted with other settings", setup=edit_features(lambda d: [
             p.write_text(json.dumps({**json.loads(p.read_text()), "settings": {"source": "other"}}))
             for p in d.glob("*.json")])),
    Case("predict-features-from-a-gpu-are-the-same", ["predict", "--checkpoint", "{run}/last.pt", "--annotations",
                                                       "{ann}", "--features", "{feats_copy}", "--out", "{tmp}/p.json"],
         0, "predictions", setup=edit_features(lambda d: [
             p.write_text(json.dumps({**json.loads(p.read_text()), "settings": {
                 **json.loads(p.read_text())["settings"], "device": "cuda", "batch_size": 64}}))
             for p in d.glob("*.json")])),
    Case("predict-over-predictions-folder", PREDICT + ["--out", "{tmp}/preds"], 2, "is a folder",
         setup=write("preds/keep.txt", "mine"), unchanged=("{tmp}/preds",)),
    # ---- import-checkpoint ----
    Case("import-missing", ["import-checkpoint", "{tmp}/no.pth.tar", "--out", "{tmp}/o.pt"], 2, "no.pth.tar"),
    Case("import-text", ["import-checkpoint", "{tmp}/c.pth.tar", "--out", "{tmp}/o.pt"], 2, "c.pth.tar",
         setup=write("c.pth.tar", "hello"), absent=("{tmp}/o.pt",)),
    Case("import-pickle-code", ["import-checkpoint", "{tmp}/evil.pt", "--out", "{tmp}/o.pt"], 2, "evil.pt",
         setup=evil_checkpoint, absent=("{tmp}/pwned", "{tmp}/o.pt")),
    Case("import-wrong-keys", ["import-checkpoint", "{tmp}/w.pth.tar", "--out", "{tmp}/o.pt"], 2, "w.pth.tar",
         setup=lambda ctx: torch.save({"state_dict": {"x": torch.zeros(2)}}, ctx.tmp / "w.pth.tar"),
         absent=("{tmp}/o.pt",)),
    Case("import-out-folder", ["import-checkpoint", "{tmp}/w.pth.tar", "--out", "{tmp}"], 2, "is a folder",
         setup=lambda ctx: torch.save({"state_dict": {}}, ctx.tmp / "w.pth.tar")),
    # ---- report ----
    Case("report-out-dir-file", ["report", "--metrics", "{tmp}/m.json", "--predictions", "{preds}",
                                 "--annotations", "{ann}", "--out-dir", "{tmp}/f"], 2, "is a file",
         setup=both(write("f", "keep"), write("m.json", "{}")), unchanged=("{tmp}/f",)),
    Case("report-metrics-missing", ["report", "--metrics", "{tmp}/m.json", "--predictions", "{preds}",
                                    "--annotations", "{ann}", "--out-dir", "{tmp}/r"], 2, "m.json"),
    Case("report-metrics-not-json", ["report", "--metrics", "{tmp}/m.json", "--predictions", "{preds}",
                                     "--annotations", "{ann}", "--out-dir", "{tmp}/r"], 2, "m.json",
         setup=write("m.json", "{oops")),
    Case("report-timelines-negative", ["report", "--metrics", "{tmp}/m.json", "--predictions", "{preds}",
                                       "--annotations", "{ann}", "--out-dir", "{tmp}/r", "--timelines", "-1"], 2,
         "--timelines", setup=write("m.json", "{}")),
    Case("report-threshold-range", ["report", "--metrics", "{tmp}/m.json", "--predictions", "{preds}",
                                    "--annotations", "{ann}", "--out-dir", "{tmp}/r", "--threshold", "2"], 2,
         "--threshold", setup=write("m.json", "{}")),
    # ---- demo ----
    Case("demo-no-videos", ["demo", "--out-dir", "{tmp}/d", "--videos", "0"], 2, "--videos", absent=("{tmp}/d",)),
    Case("demo-negative-videos", ["demo", "--out-dir", "{tmp}/d", "--videos", "-5"], 2, "--videos"),
    Case("demo-zero-epochs", ["demo", "--out-dir", "{tmp}/d", "--epochs", "0"], 2, "--epochs", absent=("{tmp}/d",)),
    Case("demo-out-is-file", ["demo", "--out-dir", "{tmp}/f"], 2, "is a file", setup=write("f", "keep"),
         unchanged=("{tmp}/f",)),
    # ---- the CLI ----
    Case("cli-unknown-command", ["trian"], 2, "unknown command 'trian'"),
    Case("cli-unknown-option", PREDICT + ["--out", "{tmp}/p.json", "--bacth-size", "2"], 2,
         "unrecognized arguments: --bacth-size"),
    Case("cli-missing-required", ["train", "--annotations", "{ann}"], 2, "required"),
]


@parametrize(CASES)
def test_bad_input(case, ctx, capsys, caplog):
    run_case(case, ctx, capsys, caplog)
