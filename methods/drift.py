"""The multi-bandwidth drift loss (FPD §3.3, Eq. 6-7) with the semantics of the official drifting
code (lambertae/drifting `drift_loss.py`; docs/references/drift.md §1):

* groups: each feature key (backbone block) is an independent problem per grid cell (G cells);
  the set is the batch: N student features X, N teacher targets Y (positives).
* negatives = the other students of the batch; the self-pair is masked (+100 on the normalised
  distance, i.e. logit ≈ -100/h) — FPD's cyclic in-batch shifts σ(j) cover exactly these pairs.
* distances divided by their (stop-gradient) batch mean: one scalar per key, shared over cells,
  so h = 0.02 means "2 % of the mean pairwise distance"; coordinates scaled by s = mean/√C.
* affinities: logits −d/h over [negatives ‖ positives]; a row softmax over all targets and a
  column softmax over samples, combined by the geometric mean (one pass, not Sinkhorn), floored
  at 1e-6 inside the square root as the official code does.
* cross-weighting: W⁺ = A⁺·ΣA⁻, W⁻ = A⁻·ΣA⁺, so V = W⁺Y − W⁻X (the x terms cancel).
* each bandwidth's drift divided by its RMS over the whole batch (Z_h = λ_h, docs/references/drift.md §1.4), the
  normalised drifts summed over bandwidths into one goal, one MSE to sg(x̃ + ΣṼ_h); summed over keys.
* everything in float32.

Two choices the official code never faced are options here, because FPD's positives are *paired*
with its students (Y_i is the teacher's refinement of X_i's own draft), whereas drifting's positives
are independent data:
* `self_pairs`: "mask-negatives" (the official code: self masked among the negatives only; the own
  target stays a positive), "mask-both" (the own target is masked among the positives too, so V = 0
  exactly at the operator's fixed point Y = X — not the official code), "none" (nothing masked: FPD's
  "cyclically shifted in-batch students" read as a full permutation, self included).
* `normalize`: "rms" (the official per-bandwidth RMS, Z_h = λ_h) or "none" (raw drifts summed: a
  near-zero residual stays near zero — not the official code).
* `set_size`: the batch cut into contiguous blocks of `set_size`, each its own drift problem. The official
  code's problems are (class label × location) with `gen_per_label` samples of ONE class and positives
  of that class (`train.py::feature_loss`); FPD's "cyclically shifted in-batch" negatives read as one set of the
  whole, mixed-condition batch (set_size=None). With the batch built as blocks of one condition,
  set_size = samples per condition is the official grouping. The scale and the RMS stay one scalar per key, shared
  by all sets, as the official code shares them across class groups.
"""

from __future__ import annotations

import torch
from torch import Tensor

SELF_MASK = 100.0


SELF_PAIRS = ("mask-negatives", "mask-both", "none")
NORMALIZERS = ("rms", "none")


@torch.no_grad()
def drift_field(
    x: Tensor,
    pos: Tensor,
    bandwidths=(0.02, 0.05, 0.2),
    neg: Tensor | None = None,
    floor: float = 1e-6,
    self_pairs: str = "mask-negatives",
    normalize: str = "rms",
) -> tuple[Tensor, Tensor, dict[str, float]]:
    """x, pos: [G, N, C] (students, positives). Returns (V [G, N, C] in scaled coordinates, s, logs).

    V is Σ_h V_h/λ_h where V_h is the raw drift at bandwidth h in the coordinates x/s. Negatives are
    the students themselves with the self-pair masked, unless an explicit set `neg` [G, M, C] is given.
    """
    if self_pairs not in SELF_PAIRS:
        raise ValueError(f"self_pairs must be one of {SELF_PAIRS}, got {self_pairs!r}")
    if normalize not in NORMALIZERS:
        raise ValueError(f"normalize must be one of {NORMALIZERS}, got {normalize!r}")
    x, pos = x.float(), pos.float()
    g, n, c = x.shape
    self_neg = neg is None
    neg = x if self_neg else neg.float()
    m = neg.shape[1]
    tgt = torch.cat([neg, pos], 1)  # negatives first, then positives
    d = torch.cdist(x, tgt)  # [G, N, M + P]
    scale = d.mean().clamp_min(1e-6)  # one stop-grad scalar per key
    s = scale / c**0.5
    dn = d / scale
    eye = torch.eye(n, device=x.device)
    if self_neg and self_pairs != "none":
        dn[:, :, :n] += SELF_MASK * eye  # self-pair gets no weight
    if self_pairs == "mask-both":
        if pos.shape[1] != n:
            raise ValueError("self_pairs='mask-both' needs paired positives (as many as students)")
        dn[:, :, m:] += SELF_MASK * eye  # own target masked among the positives too
    xs, ts = x / s, tgt / s
    v = torch.zeros_like(xs)
    raw = torch.zeros_like(xs)
    logs: dict[str, float] = {}
    for h in bandwidths:
        lg = -dn / h
        a = (lg.softmax(-1) * lg.softmax(-2)).clamp_min(floor).sqrt()  # row x column, geometric mean
        a_neg, a_pos = a[..., :m], a[..., m:]
        coef = torch.cat([-a_neg * a_pos.sum(-1, keepdim=True), a_pos * a_neg.sum(-1, keepdim=True)], -1)
        vh = coef @ ts - coef.sum(-1, keepdim=True) * xs  # Σ_j coef_j (t_j − x); Σcoef = 0
        # RMS over batch, cells and channels; floored so an equilibrium (V_h ≈ 0) is not blown up to unit size
        rms = vh.pow(2).mean().sqrt()
        v = v + (vh / rms.clamp_min(1e-4) if normalize == "rms" else vh)
        raw = raw + vh
        logs[f"drift_rms_h{h:g}"] = float(rms)
    # Diagnostics of the raw field: its size, and its radial part (> 0: pushes students away from their mean).
    out = xs - xs.mean(1, keepdim=True)
    radial = (raw * out).sum(-1) / out.norm(dim=-1).clamp_min(1e-12)
    logs["raw_norm"] = float(raw.norm(dim=-1).mean())
    logs["raw_radial"] = float(radial.mean())
    return v, s, logs


