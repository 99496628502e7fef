"""`harness train classifier --task shapes` (evaluator) and `harness train backbone --task shapes` (FPD's Φ).

Two separate networks with different architectures, data and objectives, so the network FPD trains
against is never the one that scores it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from evaluators.shapes_classifier import ShapesClassifier
from evaluators.shapes_geometry import COLORS, SHAPES
from harness import assets
from harness import distributed as D
from harness.config import to_dict
from harness.networks.shapes_backbone import BackboneConfig, ShapesBackbone
from harness.tasks import shapes as S
from harness.tasks.shapes_data import class_dataset, seed_of, to_float, to_tensor
from harness.train_loop import TrainLoop, step_generator


@dataclass(frozen=True)
class ClassifierTrainConfig:
    task: str = "shapes"
    steps: int = 800
    batch: int = 64
    lr: float = 1e-3
    n_train: int = 24000
    n_heldout: int = 2400
    seed: int = 1


@dataclass(frozen=True)
class BackboneTrainConfig:
    task: str = "shapes"
    steps: int = 800
    batch: int = 64
    lr: float = 1e-3
    n_class: int = 12000
    n_scene: int = 12000
    seed: int = 2


def train_classifier(cfg: ClassifierTrainConfig, out: Path, ship: bool = False) -> dict:
    torch.manual_seed(cfg.seed)
    dev = D.device()
    net = ShapesClassifier().to(dev)
    opt = torch.optim.Adam(net.parameters(), lr=cfg.lr)
    loop = TrainLoop(out, cfg, {"classifier": net}, {"opt": opt}, cfg.steps, ckpt_every=200, desc="classifier")
    imgs, labels = class_dataset(cfg.n_train, "train")

    def step(i: int) -> dict:
        g = step_generator(cfg.seed, i)
        idx = torch.randint(0, len(imgs), (cfg.batch,), generator=g)
        net.train()
        loss = F.cross_entropy(net(imgs[idx].to(dev))["logits"], labels[idx].to(dev))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return {"loss": loss.item()}

    stats = loop.run(step)
    acc = classifier_accuracy(net, cfg.n_heldout)
    result = {"train": stats, "heldout_accuracy": acc}
    if ship:
        result["asset"] = str(
            assets.ship(
                "shapes_classifier",
                net.state_dict(),
                {"train": to_dict(cfg)},
                {"measured": {"heldout_accuracy": acc, "n_heldout": cfg.n_heldout}},
            )
        )
    return result


@torch.no_grad()
def classifier_accuracy(net: ShapesClassifier, n: int) -> float:
    net.eval()
    imgs, labels = class_dataset(n, "heldout")
    dev = next(net.parameters()).device
    return float((net(imgs.to(dev))["logits"].argmax(-1).cpu() == labels).float().mean())


def load_classifier(path: str | Path | None = None) -> tuple[ShapesClassifier, str]:
    sd, meta = assets.load_asset("shapes_classifier", path)
    net = ShapesClassifier()
    net.load_state_dict(sd)
    return net.eval().requires_grad_(False), meta["sha256"][:16]


# ---------------------------------------------------------------- drift backbone


def cell_targets(render: S.Render, grid: int = 4) -> tuple[np.ndarray, np.ndarray]:
    """Per grid cell: the shape / colour index of the object covering most of it (none = last index)."""
    h = render.image.shape[0]
    k = h // grid
    shape_t = np.full((grid, grid), len(SHAPES), np.int64)
    color_t = np.full((grid, grid), len(COLORS), np.int64)
    best = np.full((grid, grid), 0.15)
    for o, m in zip(render.objects, render.masks):
        cov = m.reshape(grid, k, grid, k).mean((1, 3))
        win = cov > best
        shape_t[win], color_t[win], best[win] = SHAPES.index(o.shape), COLORS.index(o.color), cov[win]
    return shape_t, color_t


def backbone_dataset(cfg: BackboneTrainConfig):
    renders = [S.render_class(i % S.NUM_CLASSES, seed_of("train", 500_000 + i)) for i in range(cfg.n_class)]
    renders += [S.sample_scene(seed_of("train", 500_000 + i)) for i in range(cfg.n_scene)]
    targets = [cell_targets(r) for r in renders]
    return (
        to_tensor([r.image for r in renders]),
        torch.from_numpy(np.stack([t[0] for t in targets])),
        torch.from_numpy(np.stack([t[1] for t in targets])),
    )


def train_backbone(cfg: BackboneTrainConfig, out: Path, ship: bool = False) -> dict:
    torch.manual_seed(cfg.seed)
    dev = D.device()
    net = ShapesBackbone(BackboneConfig()).to(dev)
    opt = torch.optim.Adam(net.parameters(), lr=cfg.lr)
    loop = TrainLoop(out, cfg, {"backbone": net}, {"opt": opt}, cfg.steps, ckpt_every=200, desc="backbone")
    imgs, shape_t, color_t = backbone_dataset(cfg)

    def step(i: int) -> dict:
        g = step_generator(cfg.seed, i)
        idx = torch.randint(0, len(imgs), (cfg.batch,), generator=g)
        net.train()
        ps, pc = net(to_float(imgs[idx]).to(dev))
        loss = F.cross_entropy(ps, shape_t[idx].to(dev)) + F.cross_entropy(pc, color_t[idx].to(dev))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return {"loss": loss.item()}

    stats = loop.run(step)
    result = {"train": stats}
    if ship:
        result["asset"] = str(
            assets.ship(
                "shapes_backbone",
                net.state_dict(),
                {"backbone": net.cfg.to_dict(), "train": to_dict(cfg)},
                {"final_loss": stats["last"]["loss"]},
            )
        )
    return result


def load_backbone(path: str | Path | None = None) -> ShapesBackbone:
    sd, meta = assets.load_asset("shapes_backbone", path)
    net = ShapesBackbone(
        BackboneConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in meta["config"]["backbone"].items()})
    )
    net.load_state_dict(sd)
    return net.eval().requires_grad_(False)
