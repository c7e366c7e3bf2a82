"""Training losses: sigmoid focal loss over all valid points and 1-D DIoU on positive (point, class) pairs,
both normalised by an EMA of the number of positive points (kept by the trainer)."""
from __future__ import annotations

import torch
import torch.nn.functional as F


def sigmoid_focal_loss(logits: torch.Tensor, targets: torch.Tensor, alpha: float = 0.25,
                       gamma: float = 2.0) -> torch.Tensor:
    """Summed focal loss; logits/targets of any matching shape."""
    logits, targets = logits.float(), targets.float()
    p = torch.sigmoid(logits)
    ce = F.binary_cross_entropy_with_logits(logits, targets, reduction="none")
    p_t = p * targets + (1 - p) * (1 - targets)
    loss = ce * (1 - p_t) ** gamma
    if alpha >= 0:
        loss = (alpha * targets + (1 - alpha) * (1 - targets)) * loss
    return loss.sum()


def diou_loss_1d(pred: torch.Tensor, target: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """Summed 1-D distance-IoU loss of centre-based offsets: pred/target [N, 2] = (to start, to end) >= 0."""
    pred, target = pred.float(), target.float()
    lp, rp = pred[:, 0], pred[:, 1]
    lg, rg = target[:, 0], target[:, 1]
    inter = torch.minimum(lp, lg) + torch.minimum(rp, rg)
    union = (lp + rp) + (lg + rg) - inter
    iou = inter / union.clamp(min=eps)
    enclose = torch.maximum(lp, lg) + torch.maximum(rp, rg)
    rho = 0.5 * (rp - lp - rg + lg)
    return (1.0 - iou + (rho / enclose.clamp(min=eps)) ** 2).sum()


def localization_losses(cls_logits: list[torch.Tensor], offsets: list[torch.Tensor], masks: list[torch.Tensor],
                        cls_targets: torch.Tensor, reg_targets: torch.Tensor, normalizer: float, train_cfg: dict,
                        num_classes: int) -> dict[str, torch.Tensor]:
    """cls_logits per level [B, T_l, C], offsets per level [B, T_l, C, 2] or [B, T_l, 2], masks per level [B, T_l];
    cls_targets [B, P, C], reg_targets [B, P, C, 2] or [B, P, 2] (P = sum T_l, levels concatenated)."""
    valid = torch.cat(masks, dim=1)                                      # [B, P]
    logits = torch.cat(cls_logits, dim=1)                                # [B, P, C]
    pred_off = torch.cat(offsets, dim=1)                                 # [B, P, C, 2] | [B, P, 2]
    target = cls_targets[valid]                                          # [V, C]
    smooth = train_cfg["label_smoothing"]
    if smooth > 0:
        target = target * (1 - smooth) + smooth / (num_classes + 1)
    cls_loss = sigmoid_focal_loss(logits[valid], target, train_cfg["focal_alpha"], train_cfg["focal_gamma"])
    pos = (cls_targets.sum(-1) > 0) & valid                              # [B, P]
    if pred_off.dim() == 4:
        pair = cls_targets.bool() & pos[..., None]                       # [B, P, C] positive (point, class) pairs
        p, g = pred_off[pair], reg_targets[pair]                         # [K, 2]
    else:
        p, g = pred_off[pos], reg_targets[pos]
    reg_loss = diou_loss_1d(p, g) if p.shape[0] else pred_off.sum() * 0.0
    cls_loss = cls_loss / normalizer
    reg_loss = reg_loss / normalizer
    return {"cls_loss": cls_loss, "reg_loss": reg_loss,
            "final_loss": cls_loss + train_cfg["loss_weight"] * reg_loss}
