"""Fixed-Point Distillation (FPD, arXiv 2605.21484), in the order of the paper's §3.2-3.4.

One training step, for a batch of conditions c and per-sample seeds:
  §3.2  z_init: a fraction r_init of positions masked, the rest random codebook entries (the same
        z_init at inference). Student logits ℓ_θ = g_θ(z_init, c); hard sample ẑ ~ softmax(ℓ_θ/T).
        Target: re-mask ẑ at r ~ π and apply ONE teacher step T^r that fills every masked position
        (no grad): ẑ_T = T^r(M_r(ẑ), c).                                                 (Eq. 4-5)
  §3.3  Lift both through decoder D and frozen backbone Φ: X = Φ(D(e)), Y = Φ(D(E[ẑ_T])); the
        multi-bandwidth drift loss pulls X toward Y and away from the other students.       (Eq. 6-7)
  §3.4  e routes gradients through the discrete bottleneck: STE e = E[ẑ] + ẽ − sg(ẽ) (Eq. 8), or
        the soft-embedding ablation. Optional unconditional GAN on D(e): L = L_drift + λ·L_gan.

Choices the paper leaves open are options (FPDConfig) with recorded defaults; each ablation of
Tables 3-4 is a switch: estimator, gan, draft_source, space, bandwidths (blocks and grid live
in the backbone wrapper the harness builds).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from methods.drift import NORMALIZERS, SELF_PAIRS, drift_loss, paired_loss
from methods.interfaces import to_uint8
from methods.masking import fill_masked, remask, reveal_masked
from methods.rng import SeedStreams, sample_categorical
from methods.ste import route_embeddings


@dataclass(frozen=True)
class FPDConfig:
    r_init: float = 0.95  # paper §3.2 "high"; 0.95 UNVERIFIED (docs/references/teachers.md §5)
    student_temp: float = 1.0  # sampling temperature of ẑ (gradient uses the clean softmax)
    emb_perturb: float = 0.0  # σ of DiMO's embedding noise on z_init (0: the paper's FPD has none); with r_init
    # and student_temp, the entropy of the student's start
    estimator: str = "ste"  # "ste" | "soft"                               (Table 3a)
    draft_source: str = "student"  # "student" | "random"                         (Table 3b)
    remask: str = "uniform"  # π: "uniform" U(lo, hi) | "arccos" (teacher training law) — open in the paper
    remask_lo: float = 0.2
    remask_hi: float = 0.8
    teacher_w: float = 1.0  # guidance of the target step, MaskGIT form (1+w)c − wu — open in the paper
    teacher_sm_temp: float = 1.0  # inverse temperature of the target step
    target: str = "fill"  # T^r: "fill" every re-masked position (Eq. 5 as read here) | "reveal": one
    # MaskGIT step, only the most confident reveal_frac of them, the rest keep
    # the draft — NOT the paper's reading; an alternative for the diagnosis
    reveal_frac: float = 0.25  # target=reveal: share of re-masked positions the step reveals
    reveal_noise: float = 1.0  # target=reveal: Gumbel temperature on the confidence
    space: str = "feature"  # "feature" (Φ) | "pixel"                       (Table 4a)
    pixel_grid: int = 4  # pixel space: image cut into grid x grid patch tokens
    bandwidths: tuple = (0.02, 0.05, 0.2)  # (Table 4a)
    self_pairs: str = "mask-both"  # drift self-pair handling (methods/drift.py) — open in the paper. Default from
    # docs/fpd-diagnosis.md: lowest validation FID (1498 vs the official code's
    # mask-negatives 1789, 400 updates); the official reading is an option
    drift_norm: str = "rms"  # per-bandwidth normaliser: "rms" (official drifting code) | "none"
    drift_sets: str = "batch"  # drift problems: "batch" (one mixed-condition set, FPD's in-batch shifts as
    # read here) | "condition" (one per condition block of per_cond samples: the
    # official drifting code's class-label groups, `train.py::feature_loss`)
    per_cond: int = 1  # samples per condition in a batch (official drifting: gen_per_label)
    positives: str = "target"  # "target": FPD's T^r(M_r(ẑ)) (the paper) | "data": independent renders of each
    # sample's condition, i.e. the drifting paper's setting — a CONTROL for the
    # diagnosis (does the drift + STE student learn at all here?), never the FPD row |
    # "teacher": independent 16-step teacher samples of each condition (a cached pool)
    # | "mix:α": the first round(α·set) positives of each drift set are FPD's targets,
    # the rest teacher samples (α = 1 is FPD). teacher / mix are a labelled data-free
    # EXTENSION beyond the paper, never the FPD row
    objective: str = "drift"  # "drift" (Eq. 6-7) | two CONTROLS for the diagnosis, never the FPD row:
    # "paired": each student regressed on its own target's features with the drift's
    # step size (methods/drift.paired_loss; no batch field) | "tokens": cross-entropy
    # of the student's logits to its own target's tokens (no STE, decoder or Φ)
    gan: bool = False  # optional unconditional GAN                   (Table 3a)
    gan_weight: float = 0.1  # λ — open in the paper (the transcription's 1.0 is unverified)

    def __post_init__(self):
        if not 0.0 < self.r_init <= 1.0:
            raise ValueError(f"r_init must be in (0, 1], got {self.r_init}")
        if not 0.0 <= self.emb_perturb < 1.0:
            raise ValueError(f"emb_perturb must be in [0, 1), got {self.emb_perturb}")
        if self.draft_source not in ("student", "random"):
            raise ValueError(f"draft_source must be 'student' or 'random', got {self.draft_source!r}")
        if self.space not in ("feature", "pixel"):
            raise ValueError(f"space must be 'feature' or 'pixel', got {self.space!r}")
        if self.remask not in ("uniform", "arccos"):
            raise ValueError(f"remask must be 'uniform' or 'arccos', got {self.remask!r}")
        if self.self_pairs not in SELF_PAIRS:
            raise ValueError(f"self_pairs must be one of {list(SELF_PAIRS)}, got {self.self_pairs!r}")
        if self.drift_norm not in NORMALIZERS:
            raise ValueError(f"drift_norm must be one of {list(NORMALIZERS)}, got {self.drift_norm!r}")
        if self.drift_sets not in ("batch", "condition"):
            raise ValueError(f"drift_sets must be 'batch' or 'condition', got {self.drift_sets!r}")
        if self.per_cond < 1:
            raise ValueError(f"per_cond must be >= 1, got {self.per_cond}")
        if self.drift_sets == "condition" and self.per_cond < 2:
            raise ValueError(
                "drift_sets='condition' needs per_cond >= 2 (a set of one student has no negatives); "
                "set per_cond=8, say"
            )
        if self.target not in ("fill", "reveal"):
            raise ValueError(f"target must be 'fill' or 'reveal', got {self.target!r}")
        self.target_share()  # a bad positives= fails here

        if self.objective not in ("drift", "paired", "tokens"):
            raise ValueError(f"objective must be 'drift', 'paired' or 'tokens', got {self.objective!r}")
        if self.objective != "drift" and self.positives != "target":
            raise ValueError(
                f"objective={self.objective!r} needs positives='target' (data renders are not paired with the students)"
            )
        if not 0.0 < self.reveal_frac <= 1.0:
            raise ValueError(f"reveal_frac must be in (0, 1], got {self.reveal_frac}")

    def target_share(self) -> float:
        """The share of each drift set's positives that are FPD's own targets (1 for FPD, 0 for data / teacher)."""
        if self.positives in ("target", "data", "teacher"):
            return 1.0 if self.positives == "target" else 0.0
        try:
            alpha = float(self.positives.split(":", 1)[1]) if self.positives.startswith("mix:") else None
        except ValueError:
            alpha = None
        if alpha is None or not 0.0 <= alpha <= 1.0:
            raise ValueError(
                f"positives must be 'target', 'data', 'teacher' or 'mix:α' with α in [0, 1] "
                f"(e.g. mix:0.25), got {self.positives!r}"
            )
        return alpha

    def independent_positives(self) -> bool:
        """Whether the loss needs independent images of each sample's condition (renders or teacher samples)."""
        return self.target_share() < 1.0

    def to_dict(self) -> dict:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}


