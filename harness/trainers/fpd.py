"""`harness train fpd --task shapes|shapes-t2i|imagenet|t2i`: the FPD training run.

The method lives in methods/fpd.py; this file builds the networks for a task, owns the optimisers,
the DDP plumbing (drift sets gathered over ranks, so 1 or N processes see the same sets), the GAN's
discriminator step, sample grids and the final export with its cost accounting.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, fields
from pathlib import Path

import torch

from harness import distributed as D
from harness.config import to_dict
from harness.errors import HarnessError
from harness.train_loop import TrainLoop, step_generator
from harness.trainers.common import cost_report, count_trainable, curve_point, export_student, shapes_conditions
from methods.fpd import FPD, FPDConfig, condition_leaders
from methods.rng import SeedStreams


@dataclass(frozen=True)
class FPDTrainConfig:
    task: str = "shapes"
    # shapes defaults: the budget and lr chosen on validation seeds by the fair protocol (docs/fpd-diagnosis.md,
    # which holds the grid); paper: lr 1e-5 for MaskGIT / MaskGen-L, kept by the paper-scale presets.
    steps: int = 400
    batch: int = 64
    lr: float = 2e-4
    weight_decay: float = 0.0
    grad_clip: float = 1.0
    seed: int = 0
    # FPD options (methods.fpd.FPDConfig), flat so `--set key=value` reaches them
    r_init: float = 0.95
    student_temp: float = 1.0
    emb_perturb: float = 0.0
    estimator: str = "ste"
    draft_source: str = "student"
    remask: str = "uniform"
    remask_lo: float = 0.2
    remask_hi: float = 0.8
    teacher_w: float = 1.0
    teacher_sm_temp: float = 1.0
    target: str = "fill"
    reveal_frac: float = 0.25
    reveal_noise: float = 1.0
    space: str = "feature"
    bandwidths: tuple = (0.02, 0.05, 0.2)
    self_pairs: str = "mask-both"  # default and its evidence: methods/fpd.py FPDConfig
    drift_norm: str = "rms"
    drift_sets: str = "batch"
    per_cond: int = 1
    positives: str = "target"  # "data" is a control, "teacher" / "mix:α" an extension; neither is FPD (methods/fpd.py)
    pool_per_cond: int = 64  # positives=teacher|mix: 16-step teacher samples per condition in the cached pool
    pool_captions: int = 256  # shapes-t2i with a pool: the captions it holds (the run trains on these)
    pool_dir: str = ""  # the pool's folder ("" = $FPD_CACHE_DIR/teacher-pools/<task>/<fingerprint>)
    objective: str = "drift"  # "paired" / "tokens" are controls, not FPD (methods/fpd.py)
    gan: bool = False
    gan_weight: float = 0.1
    d_lr: float = 2e-3
    # lifting (Φ): blocks, grid (0 = global average pooling), per-token normalisation
    blocks: tuple = (0, 1, 2, 3)
    grid: int = 4
    token_norm: bool = True
    # diagnostics (do not change training): sample statistics every stats_every steps on stats_n fixed seeds
    stats_every: int = 100
    stats_n: int = 500

    @classmethod
    def preset(cls, task: str) -> "FPDTrainConfig":
        """Defaults for a task: the shapes values above, or the paper's (harness/presets.py) at paper scale."""
        if task in ("shapes", "shapes-t2i"):
            return cls(task=task)
        from harness.presets import get_preset

        p = get_preset(task)
        return cls(
            task=task,
            batch=p.batch_size,
            lr=p.lr,
            r_init=p.r_init,
            bandwidths=tuple(p.bandwidths),
            blocks=tuple(p.feature_blocks),
            grid=p.feature_grid,
            token_norm=False,
            steps=30_000,
        )

    def fpd(self) -> FPDConfig:
        names = {f.name for f in fields(FPDConfig)}
        return FPDConfig(
            **{k: v for k, v in to_dict(self).items() if k in names and k != "pixel_grid"}
            | {"bandwidths": tuple(self.bandwidths)}
        )


