"""Training loop: AdamW + warm-up/cosine, focal + DIoU losses, model EMA, per-epoch validation mAP, resumable
checkpoints (`last.pt`, `best.pt`), a metrics log and training curves. Multi-process with torchrun (DDP)."""
from __future__ import annotations

import json
import logging
import os
import random
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from torch.utils.data import DataLoader, DistributedSampler

from .. import __version__
from ..config import save_config
from ..data.annotations import Annotations
from ..data.dataset import UnavDataset, collate_fn
from ..data.features import check_provenance
from ..data.targets import assign_targets_batch, make_points
from ..device import resolve_device, warn_if_bf16_emulated
from ..errors import UnavError
from ..io import remove_stale_temporaries, save_torch, write_text
from ..model.checkpoint import FORMAT
from ..model.ema import ModelEma
from ..model.registry import build_model
from ..model.losses import localization_losses
from ..model.optim import make_optimizer, warmup_cosine

log = logging.getLogger("unav.engine.train")


def _rng_state() -> dict:
    np_state = np.random.get_state()
    state = {"torch": torch.get_rng_state(), "numpy": torch.from_numpy(np_state[1].astype(np.int64)),
             "numpy_pos": int(np_state[2]), "python": json.dumps(random.getstate())}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    np.random.set_state(("MT19937", state["numpy"].numpy().astype(np.uint32), int(state["numpy_pos"]), 0, 0.0))
    py = json.loads(state["python"])
    random.setstate((py[0], tuple(py[1]), py[2]))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


