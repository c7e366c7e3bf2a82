"""The UnAV localizer: cross-modal pyramid encoder -> (optional) dependency block -> shared heads.
Parameter names follow the official release (`backbone.*`, `dependency_block.*`, `cls_head.*`, `reg_head.*`)."""
from __future__ import annotations

import torch
from torch import nn

from ..config import fpn_strides
from .backbone import PyramidEncoder
from .dependency import DependencyBlock
from .heads import ClassificationHead, RegressionHead

STREAM_DIMS = {"rgb": 1024, "flow": 1024}
AUDIO_DIM = 128


def input_dims(cfg: dict) -> tuple[int, int]:
    visual = sum(STREAM_DIMS[s] for s in cfg["dataset"]["visual_streams"])
    return visual, AUDIO_DIM


class Localizer(nn.Module):
    def __init__(self, cfg: dict, num_classes: int):
        super().__init__()
        m = cfg["model"]
        self.cfg = cfg
        self.num_classes = num_classes
        self.strides = fpn_strides(cfg)
        self.max_stride = max(self.strides)
        self.max_seq_len = cfg["dataset"]["max_seq_len"]
        self.modalities = [x for x in ("visual", "audio") if x in m["modalities"]]
        visual_dim, audio_dim = input_dims(cfg)
        self.backbone = PyramidEncoder(cfg, visual_dim, audio_dim)
        feat_dim = self.backbone.out_dim
        dep = m["dependency"]
        if dep["enabled"]:
            self.dependency_block = DependencyBlock(
                feat_dim, dep["hidden"], dep["hidden_classes"] or num_classes, m["embd_kernel"], dep["n_head"],
                m["droppath"], dep["consecutive"], dep["simultaneous"], m["checkpoint_dependency"])
        h = m["head"]
        self.cls_head = ClassificationHead(feat_dim, h["dim"], num_classes, h["num_layers"], h["kernel"],
                                           h["with_ln"], h["prior_prob"])
        self.reg_head = RegressionHead(feat_dim, h["dim"], num_classes, len(self.strides), h["num_layers"],
                                       h["kernel"], h["with_ln"], m["class_aware_regression"])

    def padded_length(self, length: int) -> int:
        """The padded length the release uses for one video at inference (at least max_seq_len)."""
        if length <= self.max_seq_len:
            return self.max_seq_len
        return -(-length // self.max_stride) * self.max_stride

    def _forward(self, visual, audio, mask):
        feats, masks = self.backbone(visual if "visual" in self.modalities else None,
                                     audio if "audio" in self.modalities else None, mask)
        if hasattr(self, "dependency_block"):
            feats = self.dependency_block(feats, masks)
        return self.cls_head(feats, masks), self.reg_head(feats, masks), masks

    def forward(self, visual: torch.Tensor | None, audio: torch.Tensor | None, mask: torch.Tensor) -> dict:
        """visual [B, Cv, T], audio [B, 128, T], mask [B, T] bool ->
        {"cls_logits": per level [B, T_l, C], "offsets": per level [B, T_l, C, 2] or [B, T_l, 2],
         "masks": per level [B, T_l], "strides": [s_l]}.

        In eval mode each video is run at its own padded length (grouping videos that share it), so its outputs
        never depend on the other videos of the batch and equal a batch-of-one run."""
        if self.training or mask.shape[0] == 1:
            cls, off, masks = self._forward(visual, audio, mask)
            return {"cls_logits": cls, "offsets": off, "masks": masks, "strides": self.strides}
        lengths = mask.sum(1).tolist()
        own = torch.tensor([self.padded_length(int(n)) for n in lengths])
        full_t = mask.shape[1]
        cls_out = off_out = mask_out = None
        for t in own.unique().tolist():
            idx = (own == t).nonzero().flatten().to(visual.device)
            cls, off, masks = self._forward(None if visual is None else visual[idx, :, :t],
                                            None if audio is None else audio[idx, :, :t], mask[idx, :t])
            if cls_out is None:
                b = mask.shape[0]
                cls_out = [c.new_zeros((b, full_t // s) + c.shape[2:]) for c, s in zip(cls, self.strides)]
                off_out = [o.new_zeros((b, full_t // s) + o.shape[2:]) for o, s in zip(off, self.strides)]
                mask_out = [mask.new_zeros((b, full_t // s)) for s in self.strides]
            for level in range(len(self.strides)):
                n = cls[level].shape[1]
                cls_out[level][idx, :n] = cls[level]
                off_out[level][idx, :n] = off[level]
                mask_out[level][idx, :n] = masks[level]
        return {"cls_logits": cls_out, "offsets": off_out, "masks": mask_out, "strides": self.strides}


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