def build_shapes(cfg: FPDTrainConfig):
    from harness.networks.shapes_backbone import FrozenBackbone
    from harness.trainers.evaluator_nets import load_backbone
    from harness.trainers.teacher import load_shipped as load_teacher
    from harness.trainers.tokenizer import load_shipped as load_tokenizer

    tok = load_tokenizer()
    teacher = load_teacher(cfg.task)
    backbone = FrozenBackbone(load_backbone(), tuple(cfg.blocks), cfg.grid or None, cfg.token_norm)
    return tok, teacher, backbone


def build_gan(cfg: FPDTrainConfig, backbone):
    from methods.gan import GAN, ProjectedDiscriminator

    if cfg.task not in ("shapes", "shapes-t2i"):  # StyleGAN-XL's discriminator on frozen timm DeiT + EfficientNet-lite0
        from harness.networks.projected_disc import load_task_discriminator

        return GAN(load_task_discriminator(cfg.task).to(D.device()), lr=cfg.d_lr, seed=cfg.seed)
    net = backbone.net
    disc = ProjectedDiscriminator(lambda x: net.blocks(x)[1:], list(net.cfg.widths[1:]))
    return GAN(disc, lr=cfg.d_lr, seed=cfg.seed)


def real_images(task: str, n: int = 8000) -> torch.Tensor:
    if task not in ("shapes", "shapes-t2i"):
        from harness.trainers.paper_scale import real_images as paper_real

        return paper_real(n, task=task)  # streamed from FPD_REAL_IMAGES or the HF cache
    from harness.tasks.shapes_data import class_dataset, scene_dataset, to_float

    imgs = class_dataset(n, "train")[0] if task == "shapes" else scene_dataset(n, "train")[0]
    return to_float(imgs)


