"""DiMO-style distillation (Zhu et al., arXiv 2503.15457), as in yuanzhi-zhu/DiMO `train_DIMO_MaskGit.py`.

Facts from docs/references/teachers.md §2. Three networks, all copies of the teacher: the frozen
teacher T, the one-step generator G and the auxiliary ("fake") model F, the paper's "Aux. Score Net".
One training step (generator first, then one aux update, `fake_rounds: 1`):
  §2.2  z_init: round(L·r_init) positions masked, the rest uniform random codes (r_init 0.6); G sees
        it with the embedding perturbation e ← σ·ε + sqrt(1−σ²)·e (σ 0.1); logits z_θ = G(z_init, y),
        hard sample x_θ ~ softmax(z_θ / gen_temp) (not differentiated).
  §2.3  re-mask x_θ with exactly round(L·ρ) positions (min 1), ρ = arccos(U)/(π/2); without grad
        ℓ_T = ℓ_u + s(ℓ_c − ℓ_u) (true_cfg s 2.0), ℓ_F conditional only; p = softmax(ℓ/τ);
        g = (1−β)(p_F − p_T) + β·p_F ⊙ (log p_F − log p_T − KL(p_F‖p_T)) on re-masked positions
        (β = 0: forward KL, the evaluated run; β = 1: reverse KL);
        L_G = 0.5·Σ(z_θ − sg(z_θ − g))² / B, so ∂L_G/∂z_θ = g / B.
  §2.4  F: a FRESH no-grad generator sample (new z_init, new conditions), re-masked the same way,
        cross-entropy with label smoothing 0.1 on re-masked positions (hard targets).
  §2.1  Embeddings (token, position, condition; MaskGIT's output `bias`) frozen in G and F; EMA of G
        with decay min(0.9999, (1+step)/(10+step)) (`update_ema`).
Deviations: logits are K-way (no [MASK] class; DiMO's are 1025-way); the shapes teacher has no dropout,
so DiMO's "teacher left in train mode" makes no difference here.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from methods.fpd import OneStepStudent
from methods.masking import guided_logits, remask
from methods.rng import SeedStreams

RATIO_MODES = ("arccos", "cosine", "linear", "square")  # DiMO get_mask_code modes (mage omitted)


@dataclass(frozen=True)
class DiMOConfig:
    r_init: float = 0.6  # fixed_ratio 'fix_0.6'                              (§2.2)
    emb_perturb: float = 0.1  # noise_emb_perturb 'fix_0.1'
    gen_temp: float = 1.0  # sampling temperature of x_θ (train and inference)
    true_cfg: float = 2.0  # s in ℓ_u + s(ℓ_c − ℓ_u), constant (adaptive_cfg False)  (§2.3)
    fake_cfg: float = 1.0  # aux model guidance at evaluation: 1 = conditional only
    true_temp: float = 1.0
    fake_temp: float = 1.0
    jeffreys_beta: float = 0.0  # distil_loss_type 'Jeffreys_0.' = forward KL; 1 = reverse KL
    ratio_mode: str = "arccos"  # re-mask law for the generator loss
    ratio_mode_fake: str = "arccos"  # re-mask law for the aux update
    label_smoothing: float = 0.1  # aux cross-entropy                                  (§2.4)
    ema_decay: float = 0.9999  # (§2.1)
    # fix_emb_layer: () = the names the model declares (`dimo_frozen`: token and position embeddings and a tied
    # readout, named per architecture); a non-empty tuple overrides them
    frozen: tuple = ()

    def __post_init__(self):
        if not 0.0 < self.r_init <= 1.0:
            raise ValueError(f"r_init must be in (0, 1], got {self.r_init}")
        if not 0.0 <= self.emb_perturb < 1.0:
            raise ValueError(f"emb_perturb must be in [0, 1), got {self.emb_perturb}")
        if not 0.0 <= self.jeffreys_beta <= 1.0:
            raise ValueError(f"jeffreys_beta must be in [0, 1], got {self.jeffreys_beta}")
        for m in (self.ratio_mode, self.ratio_mode_fake):
            if m not in RATIO_MODES:
                raise ValueError(f"unknown ratio mode {m!r}; choose one of {RATIO_MODES}")

    def to_dict(self) -> dict:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}


def mask_ratio(u: Tensor, mode: str) -> Tensor:
    """DiMO get_mask_code: the fraction to mask from U ~ U(0, 1); "arccos" gives ρ = arccos(U)/(π/2)."""
    u = u.double()
    if mode == "arccos":
        return torch.arccos(u) / (math.pi / 2)
    if mode == "cosine":
        return torch.cos(u * math.pi / 2)
    if mode == "square":
        return u**2
    if mode == "linear":
        return u
    raise ValueError(f"unknown ratio mode {mode!r}; choose one of {RATIO_MODES}")


def freeze_embeddings(model: nn.Module, names: Sequence[str] = ()) -> list[str]:
    """DiMO fix_emb_layer: requires_grad False on the named parameters/modules (default: the model's own
    `dimo_frozen`); returns what froze. Names that match nothing are an error, never a silent no-op."""
    names = tuple(names) or getattr(model, "dimo_frozen", ())
    if not names:
        raise ValueError(f"{type(model).__name__} declares no dimo_frozen names; pass frozen=(...) explicitly")
    frozen, unmatched = [], []
    for n in names:
        hits = [(pn, p) for pn, p in model.named_parameters() if pn == n or pn.startswith(n + ".")]
        unmatched += [] if hits else [n]
        for pn, p in hits:
            p.requires_grad_(False)
            frozen.append(pn)
    if unmatched:
        raise ValueError(
            f"frozen names {unmatched} match no parameter of {type(model).__name__}; "
            f"its embeddings are {list(getattr(model, 'dimo_frozen', ()))}"
        )
    return frozen


class EMA:
    """DiMO update_ema: θ_ema ← r·θ_ema + (1−r)·θ, r = min(decay, (1+step)/(10+step))."""

    def __init__(self, model: nn.Module, decay: float = 0.9999):
        self.decay = decay
        self.model = copy.deepcopy(_base(model)).eval().requires_grad_(False)

    @torch.no_grad()
    def update(self, model: nn.Module, step: int) -> float:
        rate = min(self.decay, (1 + step) / (10 + step))
        for e, p in zip(self.model.parameters(), _base(model).parameters()):
            e.mul_(rate).add_(p.detach(), alpha=1 - rate)
        for e, b in zip(self.model.buffers(), _base(model).buffers()):
            e.copy_(b)
        return rate


def dimo_gradient(
    l_true: Tensor, l_fake: Tensor, beta: float = 0.0, true_temp: float = 1.0, fake_temp: float = 1.0
) -> Tensor:
    """The Jeffreys_β logit gradient (DiMO §2.3): (1−β)(p_F − p_T) + β·p_F ⊙ (log p_F − log p_T − KL(p_F‖p_T))."""
    lp_t = torch.log_softmax(l_true.float() / true_temp, -1)
    lp_f = torch.log_softmax(l_fake.float() / fake_temp, -1)
    p_t, p_f = lp_t.exp(), lp_f.exp()
    g = p_f - p_t
    if beta > 0:
        rkl = (p_f * (lp_f - lp_t)).sum(-1, keepdim=True)
        g = (1 - beta) * g + beta * p_f * (lp_f - lp_t - rkl)
    return g


def distribution_matching_loss(logits: Tensor, grad: Tensor, mask: Tensor) -> Tensor:
    """L_G = 0.5·Σ(z_θ − sg(z_θ − g))² / B with g zeroed off the re-masked positions: ∂L_G/∂z_θ = g / B."""
    g = torch.nan_to_num(torch.where(mask[..., None], grad, 0.0)).detach()
    z = logits.float()
    return 0.5 * (z - (z - g).detach()).pow(2).sum() / logits.shape[0]


def one_step_draft(
    net, cond: Tensor, rng: SeedStreams, r_init: float, temp: float, emb_perturb: float
) -> tuple[Tensor, Tensor]:
    """G(z_init, y): (logits, hard sample) by OneStepStudent.draft itself, so training and sampling draw
    the same z_init and the same sample; `net` may be a DDP wrapper (the module that is called)."""
    return OneStepStudent(_base(net), None, r_init, temp, emb_perturb).draft(cond, rng, forward=net)


class DiMO:
    """The DiMO objectives; the harness owns the optimisers, the EMA and the loop.

    `generator_loss` returns (L_G, logs, z_θ) and touches no aux/teacher gradient; `aux_loss` returns
    (L_F, logs) with the generator sample drawn under no_grad, so only the aux model gets gradients.
    """

    def __init__(self, generator, aux, teacher, tokenizer, cfg: DiMOConfig):
        self.generator_net, self.aux, self.teacher, self.tokenizer, self.cfg = generator, aux, teacher, tokenizer, cfg
        self.generator = OneStepStudent(_base(generator), tokenizer, cfg.r_init, cfg.gen_temp, cfg.emb_perturb)

    def _remask(self, x: Tensor, rng: SeedStreams, mode: str) -> tuple[Tensor, Tensor]:
        """Exactly round(L·ρ) (min 1) positions of each row set to [MASK] (get_mask_code, value=mask_id)."""
        t = self.teacher
        ratio = mask_ratio(rng.rand(1)[:, 0], mode)
        return remask(x, ratio, t.mask_id, rng.rand(t.num_tokens))

    def generator_loss(self, cond: Tensor, seeds: Sequence[int]) -> tuple[Tensor, dict[str, float], Tensor]:
        cfg, t = self.cfg, self.teacher
        rng = SeedStreams(seeds, cond.device)
        logits, x = one_step_draft(self.generator_net, cond, rng, cfg.r_init, cfg.gen_temp, cfg.emb_perturb)
        x_t, mask = self._remask(x, rng, cfg.ratio_mode)
        with torch.no_grad():
            l_true = guided_logits(t, x_t, cond, cfg.true_cfg - 1)  # ℓ_u + s(ℓ_c−ℓ_u) = (1+w)ℓ_c − wℓ_u, w = s−1
            l_fake = guided_logits(_base(self.aux), x_t, cond, cfg.fake_cfg - 1)
            g = dimo_gradient(l_true, l_fake, cfg.jeffreys_beta, cfg.true_temp, cfg.fake_temp)
        loss = distribution_matching_loss(logits, g, mask)
        with torch.no_grad():
            lp = logits.float().log_softmax(-1)
            gm = g[mask]
            logs = {
                "loss_dm": float(loss.detach()),
                "remask_ratio": float(mask.float().mean()),
                "score_diff_abs": float(gm.abs().sum(-1).mean()) if gm.numel() else 0.0,
                "gen_entropy": float(-(lp.exp() * lp).sum(-1).mean()),
            }
        return loss, logs, logits

    def aux_loss(self, cond: Tensor, seeds: Sequence[int]) -> tuple[Tensor, dict[str, float]]:
        """CE(F(x̃_t, y), x_θ) on re-masked positions of a fresh generator sample, label smoothing 0.1."""
        cfg = self.cfg
        rng = SeedStreams(seeds, cond.device)
        with torch.no_grad():
            _, x = one_step_draft(_base(self.generator_net), cond, rng, cfg.r_init, cfg.gen_temp, cfg.emb_perturb)
        x_t, mask = self._remask(x, rng, cfg.ratio_mode_fake)
        l_fake = self.aux(x_t, cond)  # fake_cfg_train 1: conditional, no drop
        loss = F.cross_entropy(l_fake[mask].float(), x[mask], label_smoothing=cfg.label_smoothing)
        return loss, {"loss_fake": float(loss.detach())}


def _base(model):
    return model.module if hasattr(model, "module") else model
