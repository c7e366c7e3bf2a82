"""The bf16 speed mode against fp32: the same `unav train` run (same data, seed, steps) at `train.amp` none and
bf16, each predicted and evaluated on the synthetic test split; several seeds show what "within noise" means.

  python benchmarks/bench_amp.py                          # CPU, demo widths, 120 videos, 12 epochs, seeds 1,2
  python benchmarks/bench_amp.py --device cuda --paper    # a GPU at the paper's widths

Prints, per seed and mode: mAP@0.5, average mAP (tIoU 0.1:0.9), the shuffled-label chance level and the training
seconds per iteration; then the bf16 - fp32 difference of each seed beside the spread between the fp32 seeds. On
a CPU without bf16 instructions (AVX-512 BF16 / AMX) bf16 is emulated: the mAP comparison holds, the speed not."""
from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from synthetic_scores import add_budget_options, last_step, test_scores


def run(amp: str, seed: int, ann: Path, feats: Path, work: Path, args) -> dict:
    from unav.config import CONFIG_DIR, load_config
    from unav.data.annotations import load_annotations
    from unav.engine.train import train

    base = [] if args.paper else [CONFIG_DIR / "demo.yaml"]
    cfg = load_config(base, {"seed": seed, "dataset": {"num_workers": 0},
                             "train": {"epochs": args.epochs, "warmup_epochs": 1, "batch_size": args.batch_size,
                                       "eval_every": 0, "lr": args.lr, "device": args.device, "amp": amp,
                                       "log_every": 1000}})
    out = work / f"{amp}-{seed}"
    t0 = time.perf_counter()
    train(cfg, load_annotations(ann), feats, out, progress=False)
    seconds = time.perf_counter() - t0
    steps = last_step(out)
    return {"amp": amp, "seed": seed, **test_scores(out / "last.pt", ann, feats, args.device), "steps": steps,
            "s_per_it": seconds / steps}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_budget_options(ap)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--seeds", default="1,2")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--paper", action="store_true", help="the paper's widths instead of the demo's")
    args = ap.parse_args()

    import torch

    from unav.data.synthetic import make_synthetic_dataset
    from unav.device import cpu_has_bf16

    seeds = [int(s) for s in args.seeds.split(",")]
    with tempfile.TemporaryDirectory(prefix="unav-amp-") as tmp:
        work = Path(tmp)
        ann, feats = make_synthetic_dataset(work / "data", num_videos=args.videos, num_classes=args.classes, seed=0)
        rows = [run(amp, seed, ann, feats, work, args) for seed in seeds for amp in ("none", "bf16")]
    where = (torch.cuda.get_device_name() if args.device.startswith("cuda") else
             f"CPU ({torch.get_num_threads()} threads, bf16 instructions: {'yes' if cpu_has_bf16() else 'no'})")
    print(f"synthetic UnAV-layout features: {args.videos} videos, {args.classes} classes; {args.epochs} epochs + 1 "
          f"warm-up, batch {args.batch_size}, {'paper' if args.paper else 'demo'} widths; {where}")
    print("| seed | train.amp | mAP@0.5 | avg mAP | shuffled labels | steps | s/it |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['seed']} | {r['amp']} | {100 * r['map50']:.1f} | {100 * r['avg']:.1f} | "
              f"{100 * r['chance']:.1f} | {r['steps']} | {r['s_per_it']:.3f} |")
    by = {(r["seed"], r["amp"]): r for r in rows}
    diffs = [100 * (by[s, "bf16"]["avg"] - by[s, "none"]["avg"]) for s in seeds]
    spread = {amp: statistics.pstdev([100 * by[s, amp]["avg"] for s in seeds]) for amp in ("none", "bf16")}
    mean = {amp: statistics.mean([100 * by[s, amp]["avg"] for s in seeds]) for amp in ("none", "bf16")}
    speed = sum(by[s, "bf16"]["s_per_it"] for s in seeds) / sum(by[s, "none"]["s_per_it"] for s in seeds)
    print(f"average mAP over seeds: fp32 {mean['none']:.1f} (sd {spread['none']:.1f}), bf16 {mean['bf16']:.1f} "
          f"(sd {spread['bf16']:.1f}); bf16 - fp32 per seed: {', '.join(f'{d:+.1f}' for d in diffs)} points; "
          f"speed bf16/fp32: {speed:.2f}x")


if __name__ == "__main__":
    main()