def train(cfg: FPDTrainConfig, out: Path, sample_every: int = 250) -> dict:
    cfg.fpd()  # a bad option fails here, in one line, before any network is loaded
    if cfg.positives == "data" and not cfg.task.startswith("shapes"):
        raise HarnessError(
            "positives=data (the drifting control) is built for the shapes tasks only; use positives=target"
        )
    if cfg.batch % cfg.per_cond:
        raise HarnessError(
            f"batch {cfg.batch} is not a multiple of per_cond {cfg.per_cond}; choose per_cond dividing it"
        )
    D.init()
    pool = None
    if cfg.fpd().independent_positives() and cfg.positives != "data":  # the extension's teacher samples
        from harness.teacher_pool import build_pool

        pool = build_pool(cfg.task, cfg.pool_per_cond, cfg.pool_captions, Path(cfg.pool_dir) if cfg.pool_dir else None)
    paper_conditions = None
    if cfg.task not in ("shapes", "shapes-t2i"):
        from harness.trainers.paper_scale import build_paper_scale, check_data, conditions as paper_conditions

        check_data(cfg.task, gan=cfg.gan)  # captions / real images found before minutes of network loading
        tok, teacher, backbone = build_paper_scale(cfg)  # official weights
    else:
        tok, teacher, backbone = build_shapes(cfg)
    dev = D.device()
    tok, teacher, backbone = tok.to(dev), teacher.to(dev), backbone.to(dev)
    torch.manual_seed(cfg.seed)
    student = copy.deepcopy(teacher).train().requires_grad_(True)  # initialised from the teacher
    # bf16: the networks' forwards under autocast (D.amp), the drift loss in float32 outside it
    amp = lambda m: D.amp(m, cfg.task)  # noqa: E731
    ddp = torch.nn.parallel.DistributedDataParallel(amp(student)) if D.world() > 1 else amp(student)
    opt = torch.optim.AdamW(student.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    gan = build_gan(cfg, backbone) if cfg.gan else None
    if gan:
        gan.disc.to(dev)  # the shapes heads are built on the CPU (in place: the optimiser keeps its parameters)
    method = FPD(ddp, amp(teacher), amp(tok), amp(backbone), cfg.fpd(), gan)
    method.generator.device = dev  # grids and stats sample where the student is
    modules, optims = {"student": student}, {"opt": opt}
    if gan:
        modules["disc"], optims["d_opt"] = gan.disc, gan.opt
        reals = real_images(cfg.task)

    def grid(step: int, folder: Path) -> None:
        from harness.grids import generator_grid

        student.eval()
        generator_grid(method.generator, cfg.task, folder / f"step_{step:07d}.png")
        student.train()

    student_config = {
        "method": "fpd",
        "train": to_dict(cfg),
        "model": student.cfg.to_dict() if hasattr(student.cfg, "to_dict") else {},
    }

    point = curve_point(student, student_config, teacher)

    loop = TrainLoop(
        out,
        cfg,
        modules,
        optims,
        cfg.steps,
        ckpt_every=100,
        log_every=10,
        point_fn=point,
        sample_every=sample_every if cfg.task.startswith("shapes") else 0,
        sample_fn=grid,
        desc=f"fpd[{cfg.task}]",
        bar_keys=(
            "drift_raw_norm",
            "drift_raw_radial",
            "target_changed",
            "saturated",
            "sample_mean_area",
            "sample_centre_spread",
        ),
    )
    local = D.local_slice(cfg.batch)
    gather = D.all_gather_cat if D.world() > 1 else None

    def step(i: int) -> dict:
        all_seeds = SeedStreams.derive(cfg.seed, i, range(cfg.batch))
        seeds = all_seeds[local]
        # per_cond > 1: blocks of per_cond samples share the condition drawn from the block's first seed
        all_cond_seeds = [all_seeds[j] for j in condition_leaders(cfg.batch, cfg.per_cond)]
        cond_seeds = all_cond_seeds[local]
        cond = (
            shapes_conditions(cfg.task, cond_seeds)
            if cfg.task.startswith("shapes")
            else paper_conditions(cfg.task, teacher, cond_seeds)
        ).to(dev)
        data = None
        if cfg.positives == "data":
            from harness.trainers.common import shapes_renders

            data = shapes_renders(cfg.task, cond_seeds, seeds)
        elif pool is not None:  # the pool's conditions (the same classes; captions the pool holds), its samples
            index = [s % pool.num_conds for s in all_cond_seeds]  # drawn for the whole batch: every rank agrees
            cond = pool.conds[index][local].to(dev)
            data = pool.draw(index, step_generator(cfg.seed, i, stream=3))[local]
        loss, logs, x_img = method.loss(cond, seeds, gather=gather, local=local if gather else None, data=data)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        logs["grad_norm"] = float(torch.nn.utils.clip_grad_norm_(student.parameters(), cfg.grad_clip))
        opt.step()
        if gan:
            g = step_generator(cfg.seed, i, stream=1)
            real = reals[torch.randint(0, len(reals), (x_img.shape[0],), generator=g)].to(x_img.device)
            logs.update(gan.discriminator_step(real, x_img))
        if cfg.stats_every and (i + 1) % cfg.stats_every == 0 and cfg.task.startswith("shapes") and D.is_main():
            from harness.trainers.common import sample_stats

            student.eval()
            from harness.generators import OnHost

            logs.update(sample_stats(OnHost(method.generator), cfg.task, cfg.stats_n))
            student.train()
        return logs

    stats = loop.run(step)
    result = {"train": stats, "device": str(dev), "precision": D.precision(cfg.task)}
    if D.is_main():
        costs = cost_report(
            stats,
            count_trainable(student) + (count_trainable(gan.disc.heads) if gan else 0),
            ["student", "teacher (frozen)", "decoder (frozen)", "backbone (frozen)"]
            + (["discriminator heads"] if gan else []),
            aux_score_net=False,
        )
        if pool is not None:  # the pool is part of what the extension's student cost
            costs["teacher_pool"] = pool.meta
            costs["extension"] = f"positives={cfg.positives}"
        teacher_meta = getattr(teacher, "asset_sha256", None)
        result["export"] = export_student(
            out, "student", student, student_config, {"costs": costs, "teacher_sha256": teacher_meta}
        )
        result["costs"] = costs
    return result
