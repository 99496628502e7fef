"""`harness train tokenizer --task shapes`: the shapes VQ autoencoder."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

from harness import assets
from harness import distributed as D
from harness.config import to_dict
from harness.networks.shapes_vq import ShapesVQ, VQConfig
from harness.tasks.shapes_data import class_dataset, scene_dataset, to_float
from harness.train_loop import TrainLoop, step_generator


@dataclass(frozen=True)
class TokenizerTrainConfig:
    task: str = "shapes"
    steps: int = 2000
    batch: int = 64
    lr: float = 1e-3
    n_class: int = 20000  # class renders in the training set
    n_scene: int = 20000  # text scenes in the training set
    restart_every: int = 100  # dead-code restarts (stop after 60% of training so codes settle)
    seed: int = 0
    resolution: int = 32
    channels: int = 48
    codebook_size: int = 256
    code_dim: int = 32


def build(cfg: TokenizerTrainConfig) -> ShapesVQ:
    return ShapesVQ(VQConfig(cfg.resolution, cfg.channels, cfg.codebook_size, cfg.code_dim))


@torch.no_grad()
def reconstruction_report(vq: ShapesVQ, n: int = 1000) -> dict:
    """PSNR, mean absolute error (0..255) and codebook usage on held-out renders of both kinds."""
    vq.eval()
    out = {}
    for kind, (imgs, *_) in {"class": class_dataset(n, "heldout"), "scene": scene_dataset(n, "heldout")}.items():
        x = to_float(imgs).to(next(vq.parameters()).device)
        tok = vq.encode(x)
        rec = vq.decode(tok).clamp(-1, 1)
        mse = F.mse_loss((rec + 1) / 2, (x + 1) / 2).item()
        out[f"{kind}_psnr_db"] = round(-10 * torch.log10(torch.tensor(mse)).item(), 3)
        out[f"{kind}_mae_255"] = round(((rec - x).abs().mean() * 127.5).item(), 3)
        out[f"{kind}_codes_used"] = int(tok.unique().numel())
    return out


def train(cfg: TokenizerTrainConfig, out: Path, ship: bool = False) -> dict:
    torch.manual_seed(cfg.seed)
    dev = D.device()
    vq = build(cfg).to(dev)
    opt = torch.optim.Adam(vq.parameters(), lr=cfg.lr, betas=(0.5, 0.9))
    loop = TrainLoop(out, cfg, {"vq": vq}, {"opt": opt}, cfg.steps, ckpt_every=250, desc="tokenizer")
    imgs = torch.cat(
        [class_dataset(cfg.n_class, "train", cfg.resolution)[0], scene_dataset(cfg.n_scene, "train", cfg.resolution)[0]]
    )
    counts = torch.zeros(cfg.codebook_size, device=dev)

    def step(i: int) -> dict:
        g = step_generator(cfg.seed, i)
        x = to_float(imgs[torch.randint(0, len(imgs), (cfg.batch,), generator=g)]).to(dev)
        vq.train()
        rec, vq_loss, idx = vq(x)
        rec_loss = F.l1_loss(rec, x) + F.mse_loss(rec, x)
        loss = rec_loss + vq_loss
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        counts.add_(torch.bincount(idx.flatten(), minlength=cfg.codebook_size).float())
        restarted = 0
        if (i + 1) % cfg.restart_every == 0:
            if i < 0.6 * cfg.steps:
                restarted = vq.restart_dead_codes(x, counts, g)
            counts.zero_()
        return {"loss": loss.item(), "rec": rec_loss.item(), "vq": vq_loss.item(), "restarted": restarted}

    stats = loop.run(step)
    report = reconstruction_report(vq)
    result = {"train": stats, "reconstruction": report}
    if ship:
        result["asset"] = str(
            assets.ship(
                "shapes_vq",
                vq.state_dict(),
                {"vq": vq.cfg.to_dict(), "train": to_dict(cfg)},
                {"measured": report, "sec_per_step": stats["sec_per_step"]},
            )
        )
    return result


def load_shipped(path: str | Path | None = None) -> ShapesVQ:
    sd, meta = assets.load_asset("shapes_vq", path)
    vq = ShapesVQ(VQConfig(**meta["config"]["vq"]))
    vq.load_state_dict(sd)
    return vq.eval().requires_grad_(False)