def z_init(rng: SeedStreams, num_tokens: int, codebook_size: int, mask_id: int, r_init: float) -> Tensor:
    """Exactly round(L·r_init) positions masked, the others uniform random codes (DiMO's construction)."""
    u = rng.rand(num_tokens)
    codes = rng.randint(codebook_size, num_tokens)
    n_mask = round(num_tokens * r_init)
    masked = u.argsort(-1).argsort(-1) < n_mask
    return codes.masked_fill(masked, mask_id)


class OneStepStudent:
    """A one-step generator from z_init (FPD's student; DiMO's with emb_perturb) behind the Generator interface."""

    steps = 1

    def __init__(
        self,
        model,
        tokenizer,
        r_init: float = 0.95,
        temp: float = 1.0,
        emb_perturb: float = 0.0,
        device: str | torch.device = "cpu",
    ):
        self.model, self.tokenizer, self.r_init, self.temp = model, tokenizer, r_init, temp
        self.emb_perturb, self.device = emb_perturb, torch.device(device)

    def draft(self, cond: Tensor, rng: SeedStreams, forward=None) -> tuple[Tensor, Tensor]:
        """(logits [B, L, K], hard sample ẑ [B, L]); randomness drawn in a fixed order per stream.

        `forward` is the module to call (e.g. the DDP-wrapped student during training)."""
        m = self.model
        z0 = z_init(rng, m.num_tokens, m.codebook_size, m.mask_id, self.r_init)
        noise = rng.randn(m.num_tokens, _embed_dim(m)) if self.emb_perturb > 0 else None
        logits = (forward or m)(z0, cond, emb_perturb=self.emb_perturb, noise=noise)
        z_hat = sample_categorical(logits.detach() / self.temp, rng.rand(m.num_tokens))
        return logits, z_hat

    @torch.inference_mode()
    def generate(self, cond: Tensor, seeds: Sequence[int]) -> Tensor:
        cond = cond.to(self.device)
        _, z_hat = self.draft(cond, SeedStreams(seeds, self.device))
        return to_uint8(self.tokenizer.decode(z_hat, cond))


