"""`unav train`'s own loop, seconds per iteration as it logs them, beside the re-statement of the release's step
(`bench_train_step.py`, tests/reference/official_unav.py) in the same run, at 20 and at 100 classes.

  python benchmarks/bench_train_loop.py                # D 128, dependency width 32, batch 16, T 224, CPU
  python benchmarks/bench_train_loop.py --amp none,bf16   # also the bf16 speed mode (train.amp=bf16)
  python benchmarks/bench_train_loop.py --compile none,default   # also torch.compile (train.compile)
  python benchmarks/bench_train_loop.py --repeats 3     # every measurement 3 times, alternating; median ratio

Each row: synthetic UnAV-layout features (`unav.data.synthetic`, videos of 230-300 rows, so every training
sample is a 224-row crop) with that many classes, `unav train` run as a user runs it (a subprocess; DataLoader
workers, EMA, clipping, checkpoints each epoch, no validation), its s/it taken from the epochs after the first
(`metrics.jsonl`: seconds / steps; 6 steps per epoch by default: an epoch's loader start — workers forked, their
first batches read while the first steps run — is charged to 6 steps here, to about 400 in a UnAV-100 epoch at
batch 16); then the re-statement's fp32 step at the same widths and classes. With
`--amp none,bf16` each class count also gets a row for `train.amp=bf16` (autocast; on a CPU without bf16
instructions it is emulated and slower); with `--compile` each amp row is repeated per train.compile mode (the
first epoch, left out of s/it, then includes the compilation; its time is printed)."""
from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
WIDTHS = ["model.embd_dim=128", "model.head.dim=128", "model.dependency.hidden=32"]
_DATA: dict[int, tuple[Path, Path]] = {}


def loop_seconds_per_iteration(classes: int, amp: str, compile_mode: str, epochs: int, steps_per_epoch: int,
                               work: Path) -> tuple[float, int, float]:
    from unav.data.synthetic import make_synthetic_dataset

    train_videos = 16 * steps_per_epoch
    if classes not in _DATA:  # one dataset per class count, shared by its amp rows
        _DATA[classes] = make_synthetic_dataset(work / f"data{classes}", num_videos=int(train_videos / 0.6) + 1,
                                                num_classes=classes, seed=0, min_rows=230, max_rows=300)
    ann, feats = _DATA[classes]
    run = work / f"run{classes}-{amp}-{compile_mode}"
    cmd = [sys.executable, "-m", "unav.cli", "train", "--annotations", str(ann), "--features", str(feats),
           "--out-dir", str(run), "--device", "cpu", "--batch-size", "16", "--epochs", str(epochs), "--no-progress",
           "-q", "--set", "train.warmup_epochs=0", "train.eval_every=0", f"train.amp={amp}",
           f"train.compile={compile_mode}",
           *WIDTHS]
    subprocess.run(cmd, check=True)
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    later = rows[1:] or rows
    steps = [b["step"] - a["step"] for a, b in zip(rows, rows[1:])] or [rows[0]["step"]]
    shutil.rmtree(run)   # a repeat trains this row again from scratch
    return sum(r["seconds"] for r in later) / sum(steps), rows[-1]["step"], rows[0]["seconds"]


def restated_step(classes: int, steps: int) -> float:
    config = {20: "small", 100: "small100"}[classes]
    out = subprocess.run([sys.executable, str(HERE / "bench_train_step.py"), "--one", "official", config, "16", "cpu",
                          str(steps), "0", "0", "none"], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])["step_s"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--steps-per-epoch", type=int, default=6)
    ap.add_argument("--classes", default="20,100")
    ap.add_argument("--amp", default="none", help="comma-separated train.amp values, each a row")
    ap.add_argument("--compile", default="none", help="comma-separated train.compile values, each a row per amp")
    ap.add_argument("--repeats", type=int, default=1,
                    help="measure every row and the re-statement this many times, alternating, and summarise the "
                         "ratios (a shared host drifts by 10-20 %% between minutes)")
    args = ap.parse_args()
    rows = []   # [repeat, classes, mode, unav s/it, re-stated s]
    with tempfile.TemporaryDirectory(prefix="unav-loop-") as tmp:
        for repeat in range(1, args.repeats + 1):
            for classes in (int(c) for c in args.classes.split(",")):
                mine = []
                for amp in args.amp.split(","):
                    for mode in args.compile.split(","):
                        loop, total, first = loop_seconds_per_iteration(classes, amp, mode, args.epochs,
                                                                        args.steps_per_epoch, Path(tmp))
                        print(f"[{repeat}] {classes} classes, amp {amp}, compile {mode}: unav train {loop:.2f} s/it "
                              f"({total} iterations; first epoch {first:.0f} s)", flush=True)
                        mine.append([repeat, classes, f"{amp}" + ("" if mode == "none" else f", compile {mode}"),
                                     loop])
                ref = restated_step(classes, args.steps_per_epoch)
                print(f"[{repeat}] {classes} classes: re-stated step (fp32) {ref:.2f} s", flush=True)
                rows += [row + [ref] for row in mine]
    print("\n| run | classes | `unav train` amp (, compile) | `unav train` s/it | re-stated fp32 step s | ratio |")
    print("|---|---|---|---|---|---|")
    for repeat, classes, mode, loop, ref in rows:
        print(f"| {repeat} | {classes} | {mode} | {loop:.2f} | {ref:.2f} | {loop / ref:.2f}x |")
    if args.repeats > 1:
        print("\n| classes | `unav train` amp (, compile) | ratio, median (range) over runs |")
        print("|---|---|---|")
        for key in dict.fromkeys((classes, mode) for _, classes, mode, _, _ in rows):
            ratios = sorted(loop / ref for _, c, m, loop, ref in rows if (c, m) == key)
            print(f"| {key[0]} | {key[1]} | {statistics.median(ratios):.2f}x ({ratios[0]:.2f}-{ratios[-1]:.2f}) |")


if __name__ == "__main__":
    main()
