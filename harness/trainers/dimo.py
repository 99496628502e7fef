"""`harness train dimo --task shapes|shapes-t2i|imagenet|t2i`: the DiMO-style baseline run.

The method lives in methods/dimo.py; this file builds the networks (generator and auxiliary model both
copies of the teacher, embeddings frozen), owns the two Adam optimisers (DiMO `optimizer_type: adam`,
constant LR after a 100-step warm-up), the order of one step (generator update, EMA, one aux update on a
fresh sample — `train_DIMO_MaskGit.py`), DDP, sample grids and the export with its cost accounting.
The exported `student` is the EMA generator (DiMO evaluates `ema_model`); `student_raw` is the raw one.
"""

from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass, fields
from pathlib import Path

import torch

from harness import distributed as D
from harness.config import to_dict
from harness.errors import HarnessError
from harness.train_loop import TrainLoop, step_generator
from harness.trainers.common import cost_report, count_trainable, curve_point, export_student, shapes_conditions
from methods.dimo import EMA, DiMO, DiMOConfig, freeze_embeddings
from methods.fpd import OneStepStudent
from methods.rng import SeedStreams


@dataclass(frozen=True)
class DiMOTrainConfig:
    task: str = "shapes"
    # shapes defaults: the budget and lr chosen on validation seeds by the fair protocol (docs/fpd-diagnosis.md,
    # which holds the grid).
    steps: int = 400  # shapes: 150 GFLOP/update at batch 64, 75 at 32 (benchmarks/bench_update_cost.py)
    batch: int = 64  # DiMO: 64 per GPU x 2 GPUs
    lr: float = 3e-4  # generator_lr; DiMO 1e-5 on MaskGIT (30k steps) — the small shapes run takes larger steps
    fake_lr: float = 0.0  # 0 = the generator's lr: the official code trains both at one rate (1e-5 / 1e-5)
    warmup: int = 100  # constant_with_warmup, 100 steps
    betas: tuple = (0.9, 0.999)
    adam_eps: float = 1e-8  # DiMO 1e-6 under bf16; fp32 here
    grad_clip: float = 1.0  # generator only (DiMO max_grad_norm 1.0)
    seed: int = 0
    export_weights: str = "ema"  # "ema" (DiMO evaluates ema_model) | "raw": which becomes `student`
    # DiMO options (methods.dimo.DiMOConfig), flat so `--set key=value` reaches them
    r_init: float = 0.6
    r_init_max: float = 0.0  # > r_init: each step draws its ratio uniformly in [r_init, r_init_max] (the official
    # `random_a_b`; sampling keeps r_init); 0 = the fixed ratio of the evaluated run
    emb_perturb: float = 0.1
    gen_temp: float = 1.0
    true_cfg: float = 2.0
    fake_cfg: float = 1.0
    true_temp: float = 1.0
    fake_temp: float = 1.0
    jeffreys_beta: float = 0.0
    ratio_mode: str = "arccos"
    ratio_mode_fake: str = "arccos"
    label_smoothing: float = 0.1
    ema_decay: float = 0.9999
    frozen: tuple = ()  # fix_emb_layer: () = the model's own dimo_frozen names (methods/dimo.py)

    def dimo(self) -> DiMOConfig:
        names = {f.name for f in fields(DiMOConfig)}
        return DiMOConfig(**{k: v for k, v in to_dict(self).items() if k in names} | {"frozen": tuple(self.frozen)})


def build_networks(cfg: DiMOTrainConfig):
    """(tokenizer, frozen teacher) for the task; the shapes ones are the shipped assets."""
    if cfg.task in ("shapes", "shapes-t2i"):
        from harness.trainers.teacher import load_shipped as load_teacher
        from harness.trainers.tokenizer import load_shipped as load_tokenizer

        return load_tokenizer(), load_teacher(cfg.task)
    from harness.trainers.paper_scale import check_data, paper_networks  # official weights; no drift backbone

    check_data(cfg.task)  # the t2i captions are found before minutes of network loading
    teacher, tok = paper_networks(cfg.task)
    return tok, teacher


def conditions(task: str, seeds: list[int], teacher) -> torch.Tensor:
    """One condition per sample from its own seed (DiMO: classes uniform, data-free; t2i: the prompt file)."""
    if task.startswith("shapes"):
        return shapes_conditions(task, seeds)
    from harness.trainers.paper_scale import conditions as paper_conditions

    return paper_conditions(task, teacher, seeds)


