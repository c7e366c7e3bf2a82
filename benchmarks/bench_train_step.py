"""Training-step time and peak memory: unav's localizer vs a literal re-statement of the official release's
math (tests/reference/official_unav.py), same configuration, same machine, one subprocess per measurement.

  python benchmarks/bench_train_step.py                 # the issue's two CPU configurations + batch 16 paper
  python benchmarks/bench_train_step.py --device cuda   # the same on a GPU (adds bf16)
  python benchmarks/bench_train_step.py --device cuda --compile reduce-overhead   # + bf16 and torch.compile

On CUDA the rows come in order of importance (the paper config at batch 16 first), each printed when measured, so
a run stopped at a time limit keeps the figures that matter. A compiled row's step excludes its compilation
(the first calls), which is printed beside it as `compile_s`.

A step = forward + focal/DIoU loss + backward + AdamW update at T = 224 on random features (targets from a
few random events). Peak memory is the process's peak RSS on CPU, torch.cuda.max_memory_allocated on GPU."""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CONFIGS = {
    # name: (overrides, num_classes)
    "paper": ({}, 100),
    "small": ({"model": {"embd_dim": 128, "head": {"dim": 128}, "dependency": {"hidden": 32}}}, 20),
    "small100": ({"model": {"embd_dim": 128, "head": {"dim": 128}, "dependency": {"hidden": 32}}}, 100),
}


