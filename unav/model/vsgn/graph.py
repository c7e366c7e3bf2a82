"""The cross-scale graph network (xGN) of VSGN: a temporal branch (a kernel-3 convolution: edges to the two
temporal neighbours) plus a graph branch over k-NN semantic edges, summed, ReLU, optionally max-pooled by 2.

Graph branch (official NeighConv with nfeat_mode "feat_ctr", agg "max", no edge weights): every valid node i
takes its k nearest valid nodes N(i) by squared Euclidean feature distance (itself included, distance 0) and
computes g_i = max_{j in N(i)} W [x_j ; x_i] + b. Since W [x_j ; x_i] = W_n x_j + W_c x_i, this is computed as
max_j (W_n x_j) + W_c x_i + b without building [x_j ; x_i] pairs.

Cross-scale edges: in a self-stitched sequence (`part` 0 = original clip, 1 = its magnified copy) the first
k - k//2 neighbours are the nearest of all nodes and the other k//2 the nearest nodes of the *other* part, so
every node aggregates features of the other scale (the official knn() forces its second half of neighbours out
of the magnified part; we apply the rule to both parts). Sequences that are not stitched use plain k-NN."""
from __future__ import annotations

import torch
from torch import nn
import torch.nn.functional as F


def knn_edges(x: torch.Tensor, mask: torch.Tensor, part: torch.Tensor,
              k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """x [B, T, C], mask [B, T] bool, part [B, T] long (-1 invalid, 0 original, 1 magnified) ->
    neighbour indices [B, T, k'] and their validity [B, T, k'] (k' = min(k, T); a neighbour is invalid only
    when the video has fewer valid nodes than k', or no node of the other part)."""
    t = x.shape[1]
    k = min(k, t)
    sq = (x * x).sum(-1)                                                       # [B, T]
    dist = (sq[:, :, None] + sq[:, None, :] - 2 * torch.bmm(x, x.transpose(1, 2))).clamp(min=0)  # [B, T, T]
    dist = dist.masked_fill(~mask[:, None, :], float("inf"))
    # the node itself first: rounding can make a duplicate's distance < the (clamped) 0 of the node
    dist = dist.masked_fill(torch.eye(t, dtype=torch.bool, device=x.device)[None], -1.0)
    d_all, idx = dist.topk(k, dim=-1, largest=False)                          # [B, T, k]
    half = k // 2
    stitched = (part == 1).any(1)                                              # [B]
    if half == 0 or not bool(stitched.any()):
        return idx, torch.isfinite(d_all)
    free = k - half
    # cross-scale half: nodes of the other part, excluding those already taken
    other = dist.masked_fill(part[:, :, None] == part[:, None, :], float("inf"))
    other = other.scatter(2, idx[..., :free], float("inf"))
    d_cross, idx_cross = other.topk(half, dim=-1, largest=False)              # [B, T, half]
    idx_x = torch.cat([idx[..., :free], idx_cross], -1)
    d_x = torch.cat([d_all[..., :free], d_cross], -1)
    sel = stitched[:, None, None]
    return torch.where(sel, idx_x, idx), torch.isfinite(torch.where(sel, d_x, d_all))


class GraphConv(nn.Module):
    """Max-aggregated edge convolution over k-NN edges; `mlp` is the official Linear(2C, C_out) on [x_j ; x_i]."""

    def __init__(self, channels: int, out_channels: int, num_neighbors: int):
        super().__init__()
        self.k = num_neighbors
        self.mlp = nn.Linear(2 * channels, out_channels)

    def forward(self, x: torch.Tensor, mask: torch.Tensor, part: torch.Tensor) -> torch.Tensor:
        # x [B, T, C], mask [B, T], part [B, T] -> [B, T, C_out]
        idx, valid = knn_edges(x, mask, part, self.k)                         # [B, T, k]
        c = x.shape[-1]
        w_n, w_c = self.mlp.weight[:, :c], self.mlp.weight[:, c:]
        y = F.linear(x, w_n)                                                  # [B, T, C_out] neighbour term
        b, t, k = idx.shape
        yj = torch.gather(y, 1, idx.reshape(b, t * k, 1).expand(-1, -1, y.shape[-1])).view(b, t, k, -1)
        yj = yj.masked_fill(~valid[..., None], float("-inf")).amax(2)         # [B, T, C_out]
        return yj + F.linear(x, w_c, self.mlp.bias)


class XGN(nn.Module):
    """One xGPN encoder level: relu(conv3(x) + graph(x)) then (if `pool`) max-pool by 2. Input/output [B, C, T]."""

    def __init__(self, channels: int, num_neighbors: int, pool: bool):
        super().__init__()
        self.tconv = nn.Conv1d(channels, channels, 3, 1, 1)
        self.nconv = GraphConv(channels, channels, num_neighbors)
        self.pool = pool

    def forward(self, x: torch.Tensor, mask: torch.Tensor,
                part: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        # x [B, C, T] (zero at invalid rows), mask [B, T], part [B, T] -> [B, C, T'], [B, T'], [B, T']
        g = self.nconv(x.transpose(1, 2), mask, part).transpose(1, 2)
        out = F.relu(self.tconv(x) + g) * mask[:, None].to(x.dtype)
        if self.pool:   # outputs >= 0 and padding is 0, so padding never changes a valid max
            out = F.max_pool1d(out, 2, 2)
            mask, part = mask[:, ::2], part[:, ::2]
        return out, mask, part
