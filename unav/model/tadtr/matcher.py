"""Hungarian matching of TadTR's queries to the ground-truth events of each video (one-to-one, DETR-style).

Cost of query i for event j = cost_class * focal-style class cost + cost_seg * L1 distance of (centre, width)
+ cost_iou * (-IoU), as TadTR's HungarianMatcher, solved per video by `min_cost_assignment` (the Hungarian
algorithm with potentials; TadTR calls scipy's linear_sum_assignment, which unav does not depend on)."""
from __future__ import annotations

import torch
import numpy as np

from .segments import cw_to_se, pairwise_iou


def min_cost_assignment(cost: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Minimum-cost one-to-one assignment of a [n, m] cost matrix (rows, cols), as scipy's linear_sum_assignment:
    min(n, m) pairs, sorted by row. Shortest augmenting paths with row/column potentials, O(n^2 m); the scan over
    columns is vectorised. Non-finite costs count as a large finite cost (a diverging run then fails in its loss,
    where the trainer reports it)."""
    cost = np.nan_to_num(np.asarray(cost, dtype=np.float64), nan=1e12, posinf=1e12, neginf=-1e12)
    flip = cost.shape[0] > cost.shape[1]
    if flip:                                        # the algorithm needs rows <= cols
        cost = cost.T
    n, m = cost.shape
    if n == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    u, v = np.zeros(n + 1), np.zeros(m + 1)         # potentials; index 0 of v / row 0 are the virtual start
    owner = np.zeros(m + 1, dtype=np.int64)         # owner[j]: row (1-based) assigned to column j, 0 = free
    way = np.zeros(m + 1, dtype=np.int64)           # previous column on the shortest path to column j
    for i in range(1, n + 1):
        owner[0], j0 = i, 0
        minv = np.full(m + 1, np.inf)
        used = np.zeros(m + 1, dtype=bool)
        while True:                                 # grow the shortest-path tree until a free column is reached
            used[j0] = True
            reduced = cost[owner[j0] - 1] - u[owner[j0]] - v[1:]          # [m] reduced costs from that row
            better = ~used[1:] & (reduced < minv[1:])
            minv[1:][better] = reduced[better]
            way[1:][better] = j0
            cand = np.where(used[1:], np.inf, minv[1:])
            j1 = int(np.argmin(cand)) + 1
            delta = cand[j1 - 1]
            u[owner[used]] += delta
            v[used] -= delta
            minv[1:][~used[1:]] -= delta
            j0 = j1
            if owner[j0] == 0:
                break
        while j0:                                   # flip the assignments along the path
            j1 = way[j0]
            owner[j0] = owner[j1]
            j0 = j1
    cols = np.nonzero(owner[1:])[0]
    rows = owner[1:][cols] - 1
    if flip:
        rows, cols = cols, rows
    order = np.argsort(rows)
    return rows[order].astype(np.int64), cols[order].astype(np.int64)


def cost_matrix(logits: torch.Tensor, pred: torch.Tensor, labels: torch.Tensor, target: torch.Tensor,
                cost_class: float, cost_seg: float, cost_iou: float, alpha: float = 0.25,
                gamma: float = 2.0) -> torch.Tensor:
    """logits [Q, C], pred [Q, 2] and target [N, 2] (centre, width), labels [N] -> cost [Q, N].

    The class cost is the focal loss of the target class as a positive minus that as a negative (Deformable
    DETR / TadTR), so a confident right class costs less than an unsure one."""
    prob = logits.float().sigmoid()[:, labels]                                     # [Q, N]
    pos = alpha * (1 - prob) ** gamma * -(prob + 1e-8).log()
    neg = (1 - alpha) * prob ** gamma * -(1 - prob + 1e-8).log()
    c_seg = torch.cdist(pred.float(), target.float(), p=1)                         # [Q, N]
    c_iou = -pairwise_iou(cw_to_se(pred.float()), cw_to_se(target.float()))
    return cost_class * (pos - neg) + cost_seg * c_seg + cost_iou * c_iou


@torch.no_grad()
def hungarian_match(logits: torch.Tensor, pred: torch.Tensor, labels: list[torch.Tensor],
                    targets: list[torch.Tensor], cost_class: float, cost_seg: float, cost_iou: float,
                    alpha: float = 0.25, gamma: float = 2.0) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """logits [B, Q, C], pred [B, Q, 2] (centre, width); per video labels [N_b], targets [N_b, 2] (centre, width).
    Returns per video (query indices, target indices), int64, of length min(Q, N_b) (empty when N_b = 0)."""
    out = []
    for b in range(logits.shape[0]):
        if targets[b].shape[0] == 0:
            empty = torch.zeros(0, dtype=torch.int64)
            out.append((empty, empty))
            continue
        cost = cost_matrix(logits[b], pred[b], labels[b], targets[b], cost_class, cost_seg, cost_iou, alpha, gamma)
        rows, cols = min_cost_assignment(cost.cpu().numpy())
        out.append((torch.as_tensor(rows, dtype=torch.int64), torch.as_tensor(cols, dtype=torch.int64)))
    return out