def train(cfg: DiMOTrainConfig, out: Path, sample_every: int = 100) -> dict:
    D.init()
    if cfg.r_init_max and not cfg.r_init < cfg.r_init_max <= 1.0:
        raise HarnessError(
            f"r_init_max must be in (r_init, 1] = ({cfg.r_init}, 1], got {cfg.r_init_max} (0 = fixed ratio)"
        )
    if cfg.export_weights not in ("ema", "raw"):
        raise HarnessError(f"export_weights must be 'ema' or 'raw', got {cfg.export_weights!r}")
    dcfg = cfg.dimo()
    tok, teacher = build_networks(cfg)
    teacher = teacher.requires_grad_(False)
    dev = D.device()
    torch.manual_seed(cfg.seed)
    gen = copy.deepcopy(teacher).train().requires_grad_(True)  # all three initialised from the teacher
    aux = copy.deepcopy(teacher).train().requires_grad_(True)
    try:
        frozen = freeze_embeddings(gen, dcfg.frozen)
        freeze_embeddings(aux, dcfg.frozen)
    except ValueError as e:
        raise HarnessError(f"{e} (set frozen=... with --set)") from None
    teacher, gen, aux = teacher.to(dev), gen.to(dev), aux.to(dev)
    tok = tok.to(dev) if isinstance(tok, torch.nn.Module) else tok
    ema = EMA(gen, dcfg.ema_decay)
    # bf16 (DiMO trains under bf16 autocast): the network forwards under autocast (D.amp), the losses in float32
    amp = lambda m: D.amp(m, cfg.task)  # noqa: E731
    ddp_g = torch.nn.parallel.DistributedDataParallel(amp(gen)) if D.world() > 1 else amp(gen)
    ddp_f = torch.nn.parallel.DistributedDataParallel(amp(aux)) if D.world() > 1 else amp(aux)
    g_params = [p for p in gen.parameters() if p.requires_grad]
    f_params = [p for p in aux.parameters() if p.requires_grad]
    opt_g = torch.optim.Adam(g_params, lr=cfg.lr, betas=tuple(cfg.betas), eps=cfg.adam_eps)
    fake_lr = cfg.fake_lr or cfg.lr
    opt_f = torch.optim.Adam(f_params, lr=fake_lr, betas=tuple(cfg.betas), eps=cfg.adam_eps)
    method = DiMO(ddp_g, ddp_f, amp(teacher), amp(tok), dcfg)

    def sampler(model) -> OneStepStudent:
        return OneStepStudent(model, tok, dcfg.r_init, dcfg.gen_temp, dcfg.emb_perturb, device=dev)

    def grid(step: int, folder: Path) -> None:
        from harness.grids import generator_grid

        gen.eval()
        generator_grid(sampler(ema.model), cfg.task, folder / f"step_{step:07d}_ema.png")
        generator_grid(sampler(gen), cfg.task, folder / f"step_{step:07d}.png")
        gen.train()

    student_config = {
        "method": "dimo",
        "train": to_dict(cfg),
        "model": gen.cfg.to_dict() if hasattr(gen.cfg, "to_dict") else {},
    }
    exported = ema.model if cfg.export_weights == "ema" else gen  # what becomes `student`

    point = curve_point(exported, {**student_config, "weights": cfg.export_weights}, teacher)

    loop = TrainLoop(
        out,
        cfg,
        {"generator": gen, "aux": aux, "ema": ema.model},
        {"opt_g": opt_g, "opt_f": opt_f},
        cfg.steps,
        ckpt_every=100,
        log_every=10,
        sample_every=sample_every,
        sample_fn=grid,
        point_fn=point,
        desc=f"dimo[{cfg.task}]",
    )
    local = D.local_slice(cfg.batch)

    def step(i: int) -> dict:
        warm = min(1.0, (i + 1) / max(1, cfg.warmup))  # stateless warm-up: resumes exactly
        for o, lr in ((opt_g, cfg.lr), (opt_f, fake_lr)):
            for pg in o.param_groups:
                pg["lr"] = lr * warm
        if cfg.r_init_max:  # random_a_b: one ratio for the step, from the step's own stream (resumes exactly)
            u = float(torch.rand(1, generator=step_generator(cfg.seed, i, stream=2)))
            method.cfg = dataclasses.replace(dcfg, r_init=cfg.r_init + u * (cfg.r_init_max - cfg.r_init))
        # generator: distribution matching on re-masked positions of its own sample
        seeds = SeedStreams.derive(cfg.seed, i, range(cfg.batch))[local]
        loss_g, logs, _ = method.generator_loss(conditions(cfg.task, seeds, teacher).to(dev), seeds)
        opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        logs["grad_norm_g"] = float(torch.nn.utils.clip_grad_norm_(g_params, cfg.grad_clip))
        _nan_to_num_grads(g_params)
        opt_g.step()
        logs["ema_rate"] = ema.update(gen, i)
        # aux (fake) model: one update on a FRESH generator sample (global sample indices batch..2·batch-1)
        aux_seeds = SeedStreams.derive(cfg.seed, i, range(cfg.batch, 2 * cfg.batch))[local]
        loss_f, logs_f = method.aux_loss(conditions(cfg.task, aux_seeds, teacher).to(dev), aux_seeds)
        opt_f.zero_grad(set_to_none=True)
        loss_f.backward()
        _nan_to_num_grads(f_params)  # DiMO: no clipping for F, NaN/inf zeroed
        opt_f.step()
        return {**logs, **logs_f, "lr": cfg.lr * warm}

    stats = loop.run(step)
    result = {"train": stats, "frozen_parameters": frozen, "device": str(dev), "precision": D.precision(cfg.task)}
    if D.is_main():
        costs = cost_report(
            stats,
            count_trainable(gen, aux),
            [
                "generator",
                "generator EMA",
                "auxiliary (fake) model",
                "teacher (frozen)",
                "tokenizer decoder (grids only)",
            ],
            aux_score_net=True,
        )
        meta = {"costs": costs, "teacher_sha256": getattr(teacher, "asset_sha256", None)}
        result["export"] = export_student(
            out, "student", exported, {**student_config, "weights": cfg.export_weights}, meta
        )
        result["export_raw"] = export_student(out, "student_raw", gen, {**student_config, "weights": "raw"}, meta)
        result["costs"] = costs
    return result


def _nan_to_num_grads(params) -> None:
    """DiMO: torch.nan_to_num(param.grad, nan=0, posinf=1e5, neginf=-1e5) before each optimiser step."""
    for p in params:
        if p.grad is not None:
            torch.nan_to_num(p.grad, nan=0.0, posinf=1e5, neginf=-1e5, out=p.grad)
