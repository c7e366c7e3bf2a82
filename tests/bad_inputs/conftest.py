"""Small real inputs for the bad-input case book, built once per session: synthetic features with their
annotation file, a tiny trained run and its predictions, short lavfi videos with sound, a tiny config."""
from __future__ import annotations

from pathlib import Path

import pytest

from .casebook import Context

TINY_CONFIG = """\
_base_: demo.yaml
model: {embd_dim: 32, n_head: 4, dependency: {hidden: 8}, head: {dim: 32}}
train: {batch_size: 4, warmup_epochs: 0, epochs: 1, eval_every: 0}
"""


def _clip(path: Path, seconds: float) -> Path:
    from unav.media.ffmpeg import run_ffmpeg

    run_ffmpeg(["-y", "-v", "error", "-f", "lavfi", "-i", f"testsrc=size=64x48:rate=25:duration={seconds}",
                "-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=16000:duration={seconds}",
                "-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest", str(path)])
    return path


@pytest.fixture(scope="session")
def bad_fixtures(tmp_path_factory) -> dict[str, Path]:
    from unav.config import CONFIG_DIR, load_config
    from unav.data.annotations import load_annotations
    from unav.data.synthetic import make_synthetic_dataset
    from unav.engine.infer import predict_checkpoint
    from unav.engine.train import train

    root = tmp_path_factory.mktemp("bad_inputs")
    ann, feats = make_synthetic_dataset(root / "data", num_videos=12, num_classes=3, seed=5, min_rows=40,
                                        max_rows=120)
    config = root / "tiny.yaml"
    config.write_text(TINY_CONFIG.replace("demo.yaml", str(CONFIG_DIR / "demo.yaml")))
    run = root / "run"
    train(load_config([config]), load_annotations(ann), feats, run)
    preds = root / "predictions.json"
    predict_checkpoint(str(run / "last.pt"), str(ann), str(feats), "test", str(preds), device="cpu")
    media = root / "media"
    media.mkdir()
    return {"ann": ann, "feats": feats, "config": config, "run": run, "preds": preds,
            "video": _clip(media / "clip.mp4", 3.0), "short_video": _clip(media / "short.mp4", 0.5),
            "ann_copy": ann, "feats_copy": feats, "video_copy": media / "clip.mp4"}


@pytest.fixture
def ctx(bad_fixtures: dict[str, Path], tmp_path: Path) -> Context:
    work = tmp_path / "case"
    work.mkdir()
    return Context(tmp=work, fixtures=bad_fixtures)