class Trainer:
    """One training run: model, EMA, optimizer and schedule, data order, checkpoints and the metrics log.

    Built from a validated config, the annotations and a features folder; `fit()` runs the remaining epochs, so a
    Trainer restored with `resume()` continues exactly where the run stopped. Under torchrun every process holds
    one replica (DistributedDataParallel) and rank 0 writes the run folder."""
    def __init__(self, cfg: dict, annotations: Annotations, feat_dir: str | Path, out_dir: str | Path,
                 progress: bool = True):
        self.cfg, self.ann, self.feat_dir, self.out = cfg, annotations, Path(feat_dir), Path(out_dir)
        self.progress = progress
        self.world = int(os.environ.get("WORLD_SIZE", "1"))
        self.rank = int(os.environ.get("RANK", "0"))
        self.main = self.rank == 0
        self.device = resolve_device(cfg["train"]["device"])
        if self.world > 1:
            if self.device.type == "cuda":
                local = int(os.environ.get("LOCAL_RANK", "0"))
                torch.cuda.set_device(local)
                self.device = torch.device("cuda", local)
            if not dist.is_initialized():
                dist.init_process_group("nccl" if self.device.type == "cuda" else "gloo")
        t = cfg["train"]
        if t["batch_size"] % self.world:
            raise UnavError(f"train.batch_size {t['batch_size']} must be divisible by the {self.world} processes")
        seed = cfg["seed"]
        torch.manual_seed(seed)
        np.random.seed(seed)
        random.seed(seed)

        train_ids = annotations.split("train")
        if not train_ids:
            raise UnavError("the annotation file has no videos in the train split")
        self.provenance = check_provenance(self.feat_dir, train_ids + annotations.split(t["eval_split"]))
        # Loader workers read their items from the feature files (the page cache keeps them); only a loader
        # without workers keeps the arrays in this process.
        self.train_set = UnavDataset(annotations, self.feat_dir, "train", cfg, training=True,
                                     preload=cfg["dataset"]["num_workers"] == 0)
        self.val_set = (UnavDataset(annotations, self.feat_dir, t["eval_split"], cfg, training=False)
                        if t["eval_every"] and annotations.split(t["eval_split"]) else None)
        self.model = build_model(cfg, annotations.num_classes).to(self.device)
        self.ema = ModelEma(self.model, t["ema_decay"], t["ema_warmup"])
        self.net = self.model
        if self.world > 1:
            ids = [self.device.index] if self.device.type == "cuda" else None
            self.net = torch.nn.parallel.DistributedDataParallel(self.model, device_ids=ids)
        if t["compile"] != "none":
            # The localizer's training forward is one graph (tests/model/test_compile.py); its first calls compile
            # it. Checkpoints and the EMA keep using the plain module, so their keys are unchanged.
            log.info("train.compile %s: the first steps compile the model (this takes minutes)", t["compile"])
            self.net = torch.compile(self.net, mode=t["compile"], dynamic=False)
        self.optimizer = make_optimizer(self.model, t["lr"], t["weight_decay"])
        self.bf16 = t["amp"] == "bf16"
        if self.bf16:
            warn_if_bf16_emulated(self.device, "train.amp bf16", "train.amp none")
        self.sampler = (DistributedSampler(self.train_set, self.world, self.rank, shuffle=True, seed=seed,
                                           drop_last=True) if self.world > 1 else None)
        self.loader = self._loader()
        steps_per_epoch = len(self.loader)
        if steps_per_epoch == 0:
            raise UnavError(f"the train split has {len(self.train_set)} videos, fewer than one batch of "
                            f"{t['batch_size']}; lower train.batch_size")
        total_epochs = t["warmup_epochs"] + t["epochs"]
        self.total_epochs = total_epochs
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(
            self.optimizer, warmup_cosine(t["warmup_epochs"] * steps_per_epoch, total_epochs * steps_per_epoch))
        self.loss_normalizer = float(t["init_loss_norm"])
        self.epoch = 0
        self.step = 0
        self.best: dict[str, Any] = {"value": None, "epoch": None}
        self.history: list[dict] = []
        m = cfg["model"]
        self.class_aware = m["class_aware_regression"]
        self.reg_range = m["regression_range"]
        self.epoch_end_hooks: list = []  # called with the trainer after each epoch's checkpoint is written

    def _loader(self) -> DataLoader:
        t, d = self.cfg["train"], self.cfg["dataset"]
        per_rank = t["batch_size"] // self.world
        gen = torch.Generator()
        gen.manual_seed(self.cfg["seed"])
        self._gen = gen
        workers = d["num_workers"]
        return DataLoader(
            self.train_set, batch_size=per_rank, shuffle=self.sampler is None, sampler=self.sampler,
            drop_last=True, generator=gen, num_workers=workers,
            multiprocessing_context=loader_context() if workers else None,
            persistent_workers=False, collate_fn=collate_fn(self.cfg, training=True))

    # ---------------------------------------------------------------- checkpoints
    def checkpoint(self) -> dict:
        """Everything needed to resume (optimizer, schedule, random state) and to predict (config, classes,
        feature provenance), as a plain dict for `torch.save`."""
        return {
            "format": FORMAT, "unav_version": __version__, "config": self.cfg, "classes": self.ann.classes,
            "model": self.model.state_dict(), "ema": self.ema.module.state_dict(), "ema_updates": self.ema.updates,
            "optimizer": self.optimizer.state_dict(), "scheduler": self.scheduler.state_dict(),
            "epoch": self.epoch, "step": self.step, "loss_normalizer": self.loss_normalizer,
            "best": self.best, "history": self.history, "rng": _rng_state(),
            "feature_provenance": self.provenance, "predict_weights": "ema",
        }

    def resume(self, path: Path) -> None:
        """Restore the run from `path` (its last.pt); refuses changed settings and weights of another model."""
        ckpt = read_resume_checkpoint(path)
        changed = config_differences(ckpt["config"], self.cfg, ignore=RESUME_MAY_CHANGE)
        if changed:
            raise UnavError(f"cannot resume {path.parent}: the settings differ from the run's own "
                            f"({'; '.join(changed[:8])}{' …' if len(changed) > 8 else ''}). A resumed run continues "
                            f"with the settings it was trained with, so that its config.yaml describes the model; "
                            f"resume without these changes, or start a new run (another --out-dir, or --force)")
        try:
            self.model.load_state_dict(ckpt["model"])
            self.ema.module.load_state_dict(ckpt["ema"])
            self.optimizer.load_state_dict(ckpt["optimizer"])
            self.scheduler.load_state_dict(ckpt["scheduler"])
        except (RuntimeError, ValueError, KeyError) as err:
            raise UnavError(f"cannot resume from {path}: its weights do not fit the model of this config "
                            f"({str(err).splitlines()[0]}); start a new run with --force") from err
        self.ema.updates = ckpt["ema_updates"]
        self.epoch, self.step = ckpt["epoch"], ckpt["step"]
        self.loss_normalizer = ckpt["loss_normalizer"]
        self.best, self.history = ckpt["best"], ckpt["history"]
        _set_rng_state(ckpt["rng"])
        log.info("resumed from %s at epoch %d (step %d)", path, self.epoch, self.step)

    # ---------------------------------------------------------------- training
    def train_step(self, batch: dict) -> dict[str, float]:
        """One optimizer step on a collated batch: forward, targets, losses, backward, clipping, EMA update.
        Returns the step's loss parts; a non-finite loss stops the run (see `_stop_if_diverged`)."""
        t = self.cfg["train"]
        visual, audio = (None if batch[k] is None else batch[k].to(self.device, non_blocking=True)
                         for k in ("visual", "audio"))
        mask = batch["mask"].to(self.device, non_blocking=True)
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.bf16):
            out = self.net(visual, audio, mask)
        segs = [s.to(self.device) for s in batch["segments"]]
        labels = [lab.to(self.device) for lab in batch["labels"]]
        if hasattr(self.model, "losses"):   # a model with its own objective (model/registry.py)
            losses = self.model.losses(out, segs, labels)
        else:
            losses = self._dense_losses(out, segs, labels)
        self._stop_if_diverged(losses)
        self.optimizer.zero_grad(set_to_none=True)
        losses["final_loss"].backward()
        if t["clip_grad_norm"] > 0:
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), t["clip_grad_norm"])
        self.optimizer.step()
        self.scheduler.step()
        self.ema.update(self.model)
        self.step += 1
        return {k: float(v.detach()) for k, v in losses.items()}

    def _dense_losses(self, out: dict, segs: list[torch.Tensor], labels: list[torch.Tensor]) -> dict[str, torch.Tensor]:
        """The paper's objective: centre-sampling targets per pyramid point, focal + DIoU losses normalised by an
        EMA of the number of positives (averaged over the processes of a torchrun job)."""
        t = self.cfg["train"]
        lengths = [c.shape[1] for c in out["cls_logits"]]
        points = make_points(lengths, out["strides"], self.reg_range, device=self.device)
        cls_t, reg_t = assign_targets_batch(segs, labels, self.model.num_classes, points, self.class_aware)
        num_pos = ((cls_t.sum(-1) > 0) & torch.cat(out["masks"], 1)).sum()
        if self.world > 1:
            dist.all_reduce(num_pos)
            num_pos = num_pos / self.world
        m = t["loss_norm_momentum"]
        self.loss_normalizer = m * self.loss_normalizer + (1 - m) * max(float(num_pos), 1.0)
        return localization_losses([c.float() for c in out["cls_logits"]], [o.float() for o in out["offsets"]],
                                   out["masks"], cls_t, reg_t, self.loss_normalizer, t, self.model.num_classes)

    def _stop_if_diverged(self, losses: dict[str, torch.Tensor]) -> None:
        """Raise at the first non-finite loss, before it reaches the weights (every process agrees, so none of
        a torchrun job waits forever): the last checkpoint written stays the last finite one."""
        finite = torch.isfinite(losses["final_loss"].detach()).to(torch.float32)
        if self.world > 1:
            dist.all_reduce(finite, op=dist.ReduceOp.MIN)
        if bool(finite):
            return
        t = self.cfg["train"]
        parts = ", ".join(f"{k} {float(v.detach()):.4g}" for k, v in losses.items())
        last = self.out / "last.pt"
        kept = (f"the last finite checkpoint is {last} (epoch {self.epoch})" if last.is_file()
                else "no checkpoint was written yet")
        raise UnavError(f"training diverged at epoch {self.epoch + 1}, step {self.step + 1}: non-finite loss ({parts}); "
                        f"{kept}. Start a new run (another --out-dir, or --force to move this one aside) with a lower "
                        f"train.lr (now {t['lr']}) or gradient clipping (train.clip_grad_norm, now "
                        f"{t['clip_grad_norm']}), or check the features for NaN/huge values (`unav check-inputs`)")

    def train_epoch(self) -> dict[str, float]:
        """One pass over the train split in the seeded order of this epoch; returns the mean loss parts."""
        from tqdm import tqdm

        self.net.train()
        if self.sampler is not None:
            self.sampler.set_epoch(self.epoch)
        # The shuffle order of epoch e depends only on (seed, e): a resumed run sees the same batches.
        self._gen.manual_seed(self.cfg["seed"] * 1000 + self.epoch)
        if hasattr(self.train_set, "set_epoch"):
            self.train_set.set_epoch(self.epoch)
        sums: dict[str, float] = {}
        n = 0
        bar = tqdm(self.loader, desc=f"epoch {self.epoch + 1}/{self.total_epochs}",
                   disable=not (self.main and self.progress), leave=False, dynamic_ncols=True)
        for batch in bar:
            parts = self.train_step(batch)
            n += 1
            for k, v in parts.items():
                sums[k] = sums.get(k, 0.0) + v
            bar.set_postfix(loss=f"{parts['final_loss']:.3f}")
        return {k: v / max(n, 1) for k, v in sums.items()}

    def validate(self) -> dict | None:
        """mAP of the EMA weights on `train.eval_split` (None when there is no validation split)."""
        from .infer import predict_dataset

        if self.val_set is None:
            return None
        results = predict_dataset(self.ema.module, self.val_set, self.ann.classes, self.cfg, self.device,
                                  progress=False)
        return self.score(results)

    def score(self, results: dict[str, list[dict]]) -> dict:
        """mAP of `results` on `train.eval_split`, as `unav evaluate` computes it: against the annotation file's
        own numbers (float64), not the float32 copies the model trains on, so a tIoU on a threshold (and with it
        the choice of best.pt) cannot flip."""
        from ..evaluation.metrics import evaluate_detections

        return evaluate_detections(self.ann, results, split=self.cfg["train"]["eval_split"])

    def fit(self) -> dict:
        """Train the remaining epochs; after each, validate, write last.pt (and best.pt when it improved),
        metrics.jsonl and the training curves. Returns the best metric, the epoch count and the run folder."""
        t = self.cfg["train"]
        if self.main:
            self.out.mkdir(parents=True, exist_ok=True)
            save_config(self.cfg, self.out / "config.yaml")
        while self.epoch < self.total_epochs:
            start = time.time()
            losses = self.train_epoch()
            self.epoch += 1
            row: dict[str, Any] = {"epoch": self.epoch, "step": self.step, "lr": self.scheduler.get_last_lr()[0],
                                   "loss_normalizer": self.loss_normalizer, "ema_decay": self.ema.current_decay(),
                                   **losses, "seconds": round(time.time() - start, 2)}
            improved = False
            if self.main and t["eval_every"] and self.epoch % t["eval_every"] == 0:
                metrics = self.validate()
                if metrics is not None:
                    row["val_mAP"] = metrics["mAP"]
                    row["val_average_mAP"] = metrics["average_mAP"]
                    value = metrics[t["select_metric"]]
                    if self.best["value"] is None or value > self.best["value"]:
                        self.best = {"value": value, "epoch": self.epoch, "metric": t["select_metric"]}
                        improved = True
            self.history.append(row)
            if self.main:
                log.info("epoch %d/%d loss %.4f (cls %.4f reg %.4f) lr %.2e%s", self.epoch, self.total_epochs,
                         losses.get("final_loss", float("nan")), losses.get("cls_loss", float("nan")),
                         losses.get("reg_loss", float("nan")), row["lr"],
                         f" val avg mAP {row['val_average_mAP'] * 100:.2f}" if "val_average_mAP" in row else "")
                ckpt = self.checkpoint()
                from ..model.checkpoint import non_finite_tensors

                bad = non_finite_tensors(ckpt["model"])
                if bad:   # a finite loss but a non-finite update (e.g. overflowing gradients): keep the last good file
                    raise UnavError(f"training diverged in epoch {self.epoch}: {len(bad)} weight tensor(s) became "
                                    f"non-finite (e.g. {bad[0]}); {self.out / 'last.pt'} was not overwritten. Try a "
                                    f"lower train.lr (now {t['lr']}) or gradient clipping (train.clip_grad_norm)")
                save_torch(self.out / "last.pt", ckpt)
                if improved or (self.val_set is None and self.epoch == self.total_epochs):
                    save_torch(self.out / "best.pt", ckpt)
                write_text(self.out / "metrics.jsonl", "".join(json.dumps(r) + "\n" for r in self.history))
                from ..views.plots import plot_training_curves

                plot_training_curves(self.history, self.out / "training_curves.png")
            for hook in self.epoch_end_hooks:
                hook(self)
        if self.world > 1:
            self._check_replicas()
        return {"best": self.best, "epochs": self.epoch, "out": str(self.out)}


    def _check_replicas(self) -> None:
        """All processes must end with identical parameters; rank 0 records every rank's checksum."""
        flat = torch.cat([p.detach().float().flatten() for p in self.model.parameters()])
        mine = torch.stack([flat.sum(), (flat * flat).sum(), flat.abs().max()]).double().to(self.device)
        gathered = [torch.zeros_like(mine) for _ in range(self.world)]
        dist.all_gather(gathered, mine)
        sums = [g.cpu().tolist() for g in gathered]
        if self.main:
            from ..io import write_json

            write_json(self.out / "replicas.json", {"world_size": self.world, "checksums": sums,
                                                    "identical": all(s == sums[0] for s in sums)})
        if any(s != sums[0] for s in sums):
            raise RuntimeError(f"parameters differ between processes: {sums}")
        dist.barrier()


