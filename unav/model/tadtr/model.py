"""TadTR (Liu et al., "End-to-end Temporal Action Detection with Transformer", TIP 2022) as a UnAV-100 baseline
(UnAV, CVPR 2023, Table 2): the I3D (rgb‖flow, 2048) and VGGish (128) rows concatenated at the input (2176
channels), a deformable transformer encoder, action queries decoded with segment refinement, and an
actionness head; trained with Hungarian matching (criterion.py) and decoded without NMS.

Published settings (official code github.com/xlliu7/TadTR, `opts.py` defaults, which are its ActivityNet/HACS
setup; THUMOS14 overrides them in configs/thumos14_i3d2s_tadtr.yml): hidden 256, 8 heads, 2 encoder / 4 decoder
layers, FFN 2048, dropout 0.1, ReLU, 4 sampling points in encoder and decoder, one feature level, 30 queries,
segment refinement and actionness regression on, RoIAlign of 16 bins over the segment enlarged 1.5x, auxiliary
losses at every decoder layer, matcher costs class 6 / L1 5 / IoU 2, loss weights class 2 / L1 5 / IoU 2 /
actionness 4, focal alpha 0.25 (gamma 2), input projection Conv1d(k=1) + GroupNorm(32), sampling offsets and
reference points at 0.1x the lr, top-100 (query, class) pairs per video ranked by sigmoid score x actionness, no
NMS. Optimisation (train.* in variants/tadtr_concat.yaml): AdamW lr 2e-4, weight decay 1e-4, batch 16, 16
epochs, gradient clipping 0.1.

Choices where the papers are silent or unav's code differs (said here so a reader can judge the baseline):
- Inputs: visual then audio rows, as unav's ActionFormer-style concat baseline; with `model.modalities` of one
  modality only that one is projected (2048 or 128 channels).
- Coordinates: TadTR predicts (centre, width) normalised by the video length. Here by the video's valid length
  L in rows (padding excluded): grid row g maps to (g + 0.5) / L. Training sees 224-row crops as unav does
  (TadTR rescaled ActivityNet features to 100 rows); inference sees the whole video, any length.
- Padding: the input GroupNorm, the position embedding, the deformable sampling and the RoI features use the
  valid rows only, so a video's detections do not depend on the other videos of a batch (TadTR had no padding).
- RoIAlign: one linearly interpolated sample at each of the 16 bin centres (RoIAlign's adaptive sampling
  averages several per bin), in pure PyTorch; RoIs are detached as in TadTR.
- Deformable attention is pure PyTorch (gather + linear interpolation), the same maths as the CUDA kernel.
- The query self-attention uses plain Linear projections (nn.MultiheadAttention's bare in_proj_weight has no
  rule in unav's optimizer); the single level embedding is an nn.Embedding(1, C).
- 0.1x lr for `sampling_offsets` / `reference_points`: one AdamW group in unav, so these layers store their
  parameters divided by 0.1 and scale them back in forward (deformable.LrScaledLinear): Adam's step size is
  invariant to the gradient scale, so the effective weights move at 0.1x lr. unav decays only conv/linear
  weights (TadTR decays every parameter).
- Schedule: unav's warm-up + cosine (TadTR: a step decay x0.1 at epoch 14 of 16); no warm-up epochs; no EMA
  (train.ema_decay 0: the EMA copy equals the weights), as TadTR has none.
- The classification loss is summed over queries and classes and divided by the number of events of the batch
  (TadTR: the same, via mean x num_queries); the actionness L1 is averaged over all queries; with several
  processes the event count is per process (TadTR all-reduces it).
- Loss parts returned: cls_loss and reg_loss (L1 + IoU) of the last decoder layer, aux_loss (the earlier
  layers), actionness_loss, all weighted; final_loss is their sum."""
from __future__ import annotations

import math

import torch
from torch import nn

from ...errors import UnavError
from ..inputs import concat_modalities, concatenated
from .criterion import SetCriterion
from .deformable import LrScaledLinear, TemporalDeformableAttention, interpolate_rows
from .segments import cw_to_se
from .transformer import DecoderLayer, EncoderLayer, MaskedGroupNorm, sine_position


def inverse_sigmoid(x: torch.Tensor, eps: float = 1e-5) -> torch.Tensor:
    x = x.clamp(0, 1)
    return torch.log(x.clamp(min=eps) / (1 - x).clamp(min=eps))


