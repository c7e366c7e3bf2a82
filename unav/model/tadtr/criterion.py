"""TadTR's set criterion: Hungarian matching per decoder layer, sigmoid focal classification loss over all
queries, L1 + (1 - IoU) segment losses on the matched queries (normalised by the number of events), and the
actionness regression (L1 between the predicted actionness and each query's best IoU with any event)."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from ..losses import sigmoid_focal_loss
from .matcher import hungarian_match
from .segments import cw_to_se, pairwise_iou, paired_iou, se_to_cw


def normalised_targets(segments: list[torch.Tensor], lengths: torch.Tensor) -> list[torch.Tensor]:
    """Grid-row (start, end) per video -> (centre, width) in [0, 1] of the video's valid length L.

    Grid row i is the centre of row i, so the sequence spans [-0.5, L - 0.5]: x -> (x + 0.5) / L."""
    return [se_to_cw(((s.float() + 0.5) / lengths[b]).clamp(0.0, 1.0)) for b, s in enumerate(segments)]


class SetCriterion:
    def __init__(self, num_classes: int, settings: dict):
        self.num_classes = num_classes
        self.s = settings

    def _layer_losses(self, logits: torch.Tensor, pred: torch.Tensor, labels: list[torch.Tensor],
                      targets: list[torch.Tensor], num: float) -> dict[str, torch.Tensor]:
        """One decoder layer: logits [B, Q, C], pred [B, Q, 2] -> unweighted cls / seg (L1) / iou losses."""
        s = self.s
        idx = hungarian_match(logits.detach(), pred.detach(), labels, targets, s["cost_class"], s["cost_seg"],
                              s["cost_iou"], s["focal_alpha"], s["focal_gamma"])
        dev = logits.device
        batch = torch.cat([torch.full_like(q, b) for b, (q, _) in enumerate(idx)]).to(dev)
        query = torch.cat([q for q, _ in idx]).to(dev)
        tgt_lab = torch.cat([labels[b][j.to(dev)] for b, (_, j) in enumerate(idx)])
        tgt_seg = torch.cat([targets[b][j.to(dev)] for b, (_, j) in enumerate(idx)]).reshape(-1, 2)
        onehot = torch.zeros_like(logits, dtype=torch.float32)
        onehot[batch, query, tgt_lab] = 1.0
        cls = sigmoid_focal_loss(logits, onehot, s["focal_alpha"], s["focal_gamma"]) / num
        src = pred[batch, query].float()                                       # [K, 2] matched (centre, width)
        seg = F.l1_loss(src, tgt_seg, reduction="sum") / num
        iou = (1 - paired_iou(cw_to_se(src), cw_to_se(tgt_seg))).sum() / num
        return {"cls": cls, "seg": seg, "iou": iou}

    def __call__(self, out: dict, segments: list[torch.Tensor], labels: list[torch.Tensor]) -> dict[str, torch.Tensor]:
        s = self.s
        targets = normalised_targets(segments, out["lengths"])
        num = float(max(sum(int(t.shape[0]) for t in targets), 1))
        layers = range(out["logits"].shape[0]) if s["aux_loss"] else [out["logits"].shape[0] - 1]
        weighted = {}
        for layer in layers:
            parts = self._layer_losses(out["logits"][layer], out["segments"][layer], labels, targets, num)
            weighted[layer] = {"cls": s["cls_loss_coef"] * parts["cls"], "reg": s["seg_loss_coef"] * parts["seg"]
                               + s["iou_loss_coef"] * parts["iou"]}
        last = out["logits"].shape[0] - 1
        losses = {"cls_loss": weighted[last]["cls"], "reg_loss": weighted[last]["reg"]}
        aux = [w["cls"] + w["reg"] for layer, w in weighted.items() if layer != last]
        losses["aux_loss"] = torch.stack(aux).sum() if aux else losses["cls_loss"] * 0.0
        if out.get("actionness") is not None:
            losses["actionness_loss"] = s["act_loss_coef"] * self._actionness(out, targets)
        losses["final_loss"] = sum(losses.values())
        return losses

    @staticmethod
    def _actionness(out: dict, targets: list[torch.Tensor]) -> torch.Tensor:
        """Mean L1 between each query's actionness [B, Q] and its best IoU with an event of its video (0 when
        the video has none) using the last layer's segments."""
        pred = out["segments"][-1].detach().float()                             # [B, Q, 2]
        best = torch.stack([pairwise_iou(cw_to_se(pred[b]), cw_to_se(t)).max(1).values if t.shape[0]
                            else pred.new_zeros(pred.shape[1]) for b, t in enumerate(targets)])  # [B, Q]
        return F.l1_loss(out["actionness"].float(), best)
