"""VSGN (Zhao et al., "Video Self-Stitching Graph Network for Temporal Action Localization", ICCV 2021) as a
Table 2 baseline of UnAV (CVPR 2023): audio and visual features concatenated at the input (V 2048 ‖ A 128 =
2176 channels, the order of the ActionFormer-style concat baseline), xGPN (pyramid.py, graph.py), anchor heads on
the encoder and decoder levels, boundary adjustment, and the three-stage anchor losses (official Loss.py):

- stage 0 (encoder): focal loss on anchors matched to events at IoU >= iou_thresholds[0], GIoU of the decoded
  encoder boxes on the positives;
- stage 1 (decoder): regression targets from the anchors at iou_thresholds[1]; classification targets from the
  decoder's own predicted boxes (IoU >= iou_thresholds[1]), so its scores rank boxes by their localisation;
- stage 2 (boundary adjustment): GIoU of the adjusted boxes, positives where the decoder box matches an event at
  IoU >= iou_thresholds[2].
Each part is normalised by its number of positive anchors in the batch (as released), weighted by
`loss_weights`. Inference: decoder scores (sigmoid) with the boundary-adjusted boxes, then unav's Soft-NMS.

Choices where the papers and the release are silent or do not fit UnAV:
- multi-class sigmoid classification over the UnAV classes on every anchor (the ActivityNet release predicts
  one "action" class and borrows video labels from an external classifier; its THUMOS setting is multi-class);
  an anchor is positive for every class of the events it matches (UnAV events of different classes coincide);
- coordinates in feature rows of 0.32 s; anchor lengths stride * {3, 7.5} over strides 2..32 (the ActivityNet
  layout of OpenTAD's VSGN config) cover 6 .. 240 rows (1.9 s .. 77 s) of the 224-row training window;
- stitch_gap 5 rows (the released 30 of 1280 rows, scaled to the 224-row window); see stitching.py for what
  of self-stitching applies to already extracted features;
- box coding weights (10, 5) of maskrcnn-benchmark, which the release builds on;
- the decoder classifier's bias starts at the focal prior 0.01; GroupNorm statistics skip padding rows;
- the release's auxiliary actionness/start/end heads (used to rescore ActivityNet proposals) are left out.
Inputs of any length are padded here to a multiple of the largest stride; masking everywhere (convs, pooling,
GroupNorm, k-NN) keeps a video's outputs independent of the padding and of the other videos of a batch."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ...errors import UnavError
from ...evaluation.nms import batched_nms, single_threaded
from ..inputs import concat_modalities, concatenated
from ..losses import sigmoid_focal_loss
from .anchors import assign, decode, giou_loss_1d, make_anchors, pad_targets
from .heads import BoundaryAdjust, Head
from .pyramid import XGPN
from .stitching import stitch, stitch_targets

LOSS_PARTS = ("cls_enc", "reg_enc", "cls_dec", "reg_dec", "reg_bd")


class VSGN(nn.Module):
    def __init__(self, cfg: dict, num_classes: int):
        super().__init__()
        v = cfg["model"].get("vsgn")
        if not isinstance(v, dict):
            raise UnavError("model.arch vsgn needs the model.vsgn settings (see configs/defaults.yaml)")
        self.cfg = v
        self.num_classes = num_classes
        self.modalities, in_dim = concat_modalities(cfg)
        dim = int(v["hidden_dim"])
        self.strides = [int(s) for s in v["strides"]]
        self.scales = [float(s) for s in v["anchor_scales"]]
        self.box_weights = tuple(float(w) for w in v["box_weights"])
        if len(v["iou_thresholds"]) != 3 or len(v["loss_weights"]) != len(LOSS_PARTS):
            raise UnavError("model.vsgn.iou_thresholds needs 3 values and model.vsgn.loss_weights 5")
        self.xgpn = XGPN(in_dim, dim, self.strides, int(v["num_neighbors"]))
        self.head_enc = Head(dim, len(self.scales), num_classes, int(v["head_layers"]), float(v["prior_prob"]))
        self.head_dec = Head(dim, len(self.scales), num_classes, int(v["head_layers"]), float(v["prior_prob"]))
        self.boundary = BoundaryAdjust(dim, self.strides[0], float(v["boundary_beta"]))

    def _inputs(self, visual: torch.Tensor | None, audio: torch.Tensor | None) -> torch.Tensor:
        return concatenated(visual, audio, self.modalities, "VSGN")                  # [B, C_in, T]

    def forward(self, visual: torch.Tensor | None, audio: torch.Tensor | None, mask: torch.Tensor) -> dict:
        """visual [B, Cv, T], audio [B, 128, T], mask [B, T] bool -> {"anchors" [A, 2], "anchor_mask" [B, A],
        "cls_enc"/"cls_dec" [B, A, K] logits, "reg_enc"/"reg_dec" [B, A, 2] deltas, "boxes_dec"/"boxes" [B, A, 2]
        decoder / boundary-adjusted boxes (grid rows), "lengths" [B], "stitch" (training) }."""
        x = self._inputs(visual, audio)
        b, _, t = x.shape
        pad = -t % self.strides[-1]
        x = F.pad(x, (0, pad))
        mask = F.pad(mask, (0, pad))
        x = x * mask[:, None].to(x.dtype)
        lengths = mask.sum(1)
        info = None
        if self.training and self.cfg["stitching"]:
            x, mask, part, info = stitch(x, mask, float(self.cfg["short_ratio"]), int(self.cfg["stitch_gap"]))
        else:
            part = torch.where(mask, 0, -1)
        enc, dec, masks = self.xgpn(x, mask, part)
        cls_enc, reg_enc = self.head_enc(enc, masks)
        cls_dec, reg_dec = self.head_dec(dec, masks)
        anchors = make_anchors([m.shape[1] for m in masks], self.strides, self.scales, x.device)   # [A, 2]
        s = len(self.scales)
        anchor_mask = torch.cat([m.repeat_interleave(s, 1) for m in masks], 1)                   # [B, A]
        boxes_dec = decode(reg_dec, anchors[None], self.box_weights)                             # [B, A, 2]
        offsets = self.boundary(boxes_dec.detach(), dec[0], masks[0])                            # [B, A, 2]
        return {"anchors": anchors, "anchor_mask": anchor_mask, "cls_enc": cls_enc, "reg_enc": reg_enc,
                "cls_dec": cls_dec, "reg_dec": reg_dec, "boxes_dec": boxes_dec, "boxes": boxes_dec + offsets,
                "lengths": lengths, "stitch": info}

    def losses(self, out: dict, segments: list[torch.Tensor], labels: list[torch.Tensor]) -> dict[str, torch.Tensor]:
        """Three-stage anchor losses (module docstring); segments per video [N_i, 2] grid rows, labels [N_i]."""
        segments, labels = stitch_targets(segments, labels, out.get("stitch"))
        anchors, amask = out["anchors"], out["anchor_mask"]
        b = amask.shape[0]
        gts, glabels, gvalid = pad_targets(segments, labels, amask.device)
        thr = [float(x) for x in self.cfg["iou_thresholds"]]
        alpha, gamma = float(self.cfg["focal_alpha"]), float(self.cfg["focal_gamma"])
        base = anchors[None].expand(b, -1, -1)                                                # [B, A, 2]
        k = self.num_classes

        def cls_loss(logits, boxes, threshold):
            cls_t, _, pos = assign(boxes, amask, gts, glabels, gvalid, threshold, k)
            n = pos.sum().clamp(min=1)
            return sigmoid_focal_loss(logits.float()[amask], cls_t[amask], alpha, gamma) / n

        def reg_loss(pred_boxes, boxes, threshold):
            _, matched, pos = assign(boxes, amask, gts, glabels, gvalid, threshold, k)
            n = pos.sum().clamp(min=1)
            return giou_loss_1d(pred_boxes.float()[pos], matched[pos]) / n

        w = self.box_weights
        parts = {
            "cls_enc": cls_loss(out["cls_enc"], base, thr[0]),
            "reg_enc": reg_loss(decode(out["reg_enc"].float(), base, w), base, thr[0]),
            "cls_dec": cls_loss(out["cls_dec"], out["boxes_dec"].detach().float(), thr[1]),
            "reg_dec": reg_loss(out["boxes_dec"].float(), base, thr[1]),
            "reg_bd": reg_loss(out["boxes"].float(), out["boxes_dec"].detach().float(), thr[2]),
        }
        weights = dict(zip(LOSS_PARTS, (float(x) for x in self.cfg["loss_weights"])))
        parts["final_loss"] = sum(weights[name] * parts[name] for name in LOSS_PARTS)
        return parts

    @torch.no_grad()
    def decode(self, out: dict, index: int, test_cfg: dict) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Video `index` -> (segments [N, 2] grid rows, scores [N], labels [N]) after unav's (Soft-)NMS."""
        valid = out["anchor_mask"][index]                                               # [A]
        probs = torch.sigmoid(out["cls_dec"][index].float()) * valid[:, None]          # [A, K]
        boxes = out["boxes"][index].float()
        n = float(out["lengths"][index])
        boxes = torch.stack([torch.minimum(boxes[:, 0], boxes[:, 1]), torch.maximum(boxes[:, 0], boxes[:, 1])], -1)
        boxes = boxes.clamp(min=0.0, max=n)                                             # [A, 2] inside the video
        flat = probs.reshape(-1)                                                        # [A*K] = anchor * K + class
        idx = (flat > float(test_cfg.get("pre_nms_thresh", 0.001))).nonzero().view(-1)
        scores = flat[idx]
        topk = min(int(test_cfg.get("pre_nms_topk", 2000)), idx.numel())
        scores, order = scores.topk(topk)
        idx = idx[order]
        segs = boxes[torch.div(idx, self.num_classes, rounding_mode="floor")]
        labels = idx % self.num_classes
        keep = (segs[:, 1] - segs[:, 0]) > float(test_cfg.get("duration_thresh", 0.05))
        segs, scores, labels = segs[keep].cpu(), scores[keep].cpu(), labels[keep].cpu()
        with single_threaded():
            return batched_nms(segs, scores, labels, method=str(test_cfg.get("nms_method", "soft")),
                               iou_threshold=float(test_cfg.get("iou_threshold", 0.7)),
                               min_score=float(test_cfg.get("min_score", 0.001)),
                               max_seg_num=int(test_cfg.get("max_seg_num", 100)),
                               sigma=float(test_cfg.get("nms_sigma", 0.4)),
                               multiclass=bool(test_cfg.get("multiclass_nms", True)),
                               voting_thresh=float(test_cfg.get("voting_thresh") or 0.0))