def mlp(dim: int, hidden: int, out: int, layers: int) -> nn.Sequential:
    dims = [dim] + [hidden] * (layers - 1)
    mods: list[nn.Module] = []
    for a, b in zip(dims, dims[1:]):
        mods += [nn.Linear(a, b), nn.ReLU()]
    return nn.Sequential(*mods, nn.Linear(dims[-1], out))


class TadTR(nn.Module):
    def __init__(self, cfg: dict, num_classes: int):
        super().__init__()
        s = cfg["model"].get("tadtr")
        if not isinstance(s, dict):
            raise UnavError("model.arch tadtr needs the model.tadtr settings (see unav/configs/defaults.yaml)")
        self.cfg, self.settings, self.num_classes = cfg, s, num_classes
        self.modalities, in_dim = concat_modalities(cfg)
        d, nq, mult = s["hidden_dim"], s["num_queries"], s["lr_linear_proj_mult"]
        layer = dict(n_heads=s["n_heads"], ffn=s["dim_feedforward"], dropout=s["dropout"],
                     activation=s["activation"], lr_mult=mult)
        self.hidden_dim = d
        self.input_proj = nn.Conv1d(in_dim, d, 1)
        self.input_norm = MaskedGroupNorm(s["input_groups"], d)
        self.level_embed = nn.Embedding(1, d)
        self.encoder = nn.ModuleList(EncoderLayer(d, n_points=s["enc_n_points"], **layer)
                                     for _ in range(s["enc_layers"]))
        self.decoder = nn.ModuleList(DecoderLayer(d, n_points=s["dec_n_points"], **layer)
                                     for _ in range(s["dec_layers"]))
        self.query_embed = nn.Embedding(nq, 2 * d)              # (query position, query content)
        self.reference_points = LrScaledLinear(d, 1, mult)
        n_pred = s["dec_layers"] if s["segment_refine"] else 1   # per-layer heads with refinement, else shared
        self.class_embed = nn.ModuleList(nn.Linear(d, num_classes) for _ in range(n_pred))
        self.segment_embed = nn.ModuleList(mlp(d, d, 2, 3) for _ in range(n_pred))
        if s["actionness"]:
            r = s["roi_size"]
            self.actionness_pred = nn.Sequential(nn.Linear(r * d, d), nn.ReLU(), nn.Linear(d, d), nn.ReLU(),
                                                 nn.Linear(d, 1), nn.Sigmoid())
        self.criterion = SetCriterion(num_classes, s)
        self._reset_parameters()

    def _reset_parameters(self) -> None:
        """As TadTR: xavier for the transformer's matrices, deformable attention's own init, zero last segment
        layer with width bias -2 (sigmoid = 0.12 of the video) at the first layer, class prior 0.01."""
        for p in list(self.encoder.parameters()) + list(self.decoder.parameters()):
            if p.dim() > 1:
                nn.init.xavier_uniform_(p)
        for m in self.modules():
            if isinstance(m, TemporalDeformableAttention):
                m.reset_parameters()
        ref_w = torch.empty_like(self.reference_points.weight)
        nn.init.xavier_uniform_(ref_w)
        self.reference_points.set_effective_(ref_w, torch.zeros_like(self.reference_points.bias))
        nn.init.normal_(self.level_embed.weight)
        nn.init.xavier_uniform_(self.input_proj.weight)
        nn.init.zeros_(self.input_proj.bias)
        prior = -math.log((1 - 0.01) / 0.01)
        for cls in self.class_embed:
            nn.init.constant_(cls.bias, prior)
        for seg in self.segment_embed:
            nn.init.zeros_(seg[-1].weight)
            nn.init.zeros_(seg[-1].bias)
        nn.init.constant_(self.segment_embed[0][-1].bias[1:], -2.0)

    def _inputs(self, visual: torch.Tensor | None, audio: torch.Tensor | None) -> torch.Tensor:
        return concatenated(visual, audio, self.modalities, "TadTR")           # [B, Cv + Ca, T]

    def forward(self, visual: torch.Tensor | None, audio: torch.Tensor | None, mask: torch.Tensor) -> dict:
        """visual [B, 2048, T], audio [B, 128, T], mask [B, T] bool (True = valid) ->
        {"logits": [L_dec, B, Q, C], "segments": [L_dec, B, Q, 2] (centre, width) in [0, 1] of each video's
         valid length, "actionness": [B, Q] or None, "lengths": [B] valid rows}."""
        x = self._inputs(visual, audio)
        b, _, t = x.shape
        d = self.hidden_dim
        src = self.input_norm(self.input_proj(x), mask).transpose(1, 2)       # [B, T, d]
        pos = sine_position(mask, d).to(src.dtype) + self.level_embed.weight[0]  # [B, T, d]
        lengths = mask.sum(1).clamp(min=1).float()                             # [B]
        ratio = (lengths / t)[:, None, None]                                   # valid share of the padded length
        enc_ref = ((torch.arange(t, device=x.device, dtype=torch.float32) + 0.5) / t).view(1, t, 1).expand(b, t, 1)
        memory = src
        for layer in self.encoder:
            memory = layer(memory, pos, enc_ref, mask)                         # [B, T, d]

        query_pos, tgt = self.query_embed.weight.split(d, dim=1)               # [Q, d] each
        query_pos, tgt = query_pos.expand(b, -1, -1), tgt.expand(b, -1, -1)    # [B, Q, d]
        ref = self.reference_points(query_pos).float().sigmoid()               # [B, Q, 1] centre in [0, 1] of L
        logits, segments = [], []
        h = tgt
        for i, layer in enumerate(self.decoder):
            h = layer(h, query_pos, ref * ratio, memory, mask)
            head = i if self.settings["segment_refine"] else 0
            delta = self.segment_embed[head](h).float()   # [B, Q, 2]; coordinates in fp32 (bf16 would quantise
                                                          # the centre to 1/256 of the video)
            if ref.shape[-1] == 1:   # first layer: the width comes from the head alone
                coord = torch.cat((delta[..., :1] + inverse_sigmoid(ref), delta[..., 1:]), -1).sigmoid()
            else:
                coord = (delta + inverse_sigmoid(ref)).sigmoid()
            logits.append(self.class_embed[head](h))
            segments.append(coord)
            if self.settings["segment_refine"]:
                ref = coord.detach()       # the next layer samples inside this layer's segment
        out = {"logits": torch.stack(logits), "segments": torch.stack(segments), "lengths": lengths,
               "actionness": None}
        if self.settings["actionness"]:
            out["actionness"] = self._actionness(memory, mask, segments[-1], lengths)
        return out

    def _actionness(self, memory: torch.Tensor, mask: torch.Tensor, seg: torch.Tensor,
                    lengths: torch.Tensor) -> torch.Tensor:
        """RoI features of each query's segment (enlarged by roi_scale, clipped to the video) -> actionness [B, Q]."""
        b, t, d = memory.shape
        r = self.settings["roi_size"]
        seg = seg.detach()
        roi = cw_to_se(torch.stack((seg[..., 0], seg[..., 1] * self.settings["roi_scale"]), -1)).clamp(0, 1)
        roi = roi * lengths[:, None, None]                                     # [B, Q, 2] in rows, within [0, L]
        frac = (torch.arange(r, device=memory.device, dtype=memory.dtype) + 0.5) / r
        x = roi[..., :1] + frac * (roi[..., 1:] - roi[..., :1])                # [B, Q, R] bin centres in rows
        mem = memory.masked_fill(~mask[..., None], 0.0)[:, :, None]             # [B, T, 1, d]
        feats = interpolate_rows(mem, (x / t)[:, :, None])                     # [B, Q, 1, R, d]
        return self.actionness_pred(feats.flatten(2)).squeeze(-1)             # [B, Q]

    def losses(self, out: dict, segments: list[torch.Tensor], labels: list[torch.Tensor]) -> dict[str, torch.Tensor]:
        """segments per video [N_i, 2] (start, end) grid rows of the input sequence; labels [N_i] int64."""
        return self.criterion(out, segments, labels)

    @torch.no_grad()
    def decode(self, out: dict, index: int, test_cfg: dict) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Video `index` -> (segments [K, 2] grid rows, scores [K], labels [K]) of the top-K (query, class) pairs
        by sigmoid score x actionness, K = model.tadtr.topk; no NMS (TadTR's default post-processing)."""
        prob = out["logits"][-1, index].float().sigmoid()                      # [Q, C]
        if out.get("actionness") is not None:
            prob = prob * out["actionness"][index].float()[:, None]
        k = min(int(self.settings["topk"]), prob.numel())
        scores, flat = prob.flatten().topk(k)
        query = torch.div(flat, prob.shape[1], rounding_mode="floor")
        labels = flat % prob.shape[1]
        length = out["lengths"][index].float()
        segs = cw_to_se(out["segments"][-1, index, query].float()).clamp(0, 1) * length - 0.5
        return segs, scores, labels.long()
