"""`harness train teacher --task shapes|shapes-t2i`: the MaskGIT-style shapes teachers.

Objective: the paper's Eq. 2, cross-entropy on masked positions, with MaskGIT-pytorch v1's
per-sample arccos masking (r ~ U(0,1), p_mask = arccos(r)/(π/2), Bernoulli per token), label
smoothing 0.1 and 10 % condition dropout to the null class / empty caption (teachers.md §1.2).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

from harness import assets
from harness import distributed as D
from harness.config import to_dict
from harness.networks.shapes_transformer import ShapesMaskTransformer, TransformerConfig
from harness.tasks import shapes as S
from harness.tasks.shapes_data import class_dataset, scene_dataset, to_float
from harness.train_loop import TrainLoop, step_generator, unwrap
from harness.trainers.tokenizer import load_shipped as load_tokenizer


@dataclass(frozen=True)
class TeacherTrainConfig:
    task: str = "shapes"          # "shapes" (class-conditional) | "shapes-t2i" (captions)
    steps: int = 2500
    batch: int = 96
    lr: float = 6e-4
    weight_decay: float = 1e-5    # MaskGIT-pytorch v1 AdamW settings
    betas: tuple = (0.9, 0.96)
    warmup: int = 200
    grad_clip: float = 1.0
    label_smoothing: float = 0.1
    cond_drop: float = 0.1
    n_train: int = 48000
    width: int = 128
    depth: int = 4
    heads: int = 4
    seed: int = 0


def model_config(cfg: TeacherTrainConfig, tok) -> TransformerConfig:
    return TransformerConfig(num_tokens=tok.num_tokens, codebook_size=tok.codebook_size,
                             cond="class" if cfg.task == "shapes" else "text", num_classes=S.NUM_CLASSES,
                             text_vocab=len(S.CAPTION_VOCAB), text_len=S.CAPTION_LEN,
                             width=cfg.width, depth=cfg.depth, heads=cfg.heads)


@torch.no_grad()
def tokenize_dataset(tok, cfg: TeacherTrainConfig) -> tuple[torch.Tensor, torch.Tensor]:
    if cfg.task == "shapes":
        imgs, cond = class_dataset(cfg.n_train, "train")
    else:
        imgs, cond, _ = scene_dataset(cfg.n_train, "train")
    codes = torch.cat([tok.encode(to_float(imgs[i:i + 1000])) for i in range(0, len(imgs), 1000)])
    return codes, cond


def masked_ce_loss(model, codes: torch.Tensor, cond: torch.Tensor, g: torch.Generator, cfg: TeacherTrainConfig) -> torch.Tensor:
    b, l = codes.shape
    r = torch.rand(b, generator=g)
    p_mask = torch.arccos(r) / (math.pi / 2)
    mask = torch.rand(b, l, generator=g) < p_mask[:, None]
    drop = torch.rand(b, generator=g) < cfg.cond_drop
    cond = torch.where(drop.view(-1, *([1] * (cond.dim() - 1))), model_null(model, cond), cond)
    logits = model(codes.masked_fill(mask, _mask_id(model)), cond)
    loss = F.cross_entropy(logits[mask], codes[mask], label_smoothing=cfg.label_smoothing)
    return loss


def model_null(model, cond):
    return unwrap(model).null_cond(cond)


def _mask_id(model) -> int:
    return unwrap(model).mask_id


def train(cfg: TeacherTrainConfig, out: Path, ship: bool = False, sample_every: int = 500) -> dict:
    D.init()
    torch.manual_seed(cfg.seed)
    tok = load_tokenizer()
    model = ShapesMaskTransformer(model_config(cfg, tok))
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, betas=tuple(cfg.betas), weight_decay=cfg.weight_decay)
    ddp = torch.nn.parallel.DistributedDataParallel(model) if D.world() > 1 else model

    def sample_grid(step: int, folder: Path) -> None:
        from harness.grids import teacher_grid
        teacher_grid(model.eval(), tok, cfg.task, folder / f"step_{step:07d}.png")
        model.train()

    loop = TrainLoop(out, to_dict(cfg), {"model": model}, {"opt": opt}, cfg.steps, ckpt_every=250,
                     sample_every=sample_every, sample_fn=sample_grid, desc=f"teacher[{cfg.task}]")
    codes, cond = tokenize_dataset(tok, cfg)

    def step(i: int) -> dict:
        g = step_generator(cfg.seed, i)
        idx = torch.randint(0, len(codes), (cfg.batch,), generator=g)[D.local_slice(cfg.batch)]
        lr = cfg.lr * min(1.0, (i + 1) / cfg.warmup)   # linear warm-up, then constant: a function of the step only
        for group in opt.param_groups:
            group["lr"] = lr
        model.train()
        loss = masked_ce_loss(ddp, codes[idx], cond[idx], g, cfg)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        gn = torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
        opt.step()
        return {"loss": loss.item(), "grad_norm": gn.item(), "lr": lr}

    stats = loop.run(step)
    result = {"train": stats}
    if ship and D.is_main():
        name = "teacher_shapes" if cfg.task == "shapes" else "teacher_shapes_t2i"
        result["asset"] = str(assets.ship(name, model.state_dict(), {"model": model.cfg.to_dict(), "train": to_dict(cfg)},
                                          {"sec_per_step": stats["sec_per_step"], "final_loss": stats["last"].get("loss")}))
    return result


def load_shipped(task: str = "shapes", path: str | Path | None = None) -> ShapesMaskTransformer:
    name = {"shapes": "teacher_shapes", "shapes-t2i": "teacher_shapes_t2i"}[task]
    sd, meta = assets.load_asset(name, path)
    m = ShapesMaskTransformer(TransformerConfig(**meta["config"]["model"]))
    m.load_state_dict(sd)
    return m.eval().requires_grad_(False)