RUN_FILES = ("config.yaml", "metrics.jsonl", "last.pt", "best.pt")
RUN_EXTRAS = ("training_curves.png", "replicas.json")
# Settings a resumed run may change: where and how fast it runs, never what it computes.
RESUME_MAY_CHANGE = ("train.device", "dataset.num_workers", "train.log_every", "model.checkpoint_dependency")
RESUME_KEYS = ("format", "config", "model", "ema", "ema_updates", "optimizer", "scheduler", "epoch", "step",
               "loss_normalizer", "best", "history", "rng")


def loader_context():
    """Where DataLoader workers come from: a fork server holding only the data code. Forking the training
    process itself (the default) shares its pages copy-on-write with the workers, so every page the optimizer
    writes while they live is copied first: on a CPU that made each step 2.5x slower. Forking a small server
    costs the same start-up and leaves the training process alone. (A script that calls `train` with
    dataset.num_workers > 0 needs the usual `if __name__ == "__main__":` guard, as on spawn platforms.)"""
    import multiprocessing

    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(["unav.data.dataset"])
    return ctx


def read_resume_checkpoint(path: Path) -> dict:
    """The run's last.pt, or a message saying why it cannot be resumed (never a traceback)."""
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:   # truncated, foreign or damaged files; weights_only never runs code
        raise UnavError(f"cannot resume: {path} could not be read ({type(err).__name__}); unav writes it "
                        f"atomically, so it was damaged or replaced after the run. Restore it, or start anew with "
                        f"--force (moves the run aside)") from err
    missing = [k for k in RESUME_KEYS if not isinstance(ckpt, dict) or k not in ckpt]
    if missing or ckpt.get("format") != FORMAT:
        raise UnavError(f"cannot resume: {path} is not a unav training checkpoint (missing "
                        f"{', '.join(missing) or 'format ' + FORMAT}); start anew with --force")
    return ckpt