def one(impl: str, config: str, batch: int, device: str, steps: int, checkpoint: bool, bf16: bool,
        compile_mode: str = "none") -> dict:
    import torch

    sys.path.insert(0, str(REPO / "tests"))
    from unav.config import deep_merge, load_config
    from unav.data.targets import assign_targets_batch, make_points
    from unav.model.localizer import Localizer
    from unav.model.losses import localization_losses
    from unav.model.optim import make_optimizer

    overrides, num_classes = CONFIGS[config]
    cfg = load_config([], deep_merge(overrides, {"model": {"checkpoint_dependency": checkpoint}}))
    dev = torch.device(device)
    torch.manual_seed(0)
    if impl == "unav":
        model = Localizer(cfg, num_classes)
    else:
        from reference.official_unav import OfficialUnAV

        m = cfg["model"]
        model = OfficialUnAV(num_classes, c=m["embd_dim"], dep_h=m["dependency"]["hidden"])
    model = model.to(dev).train()
    net = model if compile_mode == "none" else torch.compile(model, mode=compile_mode, dynamic=False)
    opt = make_optimizer(model, 1e-4, 1e-4) if impl == "unav" else torch.optim.AdamW(model.parameters(), 1e-4)
    t = 224
    v = torch.randn(batch, 2048, t, device=dev)
    a = torch.randn(batch, 128, t, device=dev)
    mask = torch.ones(batch, t, dtype=torch.bool, device=dev)
    g = torch.Generator().manual_seed(0)
    segs = [torch.sort(torch.rand(3, 2, generator=g) * 200, dim=1).values.to(dev) for _ in range(batch)]
    labels = [torch.randint(0, num_classes, (3,), generator=g).to(dev) for _ in range(batch)]
    strides = [1, 2, 4, 8, 16, 32]
    points = make_points([t // s for s in strides], strides, cfg["model"]["regression_range"], device=dev)
    cls_t, reg_t = assign_targets_batch(segs, labels, num_classes, points, True)

    def step():
        with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=bf16):
            if impl == "unav":
                out = net(v, a, mask)
                cls, off, masks = out["cls_logits"], out["offsets"], out["masks"]
            else:
                cls, off, masks = net(v, a, mask[:, None])
        losses = localization_losses([c.float() for c in cls], [o.float() for o in off], masks, cls_t, reg_t,
                                     100.0, cfg["train"], num_classes)
        opt.zero_grad(set_to_none=True)
        losses["final_loss"].backward()
        opt.step()

    def sync():
        if dev.type == "cuda":
            torch.cuda.synchronize()

    start = time.perf_counter()
    for _ in range(1 if compile_mode == "none" else 3):   # warm-up; compiled: compile, then CUDA-graph recording
        step()
    sync()
    warm_s = time.perf_counter() - start
    if dev.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        step()
        sync()
        times.append(time.perf_counter() - start)
    peak = (torch.cuda.max_memory_allocated() / 2**30 if dev.type == "cuda"
            else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20)
    return {"impl": impl, "config": config, "batch": batch, "device": device, "checkpoint": checkpoint,
            "bf16": bf16, "compile": compile_mode, "step_s": min(times), "peak_gib": round(peak, 2),
            "threads": torch.get_num_threads(), **({} if compile_mode == "none" else {"compile_s": round(warm_s, 1)})}


def measure(impl, config, batch, device, steps, checkpoint=False, bf16=False, mem_limit_gib=None,
            compile_mode="none") -> dict:
    cmd = [sys.executable, __file__, "--one", impl, config, str(batch), device, str(steps),
           str(int(checkpoint)), str(int(bf16)), compile_mode]
    env = dict(os.environ)
    preexec = None
    if mem_limit_gib:
        def preexec():  # refuse allocations past the limit instead of taking the machine down
            lim = int(mem_limit_gib * 2**30)
            resource.setrlimit(resource.RLIMIT_DATA, (lim, lim))
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, preexec_fn=preexec)
    if proc.returncode != 0:
        tail = proc.stderr.strip().splitlines()[-1:] or ["?"]
        return {"impl": impl, "config": config, "batch": batch, "device": device, "checkpoint": checkpoint,
                "bf16": bf16, "compile": compile_mode, "error": tail[0][:160]}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--one", nargs=8, help=argparse.SUPPRESS)
    p.add_argument("--device", default="cpu")
    p.add_argument("--steps", type=int, default=2)
    p.add_argument("--mem-limit-gib", type=float, default=22.0, help="per-measurement memory cap (CPU)")
    p.add_argument("--skip-official", action="store_true")
    p.add_argument("--compile", default="none",
                   help="comma-separated torch.compile modes (train.compile), each two rows of unav at batch 16 "
                        "(bf16, then fp32; paper config on cuda, the small one on cpu); none: no compiled rows")
    args = p.parse_args()
    if args.one:
        impl, config, batch, device, steps, ckpt, bf16, compile_mode = args.one
        print(json.dumps(one(impl, config, int(batch), device, int(steps), bool(int(ckpt)), bool(int(bf16)),
                             compile_mode)))
        return
    lim = args.mem_limit_gib if args.device == "cpu" else None
    impls = ["official", "unav"] if not args.skip_official else ["unav"]
    compiled = [m for m in args.compile.split(",") if m != "none"]
    # (impl, config, batch, steps, checkpointing, bf16, compile), most important first
    plan = []
    if args.device == "cuda":
        plan += [(impl, "paper", 16, args.steps, False, False, "none") for impl in impls]
        plan += [("unav", "paper", 16, args.steps, False, True, "none")]
    # compiled rows at batch 16: the paper config on a GPU, the small one on a CPU (the paper's needs ~38 GB there)
    main_config = "paper" if args.device == "cuda" else "small"
    plan += [("unav", main_config, 16, args.steps, False, bf16, mode) for mode in compiled for bf16 in (True, False)]
    plan += [(impl, config, batch, args.steps, False, False, "none")
             for config, batch in (("paper", 4), ("small", 16)) for impl in impls]
    plan += [("unav", "paper", 16, 1, True, False, "none")]
    rows = []
    for impl, config, batch, steps, ckpt, bf16, mode in plan:
        rows.append(measure(impl, config, batch, args.device, steps, ckpt, bf16, lim, mode))
        print(json.dumps(rows[-1]), flush=True)
    print("\n| config | batch | impl | checkpointing | bf16 | compile | step (s) | peak (GiB) |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        val = f"{r['step_s']:.3f} | {r['peak_gib']}" if "step_s" in r else f"error: {r['error']} | -"
        print(f"| {r['config']} | {r['batch']} | {r['impl']} | {r['checkpoint']} | {r.get('bf16', False)} | "
              f"{r.get('compile', 'none')} | {val} |")


if __name__ == "__main__":
    main()