def condition_leaders(n: int, per_cond: int) -> list[int]:
    """Sample j of a global batch takes the condition of sample (j // per_cond)·per_cond: blocks of one condition."""
    return [(j // per_cond) * per_cond for j in range(n)]


def _embed_dim(model) -> int:
    return model.tok_emb.weight.shape[1]


def pixel_features(images: Tensor, grid: int) -> dict[str, Tensor]:
    """Pixel-space drift (Table 4a): the image cut into grid² patches, each a token of its raw pixels."""
    b, c, h, w = images.shape
    p = images.float().unfold(2, h // grid, h // grid).unfold(3, w // grid, w // grid)  # [B,C,g,g,ph,pw]
    return {"pixels": p.permute(0, 2, 3, 1, 4, 5).reshape(b, grid * grid, -1)}


def mixed_positions(n: int, set_size: int, share: float, local: slice | None = None) -> Tensor:
    """positives=mix:α — which of this rank's n samples keep FPD's target: the first round(α·set_size) of every drift
    set (sets are consecutive blocks of the global batch; `local` is this rank's slice of it)."""
    start = (local.start or 0) if local is not None else 0
    pos = (torch.arange(n) + start) % set_size
    return pos < round(share * set_size)


class FPD:
    """The FPD objective; `loss` returns (total loss, logs). The harness owns optimisers and the loop."""

    def __init__(self, student, teacher, tokenizer, backbone, cfg: FPDConfig, gan=None):
        """`student` may be DDP-wrapped: it is what the loss calls; sampling uses the bare module."""
        self.student, self.teacher, self.tokenizer, self.backbone, self.cfg, self.gan = (
            student,
            teacher,
            tokenizer,
            backbone,
            cfg,
            gan,
        )
        self.generator = OneStepStudent(
            getattr(student, "module", student), tokenizer, cfg.r_init, cfg.student_temp, cfg.emb_perturb
        )

    def lift(self, images: Tensor) -> dict[str, Tensor]:
        if self.cfg.space == "pixel":
            return pixel_features(images, self.cfg.pixel_grid)
        return self.backbone.features(images)

    def _remask_ratio(self, rng: SeedStreams) -> Tensor:
        u = rng.rand(1)[:, 0].double()
        if self.cfg.remask == "arccos":  # the teacher's own training law: arccos(U)/(π/2)
            return torch.arccos(u) / (math.pi / 2)
        return self.cfg.remask_lo + (self.cfg.remask_hi - self.cfg.remask_lo) * u

    @torch.no_grad()
    def target_tokens(self, draft: Tensor, cond: Tensor, rng: SeedStreams, soft_probs: Tensor | None = None) -> Tensor:
        """ẑ_T = T^r(M_r(draft), c): one teacher step filling every re-masked position (Eq. 5)."""
        t, cfg = self.teacher, self.cfg
        ratio = self._remask_ratio(rng)
        masked, mask = remask(draft, ratio, t.mask_id, rng.rand(t.num_tokens))
        u = rng.rand(t.num_tokens)
        kw = {}
        if soft_probs is not None:
            # Soft-embedding ablation: the teacher sees probability-weighted embeddings at unmasked positions.
            table = t.tok_emb.weight
            kw["token_embeds"] = torch.where(
                mask[..., None], table[t.mask_id].expand(*mask.shape, -1), soft_probs @ table[: t.codebook_size]
            )
        if cfg.target == "reveal":
            return reveal_masked(
                t,
                masked,
                cond,
                mask,
                draft,
                u,
                rng.rand(t.num_tokens),
                reveal_frac=cfg.reveal_frac,
                noise=cfg.reveal_noise,
                w=cfg.teacher_w,
                sm_temp=cfg.teacher_sm_temp,
                **kw,
            )
        return fill_masked(t, masked, cond, mask, u, w=cfg.teacher_w, sm_temp=cfg.teacher_sm_temp, **kw)

    def loss(
        self,
        cond: Tensor,
        seeds: Sequence[int],
        gather: Callable | None = None,
        local: slice | None = None,
        data: Tensor | None = None,
    ) -> tuple[Tensor, dict[str, float], Tensor]:
        """(total loss, logs, decoded student images) for this rank's samples, seeded per sample.

        `data`: independent images of each sample's condition (renders or teacher samples), the positives where
        cfg.positives is not "target"; with "mix:α" the first round(α·set) of each drift set keep FPD's targets."""
        cfg, tok = self.cfg, self.tokenizer
        rng = SeedStreams(seeds, cond.device)
        logits, z_hat = self.generator.draft(cond, rng, forward=self.student)  # Eq. 4
        e = route_embeddings(logits, tok.codebook, z_hat, cfg.estimator)  # Eq. 8
        x_img = tok.decode_embeddings(e, cond)
        z_t = None
        share = cfg.target_share()
        if share < 1.0 and data is None:
            raise ValueError(f"positives={cfg.positives!r} needs independent images of each sample's condition")
        with torch.no_grad():
            if share == 0.0:  # independent positives only: no teacher step (nothing later draws from rng)
                y = self.lift(data.to(x_img.device, x_img.dtype))
            else:
                draft = z_hat if cfg.draft_source == "student" else rng.randint(tok.codebook_size, tok.num_tokens)
                soft = (
                    logits.detach().float().softmax(-1)
                    if (cfg.estimator == "soft" and cfg.draft_source == "student")
                    else None
                )
                z_t = self.target_tokens(draft, cond, rng, soft)  # Eq. 5
                y = None
                if cfg.objective != "tokens":
                    y_img = tok.decode(z_t, cond)
                    if share < 1.0:
                        keep = mixed_positions(
                            len(y_img), cfg.per_cond if cfg.drift_sets == "condition" else len(y_img), share, local
                        ).to(y_img.device)
                        y_img = torch.where(keep[:, None, None, None], y_img, data.to(y_img.device, y_img.dtype))
                    y = self.lift(y_img)
        if cfg.objective == "tokens":  # a control (see FPDConfig.objective): no feature path at all
            l_drift = F.cross_entropy(logits.float().flatten(0, 1), z_t.flatten())
            logs = {}
        elif cfg.objective == "paired":  # a control (see FPDConfig.objective)
            l_drift, logs = paired_loss(self.lift(x_img), y, len(cfg.bandwidths), gather=gather, local=local)
        else:
            l_drift, logs = drift_loss(
                self.lift(x_img),
                y,
                cfg.bandwidths,
                gather=gather,
                local=local,  # Eq. 6-7
                self_pairs=cfg.self_pairs,
                normalize=cfg.drift_norm,
                set_size=cfg.per_cond if cfg.drift_sets == "condition" else None,
            )
        total = l_drift
        lg = logits.detach().float()
        logs = {
            "loss_drift": l_drift.item(),
            **logs,
            "student_entropy": float(-(lg.softmax(-1) * lg.log_softmax(-1)).sum(-1).mean()),
            "saturated": float((lg.softmax(-1).amax(-1) > 0.99).float().mean()),
        }  # share of near-one-hot positions
        if z_t is not None:
            logs["target_changed"] = float((z_t != z_hat).float().mean())
        if cfg.gan and self.gan is not None:
            l_gan = self.gan.generator_loss(x_img)
            total = total + cfg.gan_weight * l_gan
            logs["loss_gan_g"] = l_gan.item()
        logs["loss"] = total.item()
        return total, logs, x_img
