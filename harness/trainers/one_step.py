"""`harness train NAME` for a one-step distiller whose algorithm is one file under methods/.

Such a file holds a `Config` dataclass (the method's options) and a `Distiller(student, teacher, tokenizer, cfg)`
with `loss(cond, seeds) -> (loss, logs)`; it imports nothing from harness. Registering it is one line,
`register_method(Method("name", "Label", distiller="methods.name"))`. This trainer does the rest, as the FPD and
DiMO trainers do: the student starts as a copy of the frozen teacher, each update draws its conditions from its
samples' own seeds, one Adam optimiser with a linear warm-up and gradient clipping, DDP where there are ranks,
curve points, resumable checkpoints and the exported `student` with its training cost. The student samples as
every one-step student here: from z_init at r_init, with its temperature and embedding noise.
"""

from __future__ import annotations

import copy
import dataclasses
import importlib
from dataclasses import dataclass
from pathlib import Path

import torch

from harness import distributed as D
from harness.config import to_dict
from harness.errors import HarnessError
from harness.train_loop import TrainLoop
from harness.trainers.common import cost_report, count_trainable, curve_point, export_student
from methods.fpd import OneStepStudent
from methods.rng import SeedStreams


@dataclass(frozen=True)
class OneStepTrainConfig:
    task: str = "shapes"
    steps: int = 400
    batch: int = 32  # the paper's MaskGIT batch
    lr: float = 1e-4
    warmup: int = 0
    grad_clip: float = 1.0
    seed: int = 0
    r_init: float = 0.95  # z_init as FPD's student (paper §3.1)
    student_temp: float = 1.0
    emb_perturb: float = 0.0


def trainer_for(method: str, module_name: str):
    """(config dataclass, train function) for the distiller in `module_name`: the trainer's fields, then the
    method's own (so `--set key=value` reaches both)."""
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as e:
        if e.name != module_name:
            raise
        raise HarnessError(
            f"method {method!r} names distiller module {module_name!r}, which is not importable"
        ) from None
    if not (dataclasses.is_dataclass(getattr(module, "Config", None)) and hasattr(module, "Distiller")):
        raise HarnessError(
            f"{module_name} must define a `Config` dataclass and a `Distiller` class to be trained "
            f"by harness.trainers.one_step"
        )
    own = {f.name for f in dataclasses.fields(OneStepTrainConfig)}
    clash = sorted(own & {f.name for f in dataclasses.fields(module.Config)})
    if clash:
        raise HarnessError(f"{module_name}.Config redefines the trainer's field(s) {', '.join(clash)}; rename them")
    extra = [(f.name, f.type, f) for f in dataclasses.fields(module.Config)]
    cls = dataclasses.make_dataclass(f"{module.Config.__name__}Train", extra, bases=(OneStepTrainConfig,), frozen=True)

    def train_fn(cfg, out: Path) -> dict:
        return train(method, module, cfg, out)

    return cls, train_fn


def _networks(task: str):
    from harness.trainers.dimo import build_networks  # the same tokenizer and frozen teacher DiMO starts from

    return build_networks(OneStepTrainConfig(task=task))


def train(method: str, module, cfg, out: Path, sample_every: int = 100) -> dict:
    from harness.trainers.dimo import conditions

    D.init()
    tok, teacher = _networks(cfg.task)
    dev = D.device()
    torch.manual_seed(cfg.seed)
    teacher = teacher.requires_grad_(False)
    student = copy.deepcopy(teacher).train().requires_grad_(True)
    teacher, student = teacher.to(dev), student.to(dev)
    tok = tok.to(dev) if isinstance(tok, torch.nn.Module) else tok
    amp = lambda m: D.amp(m, cfg.task)  # noqa: E731
    ddp = torch.nn.parallel.DistributedDataParallel(amp(student)) if D.world() > 1 else amp(student)
    distiller = module.Distiller(ddp, amp(teacher), amp(tok), cfg)
    params = [p for p in student.parameters() if p.requires_grad]
    opt = torch.optim.Adam(params, lr=cfg.lr)
    student_config = {
        "method": method,
        "train": to_dict(cfg),
        "model": student.cfg.to_dict() if hasattr(student.cfg, "to_dict") else {},
    }

    def grid(step: int, folder: Path) -> None:
        from harness.grids import generator_grid

        student.eval()
        generator_grid(
            OneStepStudent(student, tok, cfg.r_init, cfg.student_temp, cfg.emb_perturb, device=dev),
            cfg.task,
            folder / f"step_{step:07d}.png",
        )
        student.train()

    point = curve_point(student, student_config, teacher)

    loop = TrainLoop(
        out,
        cfg,
        {"student": student},
        {"opt": opt},
        cfg.steps,
        ckpt_every=100,
        log_every=10,
        sample_every=sample_every if cfg.task.startswith("shapes") else 0,
        sample_fn=grid,
        point_fn=point,
        desc=f"{method}[{cfg.task}]",
    )
    local = D.local_slice(cfg.batch)

    def step(i: int) -> dict:
        lr = cfg.lr * min(1.0, (i + 1) / max(1, cfg.warmup))  # stateless warm-up: resumes exactly
        for pg in opt.param_groups:
            pg["lr"] = lr
        seeds = SeedStreams.derive(cfg.seed, i, range(cfg.batch))[local]
        loss, logs = distiller.loss(conditions(cfg.task, seeds, teacher).to(dev), seeds)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        logs = {
            **logs,
            "loss": float(loss),
            "lr": lr,
            "grad_norm": float(torch.nn.utils.clip_grad_norm_(params, cfg.grad_clip)),
        }
        opt.step()
        return logs

    stats = loop.run(step)
    result = {"train": stats, "device": str(dev), "precision": D.precision(cfg.task)}
    if D.is_main():
        costs = cost_report(
            stats,
            count_trainable(student),
            ["student", "teacher (frozen)", "tokenizer decoder (grids only)"],
            aux_score_net=False,
        )
        meta = {"costs": costs, "teacher_sha256": getattr(teacher, "asset_sha256", None)}
        result["export"] = export_student(out, "student", student, student_config, meta)
        result["costs"] = costs
    return result
