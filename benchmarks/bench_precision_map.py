"""What the extractor's precision does to detection: synthetic videos whose events are seen and heard
(`unav demo-videos`), extracted at fp32 and at each other precision with the workflow's offline settings, then
  * a localizer trained on the fp32 features tested on each precision's test features (a checkpoint trained on
    the released fp32 features, run on videos extracted at bf16), and
  * a localizer trained and tested on that precision's features.

  python benchmarks/bench_precision_map.py                    # CPU: fp32 vs bf16, 100 videos, DIS flow, crop 32
  python benchmarks/bench_precision_map.py --device cuda --precisions fp32,tf32,bf16

Each training runs at every seed of --seeds, so the rows show the seed spread beside the precision's effect.
Extraction as the demo workflow runs it (DIS "ultrafast" flow, shorter side 40, crop 32, seeded random I3D and
VGGish weights: what precision changes is the I3D and VGGish forwards; RAFT's share is measured on real clips by
bench_precision.py). Training: the workflow's demo preset (resources/presets/demo_train.yaml), same seed for
every row. Prints the features' relative L2 deviation from fp32 per stream and the test split's mAP@0.5 and
average mAP (tIoU 0.1:0.9) per row, beside the shuffled-label chance level."""
from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import numpy as np

from synthetic_scores import test_scores

REPO = Path(__file__).resolve().parents[1]
STREAMS = ("rgb", "flow", "vggish")


def extract(videos: list[Path], out: Path, precision: str, device: str) -> Path:
    from unav.features.extract import extract_videos
    from unav.features.settings import ExtractSettings

    settings = ExtractSettings(device=device, batch_size=16, flow_method="dis", dis_preset="ultrafast", crop=32,
                               min_side=40, precision=precision, progress=False)
    result = extract_videos(videos, out, settings)
    if result.failed:
        raise SystemExit(f"extraction failed: {result.failed}")
    return out


def deviation(feats: Path, ref: Path, ids: list[str], stream: str) -> float:
    """sqrt(sum |x - x_fp32|^2 / sum |x_fp32|^2) over every row of every video."""
    num = den = 0.0
    for vid in ids:
        x = np.load(feats / f"{vid}_{stream}.npy").astype(np.float64)
        r = np.load(ref / f"{vid}_{stream}.npy").astype(np.float64)
        num += float(np.sum((x - r) ** 2))
        den += float(np.sum(r ** 2))
    return (num / den) ** 0.5


def trained(ann: Path, feats: Path, out: Path, seed: int, device: str) -> Path:
    from unav.config import load_config
    from unav.data.annotations import load_annotations
    from unav.engine.train import train

    cfg = load_config([REPO / "resources" / "presets" / "demo_train.yaml"],
                      {"seed": seed, "dataset": {"num_workers": 0},
                       "train": {"eval_every": 0, "device": device, "log_every": 1000}})
    train(cfg, load_annotations(ann), feats, out, progress=False)
    return out / "last.pt"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--videos", type=int, default=100)
    ap.add_argument("--precisions", default="fp32,bf16", help="comma-separated; fp32 is always the reference")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--seeds", default="0,1", help="training seeds (the videos are always seed 0)")
    args = ap.parse_args()

    import statistics

    import torch

    from unav.media.synthetic_videos import make_demo_videos

    precisions = ["fp32"] + [p for p in args.precisions.split(",") if p != "fp32"]
    seeds = [int(x) for x in args.seeds.split(",")]
    with tempfile.TemporaryDirectory(prefix="unav-precision-map-") as tmp:
        work = Path(tmp)
        make_demo_videos(work / "demo", num=args.videos, seed=0, min_s=8.0, max_s=14.0)
        ann = work / "demo" / "annotations.json"
        videos = sorted((work / "demo" / "videos").glob("*.mp4"))
        ids = [v.stem for v in videos]
        feats = {p: extract(videos, work / f"features-{p}", p, args.device) for p in precisions}
        tests = sum(v["subset"] == "test" for v in json.loads(ann.read_text())["database"].values())
        where = torch.cuda.get_device_name() if args.device.startswith("cuda") else "CPU"
        print(f"{len(videos)} synthetic demo videos ({tests} test), DIS flow, crop 32, random extractor weights, "
              f"{where}; training seeds {args.seeds}")
        print("| test features | rel. L2 vs fp32 (rgb / flow / vggish) | trained on | mAP@0.5 | avg mAP per seed | "
              "mean avg mAP | shuffled labels |")
        print("|---|---|---|---|---|---|---|")
        runs = {(p, seed): trained(ann, feats[p], work / f"run-{p}-{seed}", seed, args.device)
                for p in precisions for seed in seeds}
        for p in precisions:
            dev = " / ".join(f"{deviation(feats[p], feats['fp32'], ids, s):.1e}" for s in STREAMS)
            for trained_on in dict.fromkeys(["fp32", p]):
                m = [test_scores(runs[trained_on, seed], ann, feats[p], args.device) for seed in seeds]
                cells = {k: [100 * x[k] for x in m] for k in ("map50", "avg", "chance")}
                print(f"| {p} | {dev} | {trained_on} | {' / '.join(f'{v:.1f}' for v in cells['map50'])} | "
                      f"{' / '.join(f'{v:.1f}' for v in cells['avg'])} | {statistics.mean(cells['avg']):.1f} | "
                      f"{statistics.mean(cells['chance']):.1f} |", flush=True)

if __name__ == "__main__":
    main()