def _group_views(xs: Tensor, ys: Tensor, gather) -> tuple[Tensor, Tensor, Tensor]:
    """[B, G, C] features as [G, B, C] groups, float32: this rank's students (with grad), and the global batch's
    students and targets (detached; all-gathered under DDP)."""
    x_loc = xs.float().transpose(0, 1)  # [G, B_local, C]
    y_loc = ys.detach().float().transpose(0, 1)
    x_all = x_loc.detach() if gather is None else gather(x_loc.detach().transpose(0, 1)).transpose(0, 1)
    y_all = y_loc if gather is None else gather(y_loc.transpose(0, 1)).transpose(0, 1)
    return x_loc, x_all, y_all


def drift_loss(
    student: dict[str, Tensor],
    teacher: dict[str, Tensor],
    bandwidths=(0.02, 0.05, 0.2),
    gather=None,
    local: slice | None = None,
    self_pairs: str = "mask-negatives",
    normalize: str = "rms",
    set_size: int | None = None,
) -> tuple[Tensor, dict[str, float]]:
    """Σ over keys of MSE(x̃ − sg(x̃ + ΣṼ_h)); inputs {key: [B, G, C]}, student with grad, teacher detached.

    Under DDP pass `gather` (all-gather of detached tensors) and this rank's `local` rows: the field is
    computed on the global batch, so the drift sets do not depend on how the batch is split.
    """
    total = torch.zeros((), device=next(iter(student.values())).device)
    logs: dict[str, float] = {}
    norms = []
    for key, xs in student.items():
        x_loc, x_all, y_all = _group_views(xs, teacher[key], gather)
        g, n, c = x_all.shape
        if n % (set_size or n):
            raise ValueError(f"a batch of {n} cannot be cut into drift sets of {set_size}")
        sets = n // (set_size or n)
        v, s, lg = drift_field(
            x_all.reshape(g * sets, n // sets, c),
            y_all.reshape(g * sets, n // sets, c),
            bandwidths,
            self_pairs=self_pairs,
            normalize=normalize,
        )
        v = v.reshape(g, n, c)
        goal = x_all / s + v
        if local is not None:
            goal = goal[:, local]
        # The local mean: DDP averages gradients over ranks, which yields the global-mean gradient.
        total = total + ((x_loc / s - goal) ** 2).mean()
        norms.append(float(v.norm(dim=-1).mean()))
        # How much of the field points at each student's OWN target (FPD's positives are paired): the cosine of
        # V_i with y_i − x_i. Near 1: the batch drift acts as a per-sample regression; near 0: it pulls elsewhere.
        own = (y_all - x_all) / s
        cos = (v * own).sum(-1) / (v.norm(dim=-1) * own.norm(dim=-1)).clamp_min(1e-12)
        lg["pull_cos_own"] = float(cos.mean())
        logs.update({f"{key}/{k}": val for k, val in lg.items()})
    logs["drift_norm"] = sum(norms) / len(norms)
    keys = list(student)
    logs["drift_pull_cos_own"] = sum(logs[f"{k}/pull_cos_own"] for k in keys) / len(keys)
    logs["drift_raw_norm"] = sum(logs[f"{k}/raw_norm"] for k in keys) / len(keys)
    logs["drift_raw_radial"] = sum(logs[f"{k}/raw_radial"] for k in keys) / len(keys)
    return total, logs


def paired_loss(
    student: dict[str, Tensor], teacher: dict[str, Tensor], n_terms: int = 3, gather=None, local: slice | None = None
) -> tuple[Tensor, dict[str, float]]:
    """A CONTROL, not FPD: each student regressed on its own target, Σ over keys of MSE(x̃ − sg(x̃ + D̃)),
    D = (y − x)/s scaled to RMS `n_terms` — the step size of a drift goal (n_terms bandwidths, each of RMS 1),
    in the same coordinates (s from the mean distance of x to [x ‖ y], as drift_field). It asks whether the
    target's gain over the draft can reach the student through the STE path at all, with no batch field."""
    total = torch.zeros((), device=next(iter(student.values())).device)
    dists = []
    for key, xs in student.items():
        x_loc, x_all, y_all = _group_views(xs, teacher[key], gather)
        c = x_all.shape[-1]
        s = torch.cdist(x_all, torch.cat([x_all, y_all], 1)).mean().clamp_min(1e-6) / c**0.5
        d = (y_all - x_all) / s
        dists.append(float(d.norm(dim=-1).mean()))
        goal = x_all / s + n_terms * d / d.pow(2).mean().sqrt().clamp_min(1e-4)
        if local is not None:
            goal = goal[:, local]
        total = total + ((x_loc / s - goal) ** 2).mean()
    return total, {"paired_dist": sum(dists) / len(dists)}  # mean distance to the own target (scaled)
