"""SDTT (Deschenaux & Gulcehre, arXiv 2410.21035), adapted to a MaskGIT-style image teacher.

SDTT as in jdeschena/sdtt `src/sdtt/core/distill/multi_round_sdtt.py`:
  data x0, a per-sample time t, x_t = x0 with a t-dependent fraction masked; the teacher runs TWO steps
  of the current step size dt from t; each token's target is the teacher's log p(x0) at the step in
  which it was unmasked (the last step's for tokens still masked); the student, one forward at x_t, is
  trained with KL(student ‖ teacher) on masked positions ("kl-bwd", default) or KL(teacher ‖ student)
  ("kl-fwd"); every round the student is copied into the teacher and the step count halves.

Adaptations to an image teacher (docs/references/teachers.md §4: no public image SDTT code; all [INFERRED]):
  * data = tokenizer codes of real renders (not text); conditions are class labels / captions with 10 %
    null-condition dropout (as the teacher was trained), and the teacher sees the same condition;
  * time = MaskGIT progress r ~ U(0, 1) with masked fraction γ(r) = arccos(r)/(π/2): exactly
    round(L·γ(r)) (min 1) positions masked, i.e. the teacher's own training law for the mask ratio;
    a K-step grid is r = i/K (the "proper" arccos schedule of Di4C/ReDi), so a K/2-step grid is every
    other point of the K-step one, and two teacher steps from r end where one student step does;
  * teacher step rule (default "confidence"): a MaskGIT confidence step as Di4C's `one_step_denoise`:
    sample every masked position from softmax(sm_temp·ℓ), reveal the round(L·γ(r))−round(L·γ(r+dt))
    most confident (log p + r_temp·Gumbel·(1 − r·K/(K−1))), the sampler the students are evaluated with.
    Option "ancestral": MDLM's rule — each masked token unmasks with probability (γ(r)−γ(s))/γ(r);
  * targets are the CONDITIONAL teacher's (teacher_w 0; SDTT has no guidance); guidance is applied at
    student sampling time (TeacherSampler, task defaults), as docs/references/teachers.md §4 recommends;
  * rounds 16 → 8 → 4 → 2 → 1 steps (SDTT: 1024 → … → 8) with a checkpoint per round; the teacher
    gets the raw student weights (use_ema_on_growth False), the optimiser is not reset, no EMA.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import torch
from torch import Tensor

from methods.masking import guided_logits, remask
from methods.rng import SeedStreams, gumbel_from_uniform, sample_categorical


@dataclass(frozen=True)
class SDTTConfig:
    start_steps: int = 16  # teacher step count of round 0
    final_steps: int = 1  # the last round's student step count
    num_distill_steps: int = 2  # teacher steps per student step (SDTT: 2)
    divergence: str = "kl-bwd"  # "kl-bwd" KL(student‖teacher) (SDTT default) | "kl-fwd"
    teacher_step: str = "confidence"  # "confidence" (MaskGIT / Di4C one_step_denoise) | "ancestral" (MDLM)
    teacher_w: float = 0.0  # guidance of the targets, MaskGIT form (1+w)c − wu; 0 = conditional
    sm_temp: float = 1.0  # inverse temperature of the teacher's sampling softmax
    r_temp: float = 4.5  # confidence-step Gumbel temperature (MaskGIT v1 default)
    cond_drop: float = 0.1  # null-condition dropout for student and teacher

    def __post_init__(self):
        if self.start_steps < 2 or self.final_steps < 1 or self.final_steps >= self.start_steps:
            raise ValueError(f"need start_steps > final_steps >= 1, got {self.start_steps} -> {self.final_steps}")
        ratio = self.start_steps // self.final_steps
        if self.start_steps % self.final_steps or ratio & (ratio - 1):
            raise ValueError(
                f"start_steps/final_steps must be a power of two, got {self.start_steps}/{self.final_steps}"
            )
        if self.divergence not in ("kl-bwd", "kl-fwd"):
            raise ValueError(f"divergence must be 'kl-bwd' or 'kl-fwd', got {self.divergence!r}")
        if self.teacher_step not in ("confidence", "ancestral"):
            raise ValueError(f"teacher_step must be 'confidence' or 'ancestral', got {self.teacher_step!r}")
        if self.num_distill_steps < 1:
            raise ValueError(f"num_distill_steps must be >= 1, got {self.num_distill_steps}")

    @property
    def rounds(self) -> int:
        return int(math.log2(self.start_steps // self.final_steps))

    def teacher_steps(self, round_: int) -> int:
        """Step count of the teacher in round k: start / 2^k; its student is a start / 2^(k+1)-step model."""
        return self.start_steps >> round_

    def to_dict(self) -> dict:
        return asdict(self)


def masked_fraction(r: Tensor) -> Tensor:
    """γ(r) = arccos(r)/(π/2): 1 at r = 0, 0 at r >= 1."""
    return torch.arccos(r.double().clamp(0, 1)) / (math.pi / 2)


def sdtt_divergence(logp_student: Tensor, logp_target: Tensor, mask: Tensor, mode: str = "kl-bwd") -> Tensor:
    """Mean over masked tokens of KL(student‖target) ("kl-bwd") or KL(target‖student) ("kl-fwd")."""
    s, t = logp_student[mask].float(), logp_target[mask].float()
    if s.numel() == 0:
        return logp_student.sum() * 0.0
    if mode == "kl-bwd":
        kl = (s.exp() * (s - t)).sum(-1)
    elif mode == "kl-fwd":
        kl = (t.exp() * (t - s)).sum(-1)
    else:
        raise ValueError(f"unknown divergence {mode!r}")
    return kl.mean()


class SDTT:
    """The SDTT objective and its rounds; the harness owns the optimiser, data and loop.

    `teacher_steps` is the current round's teacher step count; `end_round()` copies the student into
    the teacher and halves it.
    """

    def __init__(self, student, teacher, cfg: SDTTConfig):
        self.student, self.teacher, self.cfg = student, teacher, cfg
        self.teacher_steps = cfg.start_steps

    def set_round(self, round_: int) -> None:
        self.teacher_steps = self.cfg.teacher_steps(round_)

    @torch.no_grad()
    def end_round(self) -> int:
        """SDTT `_student_to_teacher` + dt doubling: teacher ← raw student weights; step count halves."""
        self.teacher.load_state_dict(_base(self.student).state_dict())
        self.teacher_steps //= 2
        return self.teacher_steps

    def corrupt(self, x0: Tensor, cond: Tensor, rng: SeedStreams) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """(x_t, mask, progress r, condition after dropout), drawing rand(1), rand(1), rand(L) per sample."""
        t = self.teacher
        drop = rng.rand(1)[:, 0] < self.cfg.cond_drop
        cond = torch.where(drop.view(-1, *([1] * (cond.dim() - 1))), t.null_cond(cond), cond)
        r = rng.rand(1)[:, 0].double()
        x_t, mask = remask(x0, masked_fraction(r), t.mask_id, rng.rand(t.num_tokens))
        return x_t, mask, r, cond

    @torch.no_grad()
    def teacher_targets(self, x_t: Tensor, mask: Tensor, r: Tensor, cond: Tensor, rng: SeedStreams) -> Tensor:
        """Teacher log-probs [B, L, K]: at the step where each position was unmasked, else the last step's."""
        cfg, t = self.cfg, self.teacher
        K, L, V = self.teacher_steps, t.num_tokens, t.codebook_size
        x, still = x_t.clone(), mask.clone()
        target = torch.zeros(*x.shape, V, device=x.device)
        for j in range(cfg.num_distill_steps):
            logits = guided_logits(t, x, cond, cfg.teacher_w).float() * cfg.sm_temp
            logp = logits.log_softmax(-1)
            if j == cfg.num_distill_steps - 1:  # last step: all still-masked positions
                return torch.where(still[..., None], logp, target)
            u = rng.rand(L, 2)  # as TeacherSampler: token draw, position noise
            pred = sample_categorical(logits, u[..., 0])  # x0 ~ softmax(sm_temp·ℓ), inverse CDF
            reveal = self._reveal(
                logp, pred, still, r + j / K, u[..., 1].clamp(1e-20, 1 - 1e-7)
            )  # progress at step start
            target = torch.where(reveal[..., None], logp, target)
            x = torch.where(reveal, pred, x)
            still = still & ~reveal
        return target

    def _reveal(self, logp: Tensor, pred: Tensor, still: Tensor, r: Tensor, u: Tensor) -> Tensor:
        """Which masked positions this teacher step unmasks (confidence or ancestral rule)."""
        K = self.teacher_steps
        s = (r + 1.0 / K).clamp(max=1.0)
        if self.cfg.teacher_step == "ancestral":  # MDLM: P(unmask) = (γ(r) − γ(s)) / γ(r)
            g_r, g_s = masked_fraction(r), masked_fraction(s)
            p = ((g_r - g_s) / g_r.clamp(min=1e-12)).float()
            return still & (u < p[:, None])
        L = still.shape[1]
        n_reveal = (still.sum(1) - (L * masked_fraction(s)).round().long()).clamp(min=0)
        anneal = (1 - r * K / (K - 1)).clamp(min=0).float() if K > 1 else torch.zeros_like(r).float()
        conf = (
            logp.gather(-1, pred[..., None])[..., 0]
            + self.cfg.r_temp * gumbel_from_uniform(u.clone()) * anneal[:, None]
        )
        conf = conf.masked_fill(~still, float("-inf"))
        rank = conf.argsort(-1, descending=True).argsort(-1)
        return still & (rank < n_reveal[:, None])

    def loss(self, x0: Tensor, cond: Tensor, seeds: Sequence[int]) -> tuple[Tensor, dict[str, float]]:
        """(KL on masked positions, logs) for data codes x0 [B, L] and their conditions, seeded per sample."""
        rng = SeedStreams(seeds, x0.device)
        x_t, mask, r, cond = self.corrupt(x0, cond, rng)
        target = self.teacher_targets(x_t, mask, r, cond, rng)
        logp_s = self.student(x_t, cond).float().log_softmax(-1)
        loss = sdtt_divergence(logp_s, target, mask, self.cfg.divergence)
        return loss, {
            "loss": float(loss.detach()),
            "masked_frac": float(mask.float().mean()),
            "teacher_steps": float(self.teacher_steps),
        }


def _base(model):
    return model.module if hasattr(model, "module") else model