def config_differences(old: dict, new: dict, ignore: tuple[str, ...] = (), prefix: str = "") -> list[str]:
    """`key: old -> new` for every dotted key whose value differs between two configs (outside `ignore`)."""
    out = []
    for key in sorted(set(old) | set(new)):
        dotted = f"{prefix}{key}"
        if dotted in ignore:
            continue
        a, b = old.get(key, "<absent>"), new.get(key, "<absent>")
        if isinstance(a, dict) and isinstance(b, dict):
            out += config_differences(a, b, ignore, dotted + ".")
        elif a != b:
            out.append(f"{dotted}: {a!r} -> {b!r}")
    return out


def prepare_run_dir(out_dir: str | Path, resume: bool = False, force: bool = False) -> Path | None:
    """Refuse to start a new run over an existing one (its checkpoints and log would be overwritten): the user
    continues it with `resume`, or `force` moves it aside to `<out>.old-<time>` (never deleted). Returns the
    moved-aside folder, if any. Only the main process of a torchrun job acts (RANK 0)."""
    out = Path(out_dir)
    if resume or int(os.environ.get("RANK", "0")) != 0:
        return None
    found = [name for name in RUN_FILES if (out / name).exists()]
    if not found:
        return None
    if not force:
        raise UnavError(f"run directory {out} already holds a run ({', '.join(found)}): pass --resume to continue "
                        f"it, --force to move it aside (to {out}.old-<time>) and start anew, or choose another "
                        f"--out-dir")
    aside = out.with_name(f"{out.name}.old-{time.strftime('%Y%m%d-%H%M%S')}")
    n = 1
    while aside.exists():
        aside = out.with_name(f"{out.name}.old-{time.strftime('%Y%m%d-%H%M%S')}-{n}")
        n += 1
    out.rename(aside)
    log.warning("moved the existing run %s aside to %s", out, aside)
    return aside


def train(cfg: dict, annotations: Annotations, feat_dir: str | Path, out_dir: str | Path, resume: bool = False,
          hooks: tuple = (), progress: bool = True) -> dict:
    """Train (or with `resume`, continue) the run in `out_dir`; `hooks` are called with the trainer after each
    epoch's checkpoint is written. Half-written files of an interrupted run are removed first."""
    trainer = Trainer(cfg, annotations, feat_dir, out_dir, progress=progress)
    trainer.epoch_end_hooks.extend(hooks)
    last = Path(out_dir) / "last.pt"
    if trainer.main:   # what a killed run left half-written beside its outputs
        for tmp in remove_stale_temporaries(Path(out_dir) / name for name in RUN_FILES + RUN_EXTRAS):
            log.info("removed %s, left half-written by an interrupted run", tmp)
    if resume:
        if last.is_file() or last.exists():
            trainer.resume(last)
        else:
            log.info("no %s yet: starting from scratch", last)
    return trainer.fit()
