"""Inference over a dataset split: model outputs -> decode + Soft-NMS -> seconds -> predictions.json entries."""
from __future__ import annotations

import torch
from torch.utils.data import DataLoader

from ..data.dataset import UnavDataset, collate_fn
from ..evaluation.postprocess import decode_video, grid_to_seconds, to_results


@torch.no_grad()
def predict_dataset(model: torch.nn.Module, dataset: UnavDataset, classes: list[str], cfg: dict,
                    device: torch.device | str = "cpu", progress: bool = True) -> dict[str, list[dict]]:
    """Predictions of every video of `dataset` ({video id: [entries]}); no cap on video length."""
    from tqdm import tqdm

    was_training = model.training
    model.eval()
    loader = DataLoader(dataset, batch_size=cfg["test"]["batch_size"], shuffle=False, num_workers=0,
                        collate_fn=collate_fn(cfg, training=False))
    results: dict[str, list[dict]] = {}
    for batch in tqdm(loader, desc="predict", disable=not progress, dynamic_ncols=True):
        results.update(predict_batch(model, batch, classes, cfg["test"], device))
    model.train(was_training)
    return results


def predict_batch(model: torch.nn.Module, batch: dict, classes: list[str], test_cfg: dict,
                  device: torch.device | str) -> dict[str, list[dict]]:
    """One collated batch (`data.dataset.collate`) -> {video id: prediction entries}: the model's outputs decoded
    and Soft-NMS'ed per video, then mapped from the feature grid to seconds. Gradients are the caller's choice."""
    visual, audio = (None if batch[k] is None else batch[k].to(device) for k in ("visual", "audio"))
    out = model(visual, audio, batch["mask"].to(device))  # visual [B, Cv, T], audio [B, 128, T], mask [B, T]
    results: dict[str, list[dict]] = {}
    own_decoder = getattr(model, "decode", None)   # a model with its own decoding (model/registry.py)
    for i, vid in enumerate(batch["video_id"]):
        if own_decoder is not None:
            segs, scores, labels = (x.cpu() for x in own_decoder(out, i, test_cfg))
        else:
            segs, scores, labels = decode_video(
                [c[i].float().cpu() for c in out["cls_logits"]], [o[i].float().cpu() for o in out["offsets"]],
                [m[i].cpu() for m in out["masks"]], out["strides"], test_cfg)
        secs = grid_to_seconds(segs, batch["fps"][i], batch["feat_stride"][i], batch["num_frames"][i],
                               batch["duration"][i])
        results[vid] = to_results(secs, scores, labels, classes)
    return results


def predict_checkpoint(checkpoint: str, annotations: str, features: str, split: str, out: str,
                       device: str = "auto", weights: str = "auto", batch_size: int | None = None,
                       progress: bool = True) -> dict:
    """Load a checkpoint (its own config and classes), predict a split, write predictions.json atomically."""
    import copy

    from .. import __version__
    from ..data.annotations import load_annotations
    from ..errors import UnavError
    from ..io import write_json
    from ..model.checkpoint import load_model
    from ..device import resolve_device

    ckpt, model, which = load_model(checkpoint, weights)
    cfg = copy.deepcopy(ckpt["config"])
    if batch_size:
        cfg["test"]["batch_size"] = batch_size
    ann = load_annotations(annotations)
    if not ann.split(split):
        raise UnavError(f"{annotations}: no video has subset {split!r} (subsets here: "
                        f"{', '.join(ann.subsets) or 'none'}); choose one of them with --split")
    conflicts = ann.class_conflicts(list(ckpt["classes"]))
    if conflicts:
        more = f" (and {len(conflicts) - 3} more)" if len(conflicts) > 3 else ""
        raise UnavError(f"{annotations}: its classes disagree with the {len(ckpt['classes'])} classes checkpoint "
                        f"{checkpoint} was trained on: {'; '.join(conflicts[:3])}{more}")
    dev = resolve_device(device)
    dataset = UnavDataset(ann, features, split, cfg, training=False)
    from ..data.features import recorded_settings_of
    from ..features.provenance import differing_settings

    expected = recorded_settings_of(ckpt.get("feature_provenance"))
    # Settings recorded on both sides must agree (not how they ran: device, batch size); a named provenance
    # (the released features) is checked by detect.
    if isinstance(expected, dict) and isinstance(dataset.provenance, dict):
        diff = differing_settings(expected, dataset.provenance)
        if diff:
            detail = ", ".join(f"{k} {dataset.provenance.get(k)!r} (checkpoint: {expected.get(k)!r})" for k in diff[:6])
            raise UnavError(f"features in {features} were extracted with other settings than checkpoint "
                            f"{checkpoint} was trained on: {detail}; re-extract them with the checkpoint's settings")
    results = predict_dataset(model.to(dev), dataset, list(ckpt["classes"]), cfg, dev, progress=progress)
    meta = {"unav_version": __version__, "checkpoint": str(checkpoint), "weights": which, "split": split,
            "feature_provenance": dataset.provenance, "config": cfg["test"]}
    write_json(out, {"version": "unav-predictions-v1", "results": results, "external_data": {}, "meta": meta})
    return {"videos": len(results), "predictions": sum(len(v) for v in results.values()), "weights": which}
